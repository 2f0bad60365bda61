//! A debugging session saved to a file (`e` in the debugger) and resumed
//! (`interstice debug LOG --session FILE`): where it was, its breakpoints,
//! search, table and filter, and, for whoever reads the file, the selected
//! commit with its row changes and the table shown.

use anyhow::{Context, Result};
use interstice_core::json::row_object;
use interstice_log::MutationKind;
use serde_json::{Value as Json, json};

use super::App;

impl App {
    /// The session as JSON.
    pub(super) fn session(&self) -> Json {
        let d = &self.debugger;
        let s = d.selected();
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_micros(s.timestamp);
        let object = |table: &str, row: &Option<Vec<interstice_abi::Value>>| -> Json {
            let Some(row) = row else {
                return Json::Null;
            };
            let columns = d.rows(table, Some("")).map(|(c, _)| c).unwrap_or_default();
            row_object(&columns, row)
        };
        let changes: Vec<Json> = d
            .changes()
            .iter()
            .map(|c| {
                let change = match c.kind {
                    MutationKind::Insert => "insert",
                    MutationKind::Delete => "delete",
                    _ => "update",
                };
                json!({
                    "table": c.table,
                    "change": change,
                    "old": object(&c.table, &c.old),
                    "new": object(&c.table, &c.new),
                })
            })
            .collect();
        let rows = self.table.as_ref().and_then(|table| {
            let filter = (!self.filter.is_empty()).then_some(self.filter.as_str());
            let (columns, rows) = d.rows(table, filter).ok()?;
            let rows: Vec<Json> = rows.iter().map(|r| row_object(&columns, r)).collect();
            Some(json!({"table": table, "rows": rows}))
        });
        json!({
            "log": self.log,
            "offset": s.offset,
            "breakpoints": d.breakpoints().iter().map(ToString::to_string).collect::<Vec<_>>(),
            "search": self.last_search,
            "table": self.table,
            "filter": self.filter,
            "commit": {
                "offset": s.offset,
                "time": humantime::format_rfc3339_micros(t).to_string(),
                "module": s.module,
                "reducer": s.reducer,
                "args": serde_json::from_str::<Json>(&s.args).unwrap_or(Json::Null),
                "cause": s.cause,
            },
            "changes": changes,
            "rows": rows,
        })
    }

    /// Writes the session to `path`.
    pub(super) fn save(&self, path: &str) -> Result<String> {
        let text = serde_json::to_string_pretty(&self.session())?;
        std::fs::write(path, text + "\n").with_context(|| format!("cannot write {path}"))?;
        Ok(format!("session saved to {path}"))
    }

    /// Resumes the session saved in `path`: the commit, the breakpoints,
    /// the search, the table and its filter.
    pub(super) fn resume(&mut self, path: &str) -> Result<()> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
        let s: Json = serde_json::from_str(&text)
            .with_context(|| format!("{path} is not a saved session"))?;
        let bad = |what: &str| anyhow::anyhow!("{path}: no {what} in the session");
        for b in s["breakpoints"]
            .as_array()
            .ok_or_else(|| bad("breakpoints"))?
        {
            let text = b.as_str().ok_or_else(|| bad("breakpoint text"))?;
            let b = self
                .debugger
                .parse_breakpoint(text)
                .with_context(|| format!("{path}: breakpoint `{text}`"))?;
            self.debugger.add_breakpoint(b);
        }
        let offset = s["offset"].as_u64().ok_or_else(|| bad("offset"))?;
        self.debugger
            .jump_to_offset(offset)
            .with_context(|| format!("{path}: the session's commit"))?;
        self.last_search = s["search"].as_str().map(str::to_owned);
        if let Some(table) = s["table"].as_str() {
            self.table = Some(table.to_owned());
        }
        self.filter = s["filter"].as_str().unwrap_or("").to_owned();
        self.message = format!("resumed the session in {path}");
        Ok(())
    }
}
