//! The demo's chat page as a person uses it, in a real headless Chromium driven over WebDriver
//! (`chromedriver`, with the `fantoccini` client): two windows chat with each other, a
//! `POST /push` from an HTTP client appears in both, `/join` moves them to a room that the page
//! shows, a `restart` of the server (close 1012) is survived (the page reconnects at once and
//! joins its room again), and while the server is stopped Send is disabled with the reason
//! shown and the page comes back by itself once the server runs again. Then the page served
//! over https connects with `wss://`.
//!
//! Screenshots are kept in `target/test-artifacts/`: `chat.png` (the conversation at the end),
//! `chat-disconnected.png` (while the server is stopped) and, when the test fails,
//! `chat-failure-*.png` of every window.
//!
//! Needs Debian's `chromium` and `chromium-driver` packages (`.ci/run` installs them): without
//! them the test fails, saying so. The servers run as `ws-cli start -d` daemons in a temporary
//! directory on free ports, the browser with a fresh profile in it; a guard kills (by pid) the
//! servers, `chromedriver` and the browser processes of that profile, whatever happens. Every
//! wait is bounded.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use fantoccini::error::CmdError;
use fantoccini::wd::WindowHandle;
use fantoccini::{Client, ClientBuilder, Locator};
use serde::Deserialize;
use serde_json::json;

mod support;

use support::{free_port, parse_started, run, text, Workdir, WAIT};

const BIN: &str = env!("CARGO_BIN_EXE_ws-cli");

/// The `secret_key` of the test's servers, which `POST /push` needs.
const KEY: &str = "browser-test-key";

/// How long a page may take to reach a state: its reconnect waits are capped at 10 s, and a
/// loaded 2-core machine runs the browser, the driver, two servers and other tests at once.
const PAGE_WAIT: Duration = Duration::from_secs(60);

const INSTALL: &str = "this test drives the chat page in a real headless Chromium: install \
    Debian's `chromium` and `chromium-driver` packages (`apt-get install -y chromium \
    chromium-driver`; `.ci/run` installs them)";

/// `target/test-artifacts`, where the screenshots are kept.
fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `name` on `PATH` (or in `/usr/bin`); fails the test, saying what to install, when missing.
fn program(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("`{name}` not found on PATH: {INSTALL}"))
}

/// One demo app (`ws-cli start -d`) in its own directory, on fixed free ports so that a stop
/// and a new start serve the page's address again.
struct Demo {
    dir: Workdir,
    http: SocketAddr,
    ws: SocketAddr,
    pid: u32,
}

impl Demo {
    /// Writes `ws.toml` (`extra` goes into both server tables) and starts the daemon.
    fn start(name: &str, extra: &str) -> Self {
        let dir = Workdir::new(name);
        let (http_port, ws_port) = (free_port(), free_port());
        let config = format!(
            "secret_key = \"{KEY}\"\n\
             [servers.http]\nport = {http_port}\n{extra}\
             [servers.ws]\nport = {ws_port}\n{extra}"
        );
        std::fs::write(dir.join("ws.toml"), config).unwrap();
        let mut demo = Self {
            dir,
            http: SocketAddr::from(([127, 0, 0, 1], http_port)),
            ws: SocketAddr::from(([127, 0, 0, 1], ws_port)),
            pid: 0,
        };
        demo.start_again();
        demo
    }

    /// `ws-cli ARGS --config ws.toml` in the directory, to completion.
    fn cli(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .args(["--config", "ws.toml"])
            .current_dir(&*self.dir)
            .env_remove("WS_SECRET_KEY");
        run(cmd, &format!("ws-cli {}", args.join(" ")), WAIT)
    }

    fn start_again(&mut self) {
        let out = self.cli(&["start", "-d"]);
        assert!(out.status.success(), "start -d failed: {}", text(&out));
        let (pid, addrs) = parse_started(&String::from_utf8_lossy(&out.stdout));
        self.dir.track(pid);
        assert_eq!(addrs["http"].port(), self.http.port(), "{}", text(&out));
        assert_eq!(addrs["ws"].port(), self.ws.port(), "{}", text(&out));
        self.pid = pid;
    }

