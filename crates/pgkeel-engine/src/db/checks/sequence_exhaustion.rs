//! `sequence_exhaustion`: sequences (serial and identity ones included) that have used most of
//! their range: a **warning** from 75 %, an **error** from 90 %. When `nextval` runs out, every
//! insert that needs a value fails.
//!
//! The range is the sequence's own (`min_value`..`max_value`, read in the direction of its
//! increment), narrowed to the type of the column it feeds when it is owned by one (a bigint
//! sequence feeding an integer column fails at the integer's limit). Cycling sequences never
//! run out and are skipped; so are sequences never used or whose value this role may not read.

use tokio_postgres::Client;

use super::{finding, not_extension_member, object, qualified, CheckInfo, Scope};
use crate::db::ident;
use crate::error::{Error, Result};
use crate::validate::{Finding, Severity};

pub(super) const INFO: CheckInfo = CheckInfo {
    id: "sequence_exhaustion",
    default_severity: Severity::Warning,
    description:
        "sequences (incl. serial/identity) that used 75 % (warning) or 90 % (error) of their range",
};

/// Usage from which a finding is a warning, and an error.
const WARN_AT: f64 = 0.75;
const ERROR_AT: f64 = 0.90;

fn sql() -> String {
    format!(
        "
SELECT * FROM (
  SELECT n.nspname::text, c.relname::text, s.seqtypid::regtype::text,
         s.seqmin, s.seqmax, s.seqincrement,
         CASE WHEN has_sequence_privilege(c.oid, 'SELECT,USAGE')
              THEN pg_sequence_last_value(c.oid) END AS last_value,
         tn.nspname::text, t.relname::text, a.attname::text, a.atttypid::regtype::text
  FROM pg_sequence s
  JOIN pg_class c ON c.oid = s.seqrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
       AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')
  LEFT JOIN pg_class t ON t.oid = d.refobjid
  LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace
  LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
  WHERE NOT s.seqcycle
    AND n.nspname = ANY ($1::text[])
    AND {}
) q
WHERE last_value IS NOT NULL
ORDER BY 1, 2",
        not_extension_member("c", "pg_class")
    )
}

/// A sequence and the column it feeds.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sequence {
    schema: String,
    name: String,
    /// `smallint`, `integer` or `bigint`.
    data_type: String,
    min: i64,
    max: i64,
    increment: i64,
    last: i64,
    /// schema, table, column, column type.
    column: Option<(String, String, String, String)>,
}

/// The limits of an integer type by its `regtype` name.
fn type_range(name: &str) -> Option<(i64, i64)> {
    match name {
        "smallint" => Some((i16::MIN.into(), i16::MAX.into())),
        "integer" => Some((i32::MIN.into(), i32::MAX.into())),
        "bigint" => Some((i64::MIN, i64::MAX)),
        _ => None,
    }
}

impl Sequence {
    /// The usable range (narrowed to the fed column's type), as (lowest, highest).
    fn range(&self) -> (i64, i64) {
        let (mut lo, mut hi) = (self.min, self.max);
        if let Some((lo_t, hi_t)) = self.column.as_ref().and_then(|c| type_range(&c.3)) {
            lo = lo.max(lo_t);
            hi = hi.min(hi_t);
        }
        (lo, hi)
    }

    /// The fraction of the range used, 0.0..=1.0, in the direction of the increment.
    fn used(&self) -> f64 {
        let (lo, hi) = self.range();
        let span = hi as i128 - lo as i128;
        if span <= 0 {
            return 1.0;
        }
        let done = if self.increment >= 0 {
            self.last as i128 - lo as i128
        } else {
            hi as i128 - self.last as i128
        };
        (done as f64 / span as f64).clamp(0.0, 1.0)
    }

    /// Values `nextval` can still hand out.
    fn left(&self) -> i128 {
        let (lo, hi) = self.range();
        let room = if self.increment >= 0 {
            hi as i128 - self.last as i128
        } else {
            self.last as i128 - lo as i128
        };
        (room / (self.increment as i128).abs().max(1)).max(0)
    }

