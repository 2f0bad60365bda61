//! The graph as one self-contained HTML page: the SVG picture
//! ([`super::svg`]), a legend, and a few lines of inline script that
//! show a node's or an edge's details on hover and light up the edges of
//! the node under the pointer. Nothing is fetched when it is viewed.

use super::graphml::xml;
use super::svg::{self, CYCLE, colour};
use super::{EdgeKind, Graph};

const STYLE: &str = r#"
body { font-family: sans-serif; margin: 0; color: #1a202c; }
header { padding: 10px 16px; border-bottom: 1px solid #e2e8f0; display: flex; gap: 24px; align-items: baseline; flex-wrap: wrap; }
h1 { font-size: 18px; margin: 0; }
#legend { display: flex; gap: 16px; font-size: 13px; flex-wrap: wrap; }
#legend span.swatch { display: inline-block; width: 22px; height: 4px; vertical-align: middle; margin-right: 4px; }
#legend span.shape { display: inline-block; width: 22px; height: 12px; border: 1px solid #4a5568; vertical-align: middle; margin-right: 4px; }
#cycles { padding: 6px 16px; color: #9b2c2c; background: #fff5f5; border-bottom: 1px solid #feb2b2; font-size: 13px; }
#cycles ul { margin: 4px 0; }
#detail { position: fixed; right: 12px; bottom: 12px; max-width: 460px; background: #fffff0; border: 1px solid #d69e2e; padding: 8px 10px; font-size: 13px; display: none; }
main { overflow: auto; }
svg .edge { opacity: 0.75; }
svg.focus .edge { opacity: 0.12; }
svg.focus .edge.lit { opacity: 1; }
svg .node:hover rect { stroke-width: 2.5; }
"#;

const SCRIPT: &str = r#"
const svg = document.querySelector('main svg');
const detail = document.getElementById('detail');
function show(text) { detail.textContent = text; detail.style.display = text ? 'block' : 'none'; }
for (const el of svg.querySelectorAll('[data-detail]')) {
  el.addEventListener('mouseenter', () => {
    show(el.dataset.detail);
    if (el.classList.contains('node')) {
      svg.classList.add('focus');
      for (const e of svg.querySelectorAll('.edge')) {
        if (e.dataset.from === el.id || e.dataset.to === el.id) e.classList.add('lit');
      }
    }
  });
  el.addEventListener('mouseleave', () => {
    show('');
    svg.classList.remove('focus');
    for (const e of svg.querySelectorAll('.edge.lit')) e.classList.remove('lit');
  });
}
"#;

/// Writes `g` as an HTML page titled `title`.
pub fn render(g: &Graph, title: &str) -> String {
    let swatch = |kind: EdgeKind, text: &str, dashed: bool| {
        let style = if dashed {
            format!(
                "background: repeating-linear-gradient(90deg, {c} 0 6px, transparent 6px 10px)",
                c = colour(kind)
            )
        } else {
            format!("background: {}", colour(kind))
        };
        format!(r#"<span><span class="swatch" style="{style}"></span>{text}</span>"#)
    };
    let shape = |radius: u8, fill: &str, text: &str| {
        format!(
            r#"<span><span class="shape" style="border-radius: {radius}px; background: {fill}"></span>{text}</span>"#
        )
    };
    let legend = [
        shape(2, "#ebf4ff", "table"),
        shape(8, "#f0fff4", "reducer"),
        swatch(EdgeKind::Writes, "writes (declared or in the log)", false),
        swatch(EdgeKind::Calls, "calls (cross-module)", false),
        swatch(
            EdgeKind::Triggers(interstice_abi::TableEvent::Insert),
            "table event runs reducer",
            true,
        ),
        r#"<span><span class="swatch" style="background: repeating-linear-gradient(90deg, #a0aec0 0 2px, transparent 2px 5px)"></span>module depends on module</span>"#.to_owned(),
        format!(
            r#"<span><span class="swatch" style="background: {CYCLE}"></span>on a subscription cycle</span>"#
        ),
        "<span>thicker: busier in the log</span>".to_owned(),
    ]
    .join("");
    let cycles = if g.cycles.is_empty() {
        String::new()
    } else {
        let lines: String = g
            .cycles
            .iter()
            .map(|c| format!("<li>{}</li>", xml(c)))
            .collect();
        format!(
            r#"<section id="cycles"><strong>Subscription cycles</strong> (publishing refuses them; docs/modules.md):<ul>{lines}</ul></section>"#
        )
    };
    let summary = if g.commits > 0 {
        format!("{} modules, {} commits", g.modules.len(), g.commits)
    } else {
        format!("{} modules", g.modules.len())
    };
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{t}</title>
<style>{STYLE}</style>
</head>
<body>
<header><h1>{t}</h1><span>{summary}</span><div id="legend">{legend}</div></header>
{cycles}<main>
{svg}</main>
<div id="detail"></div>
<script>{SCRIPT}</script>
</body>
</html>
"#,
        t = xml(title),
        svg = svg::render(g),
    )
}
