//! The graph as Graphviz `dot`: a cluster per module, tables as boxes,
//! reducers as ellipses, edges labelled with their kind and counts, and
//! those on a subscription cycle red.

use std::fmt::Write;

use super::{EdgeKind, Graph, Node};

/// A `dot` string literal.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The label of an edge: its kind (the event, for a subscription) and
/// what the log counted.
pub(crate) fn edge_label(kind: EdgeKind, calls: u64, rows: u64) -> String {
    let mut label = match kind {
        EdgeKind::Triggers(event) => format!("on {event}"),
        k => k.as_str().to_owned(),
    };
    if calls > 0 {
        let _ = write!(label, " ×{calls}");
    }
    if rows > 0 {
        let _ = write!(label, " ({rows} rows)");
    }
    label
}

/// Writes `g` as a `digraph`.
pub fn render(g: &Graph) -> String {
    let mut out =
        String::from("digraph interstice {\n  rankdir=LR;\n  node [fontname=\"sans-serif\"];\n");
    for m in g.modules.values() {
        let _ = writeln!(
            out,
            "  subgraph {} {{",
            quoted(&format!("cluster_{}", m.name))
        );
        let _ = writeln!(
            out,
            "    label={};",
            quoted(&format!("{} {}", m.name, m.version))
        );
        for t in &m.tables {
            let id = Node::Table(m.name.clone(), t.name.clone()).id();
            let _ = writeln!(
                out,
                "    {} [shape=box, label={}];",
                quoted(&id),
                quoted(&t.name)
            );
        }
        for r in &m.reducers {
            let id = Node::Reducer(m.name.clone(), r.name.clone()).id();
            let _ = writeln!(
                out,
                "    {} [shape=ellipse, label={}];",
                quoted(&id),
                quoted(&r.name)
            );
        }
        out.push_str("  }\n");
    }
    let busiest = g.busiest().max(1) as f64;
    for ((from, kind, to), e) in &g.edges {
        let style = match kind {
            EdgeKind::Triggers(_) => "dashed",
            _ => "solid",
        };
        let width = 1.0 + 4.0 * ((1 + e.calls.max(e.rows)) as f64).ln() / (1.0 + busiest).ln();
        let edge = (from.clone(), *kind, to.clone());
        let cycle = if g.on_cycle.contains(&edge) {
            ", color=red, fontcolor=red"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  {} -> {} [label={}, style={style}, penwidth={width:.1}{cycle}];",
            quoted(&from.id()),
            quoted(&to.id()),
            quoted(&edge_label(*kind, e.calls, e.rows)),
        );
    }
    out.push_str("}\n");
    out
}
