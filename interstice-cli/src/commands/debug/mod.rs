//! `interstice debug LOG`: the replay debugger in the terminal. A thin
//! layer over [`interstice_core::debugger::Debugger`]: this file turns keys
//! into its moves, `view.rs` draws it. It never writes the log.

mod session;
mod view;

use anyhow::{Context, Result};
use interstice_core::debugger::Debugger;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::location::{Access, LogArgs};

/// What a prompt at the bottom line asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ask {
    Offset,
    Time,
    Search,
    Breakpoint,
    Filter,
    Save,
}

impl Ask {
    fn label(self) -> &'static str {
        match self {
            Ask::Offset => "go to offset",
            Ask::Time => "go to time (RFC 3339, e.g. 2026-12-03T09:11:44Z)",
            Ask::Search => "search calls and arguments",
            Ask::Breakpoint => "break at (reducer M.R | table M.T | row M.T KEY)",
            Ask::Filter => "filter rows (COLUMN=VALUE, empty for none)",
            Ask::Save => "save the session to (a file; Enter for debug-session.json)",
        }
    }
}

/// The debugger and what the screen shows around it.
struct App {
    debugger: Debugger,
    log: String,
    /// The table shown, by `module.table`.
    table: Option<String>,
    filter: String,
    prompt: Option<(Ask, String)>,
    message: String,
    last_search: Option<String>,
    help: bool,
    quit: bool,
}

pub async fn run(args: &LogArgs, log: &str, session: Option<&str>) -> Result<()> {
    let store = args.open(log, Access::ReadOnly).await?;
    let snapshots = args.replay_options(log, None)?.snapshots;
    let debugger = Debugger::open(&*store, snapshots)
        .await
        .with_context(|| format!("cannot debug {log}"))?;
    let mut app = App {
        table: debugger.tables().into_iter().next(),
        debugger,
        log: log.to_owned(),
        filter: String::new(),
        prompt: None,
        message: "? for help".into(),
        last_search: None,
        help: false,
        quit: false,
    };
    if let Some(path) = session {
        app.resume(path)?;
    }
    tokio::task::block_in_place(|| {
        ratatui::run(|terminal| -> Result<()> {
            while !app.quit {
                terminal.draw(|frame| view::draw(frame, &app))?;
                if let Event::Key(key) = event::read()?
                    && key.kind == KeyEventKind::Press
                {
                    app.key(key);
                }
            }
            Ok(())
        })
    })
}

