//! When appended records are synced to storage.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// When [`Journal::append`](crate::Journal::append) syncs (`fdatasync`) the
/// active segment. Until a record is synced a power cut may lose it; a crash of
/// the process alone does not (the operating system still holds it).
///
/// Parsed from and displayed as `every-record`, `os`, `interval:100ms`,
/// `interval:50` (records) or `interval:100ms,50`; `interval:2s` is read as
/// `interval:2000ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Sync after each append: nothing reported appended is lost, at the cost of
    /// one sync per record.
    EveryRecord,
    /// Sync once `ms` milliseconds passed since the oldest unsynced record, or
    /// once `records` records are unsynced, whichever comes first; 0 turns that
    /// trigger off. Time is checked at each append and by
    /// [`Journal::tick`](crate::Journal::tick), which a caller with sparse
    /// appends calls periodically.
    Interval {
        /// Longest time a record stays unsynced, in milliseconds (0: no limit).
        ms: u64,
        /// Most records left unsynced (0: no limit).
        records: u64,
    },
    /// Never sync on a schedule: only [`Journal::sync`](crate::Journal::sync),
    /// rotation and dropping the journal sync; the operating system writes back
    /// when it decides to.
    Os,
}

impl Default for Durability {
    /// `every-record`: events are rare enough on a camera that a sync each costs
    /// little, and a power cut then loses nothing reported appended.
    fn default() -> Self {
        Durability::EveryRecord
    }
}

impl fmt::Display for Durability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Durability::EveryRecord => f.write_str("every-record"),
            Durability::Os => f.write_str("os"),
            Durability::Interval { ms, records: 0 } => write!(f, "interval:{ms}ms"),
            Durability::Interval { ms: 0, records } => write!(f, "interval:{records}"),
            Durability::Interval { ms, records } => write!(f, "interval:{ms}ms,{records}"),
        }
    }
}

/// Why a durability policy string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseDurabilityError(String);

impl ParseDurabilityError {
    /// What class of failure this is: always a setting that does not parse
    /// ([`JournalErrorKind::Config`](crate::JournalErrorKind::Config)).
    pub fn kind(&self) -> crate::JournalErrorKind {
        crate::JournalErrorKind::Config
    }
}

impl FromStr for Durability {
    type Err = ParseDurabilityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |why: &str| {
            ParseDurabilityError(format!(
                "{why}; expected every-record, os, interval:<N>ms, interval:<records> \
                 or interval:<N>ms,<records>"
            ))
        };
        match s.trim() {
            "every-record" => return Ok(Durability::EveryRecord),
            "os" => return Ok(Durability::Os),
            _ => {}
        }
        let Some(spec) = s.trim().strip_prefix("interval:") else {
            return Err(err("unknown policy"));
        };
        let (mut ms, mut records) = (None, None);
        for part in spec.split(',').map(str::trim) {
            let slot = if time_ms(part).is_some() {
                &mut ms
            } else {
                &mut records
            };
            if slot.is_some() {
                return Err(err("a time or a record count given twice"));
            }
            *slot = Some(time_ms(part).or_else(|| part.parse().ok()).ok_or_else(|| {
                err(&format!(
                    "`{part}` is neither a time like 100ms nor a record count"
                ))
            })?);
        }
        let (ms, records) = (ms.unwrap_or(0), records.unwrap_or(0));
        if ms == 0 && records == 0 {
            return Err(err(
                "an interval needs a time or a record count of at least 1",
            ));
        }
        Ok(Durability::Interval { ms, records })
    }
}

/// `100ms` or `2s` as milliseconds.
fn time_ms(s: &str) -> Option<u64> {
    if let Some(n) = s.strip_suffix("ms") {
        n.parse().ok()
    } else if let Some(n) = s.strip_suffix('s') {
        n.parse::<u64>().ok()?.checked_mul(1000)
    } else {
        None
    }
}

/// Records appended but not yet synced, and whether the policy wants a sync.
#[derive(Debug, Default)]
pub(crate) struct Unsynced {
    records: u64,
    since: Option<Instant>,
}

impl Unsynced {
    /// Notes one more unsynced record.
    pub(crate) fn add(&mut self) {
        self.records += 1;
        self.since.get_or_insert_with(Instant::now);
    }

    /// Everything is synced.
    pub(crate) fn clear(&mut self) {
        *self = Unsynced::default();
    }

    /// Whether any record is unsynced.
    pub(crate) fn any(&self) -> bool {
        self.records > 0
    }

    /// Whether `policy` wants a sync now, after an append.
    pub(crate) fn due_after_append(&self, policy: Durability) -> bool {
        match policy {
            Durability::EveryRecord => self.any(),
            Durability::Interval { records, .. } if records > 0 && self.records >= records => true,
            Durability::Interval { .. } => self.time_is_up(policy),
            Durability::Os => false,
        }
    }

    /// Whether `policy` has an interval whose time ran out.
    pub(crate) fn time_is_up(&self, policy: Durability) -> bool {
        match (policy, self.since) {
            (Durability::Interval { ms, .. }, Some(since)) if ms > 0 => {
                since.elapsed() >= Duration::from_millis(ms)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_display_round_trip() {
        let cases = [
            ("every-record", Durability::EveryRecord),
            ("os", Durability::Os),
            (
                "interval:100ms",
                Durability::Interval {
                    ms: 100,
                    records: 0,
                },
            ),
            ("interval:50", Durability::Interval { ms: 0, records: 50 }),
            (
                "interval:100ms,50",
                Durability::Interval {
                    ms: 100,
                    records: 50,
                },
            ),
        ];
        for (text, policy) in cases {
            assert_eq!(text.parse::<Durability>(), Ok(policy), "{text}");
            assert_eq!(policy.to_string(), text);
        }
        assert_eq!(
            "interval:50, 2s".parse(),
            Ok(Durability::Interval {
                ms: 2000,
                records: 50
            })
        );
        assert_eq!(
            Durability::default().to_string().parse(),
            Ok(Durability::default())
        );
    }

    #[test]
    fn parse_refusals_say_why() {
        for bad in [
            "",
            "sometimes",
            "interval:",
            "interval:0",
            "interval:0ms",
            "interval:1ms,2ms",
            "interval:5,6",
            "interval:fast",
            "interval:-1",
            "every-record,os",
        ] {
            let e = bad.parse::<Durability>().unwrap_err().to_string();
            assert!(e.contains("expected every-record"), "{bad}: {e}");
        }
    }

    #[test]
    fn interval_triggers() {
        let by_count = Durability::Interval { ms: 0, records: 3 };
        let mut u = Unsynced::default();
        assert!(!u.due_after_append(by_count) && !u.any());
        u.add();
        u.add();
        assert!(!u.due_after_append(by_count));
        u.add();
        assert!(u.due_after_append(by_count));
        u.clear();
        assert!(!u.any());

        let by_time = Durability::Interval { ms: 20, records: 0 };
        u.add();
        assert!(!u.due_after_append(by_time) && !u.time_is_up(by_time));
        std::thread::sleep(Duration::from_millis(25));
        assert!(u.time_is_up(by_time) && u.due_after_append(by_time));
        assert!(!u.time_is_up(Durability::Os) && !u.due_after_append(Durability::Os));
    }

    #[test]
    fn a_policy_that_does_not_parse_is_a_setting() {
        let e = "sometimes".parse::<Durability>().unwrap_err();
        assert_eq!(e.kind().as_str(), "config");
    }
}
