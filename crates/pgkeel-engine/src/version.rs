//! Migration versions and the naming schemes that coexist in one project.
//!
//! Pure: no I/O. A file name is parsed into a [`Version`] (the text as written, the scheme, and a
//! numeric ordering key) and a human name. Versions compare as numbers, never as strings:
//! `99_a.sql` comes before `100_b.sql`, and every sequential version comes before every
//! timestamped one. The three timestamp schemes are normalised to a `YYYYMMDDHHMMSS` key so that
//! `20240101_x.sql`, `20240101_07_y.sql` and `20240101120000_z.sql` interleave chronologically.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

/// How a migration file's version is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    /// `NNN_name.sql`: 1 to 7 digits, e.g. `000_init.sql`, `107_fix.sql`.
    Sequential,
    /// `YYYYMMDDHHMMSS_name.sql` (what the Supabase CLI writes).
    Timestamp,
    /// `YYYYMMDD_name.sql`.
    Date,
    /// `YYYYMMDD_HH_name.sql`.
    DateHour,
}

impl Scheme {
    fn rank(self) -> u8 {
        match self {
            Scheme::Sequential => 0,
            Scheme::Timestamp | Scheme::Date | Scheme::DateHour => 1,
        }
    }

    /// True for the three date-based schemes.
    pub fn is_timestamped(self) -> bool {
        self.rank() == 1
    }
}

/// A migration version: the text written in the file name plus its ordering key.
///
/// Equality and ordering use only the key, so `7_a.sql` and `007_b.sql` are the same version
/// (and a duplicate), as are `20240101_a.sql` and `20240101000000_b.sql`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Version {
    text: String,
    scheme: Scheme,
    key: u64,
}

impl Version {
    /// The version as written in the file name (and recorded in history), e.g. `"007"` or
    /// `"20240101_07"`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Parse a version string as it appears in history or on the command line (`"007"`,
    /// `"20240101120000"`, `"20240101_07"`).
    pub fn parse(text: &str) -> Option<Version> {
        let (v, rest) = split_version(text)?;
        if rest.is_empty() {
            Some(v)
        } else {
            None
        }
    }

    /// The sort key used for comparisons (exposed for diagnostics and tests).
    pub fn sort_key(&self) -> (u8, u64) {
        (self.scheme.rank(), self.key)
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.sort_key() == other.sort_key()
    }
}
impl Eq for Version {}
impl std::hash::Hash for Version {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.sort_key().hash(state)
    }
}
impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.sort_key().cmp(&other.sort_key())
    }
}
impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The parts of a migration file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedName {
    pub version: Version,
    /// The descriptive part after the version, e.g. `create_users`.
    pub name: String,
    /// True for `NAME.down.sql`, the down migration of `NAME.sql`.
    pub is_down: bool,
}

/// The longest sequential version accepted; longer digit runs are dates or mistakes.
const MAX_SEQUENTIAL_DIGITS: usize = 7;

/// Parse a file name (not a path) such as `042_add_orders.sql`.
///
/// Returns `None` for a name that matches no scheme; the caller reports it.
pub fn parse_file_name(file_name: &str) -> Option<ParsedName> {
    let stem = file_name.strip_suffix(".sql")?;
    let (stem, is_down) = match stem.strip_suffix(".down") {
        Some(s) => (s, true),
        None => (stem, false),
    };
    let (version, rest) = split_version(stem)?;
    let name = rest.strip_prefix('_')?;
    if name.is_empty() {
        return None;
    }
    Some(ParsedName {
        version,
        name: name.to_string(),
        is_down,
    })
}

/// Split a leading version off `s`, returning the version and what follows it (either empty or
/// starting with `_`).
fn split_version(s: &str) -> Option<(Version, &str)> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let (head, rest) = s.split_at(digits);
    if !(rest.is_empty() || rest.starts_with('_')) {
        return None;
    }
    match digits {
        14 => {
            let key: u64 = head.parse().ok()?;
            valid_datetime(key).then(|| {
                (
                    Version {
                        text: head.to_string(),
                        scheme: Scheme::Timestamp,
                        key,
                    },
                    rest,
                )
            })
        }
        8 => {
            let day: u64 = head.parse().ok()?;
            if !valid_date(day) {
                return None;
            }
            // `YYYYMMDD_HH_name`: two digits of hour, then `_` or the end.
            if let Some(after) = rest.strip_prefix('_') {
                let hb = after.as_bytes();
                if hb.len() >= 2
                    && hb[0].is_ascii_digit()
                    && hb[1].is_ascii_digit()
                    && (hb.len() == 2 || hb[2] == b'_')
                {
                    let hour = u64::from(hb[0] - b'0') * 10 + u64::from(hb[1] - b'0');
                    if hour < 24 {
                        let text = &s[..digits + 3];
                        return Some((
                            Version {
                                text: text.to_string(),
                                scheme: Scheme::DateHour,
                                key: day * 1_000_000 + hour * 10_000,
                            },
                            &after[2..],
                        ));
                    }
                }
            }
            Some((
                Version {
                    text: head.to_string(),
                    scheme: Scheme::Date,
                    key: day * 1_000_000,
                },
                rest,
            ))
        }
        1..=MAX_SEQUENTIAL_DIGITS => Some((
            Version {
                text: head.to_string(),
                scheme: Scheme::Sequential,
                key: head.parse().ok()?,
            },
            rest,
        )),
        _ => None,
    }
}

fn valid_date(yyyymmdd: u64) -> bool {
    let year = yyyymmdd / 10_000;
    let month = (yyyymmdd / 100) % 100;
    let day = yyyymmdd % 100;
    (1970..=9999).contains(&year) && (1..=12).contains(&month) && (1..=31).contains(&day)
}

