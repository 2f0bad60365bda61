//! How a log store is opened: durability, recovery, sizes.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// When `append` may return.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// Durable on the medium before `append` returns (one sync per batch).
    #[default]
    Sync,
    /// `append` returns once the write reaches the OS (or the store's
    /// request queue); data is synced at most this long afterwards. A crash
    /// can lose the last interval of acknowledged commits.
    Batch(Duration),
    /// Never synced explicitly. For tests and benchmarks.
    None,
}

/// What opening a log does with an invalid tail or other damage.
///
/// After RocksDB's WAL recovery modes. Damage followed by valid frames is
/// corruption and stops every mode but `SkipTo`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RecoveryMode {
    /// Cut an invalid tail (no valid frame after it) back to the last whole
    /// commit, keeping the cut bytes in a quarantine file and warning.
    #[default]
    TruncateTail,
    /// Refuse to open on any invalid byte, naming its position.
    Strict,
    /// Serve the log from this offset on, ignoring everything before it
    /// (damage included). For manual recovery.
    SkipTo(u64),
}

/// Options common to every backend.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogOptions {
    /// When appends return. Default: [`Durability::Sync`].
    pub durability: Durability,
    /// What to do with damage found at open. Default: truncate-tail.
    pub recovery: RecoveryMode,
    /// Largest commit frame accepted on append or read. Default 32 MiB.
    pub max_frame_size: u64,
    /// Segment size at which a new segment starts. A batch never spans
    /// segments, so a segment can exceed this by one batch. Default 64 MiB.
    pub segment_size: u64,
    /// Open without the writer lock and never modify anything: appends and
    /// truncation fail with [`crate::Error::ReadOnly`], and recovery only
    /// reports what it would cut. Default false.
    pub read_only: bool,
    /// Create the log if it does not exist. Default false, so a mistyped
    /// path is an error rather than a new empty log.
    pub create: bool,
    /// Open for repair: a writable open that, instead of refusing damage
    /// followed by valid commits, serves the log as stored (as a read-only
    /// open does), so that [`crate::LogStore::truncate`] can cut it before
    /// the damage. Default false; `check-log --repair` sets it.
    pub repair: bool,
}

impl LogOptions {
    /// The default [`LogOptions::max_frame_size`]: 32 MiB.
    pub const DEFAULT_MAX_FRAME_SIZE: u64 = 32 << 20;
}

impl Default for LogOptions {
    fn default() -> Self {
        Self {
            durability: Durability::Sync,
            recovery: RecoveryMode::TruncateTail,
            max_frame_size: Self::DEFAULT_MAX_FRAME_SIZE,
            segment_size: 64 << 20,
            read_only: false,
            create: false,
            repair: false,
        }
    }
}

impl LogOptions {
    /// Sets [`LogOptions::durability`].
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }
    /// Sets [`LogOptions::recovery`].
    pub fn recovery(mut self, recovery: RecoveryMode) -> Self {
        self.recovery = recovery;
        self
    }
    /// Sets [`LogOptions::max_frame_size`].
    pub fn max_frame_size(mut self, bytes: u64) -> Self {
        self.max_frame_size = bytes;
        self
    }
    /// Sets [`LogOptions::segment_size`].
    pub fn segment_size(mut self, bytes: u64) -> Self {
        self.segment_size = bytes;
        self
    }
    /// Sets [`LogOptions::read_only`].
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }
    /// Sets [`LogOptions::repair`].
    pub fn repair(mut self, repair: bool) -> Self {
        self.repair = repair;
        self
    }
    /// Sets [`LogOptions::create`].
    pub fn create(mut self, create: bool) -> Self {
        self.create = create;
        self
    }

    /// Checks the options make sense together.
    pub fn validate(&self) -> Result<(), crate::Error> {
        let min = crate::codec::FRAME_OVERHEAD as u64;
        if self.max_frame_size < min {
            return Err(crate::Error::InvalidOptions(format!(
                "max frame size {} is below the smallest frame ({min} bytes)",
                self.max_frame_size
            )));
        }
        if self.max_frame_size > u32::MAX as u64 {
            return Err(crate::Error::InvalidOptions(format!(
                "max frame size {} is over 4 GiB",
                self.max_frame_size
            )));
        }
        if self.segment_size <= crate::codec::SEGMENT_HEADER_LEN as u64 {
            return Err(crate::Error::InvalidOptions(format!(
                "segment size {} leaves no room after the segment header",
                self.segment_size
            )));
        }
        if let Durability::Batch(d) = self.durability
            && d.is_zero()
        {
            return Err(crate::Error::InvalidOptions(
                "batch durability needs an interval above 0 ms (use `sync`)".into(),
            ));
        }
        Ok(())
    }
}

/// A `durability` or `recovery` string that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} `{input}`: expected {expected}")]
pub struct ParseOptionError {
    what: &'static str,
    input: String,
    expected: &'static str,
}

impl FromStr for Durability {
    type Err = ParseOptionError;
    /// `sync`, `none`, or `batch:<ms>`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseOptionError {
            what: "durability",
            input: s.to_owned(),
            expected: "`sync`, `none` or `batch:<ms>` with ms > 0",
        };
        match s {
            "sync" => Ok(Self::Sync),
            "none" => Ok(Self::None),
            _ => {
                let ms: u64 = s
                    .strip_prefix("batch:")
                    .and_then(|m| m.parse().ok())
                    .ok_or_else(err)?;
                if ms == 0 {
                    return Err(err());
                }
                Ok(Self::Batch(Duration::from_millis(ms)))
            }
        }
    }
}

impl fmt::Display for Durability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sync => f.write_str("sync"),
            Self::Batch(d) => write!(f, "batch:{}", d.as_millis()),
            Self::None => f.write_str("none"),
        }
    }
}

impl FromStr for RecoveryMode {
    type Err = ParseOptionError;
    /// `truncate-tail`, `strict`, or `skip-to:<offset>`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "truncate-tail" => Ok(Self::TruncateTail),
            "strict" => Ok(Self::Strict),
            _ => s
                .strip_prefix("skip-to:")
                .and_then(|n| n.parse().ok())
                .map(Self::SkipTo)
                .ok_or_else(|| ParseOptionError {
                    what: "recovery mode",
                    input: s.to_owned(),
                    expected: "`truncate-tail`, `strict` or `skip-to:<offset>`",
                }),
        }
    }
}

impl fmt::Display for RecoveryMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TruncateTail => f.write_str("truncate-tail"),
            Self::Strict => f.write_str("strict"),
            Self::SkipTo(n) => write!(f, "skip-to:{n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip() {
        for s in ["sync", "none", "batch:10"] {
            assert_eq!(s.parse::<Durability>().unwrap().to_string(), s);
        }
        for s in ["truncate-tail", "strict", "skip-to:42"] {
            assert_eq!(s.parse::<RecoveryMode>().unwrap().to_string(), s);
        }
    }

    #[test]
    fn bad_strings_name_the_choices() {
        for s in ["", "fsync", "batch:", "batch:0", "batch:x"] {
            let e = s.parse::<Durability>().unwrap_err().to_string();
            assert!(e.contains("batch:<ms>"), "{e}");
        }
        let e = "skip-to:-1"
            .parse::<RecoveryMode>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("truncate-tail"), "{e}");
    }
}
