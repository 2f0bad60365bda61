//! The graph as GraphML: a node per table and reducer (with its module,
//! kind and name), an edge per relation (with its kind, event, counts and
//! whether it lies on a subscription cycle).

use std::fmt::Write;

use super::{EdgeKind, Graph, Node};

/// Text escaped for XML.
pub(crate) fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Writes `g` as a GraphML document.
pub fn render(g: &Graph) -> String {
    let mut out = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  <key id="kind" for="node" attr.name="kind" attr.type="string"/>
  <key id="module" for="node" attr.name="module" attr.type="string"/>
  <key id="name" for="node" attr.name="name" attr.type="string"/>
  <key id="relation" for="edge" attr.name="relation" attr.type="string"/>
  <key id="event" for="edge" attr.name="event" attr.type="string"/>
  <key id="calls" for="edge" attr.name="calls" attr.type="long"/>
  <key id="rows" for="edge" attr.name="rows" attr.type="long"/>
  <key id="cycle" for="edge" attr.name="cycle" attr.type="boolean"/>
  <graph id="interstice" edgedefault="directed">
"#,
    );
    for m in g.modules.values() {
        let nodes = m
            .tables
            .iter()
            .map(|t| Node::Table(m.name.clone(), t.name.clone()))
            .chain(
                m.reducers
                    .iter()
                    .map(|r| Node::Reducer(m.name.clone(), r.name.clone())),
            );
        for n in nodes {
            let kind = match n {
                Node::Table(..) => "table",
                Node::Reducer(..) => "reducer",
            };
            let _ = writeln!(
                out,
                "    <node id=\"{}\"><data key=\"kind\">{kind}</data><data key=\"module\">{}</data><data key=\"name\">{}</data></node>",
                xml(&n.id()),
                xml(n.module()),
                xml(n.name())
            );
        }
    }
    for (i, ((from, kind, to), e)) in g.edges.iter().enumerate() {
        let event = match kind {
            EdgeKind::Triggers(ev) => format!("<data key=\"event\">{ev}</data>"),
            _ => String::new(),
        };
        let cycle = g.on_cycle.contains(&(from.clone(), *kind, to.clone()));
        let _ = writeln!(
            out,
            "    <edge id=\"e{i}\" source=\"{}\" target=\"{}\"><data key=\"relation\">{}</data>{event}<data key=\"calls\">{}</data><data key=\"rows\">{}</data><data key=\"cycle\">{cycle}</data></edge>",
            xml(&from.id()),
            xml(&to.id()),
            kind.as_str(),
            e.calls,
            e.rows
        );
    }
    out.push_str("  </graph>\n</graphml>\n");
    out
}