    fn finding(&self) -> Option<Finding> {
        let used = self.used();
        let severity = if used >= ERROR_AT {
            Severity::Error
        } else if used >= WARN_AT {
            Severity::Warning
        } else {
            return None;
        };
        let (lo, hi) = self.range();
        let limit = if self.increment >= 0 { hi } else { lo };
        let feeds = match &self.column {
            Some((s, t, c, ty)) => format!(" (feeds {s}.{t}.{c}, {ty})"),
            None => String::new(),
        };
        let seq = qualified(&self.schema, &self.name);
        let mut steps = Vec::new();
        if let Some((s, t, c, ty)) = &self.column {
            if ty == "smallint" || ty == "integer" {
                steps.push(format!(
                    "ALTER TABLE {} ALTER COLUMN {} TYPE bigint; (rewrites the table under an ACCESS EXCLUSIVE lock)",
                    qualified(s, t),
                    ident(c)
                ));
            }
        }
        if self.data_type != "bigint" {
            steps.push(format!("ALTER SEQUENCE {seq} AS bigint;"));
        }
        if let Some((type_lo, type_hi)) = type_range(&self.data_type) {
            if self.increment >= 0 && self.max < type_hi {
                steps.push(format!("ALTER SEQUENCE {seq} NO MAXVALUE;"));
            } else if self.increment < 0 && self.min > type_lo {
                steps.push(format!("ALTER SEQUENCE {seq} NO MINVALUE;"));
            }
        }
        let hint = if steps.is_empty() {
            "the range cannot grow past bigint: restart the sequence at unused values (ALTER SEQUENCE … RESTART WITH …) if old keys are gone, or move the key to another type (e.g. uuid)".to_string()
        } else {
            steps.join(" ")
        };
        let mut f = finding(
            &INFO,
            object(&self.schema, &self.name),
            format!(
                "sequence {}.{}{feeds} has used {:.1}% of its range: last value {} of limit {limit}, {} values left",
                self.schema,
                self.name,
                used * 100.0,
                self.last,
                self.left()
            ),
            hint,
        );
        f.severity = severity;
        Some(f)
    }
}

pub(super) async fn run(client: &Client, scope: &Scope) -> Result<Vec<Finding>> {
    let rows = client
        .query(&sql(), &[&scope.schemas])
        .await
        .map_err(|e| Error::db("checking sequences", e))?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let column = match (r.get(7), r.get(8), r.get(9), r.get(10)) {
                (Some(s), Some(t), Some(c), Some(ty)) => Some((s, t, c, ty)),
                _ => None,
            };
            Sequence {
                schema: r.get(0),
                name: r.get(1),
                data_type: r.get(2),
                min: r.get(3),
                max: r.get(4),
                increment: r.get(5),
                last: r.get(6),
                column,
            }
            .finding()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(data_type: &str, min: i64, max: i64, increment: i64, last: i64) -> Sequence {
        Sequence {
            schema: "app".into(),
            name: "s".into(),
            data_type: data_type.into(),
            min,
            max,
            increment,
            last,
            column: None,
        }
    }

    #[test]
    fn usage_follows_the_increment() {
        let up = seq("integer", 1, 101, 1, 76);
        assert!((up.used() - 0.75).abs() < 1e-9);
        assert_eq!(up.finding().map(|f| f.severity), Some(Severity::Warning));
        assert_eq!(up.left(), 25);
        let down = seq("integer", -101, -1, -1, -92);
        assert!((down.used() - 0.91).abs() < 1e-9);
        assert_eq!(down.finding().map(|f| f.severity), Some(Severity::Error));
        assert!(seq("integer", 1, 101, 1, 75).finding().is_none());
        assert!(seq("bigint", 1, i64::MAX, 1, i64::MAX).used() >= 1.0);
    }

    #[test]
    fn the_column_type_narrows_the_range() {
        let mut s = seq("bigint", 1, i64::MAX, 1, 2_000_000_000);
        assert!(s.finding().is_none());
        s.column = Some(("app".into(), "t".into(), "id".into(), "integer".into()));
        let f = s.finding().expect("an integer column at 93%");
        assert_eq!(f.severity, Severity::Error);
        assert_eq!(
            f.hint,
            "ALTER TABLE \"app\".\"t\" ALTER COLUMN \"id\" TYPE bigint; (rewrites the table under an ACCESS EXCLUSIVE lock)"
        );
        assert!(
            f.message.contains("feeds app.t.id, integer"),
            "{}",
            f.message
        );
    }

    #[test]
    fn full_bigint_range_says_so() {
        let f = seq("bigint", 1, i64::MAX, 1, i64::MAX - 10)
            .finding()
            .expect("finding");
        assert!(f.hint.starts_with("the range cannot grow past bigint"));
        let f = seq("bigint", 1, 1000, 1, 950).finding().expect("finding");
        assert_eq!(f.hint, "ALTER SEQUENCE \"app\".\"s\" NO MAXVALUE;");
    }
}
