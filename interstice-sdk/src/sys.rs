//! The raw host calls (namespace `interstice`, see `docs/abi.md`) and the
//! exports every module shares. Nothing outside this crate sees a pointer:
//! the safe wrappers below take and return slices and owned bytes.
//!
//! Modules run only inside the Interstice runtime. On other targets the
//! crate still compiles (for tests of the encoding, IDEs and docs), and a
//! host call panics with a message saying so.

use interstice_abi::wasm::{self, ERROR, LogLevel, NOT_FOUND};

#[cfg(target_arch = "wasm32")]
mod raw {
    // The namespace is `interstice_abi::wasm::IMPORT_MODULE` (an attribute
    // takes only a literal).
    #[link(wasm_import_module = "interstice")]
    unsafe extern "C" {
        pub fn log(level: i32, ptr: *const u8, len: i32);
        pub fn now() -> i64;
        pub fn random() -> i64;
        pub fn scheduled() -> i64;
        pub fn last_error() -> i64;
        pub fn table(mp: *const u8, ml: i32, tp: *const u8, tl: i32) -> i64;
        pub fn insert(table: i64, ptr: *const u8, len: i32) -> i64;
        pub fn update(table: i64, ptr: *const u8, len: i32) -> i64;
        pub fn delete(table: i64, ptr: *const u8, len: i32) -> i64;
        pub fn get(table: i64, ptr: *const u8, len: i32) -> i64;
        pub fn index(table: i64, ptr: *const u8, len: i32) -> i64;
        #[allow(clippy::too_many_arguments)]
        pub fn scan(
            table: i64,
            index: i64,
            lp: *const u8,
            ll: i32,
            lm: i32,
            hp: *const u8,
            hl: i32,
            hm: i32,
        ) -> i64;
        pub fn next(scan: i64) -> i64;
        pub fn close(scan: i64);
        pub fn call(mp: *const u8, ml: i32, rp: *const u8, rl: i32, ap: *const u8, al: i32) -> i64;
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod raw {
    //! Same signatures; there is no host to call.
    fn outside() -> ! {
        panic!(
            "Interstice host calls work only inside the Interstice runtime: build the module for wasm32-unknown-unknown and publish it"
        )
    }
    pub unsafe fn log(_: i32, _: *const u8, _: i32) {
        outside()
    }
    pub unsafe fn now() -> i64 {
        outside()
    }
    pub unsafe fn random() -> i64 {
        outside()
    }
    pub unsafe fn scheduled() -> i64 {
        outside()
    }
    pub unsafe fn last_error() -> i64 {
        outside()
    }
    pub unsafe fn table(_: *const u8, _: i32, _: *const u8, _: i32) -> i64 {
        outside()
    }
    pub unsafe fn insert(_: i64, _: *const u8, _: i32) -> i64 {
        outside()
    }
    pub unsafe fn update(_: i64, _: *const u8, _: i32) -> i64 {
        outside()
    }
    pub unsafe fn delete(_: i64, _: *const u8, _: i32) -> i64 {
        outside()
    }
    pub unsafe fn get(_: i64, _: *const u8, _: i32) -> i64 {
        outside()
    }
    pub unsafe fn index(_: i64, _: *const u8, _: i32) -> i64 {
        outside()
    }
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn scan(
        _: i64,
        _: i64,
        _: *const u8,
        _: i32,
        _: i32,
        _: *const u8,
        _: i32,
        _: i32,
    ) -> i64 {
        outside()
    }
    pub unsafe fn next(_: i64) -> i64 {
        outside()
    }
    pub unsafe fn close(_: i64) {
        outside()
    }
    pub unsafe fn call(_: *const u8, _: i32, _: *const u8, _: i32, _: *const u8, _: i32) -> i64 {
        outside()
    }
}

fn len(bytes: &[u8]) -> i32 {
    i32::try_from(bytes.len()).expect("wasm32 buffers are shorter than 2 GiB")
}

/// Takes ownership of a buffer the host filled through
/// `interstice_alloc` and handed over [`wasm::pack`]ed.
pub fn take_buffer(packed: i64) -> Vec<u8> {
    let (ptr, n) = wasm::unpack(packed);
    let (ptr, n) = (ptr as usize as *mut u8, n as usize);
    if n == 0 {
        // Empty buffers may come without an allocation (pointer 0).
        return Vec::new();
    }
    // SAFETY: the host allocated exactly `n` bytes with `interstice_alloc`
    // (a `Vec<u8>` of capacity `n`, leaked) and filled them; we are its
    // only owner.
    unsafe { Vec::from_raw_parts(ptr, n, n) }
}

/// A host call's packed result: bytes, not found, or an error message.
fn bytes_result(r: i64) -> Result<Option<Vec<u8>>, String> {
    match r {
        NOT_FOUND => Ok(None),
        ERROR => Err(last_error()),
        r => Ok(Some(take_buffer(r))),
    }
}

fn code_result(r: i64) -> Result<i64, String> {
    match r {
        ERROR => Err(last_error()),
        r => Ok(r),
    }
}

/// The message of the last failed host call.
pub fn last_error() -> String {
    // SAFETY: no arguments; the result is a buffer we own.
    let bytes = take_buffer(unsafe { raw::last_error() });
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Logs `msg` at `level`.
pub fn log(level: LogLevel, msg: &str) {
    // SAFETY: the pointer and length describe `msg`.
    unsafe { raw::log(level as i32, msg.as_ptr(), len(msg.as_bytes())) }
}

/// The transaction's time, µs since the Unix epoch.
pub fn now() -> u64 {
    // SAFETY: no arguments.
    unsafe { raw::now() as u64 }
}

/// The transaction's next random number.
pub fn random() -> u64 {
    // SAFETY: no arguments.
    unsafe { raw::random() as u64 }
}

/// When the schedule row that made this call was due, µs since the Unix
/// epoch; `None` when it was not a schedule's call.
pub fn scheduled() -> Option<u64> {
    // SAFETY: no arguments.
    let due = unsafe { raw::scheduled() };
    u64::try_from(due).ok()
}

/// The handle of `module.table` (`module` empty: this module).
pub fn table(module: &str, table: &str) -> Result<Option<i64>, String> {
    // SAFETY: pointers and lengths describe the two strings.
    let r = unsafe {
        raw::table(
            module.as_ptr(),
            len(module.as_bytes()),
            table.as_ptr(),
            len(table.as_bytes()),
        )
    };
    code_result(r).map(|h| (h != NOT_FOUND).then_some(h))
}

/// Inserts an encoded row; the assigned key on auto-increment tables.
pub fn insert(table: i64, row: &[u8]) -> Result<i64, String> {
    // SAFETY: the pointer and length describe `row`.
    code_result(unsafe { raw::insert(table, row.as_ptr(), len(row)) })
}

/// Replaces the row with the same primary key.
pub fn update(table: i64, row: &[u8]) -> Result<(), String> {
    // SAFETY: the pointer and length describe `row`.
    code_result(unsafe { raw::update(table, row.as_ptr(), len(row)) }).map(drop)
}

/// Deletes by encoded primary key; whether a row was there.
pub fn delete(table: i64, key: &[u8]) -> Result<bool, String> {
    // SAFETY: the pointer and length describe `key`.
    code_result(unsafe { raw::delete(table, key.as_ptr(), len(key)) }).map(|r| r == 1)
}

/// The encoded row with that encoded primary key.
pub fn get(table: i64, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
    // SAFETY: the pointer and length describe `key`.
    bytes_result(unsafe { raw::get(table, key.as_ptr(), len(key)) })
}

/// The id of a secondary index.
pub fn index(table: i64, name: &str) -> Result<Option<i64>, String> {
    // SAFETY: the pointer and length describe `name`.
    let r = unsafe { raw::index(table, name.as_ptr(), len(name.as_bytes())) };
    code_result(r).map(|i| (i != NOT_FOUND).then_some(i))
}

/// One end of a scan: unbounded, or encoded key bytes (for an index, the
/// struct of its first `columns` columns) included or excluded.
pub enum Bound {
    /// No limit.
    Unbounded,
    /// Keys from (or up to) this one, included.
    Included(Vec<u8>, u32),
    /// Keys after (or before) this one.
    Excluded(Vec<u8>, u32),
}

impl Bound {
    fn parts(&self) -> (&[u8], i32) {
        match self {
            Bound::Unbounded => (&[], wasm::bound::UNBOUNDED),
            Bound::Included(b, cols) => (b, wasm::bound::mode(wasm::bound::INCLUDED, *cols)),
            Bound::Excluded(b, cols) => (b, wasm::bound::mode(wasm::bound::EXCLUDED, *cols)),
        }
    }
}

/// Starts a scan over the primary key (`index` `None`) or an index.
pub fn scan(table: i64, index: Option<i64>, lo: &Bound, hi: &Bound) -> Result<i64, String> {
    let ((lb, lm), (hb, hm)) = (lo.parts(), hi.parts());
    // SAFETY: pointers and lengths describe the two bound buffers.
    let r = unsafe {
        raw::scan(
            table,
            index.unwrap_or(-1),
            lb.as_ptr(),
            len(lb),
            lm,
            hb.as_ptr(),
            len(hb),
            hm,
        )
    };
    code_result(r)
}

/// The next encoded row of a scan.
pub fn next(scan: i64) -> Result<Option<Vec<u8>>, String> {
    // SAFETY: no pointers.
    bytes_result(unsafe { raw::next(scan) })
}

/// Forgets a scan.
pub fn close(scan: i64) {
    // SAFETY: no pointers.
    unsafe { raw::close(scan) }
}

/// Calls `module.reducer` with encoded arguments in this transaction.
pub fn call(module: &str, reducer: &str, args: &[u8]) -> Result<(), String> {
    // SAFETY: pointers and lengths describe the three buffers.
    let r = unsafe {
        raw::call(
            module.as_ptr(),
            len(module.as_bytes()),
            reducer.as_ptr(),
            len(reducer.as_bytes()),
            args.as_ptr(),
            len(args),
        )
    };
    code_result(r).map(drop)
}

/// Leaks `bytes` and packs their address and length for the host.
pub fn give(bytes: Vec<u8>) -> i64 {
    let bytes = bytes.leak();
    wasm::pack(bytes.as_ptr() as usize as u32, bytes.len() as u32)
}

/// The export the host allocates argument and result buffers with. The
/// buffer is a leaked `Vec<u8>` of capacity `size`, which [`take_buffer`] takes
/// back; the instance is dropped after each call.
#[cfg(target_arch = "wasm32")]
#[unsafe(no_mangle)]
pub extern "C" fn interstice_alloc(size: i32) -> i32 {
    let v = Vec::<u8>::with_capacity(size.max(0) as usize);
    v.leak().as_mut_ptr() as usize as i32
}