    /// `restart`: the new process takes over; the old one closes its clients with 1012.
    fn restart(&mut self) {
        let out = self.cli(&["restart"]);
        assert!(out.status.success(), "restart failed: {}", text(&out));
        let (pid, _) = parse_started(&String::from_utf8_lossy(&out.stdout));
        self.dir.track(pid);
        assert_ne!(pid, self.pid, "restart made a new process: {}", text(&out));
        self.pid = pid;
    }

    fn stop(&self) {
        let out = self.cli(&["stop"]);
        assert!(out.status.success(), "stop failed: {}", text(&out));
    }
}

/// A `chromedriver` on a free loopback port; on drop it is killed (by pid), and so is every
/// browser process still running with our profile (a `--user-data-dir` of our own).
struct Driver {
    child: Child,
    url: String,
    profile: PathBuf,
    log: PathBuf,
}

impl Driver {
    fn start(dir: &Path) -> Self {
        let chromedriver = program("chromedriver");
        let port = free_port();
        let log = dir.join("chromedriver.log");
        let child = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}; {INSTALL}", chromedriver.display()));
        let mut driver = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            profile: dir.join("chromium-profile"),
            log,
        };
        let deadline = Instant::now() + WAIT;
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return driver;
            }
            if let Some(status) = driver.child.try_wait().unwrap() {
                panic!("chromedriver exited ({status}): {}", driver.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on port {port} within {WAIT:?}: {}",
                driver.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_text(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        // The end says what went wrong; the whole log stays in the kept directory.
        let start = log.len().saturating_sub(4000);
        let start = (start..log.len())
            .find(|&i| log.is_char_boundary(i))
            .unwrap_or(0);
        log[start..].to_owned()
    }

    /// A session: headless Chromium with a fresh profile, nothing that reaches out to the
    /// network on its own (this machine has none), certificates of the test's own CA accepted.
    async fn session(&self) -> Client {
        let chromium = program("chromium");
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--no-default-browser-check".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-extensions".to_owned(),
            "--disable-default-apps".to_owned(),
            "--disable-domain-reliability".to_owned(),
            "--disable-client-side-phishing-detection".to_owned(),
            "--disable-features=AutofillServerCommunication,OptimizationHints,MediaRouter,\
             Translate,InterestFeedContentSuggestions"
                .to_owned(),
            "--dns-prefetch-disable".to_owned(),
            // No name lookups at all (the pages are on IP literals): without this, Chromium
            // still resolves its own services' names and the default search engine's.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1".to_owned(),
            // Windows that are not in front keep their timers (the reconnect waits) on time.
            "--disable-background-timer-throttling".to_owned(),
            "--disable-renderer-backgrounding".to_owned(),
            "--disable-backgrounding-occluded-windows".to_owned(),
            "--window-size=820,900".to_owned(),
            format!("--user-data-dir={}", self.profile.display()),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert("acceptInsecureCerts".into(), json!(true));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": chromium, "args": args }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let session = tokio::time::timeout(
            WAIT * 2,
            ClientBuilder::new(connector)
                .capabilities(caps)
                .connect(&self.url),
        )
        .await
        .unwrap_or_else(|_| panic!("no browser session within {:?}", WAIT * 2));
        session.unwrap_or_else(|e| panic!("no browser session: {e}\n{}", self.log_text()))
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let profile = format!("--user-data-dir={}", self.profile.display());
        for pid in pids_with_arg(&profile) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// The processes whose command line has the argument `arg`.
fn pids_with_arg(arg: &str) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            cmdline
                .split(|&b| b == 0)
                .any(|a| a == arg.as_bytes())
                .then_some(pid)
        })
        .collect()
}

/// A WebDriver command, bounded by `WAIT`, its error as text.
async fn wd<T>(what: &str, cmd: impl Future<Output = Result<T, CmdError>>) -> Result<T, String> {
    match tokio::time::timeout(WAIT, cmd).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!("{what}: no answer within {WAIT:?}")),
    }
}

