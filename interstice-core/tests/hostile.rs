//! Hostile or broken modules, one list: each gets an error naming the
//! problem, commits nothing, and leaves the runtime serving other calls.
//! (Subscription cycles are cut in `runtime.rs`; a logged mutation whose
//! schema hash does not match the module is refused in `replay.rs`.)

use std::sync::Arc;

use interstice_abi::{ReducerSchema, Visibility};
use interstice_core::{CallErrorKind, LimitKind, Limits, PublishError, Runtime, RuntimeConfig};
use interstice_log::memory::MemoryLogStore;
use interstice_testkit::calls::arg;
use interstice_testkit::wasm_modules::{self as wat_modules, counter, counter_schema, other};

/// A runtime with `counter`, `other` and `rogue` published.
async fn runtime(limits: Limits) -> (MemoryLogStore, Runtime) {
    let store = MemoryLogStore::new();
    let config = RuntimeConfig {
        limits,
        ..RuntimeConfig::default()
    };
    let (rt, _) = Runtime::open(Arc::new(store.clone()), config)
        .await
        .unwrap();
    rt.publish(&counter()).await.unwrap();
    rt.publish(&other("other", true)).await.unwrap();
    rt.publish(&other("rogue", false)).await.unwrap();
    rt.settle().await;
    (store, rt)
}

/// The runtime still commits a good call, once more.
async fn still_serves(rt: &Runtime, store: &MemoryLogStore, n: u64) {
    let before = store.commits().len();
    let receipt = rt.call("counter", "add", &arg(n)).await.unwrap();
    assert!(receipt.offset.is_some());
    rt.settle().await;
    assert!(store.commits().len() > before);
}

/// A module `bad` whose reducers pass host calls pointers and lengths
/// outside their memory.
fn out_of_bounds() -> Vec<u8> {
    let mut schema = counter_schema();
    schema.name = "bad".into();
    schema.subscriptions.clear();
    schema.reducers = ["row_ptr", "name_ptr", "huge_len", "bad_utf8"]
        .into_iter()
        .map(|name| ReducerSchema {
            name: name.into(),
            params: vec![],
            visibility: Visibility::Public,
            read_only: false,
        })
        .collect();
    let funcs = r#"
  (func (export "__interstice_reducer__row_ptr") (param $p i32) (param $l i32) (result i64)
    (drop (call $insert (call $table (i32.const 0) (i32.const 0) (i32.const 256) (i32.const 8)) (i32.const -16) (i32.const 100)))
    (i64.const 0))
  (func (export "__interstice_reducer__name_ptr") (param $p i32) (param $l i32) (result i64)
    (drop (call $table (i32.const 0) (i32.const 0) (i32.const -1) (i32.const 8)))
    (i64.const 0))
  (func (export "__interstice_reducer__huge_len") (param $p i32) (param $l i32) (result i64)
    (drop (call $insert (call $table (i32.const 0) (i32.const 0) (i32.const 256) (i32.const 8)) (i32.const 0) (i32.const 0x7fffffff)))
    (i64.const 0))
  (func (export "__interstice_reducer__bad_utf8") (param $p i32) (param $l i32) (result i64)
    (i32.store (i32.const 2000) (i32.const 0xffffffff))
    (drop (call $table (i32.const 0) (i32.const 0) (i32.const 2000) (i32.const 4)))
    (i64.const 0))
"#;
    wat_modules::module(&schema, funcs)
}

#[tokio::test]
async fn broken_modules_are_refused_at_publish() {
    let (store, rt) = runtime(Limits::default()).await;
    let before = store.commits().len();
    let wat = |text: &str| wat::parse_str(text).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "not WebAssembly",
            b"\x7fELF\x02\x01\x01".to_vec(),
            "not a valid WebAssembly module",
        ),
        (
            "an empty module",
            wat("(module)"),
            "missing or mistyped export",
        ),
        (
            "a WASI import",
            wat(
                r#"(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32))))"#,
            ),
            "no WASI",
        ),
        (
            "an import from elsewhere",
            wat(r#"(module (import "env" "abort" (func)))"#),
            "env",
        ),
    ];
    for (what, wasm, expected) in cases {
        let err = rt.publish(&wasm).await.unwrap_err();
        assert!(
            matches!(
                err,
                PublishError::InvalidWasm { .. }
                    | PublishError::BadImport { .. }
                    | PublishError::MissingExport { .. }
            ),
            "{what}: {err}"
        );
        assert!(err.to_string().contains(expected), "{what}: {err}");
    }
    assert_eq!(
        store.commits().len(),
        before,
        "a refused publish logs nothing"
    );
    still_serves(&rt, &store, 1).await;
}

