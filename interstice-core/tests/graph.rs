//! The module graph of the real modules: from their declarations, and
//! with what a log shows happened (calls, rows written, cross-module
//! calls, subscription runs), counted; and its outputs hold every node
//! and edge.

use std::sync::Arc;

use interstice_abi::{TableEvent, Value, encode_value};
use interstice_backend_fs::FsLogStore;
use interstice_core::cycles::Declared;
use interstice_core::graph::{EdgeKind, Graph, Node, TableNames, dot, graphml, html, svg};
use interstice_core::{Inspected, Limits, Runtime, RuntimeConfig, WasmHost};
use interstice_log::{LogOptions, LogStoreExt};
use interstice_testkit::built::wasm;
use interstice_testkit::wasm_modules::{
    self as wat_modules, COUNTER_FUNCS, COUNTER_WRITES, counter_schema,
};

fn inspected(modules: &[Vec<u8>]) -> Vec<Inspected> {
    let host = WasmHost::new(Limits::default());
    modules.iter().map(|w| host.inspect(w).unwrap()).collect()
}

fn declared(inspected: &[Inspected]) -> Vec<Declared<'_>> {
    inspected
        .iter()
        .map(|i| Declared {
            schema: &i.schema,
            writes: &i.writes,
        })
        .collect()
}

fn reducer(m: &str, r: &str) -> Node {
    Node::Reducer(m.into(), r.into())
}

fn table(m: &str, t: &str) -> Node {
    Node::Table(m.into(), t.into())
}

#[test]
fn the_declared_graph_has_every_table_reducer_and_subscription() {
    let modules = inspected(&[wasm("hello"), wasm("caller"), wasm("chat")]);
    let g = Graph::from_modules(&declared(&modules));
    assert_eq!(
        g.modules.keys().collect::<Vec<_>>(),
        ["caller", "chat", "hello"]
    );
    let chat = &g.modules["chat"];
    let tables: Vec<&str> = chat.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        tables,
        ["channels", "mentions", "messages", "users"],
        "by name"
    );
    assert!(chat.reducers.iter().any(|r| r.name == "send" && r.public));
    assert_eq!(g.modules["caller"].dependencies, ["hello"]);
    let edges: Vec<_> = g.edges.keys().cloned().collect();
    assert_eq!(
        edges,
        [
            (
                table("chat", "messages"),
                EdgeKind::Triggers(TableEvent::Insert),
                reducer("chat", "find_mentions")
            ),
            (
                table("hello", "greetings"),
                EdgeKind::Triggers(TableEvent::Insert),
                reducer("hello", "on_greeting")
            ),
            // `find_mentions` declares it inserts into `mentions`.
            (
                reducer("chat", "find_mentions"),
                EdgeKind::Writes,
                table("chat", "mentions")
            ),
        ]
    );
    assert!(g.cycles.is_empty(), "{:?}", g.cycles);
    assert!(g.on_cycle.is_empty());
}

/// A module whose subscription may write the table it watches is drawn
/// with the cycle red and its path listed.
#[test]
fn the_graph_marks_a_subscription_cycle() {
    let mut schema = counter_schema();
    schema.name = "looper".into();
    schema.subscriptions[0].module = "looper".into();
    let looper = wat_modules::module(&schema, COUNTER_FUNCS);
    let modules = inspected(&[looper, wasm("hello")]);
    let g = Graph::from_modules(&declared(&modules));
    assert_eq!(
        g.cycles,
        ["looper.counters.insert → looper.on_counter → looper.counters.insert"]
    );
    let trigger = (
        table("looper", "counters"),
        EdgeKind::Triggers(TableEvent::Insert),
        reducer("looper", "on_counter"),
    );
    let back = (
        reducer("looper", "on_counter"),
        EdgeKind::Writes,
        table("looper", "counters"),
    );
    assert_eq!(
        g.on_cycle.iter().collect::<Vec<_>>(),
        [&trigger, &back],
        "only the cycle's edges, and not hello's subscription"
    );
    assert!(
        g.edges.contains_key(&back),
        "the edge the cycle needs is drawn"
    );
    let dot = dot::render(&g);
    assert!(
        dot.contains("\"reducer:looper.on_counter\" -> \"table:looper.counters\" [label=\"writes\", style=solid, penwidth=1.0, color=red"),
        "{dot}"
    );
    assert!(!dot.contains(
        "hello.on_greeting\" [label=\"on insert\", style=dashed, penwidth=1.0, color=red"
    ));
    let graphml = graphml::render(&g);
    assert_eq!(
        graphml.matches("<data key=\"cycle\">true</data>").count(),
        2
    );
    let page = html::render(&g, "cycle");
    assert!(page.contains("<section id=\"cycles\">"));
    assert!(page.contains("looper.counters.insert → looper.on_counter → looper.counters.insert"));
    assert_eq!(
        svg::render(&g)
            .matches("class=\"edge writes cycle\"")
            .count(),
        1
    );
}

