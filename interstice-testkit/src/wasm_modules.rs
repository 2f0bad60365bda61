//! Test modules written in WAT (until the SDK exists): a preamble with the
//! host imports, a bump allocator and `interstice_describe` returning the
//! schema encoded by the test, plus each module's reducers.

use interstice_abi::writes::{DeclaredWrites, TableWrite, WRITES_SECTION};
use interstice_abi::{
    ABI_VERSION, ColumnSchema, Dependency, IndexSchema, ModuleSchema, ParamSchema, ReducerSchema,
    SubscriptionSchema, TableEvent, TableSchema, Type, Version, Visibility, encode_schema,
};

/// Names at fixed addresses, for host calls.
pub const NAMES: &[(u32, &str)] = &[
    (256, "counters"),
    (272, "seen"),
    (288, "counter"),
    (304, "add"),
    (320, "nope"),
    (336, "on_counter"),
    (352, "\u{1}\u{0}"),
    (368, "call failed"),
    (400, "by_n"),
    (416, "\u{5}"),
    (432, "\u{1}"),
    (448, "\u{1}\u{2a}"),
];

fn bytes_literal(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\{b:02x}")).collect()
}

/// A module: `schema` is what `interstice_describe` returns; `funcs` are
/// the reducer exports (WAT text).
pub fn module(schema: &ModuleSchema, funcs: &str) -> Vec<u8> {
    module_declaring(schema, &[], funcs)
}

/// `(reducer, [(table, event)])`: what a reducer declares it writes.
pub type Writes<'a> = (&'a str, &'a [(&'a str, TableEvent)]);

/// A module like [`module`] whose reducers declare what they write, in
/// the `interstice.writes` custom section as the SDK puts it there.
pub fn module_declaring(schema: &ModuleSchema, writes: &[Writes<'_>], funcs: &str) -> Vec<u8> {
    let section: Vec<u8> = writes
        .iter()
        .flat_map(|(reducer, writes)| {
            DeclaredWrites {
                reducer: (*reducer).into(),
                writes: writes
                    .iter()
                    .map(|(table, event)| TableWrite {
                        table: (*table).into(),
                        event: *event,
                    })
                    .collect(),
            }
            .to_section_record()
            .unwrap()
        })
        .collect();
    let custom = if writes.is_empty() {
        String::new()
    } else {
        format!(
            "  (@custom \"{WRITES_SECTION}\" \"{}\")\n",
            bytes_literal(&section)
        )
    };
    let schema_bytes = encode_schema(schema).unwrap();
    let names: String = NAMES
        .iter()
        .map(|(at, s)| {
            format!(
                "  (data (i32.const {at}) \"{}\")\n",
                bytes_literal(s.as_bytes())
            )
        })
        .collect();
    let wat = format!(
        r#"(module
  (import "interstice" "table" (func $table (param i32 i32 i32 i32) (result i64)))
  (import "interstice" "insert" (func $insert (param i64 i32 i32) (result i64)))
  (import "interstice" "call" (func $call (param i32 i32 i32 i32 i32 i32) (result i64)))
  (import "interstice" "random" (func $random (result i64)))
  (import "interstice" "now" (func $now (result i64)))
  (import "interstice" "get" (func $get (param i64 i32 i32) (result i64)))
  (import "interstice" "update" (func $update (param i64 i32 i32) (result i64)))
  (import "interstice" "delete" (func $delete (param i64 i32 i32) (result i64)))
  (import "interstice" "index" (func $index (param i64 i32 i32) (result i64)))
  (import "interstice" "scan" (func $scan (param i64 i64 i32 i32 i32 i32 i32 i32) (result i64)))
  (import "interstice" "next" (func $next (param i64) (result i64)))
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 65536))
  (func $alloc (export "interstice_alloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n)))
    (if (i32.gt_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
      (then (drop (memory.grow (i32.add (i32.div_u (local.get $n) (i32.const 65536)) (i32.const 1))))))
    (local.get $p))
  (data (i32.const 4096) "{schema}")
  (func (export "interstice_describe") (result i64)
    (i64.or (i64.shl (i64.const 4096) (i64.const 32)) (i64.const {schema_len})))
{names}
  ;; Inserts (0, args...) into `module.counters` (module name at $mp/$ml).
  (func $ins_counter (param $mp i32) (param $ml i32) (param $p i32) (param $l i32) (result i64)
    (local $row i32)
    (local.set $row (call $alloc (i32.add (local.get $l) (i32.const 1))))
    (i32.store8 (local.get $row) (i32.const 0))
    (memory.copy (i32.add (local.get $row) (i32.const 1)) (local.get $p) (local.get $l))
    (call $insert (call $table (local.get $mp) (local.get $ml) (i32.const 256) (i32.const 8))
      (local.get $row) (i32.add (local.get $l) (i32.const 1))))
{funcs}
{custom})"#,
        schema = bytes_literal(&schema_bytes),
        schema_len = schema_bytes.len(),
    );
    wat::parse_str(&wat).unwrap_or_else(|e| panic!("bad test WAT: {e}\n{wat}"))
}