#[tokio::test]
async fn hostile_reducers_fail_alone() {
    let limits = Limits {
        max_row_size: 64,
        ..Limits::default()
    };
    let (store, rt) = runtime(limits).await;
    rt.publish(&out_of_bounds()).await.unwrap();
    rt.settle().await;
    let before = store.commits().len();
    // (module, reducer, arguments, the error variant, words of its message)
    let cases: &[(&str, &str, Vec<u8>, &str, &str)] = &[
        ("counter", "spin", vec![], "Limit", "fuel"),
        ("counter", "grow", vec![], "Limit", "memory"),
        ("bad", "row_ptr", vec![], "Trap", "outside its memory"),
        ("bad", "name_ptr", vec![], "Trap", "outside its memory"),
        ("bad", "huge_len", vec![], "Trap", "outside its memory"),
        ("bad", "bad_utf8", vec![], "Trap", "not UTF-8"),
        (
            "other",
            "write_theirs",
            arg(1),
            "Capability",
            "may not write table `counter.counters`",
        ),
        (
            "other",
            "call_private",
            vec![],
            "Capability",
            "may not call private reducer `counter.on_counter`",
        ),
        (
            "rogue",
            "call_add",
            arg(1),
            "Capability",
            "without declaring a dependency on `counter`",
        ),
        (
            "counter",
            "add",
            b"\xff\xff\xff".to_vec(),
            "BadArguments",
            "bad arguments",
        ),
    ];
    for (module, reducer, args, variant, expected) in cases {
        let err = rt.call(module, reducer, args).await.unwrap_err();
        assert!(
            format!("{:?}", err.kind).starts_with(variant),
            "{module}.{reducer}: {err:?}"
        );
        assert!(
            err.to_string().contains(expected),
            "{module}.{reducer}: {err}"
        );
        assert_eq!(
            store.commits().len(),
            before,
            "{module}.{reducer} committed"
        );
    }
    still_serves(&rt, &store, 2).await;
    let line = format!(
        "{} hostile reducer calls (fuel, memory, out-of-bounds and non-UTF-8 host-call \
         arguments, capabilities, bad arguments): each refused with its reason, nothing \
         committed, the runtime kept serving",
        cases.len()
    );
    interstice_log::conformance::report_counts(env!("CARGO_TARGET_TMPDIR"), "hostile", &line);
}

/// With `limits`, `counter.add(1000000)` is refused for `limit` and
/// commits nothing, while `add(1)` still commits.
async fn refused_for(limits: Limits, limit: LimitKind, detail: &str) {
    let (store, rt) = runtime(limits).await;
    let before = store.commits().len();
    let err = rt
        .call("counter", "add", &arg(1_000_000))
        .await
        .unwrap_err();
    assert!(
        matches!(&err.kind, CallErrorKind::Limit { limit: l, .. } if *l == limit),
        "{err}"
    );
    assert!(err.to_string().contains(detail), "{err}");
    assert_eq!(store.commits().len(), before);
    still_serves(&rt, &store, 1).await;
}

#[tokio::test]
async fn rows_and_write_sets_beyond_the_limits_abort() {
    // A row of the counters table is a few bytes: (0, 1) fits in 2 and 3,
    // (0, 1000000) does not.
    let tiny_rows = Limits {
        max_row_size: 2,
        ..Limits::default()
    };
    refused_for(tiny_rows, LimitKind::RowSize, "maximum 2").await;
    let small_write_sets = Limits {
        max_write_set: 3,
        ..Limits::default()
    };
    refused_for(small_write_sets, LimitKind::WriteSet, "maximum 3").await;
}

