//! `pgkeel lint --explain RULE`: why each squawk rule exists (the lock, rewrite, data loss or
//! client breakage it prevents, on PostgreSQL 15) and the safe way to write the statement.
//!
//! Pure: one table, one entry per rule squawk-linter 2.68 knows (a unit test checks that against
//! squawk's `Rule` enum). The two rules pgkeel never runs (see [`super::squawk::HANDLED_BY_PGKEEL`])
//! have an entry that says why they are not needed.

use serde::Serialize;

use super::squawk;

/// What `pgkeel lint --explain` prints for one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Explanation {
    pub rule: &'static str,
    /// What the rule prevents.
    pub why: &'static str,
    /// The safe form, as SQL (comments say what runs where).
    pub safe: &'static str,
}

const fn e(rule: &'static str, why: &'static str, safe: &'static str) -> Explanation {
    Explanation { rule, why, safe }
}

const DROP_LATER: &str = "-- 1. Stop every client from using it and deploy that first.\n-- 2. Then, in a later migration, drop it and say why that is safe:\n";

/// Every rule, in squawk's order.
pub const RULES: &[Explanation] = &[
    e("require-concurrent-index-creation",
      "CREATE INDEX holds a SHARE lock on the table for the whole index build: reads go on, but every INSERT, UPDATE and DELETE waits until the build ends (minutes on a large table).",
      "-- pgkeel runs a CONCURRENTLY statement on its own, outside the migration's transaction.\ncreate index concurrently if not exists orders_customer_id_idx on orders (customer_id);\n-- If it fails it leaves an INVALID index: drop index concurrently if exists orders_customer_id_idx; then run again."),
    e("require-concurrent-index-deletion",
      "DROP INDEX takes an ACCESS EXCLUSIVE lock on the index's table: while it waits for running transactions, every read and write of the table queues behind it.",
      "drop index concurrently if exists orders_customer_id_idx;"),
    e("constraint-missing-not-valid",
      "ADD CONSTRAINT … CHECK or FOREIGN KEY checks every existing row while holding a lock that blocks writes (ACCESS EXCLUSIVE for a CHECK; SHARE ROW EXCLUSIVE on both tables for a foreign key) for the length of the scan.",
      "-- Migration 1: new rows are checked at once, old ones are not scanned (brief lock).\nalter table orders add constraint orders_total_positive check (total >= 0) not valid;\n-- Migration 2: the scan, under SHARE UPDATE EXCLUSIVE (reads and writes go on).\nalter table orders validate constraint orders_total_positive;"),
    e("adding-field-with-default",
      "Since PostgreSQL 11 a constant default is stored in the catalog, but a volatile default (random(), clock_timestamp(), gen_random_uuid(), …) or a STORED generated column rewrites the whole table and its indexes under an ACCESS EXCLUSIVE lock: no reads or writes until it is done.",
      "alter table orders add column token uuid;\nalter table orders alter column token set default gen_random_uuid();  -- new rows only\n-- Backfill in batches (a later migration or a job), each a short transaction:\nupdate orders set token = gen_random_uuid() where id between 1 and 10000 and token is null;"),
    e("adding-foreign-key-constraint",
      "ADD FOREIGN KEY takes SHARE ROW EXCLUSIVE locks on both tables and scans the referencing table to validate it: writes to both tables wait for the whole scan.",
      "-- Migration 1 (brief lock, no scan):\nalter table orders add constraint orders_customer_fk foreign key (customer_id) references customers (id) not valid;\n-- Migration 2 (SHARE UPDATE EXCLUSIVE: reads and writes go on):\nalter table orders validate constraint orders_customer_fk;"),
    e("changing-column-type",
      "ALTER COLUMN … TYPE rewrites the table and rebuilds its indexes under an ACCESS EXCLUSIVE lock (unless the change is binary compatible, e.g. varchar(n) to text), and clients that read the old type may break.",
      "-- Expand and contract, across deploys:\nalter table orders add column amount_new bigint;\n-- backfill in batches; make the application write both columns; switch reads;\n-- then, in a later migration:\nalter table orders drop column amount;  -- with a -- pgkeel:accept ban-drop-column line saying why\nalter table orders rename column amount_new to amount;"),
    e("adding-not-nullable-field",
      "SET NOT NULL scans every row under an ACCESS EXCLUSIVE lock (no reads or writes) unless a validated CHECK (col IS NOT NULL) constraint already proves it.",
      "-- Migration 1:\nalter table orders add constraint orders_placed_at_not_null check (placed_at is not null) not valid;\n-- Migration 2 (no write-blocking scan; the last two statements are instant):\nalter table orders validate constraint orders_placed_at_not_null;\nalter table orders alter column placed_at set not null;\nalter table orders drop constraint orders_placed_at_not_null;"),
    e("adding-serial-primary-key-field",
      "ADD PRIMARY KEY builds its unique index while holding an ACCESS EXCLUSIVE lock: no reads or writes for the whole build.",
      "create unique index concurrently if not exists orders_pkey_idx on orders (id);\nalter table orders add constraint orders_pkey primary key using index orders_pkey_idx;"),
    e("renaming-column",
      "The rename is instant, but every running client that names the old column fails from the moment it commits; application deploys are never atomic with migrations.",
      "-- Expand and contract: add the new column, write both, move readers, drop the old one later.\nalter table users add column full_name text;\nupdate users set full_name = name where id between 1 and 10000;  -- in batches"),
    e("renaming-table",
      "Every running client that names the old table fails from the moment the rename commits.",
      "alter table customer rename to customers;\n-- keep the old name working until no client uses it (a simple view is updatable):\ncreate view customer as select * from customers;"),
    e("disallowed-unique-constraint",
      "ADD CONSTRAINT … UNIQUE builds its index while holding an ACCESS EXCLUSIVE lock: no reads or writes for the whole build.",
      "create unique index concurrently if not exists users_email_key on users (email);\nalter table users add constraint users_email_key unique using index users_email_key;"),
    e("ban-drop-database",
      "DROP DATABASE removes every object and every row of a database, outside any transaction; nothing can undo it.",
      "-- Not in a migration. Take a backup (pg_dump), then drop it by hand:\n-- drop database old_reporting;"),
    e("prefer-bigint-over-int",
      "integer ends at 2,147,483,647: an id or counter that gets there fails every insert, and widening it later is a table rewrite under ACCESS EXCLUSIVE.",
      "create table orders (id bigint generated always as identity primary key, quantity bigint not null);"),
    e("prefer-bigint-over-smallint",
      "smallint ends at 32,767: a value past it fails the write, and widening it later is a table rewrite under ACCESS EXCLUSIVE.",
      "create table plans (id bigint generated always as identity primary key, seats bigint not null);"),
    e("prefer-identity",
      "serial makes a separate sequence with its own owner and privileges (grants, dumps and copies go wrong); identity columns are standard SQL and their sequence belongs to the column.",
      "create table orders (id bigint generated always as identity primary key);"),
    e("prefer-repack",
      "CLUSTER and VACUUM FULL rewrite the table under an ACCESS EXCLUSIVE lock: no reads or writes until the copy is done.",
      "-- On PostgreSQL 15 use the pg_repack extension, outside migrations:\n-- pg_repack --table=public.orders --dbname=app"),
    e("prefer-robust-stmts",
      "A statement that runs outside a transaction (CONCURRENTLY, or -- pgkeel:no-transaction) is run again when the migration is retried after a failure; without IF [NOT] EXISTS the retry fails on what the first attempt did.",
      "create index concurrently if not exists orders_placed_at_idx on orders (placed_at);\ndrop index concurrently if exists orders_old_idx;\nalter table orders add column if not exists note text;"),
    e("prefer-text-field",
      "Changing a varchar(n) limit is an ALTER COLUMN TYPE (ACCESS EXCLUSIVE; a rewrite when it shrinks); a CHECK on a text column can be replaced without a rewrite (NOT VALID, then VALIDATE).",
      "alter table users add column email text;\nalter table users add constraint users_email_length check (char_length(email) <= 320) not valid;"),
    e("prefer-timestamp-tz",
      "timestamp without time zone stores wall-clock times with no zone: comparisons across sessions with other TimeZone settings and daylight-saving changes give wrong answers.",
      "alter table orders add column placed_at timestamptz not null default now();"),
    e("ban-char-field",
      "char(n) pads values with spaces, compares with trailing spaces ignored and stores the padding; it is never better than text or varchar.",
      "alter table countries add column code text check (char_length(code) = 2);"),
    e("ban-drop-column",
      "Data loss: the column's values are gone (pgkeel's automatic backup and `pgkeel rollback` bring them back only while the backup is kept), and every running client that names the column fails.",
      "-- 1. Stop reading and writing the column and deploy that first.\n-- 2. Then, in a later migration:\n-- pgkeel:accept ban-drop-column no code reads orders.legacy_code since release 2.3\nalter table orders drop column legacy_code;"),
    e("ban-drop-table",
      "Data loss: every row of the table is gone (pgkeel's automatic backup and `pgkeel rollback` bring them back only while the backup is kept), and every client that names it fails.",
      "-- 1. Rename it and watch for errors: alter table old_events rename to old_events_unused;\n-- 2. Then, in a later migration:\n-- pgkeel:accept ban-drop-table old_events_unused has had no reads for 30 days\ndrop table old_events_unused;"),
    e("ban-drop-not-null",
      "Clients written for a NOT NULL column do not expect NULL: once it is dropped, the first NULL can break every reader.",
      "-- Deploy readers that handle NULL first; then, in a later migration:\n-- pgkeel:accept ban-drop-not-null every reader handles a missing phone since 4.1\nalter table users alter column phone drop not null;"),
    e("transaction-nesting",
      "pgkeel does not run this rule: it runs each migration in its own transaction, drops a file's own BEGIN/COMMIT wrapper, and refuses any other transaction control before running anything.",
      "-- Leave transaction control out of migrations; pgkeel commits each one with its history row.\ncreate table orders (id bigint generated always as identity primary key);"),
    e("adding-required-field",
      "ADD COLUMN … NOT NULL without a default fails on a table that has rows, and makes every insert of existing clients (which do not name the column) fail.",
      "-- A constant default is stored in the catalog (no rewrite) since PostgreSQL 11:\nalter table orders add column channel text not null default 'web';"),
    e("ban-concurrent-index-creation-in-transaction",
      "pgkeel does not run this rule: it runs every CONCURRENTLY statement on its own, outside the migration's transaction, and records its progress so a retry resumes after it.",
      "create index concurrently if not exists orders_placed_at_idx on orders (placed_at);"),
    e("unused-ignore",
      "A `-- squawk-ignore` comment that names no known rule ignores nothing: usually a misspelt rule id, so the finding it was meant for is still there.",
      "-- squawk-ignore ban-drop-column\nalter table orders drop column legacy_code;"),
    e("ban-create-domain-with-constraint",
      "A domain's CHECK constraints apply to every column of that domain: adding or changing one later (ALTER DOMAIN) scans every such column in every table, holding locks, and cannot be limited to one table.",
      "create domain email as text;\n-- the check per table: NOT VALID now, VALIDATE CONSTRAINT in a later migration\nalter table users add constraint users_email_format check (email like '%@%') not valid;"),
    e("ban-alter-domain-with-add-constraint",
      "ALTER DOMAIN … ADD CONSTRAINT checks every value of every column using the domain, in every table, while holding locks that block writes to them.",
      "-- Prefer a CHECK on the table (NOT VALID, then VALIDATE CONSTRAINT in a later migration):\nalter table users add constraint users_email_format check (email like '%@%') not valid;"),
    e("ban-truncate-cascade",
      "Data loss beyond the named table: TRUNCATE … CASCADE also empties every table that references it through a foreign key, transitively.",
      "-- Name every table to empty, so nothing else is emptied by surprise:\ntruncate table order_lines, orders;"),
    e("require-timeout-settings",
      "The group of require-lock-timeout and require-statement-timeout: a migration without timeouts can wait for a lock forever, with every later query queued behind it.",
      "-- pgkeel.toml (pgkeel sets both before every migration):\n-- [apply]\n-- lock_timeout = \"5s\"\n-- statement_timeout = \"5min\"\nselect 1;"),
    e("ban-uncommitted-transaction",
      "A BEGIN with no COMMIT leaves a transaction open holding every lock it took; pgkeel refuses transaction control inside a migration anyway.",
      "-- No BEGIN/COMMIT: pgkeel runs the migration in one transaction with its history row.\nalter table orders add column note text;"),
    e("require-enum-value-ordering",
      "ADD VALUE without BEFORE or AFTER appends the value at the end; an enum sorts in declaration order, so ORDER BY and < > on the column may not mean what was intended.",
      "alter type order_status add value if not exists 'paused' after 'active';"),
    e("require-table-schema",
      "An unqualified name resolves through search_path: run with another search_path, the migration creates or changes objects in another schema.",
      "create table public.orders (id bigint generated always as identity primary key);"),
    e("identifier-too-long",
      "PostgreSQL truncates names longer than 63 bytes (with only a NOTICE): two long names can collide, and later statements naming the full name do not find the object.",
      "create index orders_customer_placed_idx on orders (customer_id, placed_at);  -- 63 bytes or fewer"),
    e("require-concurrent-partition-detach",
      "DETACH PARTITION takes an ACCESS EXCLUSIVE lock on the partitioned table: no reads or writes of any partition while it waits and runs.",
      "-- PostgreSQL 14+; pgkeel runs it on its own, outside the migration's transaction:\nalter table measurements detach partition measurements_2023 concurrently;"),
    e("require-concurrent-reindex",
      "REINDEX blocks writes to the table (and reads that would use the index) for the whole rebuild.",
      "reindex index concurrently orders_placed_at_idx;"),
    e("require-lock-timeout",
      "Without lock_timeout, a statement that waits for a lock held by a long transaction also makes every later query of that table wait behind it: one migration stalls the application.",
      "-- pgkeel.toml (pgkeel sets it before every migration; the default is 5s):\n-- [apply]\n-- lock_timeout = \"5s\"\nselect 1;"),
    e("require-statement-timeout",
      "Without statement_timeout, a statement that runs far longer than expected keeps holding its locks; a timeout bounds the damage.",
      "-- pgkeel.toml (pgkeel sets it before every migration):\n-- [apply]\n-- statement_timeout = \"5min\"\nselect 1;"),
    e("ban-duplicate-column-assignments",
      "Assigning the same column twice in one INSERT or UPDATE fails (\"multiple assignments to same column\"): the migration cannot run as written.",
      "update orders set status = 'shipped', shipped_at = now() where id = 42;"),
    e("ban-drop-view",
      "Clients and other views that select from it fail at once; the definition is gone from the database.",
      DROP_LATER),
    e("ban-drop-function",
      "Clients, triggers, defaults and policies that call it fail at once.",
      DROP_LATER),
    e("ban-drop-type",
      "Columns, functions and clients that use the type break (CASCADE drops the columns and their data).",
      DROP_LATER),
    e("ban-drop-default",
      "Inserts of existing clients that leave the column out now store NULL (or fail, when it is NOT NULL).",
      "-- Make every writer supply the value first; then, in a later migration:\n-- pgkeel:accept ban-drop-default every writer sets orders.channel since 3.0\nalter table orders alter column channel drop default;"),
    e("ban-drop-trigger",
      "The trigger's side effects (audit rows, derived columns, notifications) stop silently.",
      DROP_LATER),
    e("ban-drop-schema",
      "Data loss: with CASCADE every table, row and function in the schema is gone; without it the drop fails while anything is left.",
      DROP_LATER),
    e("ban-drop-sequence",
      "Columns whose default calls nextval() on it fail every insert; values generated so far cannot be continued.",
      DROP_LATER),
    e("ban-drop-domain",
      "Columns of the domain break (CASCADE drops them and their data).",
      DROP_LATER),
    e("ban-drop-constraint",
      "A guarantee existing clients rely on is gone (uniqueness, a reference, a CHECK): bad rows can be written from then on.",
      "-- Prefer replacing it: add the new constraint NOT VALID, VALIDATE it, then drop the old one:\nalter table orders add constraint orders_total_check2 check (total >= 0 and total < 1000000) not valid;"),
    e("ban-drop-generated-expression",
      "The column keeps its current values but stops following its expression: readers get stale values.",
      DROP_LATER),
    e("renaming-object",
      "Clients that name the constraint, role, database or foreign table by its old name fail from the moment the rename commits.",
      "-- Create the new one beside the old, move clients over, then drop the old one in a later migration."),
    e("ban-set-schema",
      "SET SCHEMA moves the object: every client and function that names it with the old schema (or finds it through search_path) fails.",
      "-- Create it in the new schema, keep a view or wrapper under the old name until clients move:\ncreate view public.orders as select * from sales.orders;"),
    e("ban-alter-identity",
      "Changing a column's identity (ADD/DROP IDENTITY, SET GENERATED ALWAYS/BY DEFAULT) changes which inserts succeed: clients that supply ids, or rely on generated ones, break.",
      "-- Keep the identity as it is; make a new column with the identity you want and move clients over."),
    e("ban-drop-extension",
      "Every object of the extension (types, functions, operators) is gone, and with CASCADE every column and index using them.",
      DROP_LATER),
    e("ban-alter-generated-expression",
      "Adding a STORED generated column rewrites the table under ACCESS EXCLUSIVE, and inserts that list every column fail; changing an expression changes what readers get.",
      "-- A plain column, filled by the application or in batches:\nalter table orders add column total_cents bigint;\nupdate orders set total_cents = (total * 100)::bigint where id between 1 and 10000;"),
    e("ban-drop-index",
      "Queries that used the index turn into sequential scans (and a unique index's guarantee is gone); on a large table that can take the application down.",
      "-- Check pg_stat_user_indexes.idx_scan first; then:\ndrop index concurrently if exists orders_old_idx;"),
    e("ban-set-default",
      "Inserts of existing clients that leave the column out silently start storing the new default.",
      "-- Make the default explicit in the application first, or add a new column with the default."),
    e("ban-disable-trigger",
      "Disabling a trigger or rule (or making it replica-only) stops its side effects for normal writes; earlier application versions may depend on them.",
      "-- Change the trigger's function to do the new thing instead:\ncreate or replace function orders_audit() returns trigger language plpgsql as $$ begin return new; end $$;"),
    e("ban-replica-identity",
      "Changing REPLICA IDENTITY or a publication changes what logical replication sends: consumers stop receiving changes or receive other columns.",
      "-- Coordinate with every replication consumer; change publications outside application migrations."),
    e("ban-drop-policy",
      "Dropping a row level security policy changes who sees which rows at once: a permissive policy's users lose access, a restrictive one's rows open up.",
      "-- Create the replacement policy first, check it, then drop the old one in a later migration."),
    e("ban-revoke",
      "Revoking privileges, changing owners or dropping roles makes existing clients fail with permission errors.",
      "-- Grant what the new setup needs first, move clients, then revoke in a later migration."),
    e("ban-replace-view-function",
      "CREATE OR REPLACE changes a view's or function's behaviour for every caller at once, with no error to notice it by.",
      "-- Create a new version beside the old one and move callers to it:\ncreate function order_total_v2(order_id bigint) returns numeric language sql as $$ select 0::numeric $$;"),
    e("ban-alter-policy-condition",
      "Changing a policy's USING or WITH CHECK changes at once which rows clients see or may write.",
      "-- Add a new policy beside the old one, check it, then drop the old one later."),
    e("ban-alter-policy-roles",
      "Changing a policy's roles changes at once who sees which rows.",
      "-- Add a new policy for the new roles, check it, then drop the old one later."),
    e("ban-create-policy",
      "A new policy changes which rows existing clients see (a permissive one widens access; a restrictive one narrows it).",
      "-- Create it for a role no client uses yet, check it, then grant that role."),
    e("ban-alter-function-options",
      "Changing SECURITY DEFINER, search_path, volatility or other options changes how every caller's queries behave.",
      "-- Create a new function with the new options and move callers to it."),
    e("ban-alter-view-options",
      "Changing security_barrier, security_invoker or check_option changes what clients see or may write through the view.",
      "-- Create a new view with the new options and move clients to it."),
    e("ban-alter-role-options",
      "Changing a role's options or settings (LOGIN, BYPASSRLS, search_path, …) changes how every session of that role behaves.",
      "-- Manage roles outside application migrations."),
    e("ban-alter-database-options",
      "Database-level settings change every new session's behaviour (search_path, timezone, …) for every client.",
      "-- Set options per role or per session, or outside application migrations."),
    e("ban-alter-row-level-security",
      "Enabling, disabling or forcing row level security changes at once which rows every client sees.",
      "-- Create and check the policies first; enable RLS in a later migration."),
    e("ban-new-write-restriction",
      "A new constraint, NOT NULL or changed enforcement can reject writes existing clients make (even a NOT VALID constraint checks every new write).",
      "-- Deploy clients that meet the restriction first; then add it:\nalter table orders add constraint orders_total_positive check (total >= 0) not valid;"),
    e("ban-add-enum-value",
      "Existing clients can receive a value they do not know and fail on it.",
      "-- Deploy clients that handle the new value first; then:\nalter type order_status add value if not exists 'paused' after 'active';"),
    e("ban-add-composite-attribute",
      "Values of the composite type change shape: existing clients that read them positionally break.",
      "-- Create a new type and move users to it."),
    e("ban-add-column",
      "Rows change shape: clients that `select *` positionally or `insert` without a column list break.",
      "-- Make clients name their columns first; then:\nalter table orders add column note text;"),
    e("ban-detach-inheritance",
      "Detaching a partition or NO INHERIT changes which rows clients read and write through the parent table.",
      "-- Move readers and writers of those rows first; then detach in a later migration."),
    e("ban-alter-sequence-values",
      "RESTART, INCREMENT, MINVALUE or MAXVALUE changes the values clients get, and can make new ids collide with existing rows.",
      "-- Leave existing sequences as they are; use a new sequence or column for a new range."),
    e("ban-alter-system-options",
      "ALTER SYSTEM changes the configuration of the whole server (postgresql.auto.conf), for every database; it cannot run in a transaction and is not part of the schema.",
      "-- Configure the server outside migrations (postgresql.conf, your provider's settings)."),
    e("ban-alter-extension",
      "Updating an extension or moving objects in or out of it changes or removes objects existing clients use.",
      "-- Update extensions as a planned operation, outside application migrations."),
];

