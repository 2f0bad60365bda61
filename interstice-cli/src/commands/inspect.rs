//! `interstice log-inspect LOG [--module M] [--table T] [--from N] [--to N]
//! [--since TIME] [--until TIME]`: transactions for people.

use std::time::{Duration, UNIX_EPOCH};

use anyhow::{Context, Result};
use futures::TryStreamExt;
use interstice_core::json::to_json;

use crate::location::{Access, LogArgs};

/// Which commits to show.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct Filter {
    /// Only commits by, or changing tables of, this module.
    #[arg(long)]
    pub module: Option<String>,
    /// Only commits changing this table (and only its rows).
    #[arg(long)]
    pub table: Option<String>,
    /// From this offset.
    #[arg(long)]
    pub from: Option<u64>,
    /// Up to this offset (included).
    #[arg(long)]
    pub to: Option<u64>,
    /// From this time (RFC 3339, e.g. 2026-11-26T09:00:00Z).
    #[arg(long)]
    pub since: Option<String>,
    /// Up to this time (RFC 3339).
    #[arg(long)]
    pub until: Option<String>,
}

fn micros(t: &Option<String>, flag: &str) -> Result<Option<u64>> {
    t.as_deref()
        .map(|s| {
            let t = humantime::parse_rfc3339_weak(s).with_context(|| {
                format!("--{flag} {s}: expected a time like 2026-11-26T09:00:00Z")
            })?;
            Ok(t.duration_since(UNIX_EPOCH).unwrap_or_default().as_micros() as u64)
        })
        .transpose()
}

pub async fn run(args: &LogArgs, log: &str, f: &Filter) -> Result<()> {
    let since = micros(&f.since, "since")?;
    let until = micros(&f.until, "until")?;
    let store = args.open(log, Access::ReadOnly).await?;
    // Module records come first in a log: always decode from its start
    // (or, when retention removed it, from a snapshot's schemas).
    let (from, mut decoder) = super::log_start(args, log, &*store).await?;
    let mut commits = store.read_from(from).await?;
    let mut shown = 0;
    while let Some(commit) = commits.try_next().await? {
        let d = decoder.decode(commit);
        let c = &d.commit;
        if f.to.is_some_and(|to| c.offset > to) {
            break;
        }
        if f.from.is_some_and(|from| c.offset < from)
            || since.is_some_and(|s| c.timestamp < s)
            || until.is_some_and(|u| c.timestamp > u)
        {
            continue;
        }
        let rows: Vec<_> = d
            .mutations
            .iter()
            .filter(|m| f.module.as_ref().is_none_or(|mm| &m.module == mm))
            .filter(|m| f.table.as_ref().is_none_or(|t| &m.table == t))
            .collect();
        let by_module = f.module.as_ref().is_none_or(|m| &c.invocation.module == m);
        if (f.table.is_some() || f.module.is_some())
            && rows.is_empty()
            && !(by_module && f.table.is_none())
        {
            continue;
        }
        shown += 1;
        let time =
            humantime::format_rfc3339_micros(UNIX_EPOCH + Duration::from_micros(c.timestamp));
        let args = match &d.args {
            None => String::new(),
            Some(Ok((v, t))) => to_json(v, t).to_string(),
            Some(Err(e)) => format!("<{e}>"),
        };
        let cause = c
            .cause
            .map_or(String::new(), |o| format!("  (caused by #{o})"));
        let request = c
            .invocation
            .request_id
            .as_ref()
            .map_or(String::new(), |id| format!("  [request {id}]"));
        let scheduled = match (&d.schedule_table, c.invocation.scheduled) {
            (Some(table), Some(run)) => {
                let due = UNIX_EPOCH + Duration::from_micros(run.due);
                let late = Duration::from_micros(c.timestamp.saturating_sub(run.due));
                format!(
                    "  (scheduled by {table}: due {}, {} late)",
                    humantime::format_rfc3339_micros(due),
                    humantime::format_duration(late)
                )
            }
            _ => String::new(),
        };
        println!(
            "#{}  {time}  {}.{}({args}){cause}{scheduled}{request}",
            c.offset, c.invocation.module, c.invocation.reducer
        );
        for m in rows {
            let row = match &m.row {
                Ok((v, t)) => to_json(v, t).to_string(),
                Err(e) => format!("<{e}>"),
            };
            let place = if m.table.is_empty() {
                m.module.clone()
            } else {
                format!("{}.{}", m.module, m.table)
            };
            println!("    {:<7} {place} {row}", m.kind.as_str());
        }
    }
    eprintln!("{shown} commits shown");
    Ok(())
}
