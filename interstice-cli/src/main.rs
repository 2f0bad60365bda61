//! `interstice`: the command line over the Interstice libraries. This
//! crate only parses arguments and prints results; opening logs, replaying,
//! running modules and checking frames live in the library crates.

mod commands;
mod location;
mod progress;
mod snapshots;

// The allocator the benchmarks measure with: tables allocate one block
// per row, and glibc's malloc was 12% of the 64-caller profile.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use anyhow::Result;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use commands::{
    backup, call, check, compact, debug, diff, dump, generate, graph, history, inspect, publish,
    query, remote, replay, replay_check, schedules, schema, serve, trace, validate,
};
use location::LogArgs;

/// Run sandboxed WebAssembly modules whose state survives anything.
///
/// LOG is a directory (a log on local disk) or s3://bucket/prefix (a log
/// on S3-compatible storage; endpoint, region and credentials from the
/// flags below or the usual AWS_* variables).
#[derive(Parser, Debug)]
#[command(name = "interstice", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    log: LogArgs,
    /// Diagnostics on stderr from this level on: error, warn, info, debug,
    /// trace (or a RUST_LOG filter, which also works as a variable).
    #[arg(long, global = true, value_name = "LEVEL")]
    log_level: Option<String>,
    /// The node's bearer token: `serve` requires it of every request,
    /// `--node` sends it.
    #[arg(long, env = "INTERSTICE_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
    /// Diagnostics as text or as JSON lines (with module, reducer and
    /// offset fields).
    #[arg(long, global = true, value_enum, default_value_t)]
    log_format: LogFormat,
}

