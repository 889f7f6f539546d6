//! `pgkeel rollback`: parse the target, call the engine's rollback_plan / rollback, render.
//! Confirmation is a token from `--plan` (`--confirm TOKEN`), or on a terminal typing the
//! oldest target version at a prompt; without a terminal the token is required.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use pgkeel_engine::rollback::{PlanReport, RollbackOptions, RollbackReport, Selector};
use pgkeel_engine::Migrator;
use serde_json::json;

use crate::exit::Exit;
use crate::output::Out;
use crate::stdout::outln;

/// What the command line asked for.
pub struct Args {
    pub to: Option<String>,
    pub last: Option<usize>,
    pub plan: bool,
    pub confirm: Option<String>,
    pub force_expired: bool,
}

pub async fn run(migrator: &Migrator, args: Args, out: &Out, json: bool) -> ExitCode {
    let selector = match (args.to, args.last) {
        (Some(v), _) => Selector::To(v),
        (_, Some(n)) => Selector::Last(n),
        // clap's required group guarantees one of them.
        _ => {
            return out.fail(
                &anyhow::anyhow!("rollback needs --to VERSION or --last N"),
                Exit::Usage,
            )
        }
    };
    if let Some(token) = args.confirm {
        return execute(migrator, selector, token, args.force_expired, out, json).await;
    }
    let plan = match migrator.rollback_plan(&selector).await {
        Ok(p) => p,
        Err(e) => return out.engine_error(&e),
    };
    let command = confirm_command(&selector, &plan.token, args.force_expired);
    if args.plan {
        if json {
            out.print_json(&out.document(true, plan_json(&plan, &command)));
        } else {
            print_plan(&plan);
            outln!(
                "\nconfirmation token (valid until {}):\n  {}\nto execute this plan, run:\n  {command}",
                plan.token_expires_at.format("%Y-%m-%d %H:%M:%S UTC"),
                plan.token
            );
        }
        return Exit::Ok.into();
    }
    let terminal = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if !terminal {
        let message = format!(
            "a confirmation token is required without a terminal: review the plan, then run `{command}` (or `pgkeel rollback {selector} --plan` for a fresh token)"
        );
        if json {
            let mut body = plan_json(&plan, &command);
            body["error"] = json!({"code": "confirmation_required", "message": message});
            out.print_json(&out.document(false, body));
        } else {
            print_plan(&plan);
            eprintln!("error: {message}");
        }
        return Exit::Refused.into();
    }
    // On a terminal: show the plan and ask for the oldest target's version.
    if json {
        let _ = writeln!(
            std::io::stderr(),
            "{}",
            serde_json::to_string_pretty(&plan_json(&plan, &command)).unwrap_or_default()
        );
    } else {
        print_plan(&plan);
    }
    let expected = plan.plan.oldest_version().unwrap_or_default().to_string();
    eprint!(
        "\nThis changes the database {}. Type the oldest version to roll back ({expected}) to confirm: ",
        plan.database
    );
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let typed = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map(|_| line.trim().to_string())
        .unwrap_or_default();
    if typed != expected {
        let message = format!(
            "you typed {typed:?}, not {expected:?}: nothing was rolled back and nothing changed"
        );
        if json {
            out.print_json(&out.document(
                false,
                json!({"error": {"code": "not_confirmed", "message": message}}),
            ));
        } else {
            eprintln!("{message}");
        }
        return Exit::Refused.into();
    }
    execute(
        migrator,
        selector,
        plan.token,
        args.force_expired,
        out,
        json,
    )
    .await
}

async fn execute(
    migrator: &Migrator,
    selector: Selector,
    token: String,
    force_expired: bool,
    out: &Out,
    json: bool,
) -> ExitCode {
    let opts = RollbackOptions {
        selector,
        confirm_token: token,
        force_expired,
    };
    match migrator.rollback(&opts).await {
        Ok(report) => {
            if json {
                out.print_json(&out.document(true, json!({"result": report})));
            } else {
                print_report(&report);
            }
            Exit::Ok.into()
        }
        Err(e) => out.engine_error(&e),
    }
}

fn confirm_command(selector: &Selector, token: &str, force_expired: bool) -> String {
    format!(
        "pgkeel rollback {selector} --confirm {token}{}",
        if force_expired {
            " --force-expired"
        } else {
            ""
        }
    )
}

