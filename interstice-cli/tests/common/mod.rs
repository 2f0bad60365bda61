#![allow(dead_code)]
//! What the CLI's process tests share: the built modules, running the
//! binary, and a running `interstice serve`.

use interstice_testkit::built;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

/// The built `modules/<name>` crate's path, as an argument.
pub fn wasm(name: &str) -> String {
    built::path(name).display().to_string()
}

pub fn interstice(args: &[&str], token: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_interstice"));
    c.args(args).env_remove("INTERSTICE_TOKEN");
    if let Some(t) = token {
        c.env("INTERSTICE_TOKEN", t);
    }
    c.output().unwrap()
}

pub fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// A running `interstice serve` and the URL it printed.
pub struct Serving {
    pub child: Child,
    pub url: String,
}

impl Serving {
    pub fn start(log: &str, extra: &[&str], token: Option<&str>) -> Self {
        let env: Vec<_> = token.map(|t| ("INTERSTICE_TOKEN", t)).into_iter().collect();
        Self::start_with_env(log, extra, &env)
    }

    /// [`Serving::start`] with these environment variables set.
    pub fn start_with_env(log: &str, extra: &[&str], env: &[(&str, &str)]) -> Self {
        let mut c = Command::new(env!("CARGO_BIN_EXE_interstice"));
        c.args(["serve", log]).args(extra);
        if !extra.contains(&"--listen") {
            c.args(["--listen", "127.0.0.1:0"]);
        }
        c.env_remove("INTERSTICE_TOKEN")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .rsplit(" on ")
            .next()
            .filter(|u| u.starts_with("http://"))
            .unwrap_or_else(|| panic!("serve printed {line:?}"))
            .to_owned();
        Self { child, url }
    }

    /// Sends SIGTERM; the exit status and what it wrote on stderr.
    pub fn terminate(self) -> (bool, String) {
        // SAFETY: signals a child process this test started.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let out = self.child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Kills the node with SIGKILL (no chance to clean up); what it wrote
    /// on stderr.
    pub fn kill(mut self) -> String {
        let _ = self.child.kill();
        let out = self.child.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

/// An S3 test server as the CLI reaches it: its endpoint (or a fault
/// proxy's in front of it), its region, and whether writers need
/// `--s3-single-writer` (Garage).
#[derive(Clone, Debug)]
pub struct OnS3 {
    pub endpoint: String,
    pub region: &'static str,
    pub single_writer: bool,
}

impl OnS3 {
    /// `server` itself.
    pub fn server(server: interstice_testkit::s3::Server) -> Self {
        Self::via(server.endpoint, server)
    }

    /// `server` through the proxy at `endpoint`.
    pub fn via(endpoint: &str, server: interstice_testkit::s3::Server) -> Self {
        server.require();
        Self {
            endpoint: endpoint.to_owned(),
            region: server.region,
            single_writer: !server.enforces_create_only,
        }
    }

    /// The flags that point a command at this server.
    pub fn flags(&self) -> Vec<String> {
        let mut flags = vec![
            "--s3-endpoint".to_owned(),
            self.endpoint.clone(),
            "--s3-region".into(),
            self.region.into(),
        ];
        if self.single_writer {
            flags.push("--s3-single-writer".into());
        }
        flags
    }

    /// `interstice ARGS` with the test credentials (blocking).
    pub fn run(&self, args: &[String]) -> Output {
        use interstice_testkit::s3::{KEY_ID, SECRET};
        Command::new(env!("CARGO_BIN_EXE_interstice"))
            .args(args)
            .args(self.flags())
            .env("AWS_ACCESS_KEY_ID", KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET)
            .env_remove("INTERSTICE_TOKEN")
            .output()
            .unwrap()
    }

    /// [`OnS3::run`] off the async workers (a proxy runs on them).
    pub async fn cli(&self, args: &[&str]) -> Output {
        let (on, args) = (
            self.clone(),
            args.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        );
        tokio::task::spawn_blocking(move || on.run(&args))
            .await
            .unwrap()
    }

    /// `interstice serve LOG EXTRA` on it.
    pub async fn serve(&self, log: &str, extra: &[&str]) -> Serving {
        use interstice_testkit::s3::{KEY_ID, SECRET};
        let mut flags: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        flags.extend(self.flags());
        let log = log.to_owned();
        tokio::task::spawn_blocking(move || {
            let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
            Serving::start_with_env(
                &log,
                &flags,
                &[
                    ("AWS_ACCESS_KEY_ID", KEY_ID),
                    ("AWS_SECRET_ACCESS_KEY", SECRET),
                ],
            )
        })
        .await
        .unwrap()
    }
}

/// `s3://<test bucket>/<test>-<nanos>`: a log no other test uses.
pub fn s3_log_name(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("s3://{}/{test}-{nanos}", interstice_testkit::s3::BUCKET)
}
