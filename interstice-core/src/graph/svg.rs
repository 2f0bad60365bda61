//! The graph as an SVG picture: module boxes in columns
//! (`layout`), reducers (rounded) and tables (square) in them,
//! edges as curves whose width grows with what the log counted, red on a
//! subscription cycle. Every
//! node and edge carries its details in a `<title>` (a tooltip) and in
//! `data-` attributes that the HTML page reads.

use std::fmt::Write;

use super::dot::edge_label;
use super::graphml::xml;
use super::layout::{Layout, NODE_H, Rect, layout};
use super::{EdgeKind, Graph, Node};

/// The colour of each kind of edge.
pub(crate) fn colour(kind: EdgeKind) -> &'static str {
    match kind {
        EdgeKind::Writes => "#2b6cb0",
        EdgeKind::Calls => "#2f855a",
        EdgeKind::Triggers(_) => "#c05621",
    }
}

/// The colour of an edge on a subscription cycle.
pub(crate) const CYCLE: &str = "#e53e3e";

/// What a node is, for its tooltip.
fn node_detail(g: &Graph, node: &Node) -> String {
    let m = &g.modules[node.module()];
    match node {
        Node::Table(_, name) => {
            let t = m.tables.iter().find(|t| &t.name == name).expect("laid out");
            let access = if t.public { "public" } else { "private" };
            format!(
                "table {}.{} ({access}): {}",
                m.name,
                t.name,
                t.columns.join(", ")
            )
        }
        Node::Reducer(_, name) => {
            let r = m
                .reducers
                .iter()
                .find(|r| &r.name == name)
                .expect("laid out");
            let mut kind = vec![if r.public { "public" } else { "private" }];
            if r.read_only {
                kind.push("read-only");
            }
            let calls = if r.calls > 0 {
                format!("; {} calls in the log", r.calls)
            } else {
                String::new()
            };
            format!(
                "reducer {}.{}({}) ({}){calls}",
                m.name,
                r.name,
                r.params.join(", "),
                kind.join(", ")
            )
        }
    }
}

/// The curve from `a`'s right side to `b`'s left side (or, when `b` is
/// left of `a`, from side to side the other way round).
fn curve(a: &Rect, b: &Rect) -> String {
    let (x1, x2) = if b.x >= a.x + a.w {
        (a.x + a.w, b.x)
    } else if b.x + b.w <= a.x {
        (a.x, b.x + b.w)
    } else {
        // Side by side in one box (a reducer and its table), or one
        // above the other: leave right, come back in from the right.
        (a.x + a.w, b.x + b.w)
    };
    let (y1, y2) = (a.y + NODE_H / 2.0, b.y + NODE_H / 2.0);
    let bend = ((x2 - x1).abs() / 2.0).max(50.0);
    let (c1, c2) = if x2 >= x1 + 1.0 {
        (x1 + bend, x2 - bend)
    } else if x2 + 1.0 < x1 {
        (x1 - bend, x2 + bend)
    } else {
        (x1 + bend, x2 + bend)
    };
    format!("M{x1:.1},{y1:.1} C{c1:.1},{y1:.1} {c2:.1},{y2:.1} {x2:.1},{y2:.1}")
}

/// Writes `g` as a standalone SVG document.
pub fn render(g: &Graph) -> String {
    let l = layout(g);
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}" font-family="sans-serif" font-size="12">"#,
        w = l.width.max(200.0),
        h = l.height.max(100.0)
    );
    out.push_str("<defs>");
    for kind in ["writes", "calls", "triggers", "cycle"] {
        let c = match kind {
            "writes" => colour(EdgeKind::Writes),
            "calls" => colour(EdgeKind::Calls),
            "cycle" => CYCLE,
            _ => colour(EdgeKind::Triggers(interstice_abi::TableEvent::Insert)),
        };
        let _ = write!(
            out,
            r#"<marker id="arrow-{kind}" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{c}"/></marker>"#
        );
    }
    out.push_str("</defs>\n");
    modules(g, &l, &mut out);
    dependencies(g, &l, &mut out);
    edges(g, &l, &mut out);
    nodes(g, &l, &mut out);
    out.push_str("</svg>\n");
    out
}

