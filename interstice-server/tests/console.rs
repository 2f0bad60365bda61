//! The web console in a real browser: headless Chromium driven over
//! WebDriver (Debian's chromedriver, `scripts/test-tools.sh`) against a
//! node serving `test_persistence`. The page loads, a reducer is called
//! from its form, the new row arrives in a live table view, the timeline
//! steps back to the old state; with a token set, the page asks for it.
//! Screenshots go to `target/console/`.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Served;
use fantoccini::{Client, ClientBuilder, Locator};
use interstice_server::NodeConfig;
use serde_json::{Value, json};

/// A chromedriver on a free loopback port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed (scripts/test-tools.sh)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn browser(&self) -> Client {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,860"],
            }),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a browser session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `script` (a JavaScript expression) is true in the page.
async fn until(browser: &Client, what: &str, script: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let v = browser
            .execute(&format!("return !!({script});"), vec![])
            .await
            .unwrap();
        if v == Value::Bool(true) {
            return;
        }
        if Instant::now() > deadline {
            let text = browser
                .execute("return document.body.innerText;", vec![])
                .await
                .unwrap();
            panic!(
                "never saw {what}; the page says:\n{}",
                text.as_str().unwrap_or("")
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The value of a JavaScript expression in the page.
async fn js(browser: &Client, script: &str) -> Value {
    browser
        .execute(&format!("return ({script});"), vec![])
        .await
        .unwrap()
}

async fn screenshot(browser: &Client, name: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/console");
    std::fs::create_dir_all(&dir).unwrap();
    let png = browser.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// The text of the table view's rows.
const ROWS: &str = "[...document.querySelectorAll('#rows tr')].map(r => r.innerText).join('\\n')";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_calls_a_reducer_shows_the_row_live_and_steps_back_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let node = Served::on_disk(dir.path()).await;
    node.publish("test_persistence").await;
    let (status, body) = node
        .call("test_persistence.open", json!([1, "ada", 100]))
        .await;
    assert_eq!(status, 200, "{body}");
    let driver = Driver::start();
    let browser = driver.browser().await;

    browser.goto(&node.url).await.unwrap();
    until(
        &browser,
        "the modules",
        "document.querySelector('a[data-table=\"test_persistence.accounts\"]')",
    )
    .await;
    js(
        &browser,
        "document.querySelector('a[data-table=\"test_persistence.accounts\"]').click()",
    )
    .await;
    until(
        &browser,
        "ada's row",
        &format!("{ROWS}.includes('\"ada\"')"),
    )
    .await;
    browser
        .find(Locator::Id("live"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The live view's snapshot replaces the rows: still ada alone.
    until(
        &browser,
        "the live snapshot",
        &format!("{ROWS}.split('\\n').length === 2"),
    )
    .await;
    screenshot(&browser, "1-table").await;

    // Call `open` from its form.
    js(
        &browser,
        "document.querySelector('a[data-reducer=\"test_persistence.open\"]').click()",
    )
    .await;
    until(
        &browser,
        "the form",
        "document.querySelector('#reducer-form input[name=owner]')",
    )
    .await;
    for (name, value) in [("id", "2"), ("owner", "bob"), ("balance", "50")] {
        let input = browser
            .find(Locator::Css(&format!("#reducer-form input[name={name}]")))
            .await
            .unwrap();
        input.send_keys(value).await.unwrap();
    }
    browser
        .find(Locator::Css("#reducer-form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(
        &browser,
        "the receipt",
        "document.getElementById('reducer-out').innerText.includes('committed at offset 2')",
    )
    .await;
    // Bob's row arrives through the live view (the page does not reload
    // the table while it is live).
    until(
        &browser,
        "bob's row, live",
        &format!("{ROWS}.includes('\"bob\"')"),
    )
    .await;
    let fresh = js(
        &browser,
        "document.querySelectorAll('#rows tr.fresh').length",
    )
    .await;
    assert_eq!(fresh, json!(1), "one row came by the event stream");
    screenshot(&browser, "2-called-live").await;

    // More history, with a bad transfer (docs/debugging.md): commit 5
    // moves -40 "to" ada.
    for (reducer, args) in [
        ("transfer", json!([1, 2, 30])),
        ("open", json!([3, "cy", 10])),
        ("transfer", json!([2, 1, -40])),
        ("transfer", json!([3, 1, 5])),
    ] {
        let (status, body) = node
            .call(&format!("test_persistence.{reducer}"), args)
            .await;
        assert_eq!(status, 200, "{body}");
    }
    // The timeline: commit 5 is the bad transfer; one step back is the
    // state before it.
    js(
        &browser,
        "document.querySelector('button[data-tab=timeline]').click()",
    )
    .await;
    until(
        &browser,
        "the timeline",
        "document.querySelectorAll('#commits li').length === 7",
    )
    .await;
    js(
        &browser,
        "document.querySelector('#commits li[data-offset=\"5\"]').click()",
    )
    .await;
    until(
        &browser,
        "commit 5's changes",
        "document.getElementById('commit-detail').innerText.includes('~ {\"id\":1,\"owner\":\"ada\",\"balance\":70')",
    )
    .await;
    let detail = js(
        &browser,
        "document.getElementById('commit-detail').innerText",
    )
    .await;
    let detail = detail.as_str().unwrap();
    assert!(detail.contains("\"amount\":-40"), "{detail}");
    assert!(detail.contains("\"balance\":30"), "{detail}");
    screenshot(&browser, "3-bad-transfer").await;
    js(&browser, "document.getElementById('step-back').click()").await;
    until(
        &browser,
        "commit 4 selected",
        "document.getElementById('selected-commit').innerText === 'commit 4'",
    )
    .await;
    js(
        &browser,
        "document.querySelector('button[data-tab=tables]').click()",
    )
    .await;
    until(
        &browser,
        "the state at commit 4",
        &format!("document.getElementById('at').value === '4' && {ROWS}.includes('\"ada\"\t70')"),
    )
    .await;
    screenshot(&browser, "4-before-the-bad-transfer").await;

    // The graph and the node's status are there too.
    js(
        &browser,
        "document.querySelector('button[data-tab=graph]').click()",
    )
    .await;
    until(
        &browser,
        "the graph",
        "document.querySelector('#graph-svg svg')",
    )
    .await;
    js(
        &browser,
        "document.querySelector('button[data-tab=node]').click()",
    )
    .await;
    until(
        &browser,
        "the status",
        "document.getElementById('node-status').innerText.includes('serving')",
    )
    .await;
    browser.close().await.unwrap();
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_token_the_console_asks_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = interstice_backend_fs::FsLogStore::open(
        dir.path(),
        interstice_log::LogOptions::default().create(true),
    )
    .unwrap();
    let config = NodeConfig {
        token: Some("s3cret".into()),
        ..NodeConfig::default()
    };
    let node = Served::start(std::sync::Arc::new(store), config).await;
    let driver = Driver::start();
    let browser = driver.browser().await;
    browser.goto(&node.url).await.unwrap();
    until(
        &browser,
        "the token prompt",
        "!document.getElementById('token-box').hidden",
    )
    .await;
    browser
        .find(Locator::Id("token"))
        .await
        .unwrap()
        .send_keys("s3cret")
        .await
        .unwrap();
    js(
        &browser,
        "document.querySelector('#token-form button').click()",
    )
    .await;
    until(
        &browser,
        "the node's status",
        "document.getElementById('status').innerText.startsWith('serving')",
    )
    .await;
    let kept = js(&browser, "sessionStorage.getItem('interstice-token')").await;
    assert_eq!(kept, json!("s3cret"));
    let local = js(&browser, "localStorage.length").await;
    assert_eq!(local, json!(0), "kept for the tab only");
    browser.close().await.unwrap();
    node.stop().await;
}
