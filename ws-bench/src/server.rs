//! The servers under test: which binaries, how to start them, how to learn
//! their port, and how to stop them (always by PID, also on error paths).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::BenchError;
use crate::tls::{TlsClient, TlsFiles};

/// The servers compared in one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServerKind {
    /// Our framework: `ws-cli start --config FILE`, route `/echo` on server `ws`.
    Ours,
    /// Raw fastwebsockets echo (the floor, and the ratio baseline).
    Fastwebsockets,
    /// tokio-tungstenite echo.
    Tungstenite,
    /// axum 0.8 echo.
    Axum,
    /// Raw TCP echo (no framing; the machine's ceiling).
    Tcp,
    /// Ours over TLS: `tls_cert`/`tls_key` on server `ws` (not in [`ServerKind::ALL`]).
    OursTls,
    /// Raw fastwebsockets echo over tokio-rustls (not in [`ServerKind::ALL`]).
    FastwebsocketsTls,
    /// tokio-tungstenite echo over tokio-rustls (not in [`ServerKind::ALL`]).
    TungsteniteTls,
}

impl ServerKind {
    /// All servers, in the order they are run (and alternated) in each repetition.
    pub const ALL: [ServerKind; 5] = [
        ServerKind::Ours,
        ServerKind::Fastwebsockets,
        ServerKind::Tungstenite,
        ServerKind::Axum,
        ServerKind::Tcp,
    ];

    /// The servers of a TLS run (`--tls`), in the order they are run: ours and raw
    /// fastwebsockets each plain and over TLS (what TLS adds to each), and tungstenite over
    /// TLS.
    pub const TLS: [ServerKind; 5] = [
        ServerKind::Ours,
        ServerKind::OursTls,
        ServerKind::Fastwebsockets,
        ServerKind::FastwebsocketsTls,
        ServerKind::TungsteniteTls,
    ];

    /// Every server `--servers` can name.
    pub const EVERY: [ServerKind; 8] = [
        ServerKind::Ours,
        ServerKind::Fastwebsockets,
        ServerKind::Tungstenite,
        ServerKind::Axum,
        ServerKind::Tcp,
        ServerKind::OursTls,
        ServerKind::FastwebsocketsTls,
        ServerKind::TungsteniteTls,
    ];

    /// Short key used on the command line (`--servers ours,tcp`).
    pub fn key(self) -> &'static str {
        match self {
            ServerKind::Ours => "ours",
            ServerKind::Fastwebsockets => "fastwebsockets",
            ServerKind::Tungstenite => "tungstenite",
            ServerKind::Axum => "axum",
            ServerKind::Tcp => "tcp",
            ServerKind::OursTls => "ours-tls",
            ServerKind::FastwebsocketsTls => "fastwebsockets-tls",
            ServerKind::TungsteniteTls => "tungstenite-tls",
        }
    }

    /// Column label in the tables.
    pub fn label(self) -> &'static str {
        match self {
            ServerKind::Ours => "ws-cli (ours)",
            ServerKind::Fastwebsockets => "fastwebsockets",
            ServerKind::Tungstenite => "tungstenite",
            ServerKind::Axum => "axum",
            ServerKind::Tcp => "raw TCP",
            ServerKind::OursTls => "ws-cli (ours), TLS",
            ServerKind::FastwebsocketsTls => "fastwebsockets + rustls",
            ServerKind::TungsteniteTls => "tungstenite + rustls",
        }
    }

    /// Parses a [`ServerKind::key`].
    pub fn from_key(key: &str) -> Option<Self> {
        Self::EVERY.into_iter().find(|k| k.key() == key)
    }

    /// File name of the binary (in `target/release`).
    pub fn bin_name(self) -> &'static str {
        match self {
            ServerKind::Ours | ServerKind::OursTls => "ws-cli",
            ServerKind::Fastwebsockets | ServerKind::FastwebsocketsTls => "echo-fastwebsockets",
            ServerKind::Tungstenite | ServerKind::TungsteniteTls => "echo-tungstenite",
            ServerKind::Axum => "echo-axum",
            ServerKind::Tcp => "echo-tcp",
        }
    }

    /// Our framework (`ws-cli start --config FILE`), over TLS or not.
    pub fn ours(self) -> bool {
        matches!(self, ServerKind::Ours | ServerKind::OursTls)
    }

    /// Whether the server speaks TLS.
    pub fn tls(self) -> bool {
        matches!(
            self,
            ServerKind::OursTls | ServerKind::FastwebsocketsTls | ServerKind::TungsteniteTls
        )
    }

    /// True for the raw TCP echo (no upgrade; bytes come back masked).
    pub fn raw_tcp(self) -> bool {
        self == ServerKind::Tcp
    }

    /// Whether the server has a broadcast route (`/chat`).
    pub fn supports_fanout(self) -> bool {
        self.ours()
    }
}