fn u64_param(name: &str) -> ParamSchema {
    ParamSchema {
        name: name.into(),
        ty: Type::U64,
    }
}

fn reducer(name: &str, params: Vec<ParamSchema>, public: bool) -> ReducerSchema {
    ReducerSchema {
        name: name.into(),
        params,
        visibility: if public {
            Visibility::Public
        } else {
            Visibility::Private
        },
        read_only: false,
    }
}

fn two_u64(name: &str, auto_inc: bool, index: bool) -> TableSchema {
    TableSchema {
        name: name.into(),
        columns: vec![
            ColumnSchema::new("id", Type::U64),
            ColumnSchema::new("n", Type::U64),
        ],
        primary_key: 0,
        auto_inc,
        indexes: if index {
            vec![IndexSchema::new("by_n", vec![1], false)]
        } else {
            vec![]
        },
        visibility: Visibility::Public,
        version: 1,
        renamed_from: None,
        schedule: None,
    }
}

/// `counter`: tables `counters` (auto-inc id, n) and `seen`; reducers
/// that insert, fail, trap, spin, grow memory, violate uniqueness; a
/// subscription copying each new counter into `seen`.
pub fn counter_schema() -> ModuleSchema {
    ModuleSchema {
        name: "counter".into(),
        version: Version {
            major: 1,
            minor: 0,
            patch: 0,
        },
        abi_version: ABI_VERSION,
        tables: vec![
            two_u64("counters", true, true),
            two_u64("seen", false, false),
        ],
        reducers: vec![
            reducer("add", vec![u64_param("n")], true),
            reducer("fail_after_insert", vec![u64_param("n")], false),
            reducer("trap_after_insert", vec![u64_param("n")], false),
            reducer("spin", vec![], false),
            reducer("grow", vec![], false),
            reducer("noop", vec![], true),
            reducer("dup", vec![], false),
            reducer("add_random", vec![], false),
            ReducerSchema {
                read_only: true,
                ..reducer("sneaky_write", vec![u64_param("n")], true)
            },
            reducer("scan_stats", vec![], false),
            reducer("add_two_expecting_keys", vec![u64_param("first")], false),
            reducer("set_first_to_42", vec![], false),
            reducer("delete_first", vec![], false),
            reducer(
                "on_counter",
                vec![ParamSchema {
                    name: "row".into(),
                    ty: two_u64("counters", true, true).row_type(),
                }],
                false,
            ),
        ],
        subscriptions: vec![SubscriptionSchema {
            reducer: "on_counter".into(),
            module: "counter".into(),
            table: "counters".into(),
            event: TableEvent::Insert,
        }],
        dependencies: vec![],
        migrations: vec![],
        dropped_tables: vec![],
    }
}