fn modules(g: &Graph, l: &Layout, out: &mut String) {
    out.push_str("<g class=\"modules\">\n");
    for (name, r) in &l.modules {
        let m = &g.modules[name];
        let detail = format!(
            "module {} {}: {} tables, {} reducers{}",
            m.name,
            m.version,
            m.tables.len(),
            m.reducers.len(),
            if m.dependencies.is_empty() {
                String::new()
            } else {
                format!("; calls {}", m.dependencies.join(", "))
            }
        );
        let _ = writeln!(
            out,
            r##"<g class="module" id="module:{id}" data-module="{id}" data-detail="{d}"><title>{d}</title><rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" rx="8" fill="#f7fafc" stroke="#a0aec0"/><text x="{tx:.1}" y="{ty:.1}" font-weight="bold" font-size="13">{id} <tspan fill="#718096" font-weight="normal">{v}</tspan></text></g>"##,
            id = xml(name),
            d = xml(&detail),
            x = r.x,
            y = r.y,
            w = r.w,
            h = r.h,
            tx = r.x + 12.0,
            ty = r.y + 20.0,
            v = xml(&m.version),
        );
    }
    out.push_str("</g>\n");
}

/// A dotted line from each module's box to the boxes of the modules it
/// declares it calls.
fn dependencies(g: &Graph, l: &Layout, out: &mut String) {
    out.push_str("<g class=\"dependencies\" fill=\"none\">\n");
    for (name, m) in &g.modules {
        for d in &m.dependencies {
            let (Some(a), Some(b)) = (l.modules.get(name), l.modules.get(d)) else {
                continue;
            };
            // From the header of the caller to the header of the callee.
            let head = |r: &Rect| Rect { y: r.y + 2.0, ..*r };
            let detail = format!("module {name} depends on module {d}");
            let _ = writeln!(
                out,
                r##"<path class="dependency" d="{p}" stroke="#a0aec0" stroke-width="1.5" stroke-dasharray="2 3" data-from="module:{f}" data-to="module:{t}" data-detail="{x}"><title>{x}</title></path>"##,
                p = curve(&head(a), &head(b)),
                f = xml(name),
                t = xml(d),
                x = xml(&detail),
            );
        }
    }
    out.push_str("</g>\n");
}

fn edges(g: &Graph, l: &Layout, out: &mut String) {
    out.push_str("<g class=\"edges\" fill=\"none\">\n");
    let busiest = g.busiest().max(1) as f64;
    for ((from, kind, to), e) in &g.edges {
        let (Some(a), Some(b)) = (l.nodes.get(from), l.nodes.get(to)) else {
            continue;
        };
        let count = e.calls.max(e.rows);
        let width = 1.2 + 5.0 * ((1 + count) as f64).ln() / (1.0 + busiest).ln();
        let label = edge_label(*kind, e.calls, e.rows);
        let on_cycle = g.on_cycle.contains(&(from.clone(), *kind, to.clone()));
        let (class, stroke, arrow, note) = if on_cycle {
            (" cycle", CYCLE, "cycle", " (on a subscription cycle)")
        } else {
            ("", colour(*kind), kind.as_str(), "")
        };
        let detail = format!("{} {label} {}{note}", from.id(), to.id());
        let dash = if matches!(kind, EdgeKind::Triggers(_)) {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let _ = writeln!(
            out,
            r#"<path class="edge {k}{class}" d="{d}" stroke="{stroke}" stroke-width="{width:.1}"{dash} marker-end="url(#arrow-{arrow})" data-from="{f}" data-to="{t}" data-kind="{k}" data-count="{count}" data-detail="{detail}"><title>{detail}</title></path>"#,
            k = kind.as_str(),
            d = curve(a, b),
            f = xml(&from.id()),
            t = xml(&to.id()),
            detail = xml(&detail),
        );
    }
    out.push_str("</g>\n");
}

fn nodes(g: &Graph, l: &Layout, out: &mut String) {
    out.push_str("<g class=\"nodes\">\n");
    for (node, r) in &l.nodes {
        let (class, rx, fill) = match node {
            Node::Table(..) => ("table", 2.0, "#ebf4ff"),
            Node::Reducer(..) => ("reducer", 13.0, "#f0fff4"),
        };
        let detail = node_detail(g, node);
        let _ = writeln!(
            out,
            r##"<g class="node {class}" id="{id}" data-module="{m}" data-name="{n}" data-detail="{d}"><title>{d}</title><rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" rx="{rx}" fill="{fill}" stroke="#4a5568"/><text x="{tx:.1}" y="{ty:.1}">{n}</text></g>"##,
            id = xml(&node.id()),
            m = xml(node.module()),
            n = xml(node.name()),
            d = xml(&detail),
            x = r.x,
            y = r.y,
            w = r.w,
            h = r.h,
            tx = r.x + 8.0,
            ty = r.y + 17.0,
        );
    }
    out.push_str("</g>\n");
}