fn valid_datetime(ts: u64) -> bool {
    let hh = (ts / 10_000) % 100;
    let mm = (ts / 100) % 100;
    let ss = ts % 100;
    valid_date(ts / 1_000_000) && hh < 24 && mm < 60 && ss < 61
}

/// Build the version that follows `last` in the same scheme, for `pgkeel new`.
///
/// Sequential versions keep the width of the widest existing one (`041` → `042`).
pub fn next_sequential(last: Option<&Version>, width: usize) -> Version {
    let next = last.map_or(0, |v| v.key + 1);
    let text = format!("{next:0width$}");
    Version {
        text,
        scheme: Scheme::Sequential,
        key: next,
    }
}

/// A timestamp version (`YYYYMMDDHHMMSS`) for `now`, bumped past `last` when they collide so that
/// two calls in one second still get distinct, increasing versions.
pub fn next_timestamp(now: chrono::NaiveDateTime, last: Option<&Version>) -> Version {
    let mut key: u64 = now
        .format("%Y%m%d%H%M%S")
        .to_string()
        .parse()
        .unwrap_or(19700101000000);
    if let Some(last) = last.filter(|l| l.scheme.is_timestamped()) {
        // Start from the newest version when it is not older than now (also when it is dated
        // in the future), never by stepping one second at a time from now.
        if key <= last.key {
            key = bump_second(last.key);
        }
        // Bounded: past year 9999 there is no valid timestamp to find.
        for _ in 0..10_000 {
            if valid_datetime(key) {
                break;
            }
            key = bump_second(key);
        }
    }
    Version {
        text: key.to_string(),
        scheme: Scheme::Timestamp,
        key,
    }
}

fn bump_second(key: u64) -> u64 {
    let parsed = chrono::NaiveDateTime::parse_from_str(&key.to_string(), "%Y%m%d%H%M%S");
    match parsed {
        Ok(t) => (t + chrono::Duration::seconds(1))
            .format("%Y%m%d%H%M%S")
            .to_string()
            .parse()
            .unwrap_or(key + 1),
        Err(_) => key + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(name: &str) -> Version {
        parse_file_name(name).expect(name).version
    }

    #[test]
    fn sequential_compare_as_numbers() {
        assert!(v("99_a.sql") < v("100_b.sql"));
        assert!(v("000_init.sql") < v("001_x.sql"));
        assert_eq!(v("7_a.sql"), v("007_b.sql"));
    }

    #[test]
    fn sequential_before_timestamps() {
        assert!(v("107_last.sql") < v("20200101_first.sql"));
        assert!(v("9999999_big.sql") < v("19700101000000_epoch.sql"));
    }

    #[test]
    fn timestamp_schemes_interleave_chronologically() {
        let mut all = [
            v("20240102_b.sql"),
            v("20240101120000_c.sql"),
            v("20240101_07_d.sql"),
            v("20240101_a.sql"),
        ];
        all.sort();
        let texts: Vec<_> = all.iter().map(|v| v.as_str().to_string()).collect();
        assert_eq!(
            texts,
            ["20240101", "20240101_07", "20240101120000", "20240102"]
        );
        assert_eq!(v("20240101_a.sql"), v("20240101000000_b.sql"));
    }

    #[test]
    fn parses_names_and_down_files() {
        let p = parse_file_name("20240101_07_add_index.sql").unwrap();
        assert_eq!(p.version.scheme(), Scheme::DateHour);
        assert_eq!(p.version.as_str(), "20240101_07");
        assert_eq!(p.name, "add_index");
        let d = parse_file_name("003_users.down.sql").unwrap();
        assert!(d.is_down);
        assert_eq!(d.name, "users");
        // A date whose next part is not an hour keeps it in the name.
        let p = parse_file_name("20240101_99_bottles.sql").unwrap();
        assert_eq!(p.version.scheme(), Scheme::Date);
        assert_eq!(p.name, "99_bottles");
    }

    #[test]
    fn rejects_names_matching_no_scheme() {
        for bad in [
            "init.sql",
            "V1__init.sql",
            "001init.sql",
            "001_.sql",
            "001_x.sql.skip",
            "001_x.txt",
            "123456789_nine_digits.sql",
            "20241399_bad_month.sql",
            "20240101250000_bad_hour.sql",
        ] {
            assert!(parse_file_name(bad).is_none(), "{bad} should not parse");
        }
    }

    #[test]
    fn parse_history_versions() {
        assert_eq!(
            Version::parse("20240101_07").unwrap().scheme(),
            Scheme::DateHour
        );
        assert_eq!(
            Version::parse("042").unwrap(),
            Version::parse("42").unwrap()
        );
        assert!(Version::parse("42_x").is_none());
    }

    #[test]
    fn next_versions() {
        assert_eq!(next_sequential(Some(&v("041_x.sql")), 3).as_str(), "042");
        assert_eq!(next_sequential(None, 3).as_str(), "000");
        let now = chrono::NaiveDate::from_ymd_opt(2026, 1, 2)
            .unwrap()
            .and_hms_opt(3, 4, 59)
            .unwrap();
        let a = next_timestamp(now, None);
        assert_eq!(a.as_str(), "20260102030459");
        let b = next_timestamp(now, Some(&a));
        assert_eq!(b.as_str(), "20260102030500");
        assert!(b > a);
        // A newest migration dated in the future: the next one follows it at once.
        let future = v("20991231235959_future.sql");
        assert_eq!(
            next_timestamp(now, Some(&future)).as_str(),
            "21000101000000"
        );
        // A date-only version (key YYYYMMDD000000) in the future.
        let day = v("20990101_x.sql");
        assert_eq!(next_timestamp(now, Some(&day)).as_str(), "20990101000001");
    }
}