/// What `counter`'s subscription declares it writes: rows into `seen`
/// (so that it cannot trigger itself).
pub const COUNTER_WRITES: &[Writes<'static>] = &[("on_counter", &[("seen", TableEvent::Insert)])];

pub fn counter() -> Vec<u8> {
    module_declaring(&counter_schema(), COUNTER_WRITES, COUNTER_FUNCS)
}

/// `counter` without its subscription: one commit per call, what the load
/// tests and the benchmarks run.
pub fn counter_alone() -> Vec<u8> {
    let mut schema = counter_schema();
    schema.subscriptions.clear();
    module_declaring(&schema, COUNTER_WRITES, COUNTER_FUNCS)
}

/// The reducer exports of `counter`.
pub const COUNTER_FUNCS: &str = r#"
  (func (export "__interstice_reducer__add") (param $p i32) (param $l i32) (result i64)
    (drop (call $ins_counter (i32.const 0) (i32.const 0) (local.get $p) (local.get $l)))
    (i64.const 0))
  (func (export "__interstice_reducer__fail_after_insert") (param $p i32) (param $l i32) (result i64)
    (drop (call $ins_counter (i32.const 0) (i32.const 0) (local.get $p) (local.get $l)))
    (i64.or (i64.shl (i64.const 320) (i64.const 32)) (i64.const 4)))
  (func (export "__interstice_reducer__trap_after_insert") (param $p i32) (param $l i32) (result i64)
    (drop (call $ins_counter (i32.const 0) (i32.const 0) (local.get $p) (local.get $l)))
    unreachable)
  (func (export "__interstice_reducer__spin") (param $p i32) (param $l i32) (result i64)
    (loop $forever (br $forever))
    unreachable)
  (func (export "__interstice_reducer__grow") (param $p i32) (param $l i32) (result i64)
    (drop (memory.grow (i32.const 4000)))
    (i64.const 0))
  (func (export "__interstice_reducer__noop") (param $p i32) (param $l i32) (result i64)
    (i64.const 0))
  (func (export "__interstice_reducer__dup") (param $p i32) (param $l i32) (result i64)
    (local $h i64)
    (local.set $h (call $table (i32.const 0) (i32.const 0) (i32.const 256) (i32.const 8)))
    (drop (call $insert (local.get $h) (i32.const 352) (i32.const 2)))
    (drop (call $insert (local.get $h) (i32.const 352) (i32.const 2)))
    (i64.const 0))
  (func (export "__interstice_reducer__add_random") (param $p i32) (param $l i32) (result i64)
    (local $row i32)
    ;; row = (0, random() & 0x7f): one-byte varints.
    (local.set $row (call $alloc (i32.const 2)))
    (i32.store8 (local.get $row) (i32.const 0))
    (i32.store8 (i32.add (local.get $row) (i32.const 1)) (i32.wrap_i64 (i64.and (call $random) (i64.const 0x7f))))
    (drop (call $insert (call $table (i32.const 0) (i32.const 0) (i32.const 256) (i32.const 8)) (local.get $row) (i32.const 2)))
    (i64.const 0))
  ;; Writes into `seen`: (200, rows in counters by a primary-key scan),
  ;; (201, rows with n >= 5 by an index scan), (202, 1 if `get(1)` finds a row).
  (func $seen_put (param $id i32) (param $n i32)
    (local $row i32)
    (local.set $row (call $alloc (i32.const 2)))
    (i32.store8 (local.get $row) (local.get $id))
    (i32.store8 (i32.add (local.get $row) (i32.const 1)) (local.get $n))
    (drop (call $insert (call $table (i32.const 0) (i32.const 0) (i32.const 272) (i32.const 4)) (local.get $row) (i32.const 2))))
  (func $count (param $cursor i64) (result i32)
    (local $n i32)
    (block $done
      (loop $more
        (br_if $done (i64.eq (call $next (local.get $cursor)) (i64.const -1)))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $more)))
    (local.get $n))
  (func (export "__interstice_reducer__scan_stats") (param $p i32) (param $l i32) (result i64)
    (local $h i64)
    (local.set $h (call $table (i32.const 0) (i32.const 0) (i32.const 256) (i32.const 8)))
    (call $seen_put (i32.const 200)
      (call $count (call $scan (local.get $h) (i64.const -1) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0))))
    ;; by_n >= 5: the bound is the 1-column key struct (5), mode included | 1 column.
    (call $seen_put (i32.const 201)
      (call $count (call $scan (local.get $h) (call $index (local.get $h) (i32.const 400) (i32.const 4))
        (i32.const 416) (i32.const 1) (i32.const 257) (i32.const 0) (i32.const 0) (i32.const 0))))
    (call $seen_put (i32.const 202)
      (i64.ne (call $get (local.get $h) (i32.const 432) (i32.const 1)) (i64.const -1)))
    (i64.const 0))
  (func (export "__interstice_reducer__set_first_to_42") (param $p i32) (param $l i32) (result i64)
    (drop (call $update (call $table (i32.const 0) (i32.const 0) (i32.const 256) (i32.const 8)) (i32.const 448) (i32.const 2)))
    (i64.const 0))
  ;; Deletes key 1 twice: the second finds nothing (0), which is no error.
  (func (export "__interstice_reducer__delete_first") (param $p i32) (param $l i32) (result i64)
    (local $h i64)
    (local.set $h (call $table (i32.const 0) (i32.const 0) (i32.const 256) (i32.const 8)))
    (if (i64.ne (call $delete (local.get $h) (i32.const 432) (i32.const 1)) (i64.const 1)) (then unreachable))
    (if (i64.ne (call $delete (local.get $h) (i32.const 432) (i32.const 1)) (i64.const 0)) (then unreachable))
    (i64.const 0))
  ;; Inserts two rows; traps unless the host assigned keys `first` and
  ;; `first + 1` (args: one u64 below 251, a one-byte varint).
  (func (export "__interstice_reducer__add_two_expecting_keys") (param $p i32) (param $l i32) (result i64)
    (local $first i64)
    (local.set $first (i64.load8_u (local.get $p)))
    (if (i64.ne (call $ins_counter (i32.const 0) (i32.const 0) (local.get $p) (local.get $l)) (local.get $first))
      (then unreachable))
    (if (i64.ne (call $ins_counter (i32.const 0) (i32.const 0) (local.get $p) (local.get $l))
          (i64.add (local.get $first) (i64.const 1)))
      (then unreachable))
    (i64.const 0))
  (func (export "__interstice_reducer__sneaky_write") (param $p i32) (param $l i32) (result i64)
    (drop (call $ins_counter (i32.const 0) (i32.const 0) (local.get $p) (local.get $l)))
    (i64.const 0))
  (func (export "__interstice_reducer__on_counter") (param $p i32) (param $l i32) (result i64)
    (drop (call $insert (call $table (i32.const 0) (i32.const 0) (i32.const 272) (i32.const 4)) (local.get $p) (local.get $l)))
    (i64.const 0))