/// What a person sees on the page, read from the DOM.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    /// `data-state` of the status line: `connecting`, `open` or `waiting`.
    state: String,
    status: String,
    send_disabled: bool,
    /// The text beside Send saying why it is disabled, `None` while hidden.
    reason: Option<String>,
    room: String,
    log: Vec<String>,
    draft: String,
}

impl Page {
    fn connected(&self) -> bool {
        self.state == "open" && !self.send_disabled && self.reason.is_none()
    }

    fn has(&self, line: &str) -> bool {
        self.log.iter().any(|l| l == line)
    }

    /// The log after the last line `marker`.
    fn after(&self, marker: &str) -> &[String] {
        let from = self
            .log
            .iter()
            .rposition(|l| l == marker)
            .map_or(0, |i| i + 1);
        &self.log[from..]
    }
}

const READ_PAGE: &str = r"
    const $ = (id) => document.getElementById(id);
    const reason = $('send-reason');
    return {
        state: $('status').dataset.state,
        status: $('status').textContent,
        sendDisabled: $('send').disabled,
        reason: reason.hidden ? null : reason.textContent,
        room: $('room').textContent,
        log: Array.from($('log').children, (p) => p.textContent),
        draft: $('text').value,
    };
";

/// One browser window showing the page.
struct Tab {
    name: &'static str,
    handle: WindowHandle,
}

impl Tab {
    async fn focus(&self, c: &Client) -> Result<(), String> {
        wd(
            &format!("switch to {}", self.name),
            c.switch_to_window(self.handle.clone()),
        )
        .await
    }

    async fn read(&self, c: &Client) -> Result<Page, String> {
        self.focus(c).await?;
        let value = wd(&format!("read {}", self.name), c.execute(READ_PAGE, vec![])).await?;
        serde_json::from_value(value.clone())
            .map_err(|e| format!("{}: unexpected page state {value}: {e}", self.name))
    }

