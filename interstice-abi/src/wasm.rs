//! The calling convention between the host and a WebAssembly module: the
//! names a module exports, the namespace it imports from, how a buffer is
//! passed as one `i64`, the status codes host calls return, and the log
//! levels. The host (`interstice-core`), the SDK and its macros all take
//! these from here; `docs/abi.md` describes each call.

/// The import namespace of every host call.
pub const IMPORT_MODULE: &str = "interstice";

/// The module's linear memory.
pub const MEMORY: &str = "memory";
/// `(size: i32) -> i32`: allocates guest memory for the host to fill.
pub const ALLOC: &str = "interstice_alloc";
/// `() -> i64`: the encoded `ModuleSchema`, as a [`pack`]ed buffer.
pub const DESCRIBE: &str = "interstice_describe";
/// Prefix of each reducer's export: `(args_ptr: i32, args_len: i32) ->
/// i64`, [`OK`] for success or a [`pack`]ed UTF-8 error message.
pub const REDUCER_PREFIX: &str = "__interstice_reducer__";

/// The export name of reducer `name`.
pub fn reducer_export(name: &str) -> String {
    format!("{REDUCER_PREFIX}{name}")
}

/// A reducer succeeded, or a host call that returns no value did.
pub const OK: i64 = 0;
/// A host call found nothing: no such row, table or index, or the end of a
/// scan.
pub const NOT_FOUND: i64 = -1;
/// A host call failed; `last_error` returns the message.
pub const ERROR: i64 = -2;

/// Packs a guest buffer's address and length into one `i64`: `ptr << 32 |
/// len`.
pub fn pack(ptr: u32, len: u32) -> i64 {
    ((u64::from(ptr) << 32) | u64::from(len)) as i64
}

/// Splits a [`pack`]ed buffer into its address and length.
pub fn unpack(packed: i64) -> (u32, u32) {
    let p = packed as u64;
    ((p >> 32) as u32, p as u32)
}

/// A table handle: the module id in the high 32 bits, the table id in the
/// low ones (the same layout as [`pack`]).
pub fn table_handle(module: u32, table: u32) -> i64 {
    pack(module, table)
}

/// How a scan bound's `mode` argument says what kind of bound it is: the
/// low byte is one of these, and for an index the next bits hold how many
/// key columns the bound's bytes encode (`mode >> 8`).
pub mod bound {
    /// No limit (the bound's bytes are ignored).
    pub const UNBOUNDED: i32 = 0;
    /// Keys from (or up to) the bound, included.
    pub const INCLUDED: i32 = 1;
    /// Keys after (or before) the bound.
    pub const EXCLUDED: i32 = 2;

    /// The mode of a bound of `kind` over an index's first `columns`
    /// columns (0 for the primary key).
    pub fn mode(kind: i32, columns: u32) -> i32 {
        kind | (columns as i32) << 8
    }
}

/// The level of a message a module logs (the `level` argument of the
/// `log` host call). Any value above `Debug` is read as `Debug`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(i32)]
pub enum LogLevel {
    /// Something failed.
    Error = 0,
    /// Something looks wrong.
    Warn = 1,
    /// Ordinary progress.
    Info = 2,
    /// Detail.
    Debug = 3,
}

impl LogLevel {
    /// The level a `log` call's argument names; negative values are
    /// errors, values above 3 debug.
    pub fn from_i32(level: i32) -> Self {
        match level {
            i32::MIN..=0 => Self::Error,
            1 => Self::Warn,
            2 => Self::Info,
            _ => Self::Debug,
        }
    }

    /// The lowercase name (`"error"`, `"warn"`, `"info"`, `"debug"`), as
    /// the CLI and the HTTP API print it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warn => "warn",
            Self::Info => "info",
            Self::Debug => "debug",
        }
    }
}

impl std::fmt::Display for LogLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_round_trips_full_range() {
        for (p, l) in [(0, 0), (1, 2), (u32::MAX, u32::MAX), (0x8000_0000, 7)] {
            assert_eq!(unpack(pack(p, l)), (p, l));
        }
    }

    #[test]
    fn log_levels_clamp_like_the_host_always_did() {
        assert_eq!(LogLevel::from_i32(-5), LogLevel::Error);
        assert_eq!(LogLevel::from_i32(2), LogLevel::Info);
        assert_eq!(LogLevel::from_i32(99), LogLevel::Debug);
        assert_eq!(LogLevel::Warn as i32, 1);
    }
}
