//! Where the picture puts things: modules in columns by dependency level
//! (a module right of those it calls), at most [`PER_COLUMN`] modules to a
//! column; in each module's box, reducers on the left and tables on the
//! right, so that edges run mostly left to right.

use std::collections::BTreeMap;

use super::{Graph, Node};

/// Size of a table or reducer.
pub(crate) const NODE_W: f64 = 170.0;
pub(crate) const NODE_H: f64 = 26.0;
const GAP: f64 = 8.0;
const PAD: f64 = 12.0;
const HEADER: f64 = 30.0;
/// Room between a box's reducers and its tables, for the edges between.
const INNER: f64 = 90.0;
/// Room between columns, for the edges.
const COLUMN_GAP: f64 = 140.0;
const ROW_GAP: f64 = 40.0;
/// Most modules stacked in one column.
const PER_COLUMN: usize = 5;
pub(crate) const MARGIN: f64 = 20.0;

/// A rectangle: x, y, width, height.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

/// Where every module box and node goes, and the picture's size.
pub(crate) struct Layout {
    pub modules: BTreeMap<String, Rect>,
    pub nodes: BTreeMap<Node, Rect>,
    pub width: f64,
    pub height: f64,
}

/// How many dependency steps lead from `m` to a module that depends on
/// none (modules missing from the graph, and cycles, count as none).
fn level(g: &Graph, m: &str, seen: &mut Vec<String>) -> usize {
    if seen.iter().any(|s| s == m) {
        return 0;
    }
    seen.push(m.to_owned());
    let deps = g
        .modules
        .get(m)
        .map(|i| i.dependencies.clone())
        .unwrap_or_default();
    let l = deps
        .iter()
        .filter(|d| g.modules.contains_key(*d))
        .map(|d| 1 + level(g, d, seen))
        .max()
        .unwrap_or(0);
    seen.pop();
    l
}

pub(crate) fn layout(g: &Graph) -> Layout {
    let mut by_level: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for name in g.modules.keys() {
        by_level
            .entry(level(g, name, &mut Vec::new()))
            .or_default()
            .push(name);
    }
    let columns: Vec<Vec<&str>> = by_level
        .into_values()
        .flat_map(|names| {
            names
                .chunks(PER_COLUMN)
                .map(<[&str]>::to_vec)
                .collect::<Vec<_>>()
        })
        .collect();
    let box_w = 2.0 * NODE_W + 2.0 * PAD + INNER;
    let mut out = Layout {
        modules: BTreeMap::new(),
        nodes: BTreeMap::new(),
        width: 0.0,
        height: 0.0,
    };
    let mut x = MARGIN;
    for column in columns {
        let mut y = MARGIN;
        for name in column {
            let m = &g.modules[name];
            let rows = m.tables.len().max(m.reducers.len()).max(1) as f64;
            let h = HEADER + rows * (NODE_H + GAP) - GAP + PAD;
            out.modules
                .insert(name.to_owned(), Rect { x, y, w: box_w, h });
            let place = |i: usize, left: f64| Rect {
                x: left,
                y: y + HEADER + i as f64 * (NODE_H + GAP),
                w: NODE_W,
                h: NODE_H,
            };
            for (i, r) in m.reducers.iter().enumerate() {
                let node = Node::Reducer(name.to_owned(), r.name.clone());
                out.nodes.insert(node, place(i, x + PAD));
            }
            for (i, t) in m.tables.iter().enumerate() {
                let node = Node::Table(name.to_owned(), t.name.clone());
                out.nodes.insert(node, place(i, x + PAD + NODE_W + INNER));
            }
            y += h + ROW_GAP;
            out.height = out.height.max(y);
        }
        x += box_w + COLUMN_GAP;
    }
    out.width = x - COLUMN_GAP + MARGIN;
    out.height += MARGIN;
    out
}