"#;

/// A module that uses `counter`: `name` and whether it declares the
/// dependency vary, so both the allowed and the refused case are tested.
pub fn other(name: &str, declares_dependency: bool) -> Vec<u8> {
    let schema = ModuleSchema {
        name: name.into(),
        version: Version {
            major: 0,
            minor: 1,
            patch: 0,
        },
        abi_version: ABI_VERSION,
        tables: vec![],
        reducers: vec![
            reducer("call_add", vec![u64_param("n")], true),
            reducer("write_theirs", vec![u64_param("n")], true),
            reducer("call_private", vec![], true),
        ],
        subscriptions: vec![],
        dependencies: if declares_dependency {
            vec![Dependency {
                module: "counter".into(),
                min_version: Version {
                    major: 1,
                    minor: 0,
                    patch: 0,
                },
            }]
        } else {
            vec![]
        },
        migrations: vec![],
        dropped_tables: vec![],
    };
    module(
        &schema,
        r#"
  (func (export "__interstice_reducer__call_add") (param $p i32) (param $l i32) (result i64)
    (if (i64.lt_s (call $call (i32.const 288) (i32.const 7) (i32.const 304) (i32.const 3) (local.get $p) (local.get $l)) (i64.const 0))
      (then (return (i64.or (i64.shl (i64.const 368) (i64.const 32)) (i64.const 11)))))
    (i64.const 0))
  (func (export "__interstice_reducer__write_theirs") (param $p i32) (param $l i32) (result i64)
    (drop (call $ins_counter (i32.const 288) (i32.const 7) (local.get $p) (local.get $l)))
    (i64.const 0))
  (func (export "__interstice_reducer__call_private") (param $p i32) (param $l i32) (result i64)
    (drop (call $call (i32.const 288) (i32.const 7) (i32.const 336) (i32.const 10) (i32.const 352) (i32.const 2)))
    (i64.const 0))
"#,
    )
}