/// How diagnostics are written.
#[derive(Clone, Copy, Debug, Default, clap::ValueEnum)]
enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Record a module in the log (refusing incompatible schema changes).
    #[command(
        after_help = "Example:\n  interstice publish ./my-log modules/target/wasm32-unknown-unknown/release/hello.wasm"
    )]
    #[command(
        after_help = "Examples:\n  interstice publish ./my-log hello.wasm\n  interstice publish --dry-run ./my-log hello-0.2.0.wasm\n  INTERSTICE_TOKEN=<admin token> interstice publish --node http://127.0.0.1:7700 hello-0.2.0.wasm"
    )]
    Publish {
        /// `LOG MODULE.wasm`, or `MODULE.wasm` with --node. The module is a
        /// .wasm file that follows the module ABI (docs/abi.md), as
        /// interstice-sdk builds them.
        #[arg(value_name = "OPERANDS", num_args = 1..=2, required = true)]
        operands: Vec<String>,
        /// Publish through a running node (`interstice serve`, with its
        /// admin token): calls under way finish on the old version, later
        /// ones run the new one.
        #[arg(long, value_name = "URL", conflicts_with = "dry_run")]
        node: Option<String>,
        /// Check and apply it to the log's current state in memory, print
        /// the changes and the rows each table would hold, and write
        /// nothing (the log may be in use by a node).
        #[arg(long)]
        dry_run: bool,
    },
    /// Unpublish a module: it and its tables leave the state (the log keeps
    /// their history); refused while other modules depend on it or
    /// subscribe to its tables.
    #[command(
        after_help = "Examples:\n  interstice unpublish ./my-log hello\n  INTERSTICE_TOKEN=<admin token> interstice unpublish --node http://127.0.0.1:7700 hello"
    )]
    Unpublish {
        /// `LOG MODULE`, or `MODULE` with --node.
        #[arg(value_name = "OPERANDS", num_args = 1..=2, required = true)]
        operands: Vec<String>,
        /// Unpublish through a running node (`interstice serve`, with its
        /// admin token).
        #[arg(long, value_name = "URL")]
        node: Option<String>,
    },
    /// Call a reducer; exits 0 only once the commit is durable.
    #[command(
        after_help = "Arguments are a JSON array (by position) or object (by name).\n\nExamples:\n  interstice call ./my-log hello.hello '[\"world\"]'\n  interstice call ./my-log chat.send '{\"user\": \"ada\", \"channel\": \"general\", \"text\": \"hi\"}'\n  interstice call --node http://127.0.0.1:7700 hello.hello '[\"world\"]'"
    )]
    Call {
        /// `LOG MODULE.REDUCER [ARGS]`: the log, the reducer, and its
        /// arguments as JSON (default: none). With --node, no LOG.
        #[arg(value_name = "OPERANDS", num_args = 1..=3, required = true)]
        operands: Vec<String>,
        /// Call through a running node (`interstice serve`) instead of
        /// opening the log here.
        #[arg(long, value_name = "URL")]
        node: Option<String>,
        /// An id for this request (at most 255 bytes): it is logged with
        /// the commit, and a retry with the same id runs nothing and
        /// answers with the first commit (for 24 hours). What makes a
        /// retry after an unknown outcome (exit status 3) safe.
        #[arg(long, value_name = "ID")]
        request_id: Option<String>,
    },
    /// Print a table's rows (replaying the log).
    #[command(
        after_help = "Examples:\n  interstice query ./my-log hello.greetings\n  interstice query ./my-log chat.users --where name=ada --format json\n  interstice query ./my-log chat.messages --limit 10\n  interstice query --node http://127.0.0.1:7700 hello.greetings"
    )]
    Query {
        /// LOG MODULE.TABLE; with --node, just MODULE.TABLE.
        #[arg(value_name = "OPERANDS", num_args = 1..=2, required = true)]
        operands: Vec<String>,
        /// Read from a running node (`interstice serve`) instead of
        /// replaying the log here.
        #[arg(long, value_name = "URL")]
        node: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: query::Format,
        /// Only rows whose COLUMN equals VALUE (JSON, or plain text for
        /// strings); an index on COLUMN is used when there is one.
        #[arg(long = "where", value_name = "COLUMN=VALUE")]
        filters: Vec<String>,
        /// Print at most N rows (a warning says when there were more).
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
        /// The table as it was just after commit OFFSET (any commit the
        /// log still holds; with snapshots, replay starts at the newest
        /// one before it).
        #[arg(long, value_name = "OFFSET")]
        at: Option<u64>,
    },
    /// Step through the log's history in a full-screen terminal debugger:
    /// the timeline, each commit's call and row changes, any table at any
    /// commit, breakpoints, search, and a re-run of a commit (`?` lists
    /// the keys). It never writes the log.
    #[command(
        after_help = "Examples:\n  interstice debug ./my-log\n  interstice debug s3://bucket/prefix    # a log whose start retention removed starts at its oldest snapshot"
    )]
    Debug {
        /// The log.
        log: String,
        /// Resume a session saved with `e`: its commit, breakpoints,
        /// search, table and filter.
        #[arg(long, value_name = "FILE")]
        session: Option<String>,
    },
    /// The rows that changed between two offsets: inserted, updated (old
    /// -> new) and deleted, per table, by the commits after --from up to
    /// and including --to.
    #[command(
        after_help = "Examples:\n  interstice diff ./my-log --from 10 --to 42\n  interstice diff ./my-log --from 10 --to 42 --table test_persistence.accounts --format json"
    )]
    Diff {
        /// The log.
        log: String,
        /// The state to compare from: just after this commit.
        #[arg(long, value_name = "OFFSET")]
        from: u64,
        /// The state to compare to: just after this commit (default: the
        /// last one).
        #[arg(long, value_name = "OFFSET")]
        to: Option<u64>,
        /// Only this table (`MODULE.TABLE`).
        #[arg(long, value_name = "MODULE.TABLE")]
        table: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: history::Format,
    },
    /// Run a node: replay the log once, then serve calls, queries,
    /// publishing and subscriptions over HTTP until SIGTERM or Ctrl-C
    /// (docs/http-api.md).
    #[command(
        after_help = "Examples:\n  interstice serve ./my-log\n  INTERSTICE_TOKEN=... INTERSTICE_ADMIN_TOKEN=... interstice serve ./my-log --listen 0.0.0.0:7700 --allow-remote\n  interstice serve ./my-log --token-file /etc/interstice/token --admin-token-file /etc/interstice/admin-token"
    )]
    Serve {
        /// The log (created when missing).
        log: String,
        #[command(flatten)]
        serve: serve::ServeArgs,
    },
    /// Replay the log and print a summary (no WebAssembly runs).
    #[command(
        after_help = "Examples:\n  interstice replay ./my-log\n  interstice replay ./my-log --to-offset 41     # the state as of commit 41"
    )]
    Replay {
        /// The log.
        log: String,
        /// Stop after this commit: the state as of then.
        #[arg(long)]
        to_offset: Option<u64>,
    },
    /// Print the schema of a .wasm module, or of every module in a log.
    #[command(
        after_help = "Examples:\n  interstice schema modules/target/wasm32-unknown-unknown/release/chat.wasm\n  interstice schema ./my-log --format json"
    )]
    Schema {
        /// A .wasm file or a log.
        source: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: schema::Format,
    },
    /// Compare two versions of a module: each change compatible or
    /// breaking; exit 1 on a breaking one.
    #[command(after_help = "Example:\n  interstice schema-diff old/chat.wasm new/chat.wasm")]
    SchemaDiff {
        /// The published version.
        old: String,
        /// The new version.
        new: String,
    },
    /// Check modules as publishing would (and their dependencies among
    /// them); exit 1 listing every problem.
    #[command(after_help = "Example:\n  interstice validate hello.wasm caller.wasm")]
    Validate {
        /// The .wasm files.
        #[arg(required = true)]
        wasm: Vec<String>,
    },
    /// Merge small objects of an S3 log into larger segments (safe while
    /// the log is in use).
    #[command(
        after_help = "Example:\n  interstice compact s3://my-bucket/logs/prod --s3-endpoint http://127.0.0.1:3900"
    )]
    Compact {
        /// The log (s3://bucket/prefix).
        log: String,
        /// Largest merged segment.
        #[arg(long, default_value_t = 8 << 20)]
        target_bytes: u64,
        /// Delete the stubs merged objects leave once they are this old
        /// (docs/s3.md): 1h, 30m...
        #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = humantime::parse_duration)]
        stub_grace: std::time::Duration,
    },
    /// List the rows of every schedule table waiting for their call: when
    /// each is due, and how often it repeats. `call`, `publish` and
    /// `unpublish` leave scheduled calls to the node (`interstice serve`,
    /// which runs them as they come due); --run runs those due now here,
    /// each as its own commit, and exits.
    #[command(
        after_help = "Examples:\n  interstice schedules ./my-log\n  interstice schedules ./my-log --run   # e.g. from cron, for a log no node serves"
    )]
    Schedules {
        /// The log.
        log: String,
        /// Run the calls due now (those missed included, once each, in
        /// time order), then list what stays scheduled.
        #[arg(long)]
        run: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: schedules::Format,
    },
    /// Print transactions for people: offset, time, reducer and
    /// arguments, cause, and each row change decoded by the logged schema.
    #[command(
        after_help = "Examples:\n  interstice log-inspect ./my-log --module chat --from 10 --to 20\n  interstice log-inspect ./my-log --table users --since 2026-11-26T09:00:00Z"
    )]
    LogInspect {
        /// The log.
        log: String,
        #[command(flatten)]
        filter: inspect::Filter,
    },
    /// The call chains of a range of the log (client calls, the
    /// cross-module calls inside them, the subscriptions they triggered)
    /// as a Chrome trace-event file for Perfetto, or as JSON.
    #[command(
        after_help = "Examples:\n  interstice trace ./my-log --from 100 --to 200 -o calls.json   # open in ui.perfetto.dev\n  interstice trace ./my-log --module chat --format json\n  interstice trace --node http://127.0.0.1:7700 --reducer transfer"
    )]
    Trace {
        /// The log (or --node).
        #[arg(required_unless_present = "node")]
        log: Option<String>,
        /// Ask a running node (`interstice serve`) instead of reading the
        /// log here.
        #[arg(long, value_name = "URL", conflicts_with = "log")]
        node: Option<String>,
        #[command(flatten)]
        range: trace::Range,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: trace::Format,
        /// Write to FILE instead of stdout.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<String>,
    },
    /// Draw the modules, their tables and reducers, and who writes,
    /// calls and triggers what; from a log, with what happened, counted.
    #[command(
        after_help = "Examples:\n  interstice graph modules/target/wasm32-unknown-unknown/release/*.wasm -o modules.html\n  interstice graph ./my-log --format svg -o my-log.svg\n  interstice graph ./my-log --format dot | dot -Tpng > my-log.png"
    )]
    Graph {
        /// A log, or .wasm files.
        #[arg(required = true, value_name = "LOG | MODULE.wasm")]
        sources: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: graph::Format,
        /// Write to FILE instead of stdout.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<String>,
    },
    /// Write typed client code for the modules of a log, of .wasm files,
    /// or of a running node: a type per row and custom type, a function
    /// per public reducer, a cached subscription per public table
    /// (docs/clients.md). Files are rewritten only when their text
    /// changes.
    #[command(
        after_help = "Examples:\n  interstice generate --lang rust ./my-log -o src/bindings\n  interstice generate --lang typescript --node http://127.0.0.1:7700 -o web/src/bindings\n  interstice generate --lang rust modules/target/wasm32-unknown-unknown/release/chat.wasm -o src/chat"
    )]
    Generate(generate::Args),
    /// The whole log, machine-readable: one record per commit and per
    /// mutation (docs/cli.md).
    #[command(
        after_help = "Example:\n  interstice log-dump ./my-log --format json | jq 'select(.type == \"mutation\")'"
    )]
    LogDump {
        /// The log.
        log: String,
        /// Output format.
        #[arg(long, value_enum)]
        format: dump::Format,
    },
    /// Re-execute every logged invocation twice with the logged modules
    /// and compare with the log; exit 1 at the first divergence.
    #[command(after_help = "Example:\n  interstice replay-check ./my-log")]
    ReplayCheck {
        /// The log.
        log: String,
    },
    /// Take a snapshot of the log's state now (safe while a node writes
    /// the log); opening the log then replays only what follows it.
    #[command(
        after_help = "Examples:\n  interstice snapshot ./my-log\n  interstice serve ./my-log --snapshot-every-commits 100000 --snapshot-every 10m   # on a policy instead"
    )]
    Snapshot {
        /// The log.
        log: String,
    },
    /// Copy a log and its snapshots to DEST (a directory or s3://...),
    /// consistently while a node writes it; later runs copy only what is
    /// new.
    #[command(
        after_help = "Examples:\n  interstice backup ./my-log s3://backups/my-log --s3-endpoint http://127.0.0.1:3900\n  interstice backup ./my-log /mnt/backup/my-log   # again later: only the new commits"
    )]
    Backup {
        /// The log.
        log: String,
        /// Where the copy goes (created when missing).
        dest: String,
    },
    /// Copy a backup into a new log, which then opens to the backup's
    /// state (docs/operations.md: moving a node).
    #[command(after_help = "Example:\n  interstice restore s3://backups/my-log ./my-log")]
    Restore {
        /// The backup.
        backup: String,
        /// The new log (must hold no commits).
        log: String,
    },
    /// Verify every frame of a log; exit 1 and list each bad frame if any.
    #[command(
        after_help = "Examples:\n  interstice check-log ./my-log\n  interstice check-log ./my-log --repair        # cut before the damage (bytes kept in quarantine)\n  interstice check-log ./my-log --snapshots     # and every snapshot against a replay"
    )]
    CheckLog {
        /// The log.
        log: String,
        /// Cut the log after the last valid commit before the first
        /// damage, keeping the cut bytes in quarantine.
        #[arg(long)]
        repair: bool,
        /// With --repair: also when that drops valid commits after the
        /// damage.
        #[arg(long, requires = "repair")]
        yes: bool,
        /// With --repair on an s3:// log: also while a node writes it
        /// (its writer lease is fresh).
        #[arg(long, requires = "repair")]
        force: bool,
        /// Also check every snapshot: its bytes, and its state against a
        /// replay to its offset from the snapshot before it.
        #[arg(long, conflicts_with = "repair")]
        snapshots: bool,
    },
}