/// The explanation of `name` (a rule id or alias), or an error naming the nearest id.
pub fn explain(name: &str) -> Result<&'static Explanation, String> {
    let id = squawk::canonical(name);
    id.as_deref()
        .and_then(|id| RULES.iter().find(|e| e.rule == id))
        .ok_or_else(|| {
            format!(
                "{name:?} is not a squawk rule id{}",
                nearest(name)
                    .map(|n| format!("; did you mean {n}?"))
                    .unwrap_or_default()
            )
        })
}

/// The rule id closest to `name`, when one is close enough to be a misspelling.
pub fn nearest(name: &str) -> Option<&'static str> {
    let name = name.trim().to_ascii_lowercase();
    RULES
        .iter()
        .map(|e| (distance(&name, e.rule), e.rule))
        .min()
        .filter(|(d, _)| *d <= 3.max(name.chars().count() / 4))
        .map(|(_, r)| r)
}

/// Levenshtein distance, in characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The text `pgkeel lint --explain RULE` prints.
pub fn render(e: &Explanation) -> String {
    let handled = squawk::HANDLED_BY_PGKEEL.contains(&e.rule);
    format!(
        "{}{}\n\nwhy: {}\n\nsafe form:\n{}\n{}",
        e.rule,
        if handled { " (not run by pgkeel)" } else { "" },
        e.why,
        e.safe
            .lines()
            .map(|l| format!("  {l}"))
            .collect::<Vec<_>>()
            .join("\n"),
        if handled {
            String::new()
        } else {
            format!(
                "\nwhen the risk is acceptable, say so in the migration file (a line of its own in the up part):\n  -- pgkeel:accept {} <reason>\n",
                e.rule
            )
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use squawk_linter::Rule;

    #[test]
    fn every_squawk_rule_has_exactly_one_entry() {
        let known: Vec<String> = enum_iterator::all::<Rule>()
            .map(|r| r.to_string())
            .collect();
        for id in &known {
            assert_eq!(
                RULES.iter().filter(|e| e.rule == id).count(),
                1,
                "{id} needs one entry in lint/explain.rs"
            );
        }
        for e in RULES {
            assert!(
                known.iter().any(|k| k == e.rule),
                "{} is not a squawk rule",
                e.rule
            );
            assert!(!e.why.is_empty() && !e.safe.is_empty(), "{}", e.rule);
        }
        assert_eq!(RULES.len(), known.len());
    }

    #[test]
    fn aliases_resolve_and_misspellings_name_the_nearest_rule() {
        assert_eq!(
            explain("prefer-timestamptz").unwrap().rule,
            "prefer-timestamp-tz"
        );
        assert_eq!(explain(" ban-drop-column").unwrap().rule, "ban-drop-column");
        let e = explain("ban-drop-colum").unwrap_err();
        assert!(e.contains("did you mean ban-drop-column?"), "{e}");
        assert_eq!(
            nearest("require-concurent-index-creation"),
            Some("require-concurrent-index-creation")
        );
        assert_eq!(nearest("select"), None);
        let text = render(explain("ban-drop-column").unwrap());
        assert!(
            text.starts_with("ban-drop-column\n\nwhy: Data loss"),
            "{text}"
        );
        assert!(
            text.contains("\n  alter table orders drop column legacy_code;"),
            "{text}"
        );
        assert!(
            text.contains("-- pgkeel:accept ban-drop-column <reason>"),
            "{text}"
        );
        let text = render(explain("transaction-nesting").unwrap());
        assert!(
            text.contains("(not run by pgkeel)") && !text.contains("pgkeel:accept"),
            "{text}"
        );
    }
}
