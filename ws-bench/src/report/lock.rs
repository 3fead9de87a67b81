//! Crate versions from the text of a `Cargo.lock`.

/// Versions of `names` from the text of a `Cargo.lock` (several versions of
/// one crate are joined with `, `; missing crates are left out).
pub fn lock_versions(lock: &str, names: &[&str]) -> Vec<(String, String)> {
    let mut found: Vec<(String, Vec<String>)> =
        names.iter().map(|n| (n.to_string(), Vec::new())).collect();
    for block in lock.split("[[package]]").skip(1) {
        let mut name = None;
        let mut version = None;
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("name = ") {
                name = Some(v.trim().trim_matches('"').to_string());
            } else if let Some(v) = line.strip_prefix("version = ") {
                version = Some(v.trim().trim_matches('"').to_string());
            }
        }
        if let (Some(n), Some(v)) = (name, version) {
            if let Some((_, vs)) = found.iter_mut().find(|(k, _)| *k == n) {
                if !vs.contains(&v) {
                    vs.push(v);
                }
            }
        }
    }
    found
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(n, v)| (n, v.join(", ")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_parsing() {
        let lock = "version = 4\n\n[[package]]\nname = \"tokio\"\nversion = \"1.40.0\"\nsource = \"x\"\n\n\
                    [[package]]\nname = \"tungstenite\"\nversion = \"0.26.2\"\n\n[[package]]\nname = \"tungstenite\"\nversion = \"0.24.0\"\n";
        assert_eq!(
            lock_versions(lock, &["tokio", "tungstenite", "axum"]),
            vec![
                ("tokio".into(), "1.40.0".into()),
                ("tungstenite".into(), "0.26.2, 0.24.0".into())
            ]
        );
    }
}