impl App {
    fn key(&mut self, key: KeyEvent) {
        if let Some((ask, mut text)) = self.prompt.take() {
            match key.code {
                KeyCode::Enter => self.answer(ask, text.trim()),
                KeyCode::Esc => {}
                KeyCode::Backspace => {
                    text.pop();
                    self.prompt = Some((ask, text));
                }
                KeyCode::Char(c) => {
                    text.push(c);
                    self.prompt = Some((ask, text));
                }
                _ => self.prompt = Some((ask, text)),
            }
            return;
        }
        if self.help {
            self.help = false;
            return;
        }
        let d = &mut self.debugger;
        let result = match key.code {
            KeyCode::Char('q') | KeyCode::Esc => {
                self.quit = true;
                Ok(String::new())
            }
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.quit = true;
                Ok(String::new())
            }
            KeyCode::Down | KeyCode::Char('j') => d.step_forward().map(|moved| {
                if moved {
                    String::new()
                } else {
                    "the last commit".into()
                }
            }),
            KeyCode::Up | KeyCode::Char('k') => d.step_back().map(|moved| {
                if moved {
                    String::new()
                } else {
                    "the first commit".into()
                }
            }),
            KeyCode::Home => d
                .jump_to_offset(d.steps()[0].offset)
                .map(|()| String::new()),
            KeyCode::End => {
                let last = d.steps()[d.steps().len() - 1].offset;
                d.jump_to_offset(last).map(|()| String::new())
            }
            KeyCode::Char('n') | KeyCode::Char('N') => match self.last_search.clone() {
                None => Ok("no search yet: / searches".into()),
                Some(text) => {
                    let forward = key.code == KeyCode::Char('n');
                    d.search(&text, forward)
                        .map(|found| not_found(found, &text))
                }
            },
            KeyCode::Char('c') | KeyCode::Char('C') => {
                let forward = key.code == KeyCode::Char('c');
                if d.breakpoints().is_empty() {
                    Ok("no breakpoints: b adds one".into())
                } else {
                    d.run(forward).map(|hit| match hit {
                        Some(b) => format!("stopped at {b}"),
                        None if forward => "no breakpoint hit: the last commit".into(),
                        None => "no breakpoint hit: the first commit".into(),
                    })
                }
            }
            KeyCode::Char('B') => Ok(
                match d.remove_breakpoint(d.breakpoints().len().wrapping_sub(1)) {
                    Some(b) => format!("removed {b}"),
                    None => "no breakpoints".into(),
                },
            ),
            KeyCode::Char('r') => d.check_selected().map(|found| match found {
                None => format!(
                    "replay-check: commit {} re-ran twice and reproduced the log",
                    d.selected().offset
                ),
                Some(diff) => format!(
                    "replay-check: commit {} DIVERGES: {diff}",
                    d.selected().offset
                ),
            }),
            KeyCode::Tab | KeyCode::Char(']') => {
                self.cycle_table(1);
                Ok(String::new())
            }
            KeyCode::BackTab | KeyCode::Char('[') => {
                self.cycle_table(-1);
                Ok(String::new())
            }
            KeyCode::Char('?') => {
                self.help = true;
                Ok(String::new())
            }
            KeyCode::Char('g') => self.ask(Ask::Offset),
            KeyCode::Char('t') => self.ask(Ask::Time),
            KeyCode::Char('/') => self.ask(Ask::Search),
            KeyCode::Char('b') => self.ask(Ask::Breakpoint),
            KeyCode::Char('f') => self.ask(Ask::Filter),
            KeyCode::Char('e') => self.ask(Ask::Save),
            _ => Ok(self.message.clone()),
        };
        self.message = result.unwrap_or_else(|e| format!("error: {e}"));
        self.keep_table();
    }

    fn ask(&mut self, ask: Ask) -> Result<String, interstice_core::debugger::DebugError> {
        self.prompt = Some((ask, String::new()));
        Ok(String::new())
    }

    /// Acts on a prompt's answer.
    fn answer(&mut self, ask: Ask, text: &str) {
        let d = &mut self.debugger;
        let result: Result<String> = match ask {
            Ask::Offset => text
                .parse::<u64>()
                .with_context(|| format!("`{text}` is not an offset"))
                .and_then(|o| d.jump_to_offset(o).map_err(Into::into))
                .map(|()| String::new()),
            Ask::Time => humantime::parse_rfc3339_weak(text)
                .with_context(|| format!("`{text}` is not a time like 2026-12-03T09:11:44Z"))
                .and_then(|t| {
                    let micros = t
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_micros() as u64)
                        .unwrap_or(0);
                    d.jump_to_time(micros).map_err(Into::into)
                })
                .map(|()| String::new()),
            Ask::Search => {
                self.last_search = Some(text.to_owned());
                d.search(text, true)
                    .map(|found| not_found(found, text))
                    .map_err(Into::into)
            }
            Ask::Breakpoint => d
                .parse_breakpoint(text)
                .map(|b| {
                    let said = format!("breakpoint: {b} (c runs forward, C back)");
                    d.add_breakpoint(b);
                    said
                })
                .map_err(Into::into),
            Ask::Filter => {
                self.filter = text.to_owned();
                Ok(String::new())
            }
            Ask::Save => self.save(if text.is_empty() {
                "debug-session.json"
            } else {
                text
            }),
        };
        self.message = result.unwrap_or_else(|e| format!("error: {e:#}"));
        self.keep_table();
    }

    /// Shows the next (or previous) table of the state.
    fn cycle_table(&mut self, by: isize) {
        let tables = self.debugger.tables();
        if tables.is_empty() {
            return;
        }
        let at = self
            .table
            .as_ref()
            .and_then(|t| tables.iter().position(|x| x == t))
            .unwrap_or(0) as isize;
        let next = (at + by).rem_euclid(tables.len() as isize) as usize;
        self.table = Some(tables[next].clone());
        self.filter.clear();
    }

    /// Keeps showing the same table when it exists at the new commit, else
    /// the first one.
    fn keep_table(&mut self) {
        let tables = self.debugger.tables();
        if self.table.as_ref().is_none_or(|t| !tables.contains(t)) {
            self.table = tables.into_iter().next();
        }
    }
}

fn not_found(found: bool, text: &str) -> String {
    if found {
        String::new()
    } else {
        format!("no more commits match `{text}`")
    }
}
