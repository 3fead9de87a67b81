//! The TOML configuration the harness writes for `ws-cli start --config FILE`.

use std::io;
use std::path::{Path, PathBuf};

/// Renders the framework's config: a `ws` server on 127.0.0.1 with an
/// OS-chosen port, an `http` server likewise, and `log_level`.
pub fn render_ws_cli_config(log_level: &str) -> String {
    format!(
        "log_level = \"{}\"\n[servers.http]\nport = 0\n[servers.ws]\nhost = \"127.0.0.1\"\nport = 0\n",
        log_level.replace(['"', '\\', '\n'], "")
    )
}

/// Renders the config of ours over TLS: [`render_ws_cli_config`] with `tls_cert` and
/// `tls_key` on server `ws` (which then speaks TLS only: `wss://`, ALPN `h2` and `http/1.1`).
pub fn render_tls_config(log_level: &str, cert: &Path, key: &Path) -> String {
    let path = |p: &Path| p.display().to_string().replace(['"', '\\', '\n'], "");
    format!(
        "{}tls_cert = \"{}\"\ntls_key = \"{}\"\n",
        render_ws_cli_config(log_level),
        path(cert),
        path(key)
    )
}

/// Renders the config of the soak run: [`render_ws_cli_config`] plus `secret_key`, so that
/// `POST /push` on the `http` server can be authorised (the slow reader's feed) and a wrong
/// key is refused for being wrong, not because push is disabled.
pub fn render_soak_config(log_level: &str, secret_key: &str) -> String {
    format!(
        "secret_key = \"{}\"\n{}",
        secret_key.replace(['"', '\\', '\n'], ""),
        render_ws_cli_config(log_level)
    )
}

/// Renders the config of one node of the cluster run: [`render_soak_config`] plus its
/// `node_id`, the Redis `broker` and the `cluster` name the nodes share.
pub fn render_cluster_config(
    log_level: &str,
    secret_key: &str,
    node_id: u16,
    broker: &str,
    cluster: &str,
) -> String {
    let clean = |s: &str| s.replace(['"', '\\', '\n'], "");
    format!(
        "node_id = {node_id}\nbroker = \"{}\"\ncluster = \"{}\"\n{}",
        clean(broker),
        clean(cluster),
        render_soak_config(log_level, secret_key)
    )
}

/// Writes the rendered config as `ws-cli.toml` into `dir` and returns its path.
pub fn write_ws_cli_config(dir: &Path, log_level: &str) -> io::Result<PathBuf> {
    write_config(dir, &render_ws_cli_config(log_level))
}

/// Writes `toml` as `ws-cli.toml` into `dir` and returns its path.
pub fn write_config(dir: &Path, toml: &str) -> io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("ws-cli.toml");
    std::fs::write(&path, toml)?;
    Ok(path)
}

/// A fresh private temp dir (`$TMPDIR/ws-bench-PID-NANOS`) for configs and
/// callgrind output. The caller removes it.
pub fn make_temp_dir() -> io::Result<PathBuf> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("ws-bench-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_expected_toml() {
        assert_eq!(
            render_ws_cli_config("warn"),
            "log_level = \"warn\"\n[servers.http]\nport = 0\n[servers.ws]\nhost = \"127.0.0.1\"\nport = 0\n"
        );
        assert!(render_ws_cli_config("a\"b").starts_with("log_level = \"ab\"\n"));
        let node = render_cluster_config("warn", "k", 2, "redis://127.0.0.1:7", "c");
        assert!(
            node.starts_with(
                "node_id = 2\nbroker = \"redis://127.0.0.1:7\"\ncluster = \"c\"\nsecret_key = \"k\"\n"
            ),
            "{node}"
        );
        let tls = render_tls_config("warn", Path::new("/t/c.pem"), Path::new("/t/k.pem"));
        assert!(
            tls.ends_with(
                "[servers.ws]\nhost = \"127.0.0.1\"\nport = 0\ntls_cert = \"/t/c.pem\"\ntls_key = \"/t/k.pem\"\n"
            ),
            "{tls}"
        );
        let soak = render_soak_config("warn", "k\"1");
        assert!(
            soak.starts_with("secret_key = \"k1\"\nlog_level = \"warn\"\n"),
            "{soak}"
        );
    }

    #[test]
    fn writes_file() {
        let dir = make_temp_dir().expect("temp dir");
        let p = write_ws_cli_config(&dir, "warn").expect("write");
        let s = std::fs::read_to_string(&p).expect("read back");
        assert_eq!(s, render_ws_cli_config("warn"));
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