/// Splits `[LOG] TARGET [ARGS]`: LOG is there unless a node is named;
/// ARGS only when `takes_args`.
fn operands<'a>(
    node: Option<&str>,
    operands: &'a [String],
    target: &str,
    takes_args: bool,
) -> Result<(&'a str, &'a str, Option<&'a str>)> {
    let ops: Vec<&str> = operands.iter().map(String::as_str).collect();
    let (log, rest) = match (node, ops.as_slice()) {
        (Some(_), rest) => ("", rest),
        (None, [log, rest @ ..]) => (*log, rest),
        (None, []) => ("", &[][..]),
    };
    match rest {
        [t] => Ok((log, t, None)),
        [t, args] if takes_args => Ok((log, t, Some(args))),
        _ => match node {
            Some(url) => {
                anyhow::bail!("with --node {url}, give {target} (and its arguments), not a log")
            }
            None => anyhow::bail!("expected LOG {target}, or --node URL {target}"),
        },
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let args = &cli.log;
    let token = cli.token.as_deref();
    match &cli.command {
        Command::Publish {
            operands,
            node,
            dry_run,
        } => {
            let (log, wasm, _) = self::operands(node.as_deref(), operands, "MODULE.wasm", false)?;
            match node {
                Some(url) => publish::remote(&remote::Node { url, token }, wasm).await?,
                None if *dry_run => publish::dry_run(args, log, wasm).await?,
                None => publish::run(args, log, wasm).await?,
            }
        }
        Command::Unpublish { operands, node } => {
            let (log, module, _) = self::operands(node.as_deref(), operands, "MODULE", false)?;
            match node {
                Some(url) => {
                    publish::unpublish_remote(&remote::Node { url, token }, module).await?
                }
                None => publish::unpublish(args, log, module).await?,
            }
        }
        Command::Call {
            operands,
            node,
            request_id,
        } => {
            let (log, target, json) =
                self::operands(node.as_deref(), operands, "MODULE.REDUCER", true)?;
            let id = request_id.as_deref();
            match node {
                Some(url) => {
                    let node = remote::Node { url, token };
                    call::remote(&node, target, json, id).await?
                }
                None => call::run(args, log, target, json, id).await?,
            }
        }
        Command::Query {
            operands,
            node,
            format,
            filters,
            limit,
            at,
        } => {
            let (log, target, _) =
                self::operands(node.as_deref(), operands, "MODULE.TABLE", false)?;
            let query = query::Query {
                target,
                format: *format,
                filters,
                limit: *limit,
                at: *at,
            };
            match node {
                Some(url) => query::remote(&remote::Node { url, token }, &query).await?,
                None => query::run(args, log, &query).await?,
            }
        }
        Command::Debug { log, session } => debug::run(args, log, session.as_deref()).await?,
        Command::Diff {
            log,
            from,
            to,
            table,
            format,
        } => history::diff(args, log, *from, *to, table.as_deref(), *format).await?,
        Command::Serve { log, serve } => serve::run(args, log, serve, token).await?,
        Command::Replay { log, to_offset } => replay::run(args, log, *to_offset).await?,
        Command::Schema { source, format } => schema::run(args, source, *format).await?,
        Command::SchemaDiff { old, new } => {
            if !diff::run(old, new)? {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Validate { wasm } => {
            if !validate::run(wasm)? {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Compact {
            log,
            target_bytes,
            stub_grace,
        } => compact::run(args, log, *target_bytes, *stub_grace).await?,
        Command::LogInspect { log, filter } => inspect::run(args, log, filter).await?,
        Command::Schedules { log, run, format } => schedules::run(args, log, *run, *format).await?,
        Command::LogDump { log, format } => dump::run(args, log, *format).await?,
        Command::Generate(generate) => generate::run(args, token, generate).await?,
        Command::Graph {
            sources,
            format,
            output,
        } => graph::run(args, sources, *format, output.as_deref()).await?,
        Command::Trace {
            log,
            node,
            range,
            format,
            output,
        } => {
            let node = node.as_deref().map(|url| remote::Node { url, token });
            trace::run(
                args,
                log.as_deref(),
                node,
                range,
                *format,
                output.as_deref(),
            )
            .await?
        }
        Command::ReplayCheck { log } => {
            if !replay_check::run(args, log).await? {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Snapshot { log } => snapshots::run(args, log).await?,
        Command::Backup { log, dest } => backup::run(args, log, dest).await?,
        Command::Restore { backup, log } => backup::restore(args, backup, log).await?,
        Command::CheckLog {
            log,
            repair,
            yes,
            force,
            snapshots,
        } => {
            let repair = check::Repair {
                cut: *repair,
                dropping_valid: *yes,
                force: *force,
            };
            let frames_ok = check::run(args, log, repair).await?;
            let snapshots_ok = !*snapshots || check::snapshots(args, log).await?;
            if !(frames_ok && snapshots_ok) {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    // Die quietly when stdout is closed early (`interstice ... | head`),
    // as other Unix tools do, instead of panicking on the write.
    #[cfg(unix)]
    // SAFETY: restores the default disposition of one signal, before any
    // thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    for (id, instead) in [
        ("token", "INTERSTICE_TOKEN or --token-file"),
        (
            "admin_token",
            "INTERSTICE_ADMIN_TOKEN or --admin-token-file",
        ),
    ] {
        let given = |m: &clap::ArgMatches| {
            m.try_get_raw(id).is_ok_and(|v| v.is_some())
                && m.value_source(id) == Some(clap::parser::ValueSource::CommandLine)
        };
        if given(&matches) || matches.subcommand().is_some_and(|(_, m)| given(m)) {
            eprintln!(
                "warning: a token on the command line shows in `ps` to every user of this machine; use {instead}"
            );
        }
    }
    let filter = match &cli.log_level {
        Some(level) => tracing_subscriber::EnvFilter::try_new(level),
        None => tracing_subscriber::EnvFilter::try_from_default_env()
            .or_else(|_| tracing_subscriber::EnvFilter::try_new("warn")),
    };
    let filter = match filter {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: --log-level: {e}");
            return ExitCode::from(2);
        }
    };
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour_on_stderr())
        .with_target(false)
        // A call's span is reported when it ends, with what it did
        // (docs/observability.md).
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE);
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", error_line(&e));
            if outcome_unknown(&e) {
                eprintln!(
                    "note: the commit may or may not be in the log; the next open of the log settles it (docs/operations.md)"
                );
                return ExitCode::from(OUTCOME_UNKNOWN);
            }
            ExitCode::FAILURE
        }
    }
}

/// The exit status of a command whose commit may or may not have been
/// stored (the log could not say).
const OUTCOME_UNKNOWN: u8 = 3;

/// Whether `e` says a commit's outcome is unknown: from the log here, or
/// from the node's `outcome_unknown` answer.
fn outcome_unknown(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        if let Some(call) = cause.downcast_ref::<interstice_core::CallError>() {
            return call.outcome_unknown();
        }
        if let Some(log) = cause.downcast_ref::<interstice_log::Error>() {
            return matches!(log, interstice_log::Error::OutcomeUnknown { .. });
        }
        cause
            .downcast_ref::<commands::remote::NodeRefused>()
            .is_some_and(|r| r.code == "outcome_unknown")
    })
}

/// Colour in diagnostics only on a terminal, and never with `NO_COLOR`
/// set to anything (no-color.org).
fn colour_on_stderr() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// An error and its causes on one line, each said once: a library error
/// may repeat its source in its own message, and the source then follows
/// it in the chain.
fn error_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let message = cause.to_string();
        if line.contains(&message) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&message);
    }
    line
}