/// Parses a "listening" line: `[NAME ]listening at SCHEME://IP:PORT` anywhere in
/// the line (ANSI colour codes are ignored), i.e. the regex
/// `(\w+) listening at (ws|wss|http|https)://([0-9.]+):(\d+)` with the name optional.
pub fn parse_listening_line(line: &str) -> Option<(Option<String>, SocketAddr)> {
    let line = strip_ansi(line);
    const NEEDLE: &str = "listening at ";
    let pos = line.find(NEEDLE)?;
    let scheme_len = ["ws://", "wss://", "http://", "https://"]
        .iter()
        .find(|s| line[pos + NEEDLE.len()..].starts_with(*s))?
        .len();
    let before = line[..pos].trim_end();
    let name: String = before
        .chars()
        .rev()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let rest = &line[pos + NEEDLE.len() + scheme_len..];
    let ip: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let port_str: String = rest[ip.len()..]
        .strip_prefix(':')?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let ip: std::net::Ipv4Addr = ip.parse().ok()?;
    let port: u16 = port_str.parse().ok()?;
    let name = (!name.is_empty() && line[..pos].ends_with(' ')).then_some(name);
    Some((name, SocketAddr::from((ip, port))))
}

/// Removes ANSI escape sequences (`ESC [ ... letter`).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A valgrind tool a server can run under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Valgrind {
    /// Instructions executed.
    Callgrind,
    /// Heap in use.
    Massif,
}

/// How to launch a server.
#[derive(Debug, Clone)]
pub struct Launch {
    /// Which server.
    pub kind: ServerKind,
    /// Its binary.
    pub bin: PathBuf,
    /// Config file (ours only).
    pub config: Option<PathBuf>,
    /// Working directory (ours runs in the temp dir so it finds no stray `.env`).
    pub cwd: PathBuf,
    /// CPU list for `taskset -c` (None: not pinned).
    pub cpus: Option<String>,
    /// Run under valgrind with this tool, writing its output to this file.
    pub valgrind: Option<(Valgrind, PathBuf)>,
    /// How long to wait for the listening line.
    pub start_timeout: Duration,
    /// The certificate a TLS server serves (peers get `--tls-cert`/`--tls-key`; ours has
    /// them in its config) and the client that trusts it.
    pub tls: Option<TlsFiles>,
}

const TAIL_LINES: usize = 40;

/// A running server. Dropping it kills the process by its PID and reaps it.
#[derive(Debug)]
pub struct ServerProcess {
    /// Which server.
    pub kind: ServerKind,
    /// Address of the echo endpoint.
    pub addr: SocketAddr,
    /// The client for a server that speaks TLS.
    pub tls: Option<TlsClient>,
    child: Child,
    tail: Arc<Mutex<VecDeque<String>>>,
    /// Every `NAME listening at ws://IP:PORT` line seen so far (ours has several servers).
    listening: Arc<Mutex<Vec<Found>>>,
}