fn plan_json(plan: &PlanReport, command: &str) -> serde_json::Value {
    json!({
        "database": plan.database,
        "backup_schema": plan.backup_schema,
        "plan": plan.plan,
        "token": plan.token,
        "token_expires_at": plan.token_expires_at,
        "command": command,
        "manual_procedure": plan.manual_procedure,
    })
}

/// A duration as `2d 3h`, `4h 5m`, `6m`, `7s`.
fn human(d: chrono::Duration) -> String {
    let s = d.num_seconds().abs();
    let (days, hours, mins) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60);
    if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {mins}m")
    } else if mins > 0 {
        format!("{mins}m")
    } else {
        format!("{s}s")
    }
}

/// The down SQL on one line, cut at `max` characters.
fn abbreviate(statements: &[String], max: usize) -> String {
    let one = statements
        .iter()
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(" ");
    if one.chars().count() <= max {
        one
    } else {
        format!("{}…", one.chars().take(max).collect::<String>())
    }
}

fn print_plan(plan: &PlanReport) {
    let p = &plan.plan;
    let now = chrono::Utc::now();
    outln!(
        "rollback plan for {} ({}): {} migration(s), newest first",
        plan.database,
        p.selector,
        p.targets.len()
    );
    for t in &p.targets {
        outln!(
            "  {} {}{}",
            t.version,
            t.name,
            t.applied_at
                .map(|a| format!("  (applied {} ago)", human(now - a)))
                .unwrap_or_default()
        );
        match &t.down {
            Some(d) => outln!(
                "      down ({} statement(s), {}): {}",
                d.statements.len(),
                d.path,
                abbreviate(&d.statements, 100)
            ),
            None => match &t.generated {
                Some(g) => {
                    outln!(
                        "      down (generated from the snapshot taken when it was applied, {} statement(s); review it):",
                        g.before_restore.len() + g.after_restore.len()
                    );
                    for line in g.text.lines() {
                        outln!("        {line}");
                    }
                }
                None => outln!("      down: none (the backups below restore the data)"),
            },
        }
        for b in &t.backups {
            let expiry = if b.expires_at < now {
                format!("EXPIRED {} ago", human(now - b.expires_at))
            } else {
                format!("expires in {}", human(b.expires_at - now))
            };
            outln!(
                "      restore {}: {} row(s) from {}.{} ({}), taken {} ago, {expiry}",
                b.source(),
                b.row_count,
                plan.backup_schema,
                b.backup_table,
                b.reason,
                human(now - b.created_at)
            );
        }
    }
    if let Some(m) = &plan.manual_procedure {
        outln!("\n! some backups are past their window: the rollback needs --force-expired.\n{m}");
    }
}

fn print_report(r: &RollbackReport) {
    let rows: i64 = r.restored.iter().map(|t| t.rows).sum();
    outln!(
        "rolled back {} migration(s) on {}: {} ({} table(s) restored, {rows} row(s)) in {} ms",
        r.rolled_back.len(),
        r.database,
        r.rolled_back.join(", "),
        r.restored.len(),
        r.duration_ms
    );
    for t in &r.restored {
        outln!(
            "  {}: {} row(s) from backup {}{}{}",
            t.table,
            t.rows,
            t.backup_id,
            if t.verified {
                ", verified (row count and checksum)"
            } else {
                ""
            },
            if t.columns_not_restored.is_empty() {
                String::new()
            } else {
                format!(
                    "; not restored (no longer in the table): {}",
                    t.columns_not_restored.join(", ")
                )
            }
        );
    }
    outln!("history: the rolled-back migrations are pending again (`pgkeel up` applies them)");
    if let Some(t) = &r.types_written {
        outln!("types written to {t}");
    }
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sql_are_shortened_for_the_plan() {
        assert_eq!(human(chrono::Duration::seconds(5)), "5s");
        assert_eq!(human(chrono::Duration::seconds(3_700)), "1h 1m");
        assert_eq!(
            human(chrono::Duration::seconds(2 * 86_400 + 3_600)),
            "2d 1h"
        );
        assert_eq!(
            abbreviate(&["DROP   TABLE\n a;".into(), "SELECT 1;".into()], 100),
            "DROP TABLE a; SELECT 1;"
        );
        assert_eq!(abbreviate(&["x".repeat(10)], 4), "xxxx…");
        assert_eq!(
            confirm_command(&Selector::Last(2), "rb1.1.ab", true),
            "pgkeel rollback --last 2 --confirm rb1.1.ab --force-expired"
        );
    }
}