/// `WasmHost::inspect` (what `interstice validate` runs) refuses what
/// publishing refuses: a declared reducer without its export, and an
/// export that looks like a reducer but is not declared (issue 13, item 16).
#[tokio::test]
async fn inspect_refuses_what_publish_refuses() {
    use interstice_core::WasmHost;
    let host = WasmHost::new(Limits::default());
    let mut declared = counter_schema();
    declared.reducers.push(ReducerSchema {
        name: "bump".into(),
        params: vec![],
        visibility: Visibility::Public,
        read_only: false,
    });
    let no_export = wat_modules::module(&declared, wat_modules::COUNTER_FUNCS);
    let err = host.inspect(&no_export).map(|_| ()).unwrap_err();
    assert!(
        matches!(&err, PublishError::MissingExport { export, .. } if export == "__interstice_reducer__bump"),
        "{err}"
    );
    let (_, rt) = runtime(Limits::default()).await;
    assert!(rt.publish(&no_export).await.is_err());

    let stray = format!(
        "{}\n(func (export \"__interstice_reducer__bmp\") (param i32 i32) (result i64) (i64.const 0))",
        wat_modules::COUNTER_FUNCS
    );
    let err = host
        .inspect(&wat_modules::module(&counter_schema(), &stray))
        .map(|_| ())
        .unwrap_err();
    assert!(
        err.to_string().contains("`__interstice_reducer__bmp`"),
        "{err}"
    );
    assert!(err.to_string().contains("declares no reducer"), "{err}");
}

/// Errors a module author meets name what is wrong in WAT terms, and for
/// an import, which side declares what (issue 13, item 17).
#[test]
fn signatures_in_errors_are_written_as_wat() {
    use interstice_core::WasmHost;
    let host = WasmHost::new(Limits::default());
    let mut schema = counter_schema();
    schema.reducers.push(ReducerSchema {
        name: "bump".into(),
        params: vec![],
        visibility: Visibility::Public,
        read_only: false,
    });
    let funcs = format!(
        "{}\n(func (export \"__interstice_reducer__bump\") (param i32) (result i64) (i64.const 0))",
        wat_modules::COUNTER_FUNCS
    );
    let err = host
        .inspect(&wat_modules::module(&schema, &funcs))
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "needs (func (param i32 i32) (result i64)), found (func (param i32) (result i64))"
        ),
        "{err}"
    );
    assert!(!err.contains("FuncType"), "{err}");

    let wrong_import = wat::parse_str(
        r#"(module
          (import "interstice" "now" (func (param i32) (result i64)))
          (memory (export "memory") 1)
          (func (export "interstice_alloc") (param i32) (result i32) (i32.const 0))
          (func (export "interstice_describe") (result i64) (i64.const 0)))"#,
    )
    .unwrap();
    let err = host
        .inspect(&wrong_import)
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "`interstice.now`: the module declares (func (param i32) (result i64)), the host provides (func (result i64))"
        ),
        "{err}"
    );
}

/// A schema that does not decode is reported with the field being read and
/// where the bytes ran out, not as bincode's `UnexpectedEnd` (item 17).
#[test]
fn a_schema_that_does_not_decode_names_the_field_and_the_byte() {
    use interstice_core::WasmHost;
    let full = interstice_abi::encode_schema(&counter_schema()).unwrap();
    let cut = &full[..full.len() / 2];
    let data: String = cut.iter().map(|b| format!("\\{b:02x}")).collect();
    let module = wat::parse_str(format!(
        r#"(module
          (memory (export "memory") 1)
          (data (i32.const 1024) "{data}")
          (func (export "interstice_alloc") (param i32) (result i32) (i32.const 4096))
          (func (export "interstice_describe") (result i64)
            (i64.or (i64.shl (i64.const 1024) (i64.const 32)) (i64.const {len}))))"#,
        len = cut.len()
    ))
    .unwrap();
    let err = WasmHost::new(Limits::default())
        .inspect(&module)
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(err.contains("reading `reducers[8].name`"), "{err}");
    assert!(err.contains(&format!("end at byte {}", cut.len())), "{err}");
    assert!(!err.contains("UnexpectedEnd"), "{err}");
}
