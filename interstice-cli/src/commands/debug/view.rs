//! Drawing the debugger: the timeline on the left, the selected commit's
//! call and row changes and a table at it on the right, a status line and
//! a prompt at the bottom, help over everything on `?`.

use interstice_abi::{ColumnSchema, Value};
use interstice_core::json::to_json;
use interstice_log::MutationKind;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, List, ListItem, ListState, Paragraph, Row, Table, Wrap};

use super::App;

/// The keys, as `?` shows them.
const HELP: &[(&str, &str)] = &[
    ("j / Down, k / Up", "step forward, back one commit"),
    ("Home, End", "the first, the last commit"),
    ("g", "go to an offset"),
    ("t", "go to a time"),
    ("/", "search calls and arguments; n next, N previous"),
    ("b", "add a breakpoint: reducer M.R, table M.T, row M.T KEY"),
    ("c, C", "run forward, back to the next breakpoint"),
    ("B", "remove the last breakpoint"),
    ("Tab, Shift-Tab", "show the next, previous table"),
    ("f", "filter the table's rows (COLUMN=VALUE)"),
    ("r", "replay-check: re-run the selected commit and compare"),
    (
        "e",
        "save the session to a file (resume: debug LOG --session FILE)",
    ),
    ("?", "this help (any key closes it)"),
    ("q, Esc", "quit (the log is never written)"),
];

pub(super) fn draw(frame: &mut Frame, app: &App) {
    let [title, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(5),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(42), Constraint::Percentage(58)]).areas(body);
    let [commit, table] =
        Layout::vertical([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(right);
    frame.render_widget(Paragraph::new(title_line(app)), title);
    timeline(frame, app, left);
    selected(frame, app, commit);
    rows(frame, app, table);
    let bottom = match &app.prompt {
        Some((ask, text)) => format!("{}: {text}_", ask.label()),
        None => app.message.clone(),
    };
    frame.render_widget(Paragraph::new(bottom), status);
    if app.help {
        help(frame);
    }
}

fn title_line(app: &App) -> String {
    let d = &app.debugger;
    let s = d.selected();
    let breaks: Vec<String> = d.breakpoints().iter().map(ToString::to_string).collect();
    format!(
        "interstice debug {}  commit {} ({}/{})  {}  breakpoints: {}",
        app.log,
        s.offset,
        d.position() + 1,
        d.steps().len(),
        time(s.timestamp),
        if breaks.is_empty() {
            "none".into()
        } else {
            breaks.join(", ")
        }
    )
}

fn time(micros: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_micros(micros);
    humantime::format_rfc3339_millis(t).to_string()
}

fn timeline(frame: &mut Frame, app: &App, area: Rect) {
    let d = &app.debugger;
    let items: Vec<ListItem> = d
        .steps()
        .iter()
        .map(|s| {
            let at = time(s.timestamp);
            let clock = at.get(11..23).unwrap_or(&at);
            let cause = match (&s.cause, &s.scheduled) {
                (Some(c), _) => format!(" <- #{c}"),
                (None, Some((table, _))) => format!(" <- {table} (scheduled)"),
                (None, None) => String::new(),
            };
            let stop = if d.breakpoints().iter().any(|b| b.hits(s)) {
                "*"
            } else {
                " "
            };
            ListItem::new(format!(
                "{stop}#{:<5} {clock} {}.{}{cause}  {} rows",
                s.offset, s.module, s.reducer, s.rows
            ))
        })
        .collect();
    let list = List::new(items)
        .block(Block::bordered().title(" timeline (* breakpoint) "))
        .highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .highlight_symbol(">");
    let mut state = ListState::default().with_selected(Some(d.position()));
    frame.render_stateful_widget(list, area, &mut state);
}

fn selected(frame: &mut Frame, app: &App, area: Rect) {
    let d = &app.debugger;
    let s = d.selected();
    let mut lines = vec![Line::from(format!(
        "{}.{}({})",
        s.module, s.reducer, s.args
    ))];
    if let Some(c) = s.cause {
        lines.push(Line::from(format!("triggered by commit {c}")));
    }
    if let Some((table, due)) = &s.scheduled {
        let late = std::time::Duration::from_micros(s.timestamp.saturating_sub(*due));
        lines.push(Line::from(format!(
            "scheduled by a row of {table}: due {}, ran {} late",
            time(*due),
            humantime::format_duration(late)
        )));
    }
    if d.changes().is_empty() {
        lines.push(Line::from("no rows changed"));
    }
    let columns = |table: &str| -> Vec<ColumnSchema> {
        d.rows(table, None).map(|(c, _)| c).unwrap_or_default()
    };
    for c in d.changes() {
        let cols = columns(&c.table);
        let show =
            |row: &Option<Vec<Value>>| row.as_ref().map_or("-".into(), |r| row_text(&cols, r));
        let line = match c.kind {
            MutationKind::Insert => format!("+ {} {}", c.table, show(&c.new)),
            MutationKind::Delete => format!("- {} {}", c.table, show(&c.old)),
            _ => format!("~ {} {} -> {}", c.table, show(&c.old), show(&c.new)),
        };
        lines.push(Line::from(line));
    }
    let title = format!(" commit {} ", s.offset);
    let p = Paragraph::new(lines)
        .block(Block::bordered().title(title))
        .wrap(Wrap { trim: false });
    frame.render_widget(p, area);
}

fn row_text(columns: &[ColumnSchema], row: &[Value]) -> String {
    let cells: Vec<String> = row
        .iter()
        .enumerate()
        .map(|(i, v)| match columns.get(i) {
            Some(c) => format!("{}={}", c.name, to_json(v, &c.ty)),
            None => v.to_string(),
        })
        .collect();
    format!("{{{}}}", cells.join(", "))
}

fn rows(frame: &mut Frame, app: &App, area: Rect) {
    let d = &app.debugger;
    let Some(name) = &app.table else {
        frame.render_widget(Paragraph::new("no tables").block(Block::bordered()), area);
        return;
    };
    let filter = (!app.filter.is_empty()).then_some(app.filter.as_str());
    let title = format!(
        " {name} at commit {}{} (Tab: next table, f: filter) ",
        d.selected().offset,
        filter.map_or(String::new(), |f| format!(" where {f}"))
    );
    let block = Block::bordered().title(title);
    match d.rows(name, filter) {
        Err(e) => frame.render_widget(Paragraph::new(format!("{e}")).block(block), area),
        Ok((columns, rows)) => {
            let header = Row::new(columns.iter().map(|c| c.name.clone()))
                .style(Style::new().add_modifier(Modifier::BOLD));
            let body = rows.iter().map(|r| {
                Row::new(
                    columns
                        .iter()
                        .zip(r)
                        .map(|(c, v)| to_json(v, &c.ty).to_string()),
                )
            });
            let widths = vec![Constraint::Fill(1); columns.len().max(1)];
            let table = Table::new(body, widths).header(header).block(block);
            frame.render_widget(table, area);
        }
    }
}

fn help(frame: &mut Frame) {
    let area = frame.area();
    let width = area.width.min(76);
    let height = (HELP.len() as u16 + 2).min(area.height);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let lines: Vec<Line> = HELP
        .iter()
        .map(|(keys, what)| Line::from(format!("{keys:<18} {what}")))
        .collect();
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" keys ")),
        popup,
    );
}
