//! A private `nginx` in front of cluster nodes, the way `examples/nginx-cluster.conf` sets it
//! up: one port proxies to the nodes' `ws` servers, another to their `http` servers (both
//! round-robin, WebSocket upgrades passed on). Runs in the foreground as a child process with
//! every file (config, pid, error log, temporary files) in its own temporary directory, and is
//! killed by its PID when dropped. The binary must be installed (`.ci/run` installs Debian's
//! `nginx`); a test that needs it fails, never skips, when it is missing.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, WAIT};

/// A running `nginx`.
#[derive(Debug)]
pub(crate) struct Nginx {
    child: Child,
    dir: PathBuf,
    ws: SocketAddr,
    http: SocketAddr,
}

/// `nginx` on the `PATH`, else Debian's `/usr/sbin/nginx` (not on a non-root `PATH`).
fn binary() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("nginx"))
            .find(|p| p.is_file())
    });
    on_path
        .or_else(|| Some(PathBuf::from("/usr/sbin/nginx")).filter(|p| p.is_file()))
        .unwrap_or_else(|| {
            panic!(
                "nginx not found (neither on PATH nor /usr/sbin/nginx): this test needs it \
                 installed (Debian: apt-get install nginx; .ci/run installs it)"
            )
        })
}

/// The test's config: `examples/nginx-cluster.conf` with the ports and upstreams filled in,
/// every path relative to the prefix directory, and one process (`master_process off`) so that
/// killing its PID stops all of it.
fn config(ws_port: u16, http_port: u16, ws: &[SocketAddr], http: &[SocketAddr]) -> String {
    let servers = |addrs: &[SocketAddr]| {
        addrs.iter().fold(String::new(), |mut s, a| {
            let _ = writeln!(s, "        server {a};");
            s
        })
    };
    let (ws_nodes, http_nodes) = (servers(ws), servers(http));
    format!(
        "master_process off;
pid nginx.pid;
error_log error.log info;
events {{
    worker_connections 1024;
}}
http {{
    access_log off;
    client_body_temp_path tmp/body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;

    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}

    upstream ws_nodes {{
{ws_nodes}    }}
    upstream http_nodes {{
{http_nodes}    }}

    server {{
        listen 127.0.0.1:{ws_port};
        location / {{
            proxy_pass http://ws_nodes;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
        }}
    }}
    server {{
        listen 127.0.0.1:{http_port};
        location / {{
            proxy_pass http://http_nodes;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}
}}
"
    )
}

impl Nginx {
    /// Starts one in `dir` (created, removed on drop unless the test fails) in front of the
    /// nodes' `ws` and `http` addresses, and waits until both its ports accept connections.
    pub(crate) async fn start(dir: &Path, ws: &[SocketAddr], http: &[SocketAddr]) -> Self {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir.join("tmp")).expect("create nginx's directory");
        let (ws_port, http_port) = (free_port(), free_port());
        std::fs::write(dir.join("nginx.conf"), config(ws_port, http_port, ws, http))
            .expect("write nginx.conf");
        let child = Command::new(binary())
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-e")
            .arg(dir.join("error.log"))
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start nginx: {e}"));
        let mut nginx = Self {
            child,
            dir: dir.to_path_buf(),
            ws: SocketAddr::from((Ipv4Addr::LOCALHOST, ws_port)),
            http: SocketAddr::from((Ipv4Addr::LOCALHOST, http_port)),
        };
        nginx.wait_ready().await;
        nginx
    }

    async fn wait_ready(&mut self) {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("nginx exited at start ({status}): {}", self.error_log());
            }
            let ws = tokio::net::TcpStream::connect(self.ws).await.is_ok();
            let http = tokio::net::TcpStream::connect(self.http).await.is_ok();
            if ws && http {
                return;
            }
            assert!(
                started.elapsed() < WAIT,
                "nginx did not listen on {} and {}: {}",
                self.ws,
                self.http,
                self.error_log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Where it proxies to the nodes' `ws` servers.
    pub(crate) fn ws_addr(&self) -> SocketAddr {
        self.ws
    }

    /// Where it proxies to the nodes' `http` servers.
    pub(crate) fn http_addr(&self) -> SocketAddr {
        self.http
    }

    /// Its error log, for failure messages.
    pub(crate) fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("kept {} for inspection", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