impl ServerProcess {
    /// Starts the server and waits (bounded) for its listening line.
    pub fn start(l: &Launch) -> Result<Self, BenchError> {
        if !l.bin.is_file() {
            return Err(BenchError::Server(format!(
                "{} not built ({})",
                l.kind.key(),
                l.bin.display()
            )));
        }
        let mut cmd = if let Some((tool, out)) = &l.valgrind {
            let mut c = Command::new("valgrind");
            match tool {
                Valgrind::Callgrind => c
                    .arg("--tool=callgrind")
                    .arg(format!("--callgrind-out-file={}", out.display())),
                Valgrind::Massif => c
                    .arg("--tool=massif")
                    .arg(format!("--massif-out-file={}", out.display())),
            };
            c.arg(&l.bin);
            c
        } else if let Some(cpus) = &l.cpus {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(cpus).arg(&l.bin);
            c
        } else {
            Command::new(&l.bin)
        };
        match (l.kind.ours(), &l.config) {
            (true, Some(cfg)) => {
                cmd.arg("start").arg("--config").arg(cfg);
            }
            (true, None) => {
                cmd.arg("start");
            }
            (false, _) => {
                cmd.arg("--addr").arg("127.0.0.1:0");
                if let Some(tls) = &l.tls {
                    cmd.arg("--tls-cert").arg(&tls.cert);
                    cmd.arg("--tls-key").arg(&tls.key);
                }
            }
        }
        cmd.current_dir(&l.cwd)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| BenchError::Server(format!("spawn {}: {e}", l.bin.display())))?;
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let listening = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        if let Some(out) = child.stdout.take() {
            spawn_reader(out, tx.clone(), tail.clone(), listening.clone());
        }
        if let Some(err) = child.stderr.take() {
            spawn_reader(err, tx, tail.clone(), listening.clone());
        }
        let mut server = ServerProcess {
            kind: l.kind,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: l.tls.as_ref().map(|t| t.client.clone()),
            child,
            tail,
            listening,
        };
        let want = l.kind.ours().then_some("ws");
        let deadline = Instant::now() + l.start_timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(BenchError::Server(format!(
                    "{} printed no `{}listening at ws://IP:PORT` line within {:?}{}",
                    l.kind.key(),
                    want.map(|w| format!("{w} ")).unwrap_or_default(),
                    l.start_timeout,
                    server.tail_text()
                )));
            }
            match rx.recv_timeout(left.min(Duration::from_millis(100))) {
                Ok((name, addr)) => {
                    if want.is_none() || name.as_deref() == want {
                        server.addr = addr;
                        return Ok(server);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // Both pipes closed: the process is gone or going.
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(BenchError::Server(format!(
                    "{} exited during start-up ({status}){}",
                    l.kind.key(),
                    server.tail_text()
                )));
            }
        }
    }

    /// The server's process id (taskset and valgrind exec in place, so this is
    /// the server itself).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Error unless the process is still running.
    pub fn check_alive(&mut self) -> Result<(), BenchError> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(BenchError::Server(format!(
                "{} died ({status}){}",
                self.kind.key(),
                self.tail_text()
            ))),
            Err(e) => Err(BenchError::Io(e)),
        }
    }

    /// The address the server named `name` logged it listens at, if that line came yet
    /// (ours logs one line per server; the first one named `ws` is [`Self::addr`]).
    pub fn listening_addr(&self, name: &str) -> Option<SocketAddr> {
        self.listening.lock().ok().and_then(|l| {
            l.iter()
                .find(|(n, _)| n.as_deref() == Some(name))
                .map(|(_, a)| *a)
        })
    }

    /// The last lines the server printed, formatted for an error message.
    pub fn tail_text(&self) -> String {
        let lines: Vec<String> = match self.tail.lock() {
            Ok(t) => t.iter().cloned().collect(),
            Err(_) => Vec::new(),
        };
        if lines.is_empty() {
            String::new()
        } else {
            format!("; last output:\n    {}", lines.join("\n    "))
        }
    }

    /// Sends SIGTERM (via `kill -TERM PID`) and waits up to `grace` for the
    /// exit; kills with SIGKILL after that. Used for valgrind, which writes
    /// its output when the program ends.
    pub fn terminate(mut self, grace: Duration) -> Result<(), BenchError> {
        let pid = self.pid().to_string();
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(&pid)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(BenchError::timeout(
            format!("{} to exit after SIGTERM", self.kind.key()),
            grace,
        ))
        // Drop kills it.
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

type Found = (Option<String>, SocketAddr);

fn spawn_reader<R: Read + Send + 'static>(
    r: R,
    tx: mpsc::Sender<Found>,
    tail: Arc<Mutex<VecDeque<String>>>,
    listening: Arc<Mutex<Vec<Found>>>,
) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(r);
        let mut buf = Vec::new();
        // Ends at EOF, i.e. when the server exits (it is always killed at the end).
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let line = String::from_utf8_lossy(&buf).trim_end().to_string();
            if let Some(found) = parse_listening_line(&line) {
                if let Ok(mut l) = listening.lock() {
                    l.push(found.clone());
                }
                let _ = tx.send(found);
            }
            if let Ok(mut t) = tail.lock() {
                if t.len() == TAIL_LINES {
                    t.pop_front();
                }
                t.push_back(line);
            }
        }
    });
}

