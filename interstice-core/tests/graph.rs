//! The module graph of the real modules: from their declarations, and
//! with what a log shows happened (calls, rows written, cross-module
//! calls, subscription runs), counted; and its outputs hold every node
//! and edge.

use std::sync::Arc;

use interstice_abi::{TableEvent, Value, encode_value};
use interstice_backend_fs::FsLogStore;
use interstice_core::graph::{EdgeKind, Graph, Node, TableNames, dot, graphml, html, svg};
use interstice_core::{Limits, Runtime, RuntimeConfig, WasmHost};
use interstice_log::{LogOptions, LogStoreExt};
use interstice_testkit::built::wasm;

fn schemas(names: &[&str]) -> Vec<interstice_abi::ModuleSchema> {
    let host = WasmHost::new(Limits::default());
    names
        .iter()
        .map(|n| host.inspect(&wasm(n)).unwrap().schema)
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
    let g = Graph::from_schemas(&schemas(&["hello", "caller", "chat"]));
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
        ]
    );
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