/// From a log: a module its log holds from before the cycle check is
/// marked, with the writes its record's WebAssembly declares; a later
/// version that declares its writes clears the mark.
#[test]
fn the_graph_of_a_log_marks_the_cycles_of_its_modules_as_they_stand() {
    let mut schema = counter_schema();
    schema.name = "looper".into();
    schema.subscriptions[0].module = "looper".into();
    let looping = interstice_testkit::schemas::unchecked_publish(
        0,
        1,
        schema.clone(),
        wat_modules::module(&schema, COUNTER_FUNCS),
    );
    let mut g = Graph::default();
    let mut names = TableNames::default();
    g.observe(&looping, &mut names);
    g.mark_cycles(&names.declared());
    assert_eq!(
        g.cycles,
        ["looper.counters.insert → looper.on_counter → looper.counters.insert"]
    );
    schema.version.minor = 1;
    let fixed = interstice_testkit::schemas::unchecked_publish(
        1,
        1,
        schema.clone(),
        wat_modules::module_declaring(&schema, COUNTER_WRITES, COUNTER_FUNCS),
    );
    g.observe(&fixed, &mut names);
    g.mark_cycles(&names.declared());
    assert!(g.cycles.is_empty(), "{:?}", g.cycles);
    assert!(g.on_cycle.is_empty());
}

/// From a log: what ran, along which edges, how often.
#[tokio::test]
async fn the_graph_of_a_log_counts_what_happened() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let store = Arc::new(FsLogStore::open(&dir, LogOptions::default().create(true)).unwrap());
    let (rt, _) = Runtime::open(store.clone(), RuntimeConfig::default())
        .await
        .unwrap();
    for m in ["hello", "caller"] {
        rt.publish(&wasm(m)).await.unwrap();
    }
    let name = |n: &str| encode_value(&Value::Struct(vec![Value::String(n.into())])).unwrap();
    for n in ["ada", "bob", "cy"] {
        rt.call("caller", "greet", &name(n)).await.unwrap();
    }
    rt.call("hello", "hello", &name("dee")).await.unwrap();
    rt.settle().await;
    rt.shutdown().await;

    let mut g = Graph::default();
    let mut names = TableNames::default();
    for c in store.read_all(0).await.unwrap() {
        g.observe(&c, &mut names);
    }
    let edge =
        |from: Node, kind, to: Node| g.edges.get(&(from, kind, to)).cloned().unwrap_or_default();
    let writes = edge(
        reducer("caller", "greet"),
        EdgeKind::Writes,
        table("caller", "calls"),
    );
    assert_eq!((writes.calls, writes.rows), (3, 3));
    // greet writes hello's table through its call: the commit's rows.
    let through = edge(
        reducer("caller", "greet"),
        EdgeKind::Writes,
        table("hello", "greetings"),
    );
    assert_eq!(through.rows, 3);
    let calls = edge(
        reducer("caller", "greet"),
        EdgeKind::Calls,
        reducer("hello", "hello"),
    );
    assert_eq!(calls.calls, 3);
    let on = edge(
        table("hello", "greetings"),
        EdgeKind::Triggers(TableEvent::Insert),
        reducer("hello", "on_greeting"),
    );
    assert_eq!(on.calls, 4, "three greetings through caller, one direct");
    let hello = g.modules["hello"]
        .reducers
        .iter()
        .find(|r| r.name == "hello")
        .unwrap();
    assert_eq!(hello.calls, 4, "three nested, one direct");
    assert_eq!(g.busiest(), 4);

    // Every node and edge is in every output.
    let outputs = [
        dot::render(&g),
        graphml::render(&g),
        svg::render(&g),
        html::render(&g, "test"),
    ];
    for out in &outputs {
        for m in g.modules.values() {
            for t in &m.tables {
                assert!(out.contains(&table(&m.name, &t.name).id()), "{}", t.name);
            }
            for r in &m.reducers {
                assert!(out.contains(&reducer(&m.name, &r.name).id()), "{}", r.name);
            }
        }
    }
    let dot = &outputs[0];
    assert!(dot.contains("subgraph \"cluster_caller\""));
    assert!(
        dot.contains("\"reducer:caller.greet\" -> \"reducer:hello.hello\" [label=\"calls ×3\"")
    );
    let graphml = &outputs[1];
    assert_eq!(graphml.matches("<edge ").count(), g.edges.len());
    assert_eq!(
        graphml.matches("<node ").count(),
        g.modules
            .values()
            .map(|m| m.tables.len() + m.reducers.len())
            .sum::<usize>()
    );
    // The page fetches nothing: no sources, links or imports.
    let page = &outputs[3];
    for fetch in ["src=", "href=\"http", "@import", "url(http"] {
        assert!(!page.contains(fetch), "the page has {fetch}");
    }
}