    /// Polls the page until `ready` holds, for at most `PAGE_WAIT`.
    async fn wait_for(
        &self,
        c: &Client,
        what: &str,
        ready: impl Fn(&Page) -> bool,
    ) -> Result<Page, String> {
        let deadline = Instant::now() + PAGE_WAIT;
        loop {
            let page = self.read(c).await?;
            if ready(&page) {
                return Ok(page);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{}: {what} not seen within {PAGE_WAIT:?}; the page: {page:#?}",
                    self.name
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Types `text` into the message box as a person would.
    async fn type_text(&self, c: &Client, text: &str) -> Result<(), String> {
        self.focus(c).await?;
        let input = wd("find the message box", c.find(Locator::Css("#text"))).await?;
        wd("type", input.send_keys(text)).await
    }

    /// Clicks the Send button.
    async fn click_send(&self, c: &Client) -> Result<(), String> {
        self.focus(c).await?;
        let send = wd(
            "find the Send button",
            c.find(Locator::XPath("//button[normalize-space()='Send']")),
        )
        .await?;
        wd("click Send", send.click()).await
    }

    /// Types `text` and clicks Send; the box is empty again once it went.
    async fn say(&self, c: &Client, text: &str) -> Result<(), String> {
        self.type_text(c, text).await?;
        self.click_send(c).await?;
        self.wait_for(c, &format!("the box emptied after sending {text:?}"), |p| {
            p.draft.is_empty()
        })
        .await
        .map(drop)
    }

    async fn screenshot(&self, c: &Client, file: &str) -> Result<PathBuf, String> {
        self.focus(c).await?;
        let png = wd("screenshot", c.screenshot()).await?;
        let path = artifacts().join(file);
        std::fs::write(&path, png).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path)
    }
}

/// A new window on `url`, once its page says it is connected.
async fn open(c: &Client, name: &'static str, url: &str, first: bool) -> Result<Tab, String> {
    let handle = if first {
        wd("current window", c.window()).await?
    } else {
        wd("new window", c.new_window(false)).await?.handle
    };
    let tab = Tab { name, handle };
    tab.focus(c).await?;
    wd(&format!("open {url}"), c.goto(url)).await?;
    tab.wait_for(c, "connected", Page::connected).await?;
    Ok(tab)
}

/// `POST /push` with the key, from hyper's HTTP/1.1 client.
async fn push(http: SocketAddr, body: &str) -> (u16, String) {
    let tcp = tokio::time::timeout(WAIT, tokio::net::TcpStream::connect(http))
        .await
        .expect("connect within the budget")
        .expect("connect to the http server");
    let auth = format!("Bearer {KEY}");
    let reply = ws_tests::h2::http1_request(
        tcp,
        &http.to_string(),
        "POST",
        "/push",
        &[("authorization", &auth), ("content-type", "text/plain")],
        body.as_bytes(),
    )
    .await;
    (reply.status, reply.body)
}

/// Runs a blocking `ws-cli` command (bounded by `WAIT`) without holding up the runtime's
/// other worker, which serves the WebDriver connection.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_page_in_a_real_browser() {
    // Both programs first: a machine without them fails here, saying what to install.
    program("chromium");
    program("chromedriver");
    for entry in std::fs::read_dir(artifacts()).unwrap().flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with("chat-failure-")
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }

    let mut demo = Demo::start("browser", "");
    let tls_files = ws_tests::tls::TlsFiles::shared("browser");
    let driver = Driver::start(&demo.dir);
    let client = driver.session().await;

    let result = visit(&client, &mut demo, &tls_files).await;
    if let Err(e) = &result {
        // Every window as it was, for whoever reads the failure.
        let mut shots = Vec::new();
        if let Ok(windows) = wd("windows", client.windows()).await {
            for (i, handle) in windows.into_iter().enumerate() {
                let tab = Tab {
                    name: "failed",
                    handle,
                };
                if let Ok(path) = tab
                    .screenshot(&client, &format!("chat-failure-{i}.png"))
                    .await
                {
                    shots.push(path.display().to_string());
                }
            }
        }
        let _ = wd("end the session", client.close()).await;
        panic!(
            "{e}\nscreenshots: {shots:?}\nchromedriver.log and the servers' ws.log: in {} \
             (kept)",
            demo.dir.display()
        );
    }
    wd("end the session", client.close()).await.unwrap();
    drop(driver);
    blocking(|| demo.stop());
}

/// The whole visit; an error says which step failed and what the page showed.
async fn visit(
    c: &Client,
    demo: &mut Demo,
    tls_files: &ws_tests::tls::TlsFiles,
) -> Result<(), String> {
    let page_url = format!("http://{}/", demo.http);
    let ws_url = format!("ws://{}/chat", demo.ws);

    // Tab A: connected, in the lobby, with its labels and live regions.
    let a = open(c, "tab A", &page_url, true).await?;
    let page = a.read(c).await?;
    check(
        page.status.contains(&ws_url),
        format!("status names {ws_url}: {page:?}"),
    )?;
    check(
        page.room == "lobby",
        format!("starts in the lobby: {page:?}"),
    )?;
    let a11y = wd(
        "accessibility attributes",
        c.execute(
            r"
            const $ = (id) => document.getElementById(id);
            const input = $('text');
            return {
                label: input.labels.length ? input.labels[0].textContent.trim() : null,
                describedBy: input.getAttribute('aria-describedby'),
                statusRole: $('status').getAttribute('role'),
                statusLive: $('status').getAttribute('aria-live'),
                logRole: $('log').getAttribute('role'),
                logLabel: $('log').getAttribute('aria-label'),
                help: document.body.textContent.includes('/join ROOM'),
            };",
            vec![],
        ),
    )
    .await?;
    let expected = json!({
        "label": "Message",
        "describedBy": "send-reason help",
        "statusRole": "status",
        "statusLive": "polite",
        "logRole": "log",
        "logLabel": "Messages",
        "help": true,
    });
    check(
        a11y == expected,
        format!("labels and live regions: {a11y}, want {expected}"),
    )?;

    // Tab B, then a message each way (the sender gets its own back too).
    let b = open(c, "tab B", &page_url, false).await?;
    a.say(c, "hello from A").await?;
    b.wait_for(c, "A's message", |p| p.has("hello from A"))
        .await?;
    a.wait_for(c, "its own message", |p| p.has("hello from A"))
        .await?;
    b.say(c, "hello from B").await?;
    a.wait_for(c, "B's message", |p| p.has("hello from B"))
        .await?;

    // A push over HTTP reaches both.
    let (status, body) = push(demo.http, "pushed over HTTP").await;
    check(status == 200, format!("POST /push: {status} {body}"))?;
    for tab in [&a, &b] {
        tab.wait_for(c, "the push", |p| p.has("pushed over HTTP"))
            .await?;
    }

    // Both join a room; the page shows it.
    for tab in [&b, &a] {
        tab.say(c, "/join side").await?;
        tab.wait_for(c, "room `side` shown", |p| {
            p.room == "side" && p.has("joined side")
        })
        .await?;
    }
    a.say(c, "in side from A").await?;
    b.wait_for(c, "A's message in the room", |p| p.has("in side from A"))
        .await?;

    // `restart`: the old process closes both with 1012, the pages reconnect at once and join
    // their room again.
    blocking(|| demo.restart());
    for tab in [&a, &b] {
        tab.wait_for(c, "reconnected after 1012, back in `side`", |p| {
            p.connected()
                && p.log.iter().any(|l| l.contains("code 1012"))
                && p.after("Reconnected.").iter().any(|l| l == "joined side")
                && p.room == "side"
        })
        .await?;
    }
    a.say(c, "after restart from A").await?;
    b.wait_for(c, "A's message after the restart", |p| {
        p.has("after restart from A")
    })
    .await?;
    b.say(c, "after restart from B").await?;
    a.wait_for(c, "B's message after the restart", |p| {
        p.has("after restart from B")
    })
    .await?;

    // `stop`: Send is disabled, and the page says why; what is typed is kept.
    blocking(|| demo.stop());
    for tab in [&a, &b] {
        tab.wait_for(c, "Send disabled with the reason", |p| {
            p.send_disabled
                && p.state != "open"
                && p.log.iter().any(|l| l.contains("code 1001"))
                && p.reason
                    .as_deref()
                    .is_some_and(|r| r.starts_with("Send is disabled"))
        })
        .await?;
    }
    // Enter while disconnected sends nothing and keeps the text.
    a.type_text(c, "typed while the server was down").await?;
    a.type_text(c, &fantoccini::key::Key::Enter.to_string())
        .await?;
    a.wait_for(c, "a waiting status with a retry time", |p| {
        p.state == "waiting"
            && p.status.contains("Reconnecting in")
            && p.reason
                .as_deref()
                .is_some_and(|r| r.contains("not connected"))
    })
    .await?;
    a.screenshot(c, "chat-disconnected.png").await?;

    // A new start on the same ports: both come back by themselves, and the kept text goes.
    blocking(|| demo.start_again());
    for tab in [&a, &b] {
        tab.wait_for(c, "reconnected after the new start, back in `side`", |p| {
            p.connected() && p.after("Reconnected.").iter().any(|l| l == "joined side")
        })
        .await?;
    }
    let page = a.read(c).await?;
    check(
        page.draft == "typed while the server was down",
        format!("the text typed while disconnected is kept: {page:?}"),
    )?;
    a.click_send(c).await?;
    b.wait_for(c, "the text A typed while disconnected", |p| {
        p.has("typed while the server was down")
    })
    .await?;
    a.wait_for(c, "its own message", |p| {
        p.has("typed while the server was down")
    })
    .await?;
    a.screenshot(c, "chat.png").await?;

    // Served over https, the page connects with wss://.
    let tls = blocking(|| Demo::start("browser-tls", &tls_files.toml_keys()));
    let result = async {
        let t = open(c, "tab C (https)", &format!("https://{}/", tls.http), false).await?;
        let wss = format!("wss://{}/chat", tls.ws);
        let page = t.read(c).await?;
        check(
            page.status.contains(&wss),
            format!("status names {wss}: {page:?}"),
        )?;
        t.say(c, "over TLS").await?;
        t.wait_for(c, "its own message over wss", |p| p.has("over TLS"))
            .await
            .map(drop)
    }
    .await;
    blocking(|| tls.stop());
    result
}

fn check(ok: bool, what: String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(what)
    }
}