/// Whether `taskset` can be run here.
pub fn taskset_available() -> bool {
    Command::new("taskset")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Pins every thread of the current process to `cpus` with `taskset -a -p`.
/// Call before creating threads: threads created later inherit the mask.
pub fn pin_self(cpus: &str) -> bool {
    Command::new("taskset")
        .args(["-a", "-p", "-c", cpus, &std::process::id().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Default binary path: `dir/name`.
pub fn default_bin(dir: &Path, kind: ServerKind) -> PathBuf {
    dir.join(kind.bin_name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_lines() {
        let a: SocketAddr = "127.0.0.1:4567".parse().expect("addr");
        assert_eq!(
            parse_listening_line("listening at ws://127.0.0.1:4567"),
            Some((None, a))
        );
        assert_eq!(
            parse_listening_line(
                "2025-01-01T00:00:00Z  INFO ws_core: ws listening at ws://127.0.0.1:4567"
            ),
            Some((Some("ws".into()), a))
        );
        assert_eq!(
            parse_listening_line(
                "\u{1b}[32m INFO\u{1b}[0m http listening at http://127.0.0.1:4567/"
            ),
            Some((Some("http".into()), a))
        );
        assert_eq!(
            parse_listening_line("ws listening at wss://127.0.0.1:4567"),
            Some((Some("ws".into()), a))
        );
        assert_eq!(
            parse_listening_line("ws listening at ftp://127.0.0.1:4567"),
            None
        );
        assert_eq!(
            parse_listening_line("ws listening at ws://localhost:80"),
            None
        );
        assert_eq!(parse_listening_line("nothing here"), None);
        assert_eq!(
            parse_listening_line("ws listening at ws://127.0.0.1:"),
            None
        );
    }

    #[test]
    fn kinds_roundtrip() {
        for k in ServerKind::EVERY {
            assert_eq!(ServerKind::from_key(k.key()), Some(k));
        }
        assert_eq!(ServerKind::from_key("nope"), None);
    }

    #[test]
    fn ours_over_tls_is_found() {
        let a: SocketAddr = "127.0.0.1:4567".parse().expect("addr");
        assert_eq!(
            parse_listening_line("INFO ws_core::app: ws listening at wss://127.0.0.1:4567"),
            Some((Some("ws".into()), a))
        );
        assert_eq!(
            parse_listening_line("http listening at https://127.0.0.1:4567"),
            Some((Some("http".into()), a))
        );
    }

    #[test]
    fn ansi() {
        assert_eq!(strip_ansi("\u{1b}[1;31mred\u{1b}[0m x"), "red x");
    }
}
