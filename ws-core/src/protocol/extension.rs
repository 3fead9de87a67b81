//! Negotiating permessage-deflate (RFC 7692 §5, §7.1) from a client's
//! `Sec-WebSocket-Extensions` offers.
//!
//! The offers are read in the client's order of preference, and the first one the server can
//! take is answered. An offer the server cannot take is declined, never a failed handshake:
//! an unknown parameter, one given twice, a value that is not an integer from 8 to 15 (a
//! leading zero, a value on a parameter that takes none), or a configuration the server does
//! not support. When no offer is taken, the response has no `Sec-WebSocket-Extensions` header
//! and the connection goes on uncompressed (§5: "the server ... MUST decline").
//!
//! `server_max_window_bits=8` is declined: zlib (and zlib-rs) compress raw deflate with no
//! window under 512 bytes (they turn 8 into 9), and a response may only lower the value
//! (§7.1.2.1), so answering 9 would let the server use a window the client did not agree to.
//! A client that lists another offer after it (most send a fallback) gets that one.
//! `client_max_window_bits=8` is fine: the server's decompressor, with a larger window,
//! reads what a smaller window wrote.

use http::{HeaderMap, HeaderValue};

use crate::config::ServerConfig;

/// The server's side of the negotiation: its config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DeflateConfig {
    /// zlib level of outgoing messages, 0 to 9.
    pub(crate) level: u8,
    /// Largest window (9 to 15) the server compresses with and asks the client to use.
    pub(crate) window_bits: u8,
    /// Whether contexts may be kept between messages (else the server answers both
    /// `*_no_context_takeover` parameters).
    pub(crate) context_takeover: bool,
    /// Outgoing messages under this many bytes are sent uncompressed.
    pub(crate) threshold: usize,
}

impl DeflateConfig {
    /// The compression keys of a server's config (checked at load: level 0-9, bits 9-15).
    pub(crate) fn of(settings: &ServerConfig) -> Self {
        Self {
            level: u8::try_from(settings.compression_level.min(9)).unwrap_or(9),
            window_bits: u8::try_from(settings.compression_window_bits.clamp(9, 15)).unwrap_or(15),
            context_takeover: settings.compression_context_takeover,
            threshold: settings.compression_threshold,
        }
    }
}

/// What one connection agreed on, with the server's own settings that apply to it. (Not
/// `Copy`: a connection's task moves it to where it is used, so that it keeps no copy.)
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Agreed {
    /// The server resets its compressor after every message.
    pub(crate) server_no_context_takeover: bool,
    /// The client resets its compressor after every message (so the server's decompressor
    /// keeps nothing between messages).
    pub(crate) client_no_context_takeover: bool,
    /// The window the server compresses with (9 to 15).
    pub(crate) server_window_bits: u8,
    /// The window the server decompresses with (9 to 15: what the client may use, at least
    /// 9, which reads a stream written with 8).
    pub(crate) client_window_bits: u8,
    /// zlib level of outgoing messages.
    pub(crate) level: u8,
    /// Outgoing messages under this many bytes are sent uncompressed.
    pub(crate) threshold: usize,
}

/// The extension's name, in offers and in the response.
const NAME: &str = "permessage-deflate";

/// The offer to take and the response header that takes it; `None` declines every offer.
pub(crate) fn negotiate(
    headers: &HeaderMap,
    config: &DeflateConfig,
) -> Option<(Agreed, HeaderValue)> {
    let offers = headers
        .get_all(http::header::SEC_WEBSOCKET_EXTENSIONS)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(split_unquoted(','));
    for offer in offers {
        let mut parts = split_unquoted(';')(offer);
        let Some(name) = parts.next() else { continue };
        if !name.trim().eq_ignore_ascii_case(NAME) {
            continue;
        }
        let Some(params) = parse_params(parts) else {
            continue; // An invalid offer is declined; the next one may do.
        };
        if let Some(taken) = accept(&params, config) {
            return Some(taken);
        }
    }
    None
}

/// The parameters of one permessage-deflate offer, checked (RFC 7692 §7.1).
#[derive(Debug, Default, PartialEq, Eq)]
struct Params {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    /// `server_max_window_bits=N`.
    server_max_window_bits: Option<u8>,
    /// `client_max_window_bits` (`Some(None)`: without a value).
    client_max_window_bits: Option<Option<u8>>,
}

/// `None` when the offer must be declined: an unknown or repeated parameter, or a bad value.
fn parse_params<'a>(parts: impl Iterator<Item = &'a str>) -> Option<Params> {
    let mut p = Params::default();
    for part in parts {
        let (name, value) = match part.split_once('=') {
            Some((n, v)) => (n.trim(), Some(unquote(v.trim())?)),
            None => (part.trim(), None),
        };
        let name = name.to_ascii_lowercase();
        match (name.as_str(), value) {
            ("server_no_context_takeover", None) if !p.server_no_context_takeover => {
                p.server_no_context_takeover = true;
            }
            ("client_no_context_takeover", None) if !p.client_no_context_takeover => {
                p.client_no_context_takeover = true;
            }
            ("server_max_window_bits", Some(v)) if p.server_max_window_bits.is_none() => {
                p.server_max_window_bits = Some(window_bits(&v)?);
            }
            ("client_max_window_bits", v) if p.client_max_window_bits.is_none() => {
                p.client_max_window_bits = Some(match v {
                    Some(v) => Some(window_bits(&v)?),
                    None => None,
                });
            }
            _ => return None,
        }
    }
    Some(p)
}

/// A window size: a decimal integer from 8 to 15, no leading zero (§7.1.2.1).
fn window_bits(v: &str) -> Option<u8> {
    if v.starts_with('0') || v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok().filter(|n| (8..=15).contains(n))
}

/// A parameter value: a token, or a quoted string with `\` escapes (RFC 7230 §3.2.6).
fn unquote(v: &str) -> Option<String> {
    let Some(inner) = v.strip_prefix('"') else {
        return (!v.is_empty() && !v.contains('"')).then(|| v.to_owned());
    };
    let inner = inner.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// Splits at `sep` outside quoted strings.
fn split_unquoted(sep: char) -> impl Fn(&str) -> std::vec::IntoIter<&str> {
    move |s: &str| {
        let mut parts = Vec::new();
        let (mut start, mut quoted, mut escaped) = (0, false, false);
        for (i, c) in s.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                c if c == sep && !quoted => {
                    parts.push(&s[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        parts.push(&s[start..]);
        parts.retain(|p| !p.trim().is_empty());
        parts.into_iter()
    }
}

/// Takes an offer as the server's config allows, or declines it (`None`).
fn accept(p: &Params, config: &DeflateConfig) -> Option<(Agreed, HeaderValue)> {
    let ours = config.window_bits.clamp(9, 15);
    let server_window_bits = match p.server_max_window_bits {
        // See the module docs: 8 cannot be kept.
        Some(8) => return None,
        Some(n) => n.min(ours),
        None => ours,
    };
    let server_no_context_takeover = p.server_no_context_takeover || !config.context_takeover;
    let client_no_context_takeover = p.client_no_context_takeover || !config.context_takeover;
    // The client's window can only be limited when it offered the parameter (§7.1.2.2).
    let client_window = p
        .client_max_window_bits
        .map(|offered| offered.unwrap_or(15).min(ours));
    let mut response = String::from(NAME);
    if server_no_context_takeover {
        response.push_str("; server_no_context_takeover");
    }
    if client_no_context_takeover {
        response.push_str("; client_no_context_takeover");
    }
    if p.server_max_window_bits.is_some() || server_window_bits < 15 {
        response.push_str(&format!("; server_max_window_bits={server_window_bits}"));
    }
    if let Some(n) = client_window.filter(|&n| n < 15) {
        response.push_str(&format!("; client_max_window_bits={n}"));
    }
    let agreed = Agreed {
        server_no_context_takeover,
        client_no_context_takeover,
        server_window_bits,
        client_window_bits: client_window.unwrap_or(15).max(9),
        level: config.level.min(9),
        threshold: config.threshold,
    };
    Some((agreed, HeaderValue::from_str(&response).ok()?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

    use super::*;

    const KEEP: DeflateConfig = DeflateConfig {
        level: 1,
        window_bits: 15,
        context_takeover: true,
        threshold: 0,
    };

    fn answer(offers: &[&str], config: DeflateConfig) -> Option<String> {
        let mut headers = HeaderMap::new();
        for o in offers {
            headers.append(
                http::header::SEC_WEBSOCKET_EXTENSIONS,
                HeaderValue::from_str(o).unwrap(),
            );
        }
        negotiate(&headers, &config).map(|(_, v)| v.to_str().unwrap().to_owned())
    }

    fn one(offer: &str) -> Option<String> {
        answer(&[offer], KEEP)
    }

    #[test]
    fn plain_offers_are_taken() {
        assert_eq!(
            one("permessage-deflate").as_deref(),
            Some("permessage-deflate")
        );
        assert_eq!(
            one("permessage-deflate; client_max_window_bits").as_deref(),
            Some("permessage-deflate")
        );
        assert_eq!(
            one("Permessage-Deflate ; Server_No_Context_Takeover").as_deref(),
            Some("permessage-deflate; server_no_context_takeover")
        );
        assert_eq!(
            one("permessage-deflate; client_no_context_takeover; server_max_window_bits=10")
                .as_deref(),
            Some("permessage-deflate; client_no_context_takeover; server_max_window_bits=10")
        );
        assert_eq!(
            one("permessage-deflate; client_max_window_bits=\"9\"").as_deref(),
            Some("permessage-deflate; client_max_window_bits=9")
        );
    }

    #[test]
    fn the_agreed_parameters() {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::SEC_WEBSOCKET_EXTENSIONS,
            HeaderValue::from_static(
                "permessage-deflate; server_max_window_bits=12; client_max_window_bits=8",
            ),
        );
        let (a, _) = negotiate(&h, &KEEP).unwrap();
        assert_eq!(
            (a.server_window_bits, a.client_window_bits),
            (12, 9),
            "8 is read with 9"
        );
        assert!(!a.server_no_context_takeover && !a.client_no_context_takeover);
        let shared = DeflateConfig {
            context_takeover: false,
            window_bits: 11,
            ..KEEP
        };
        let (a, v) = negotiate(&h, &shared).unwrap();
        assert_eq!((a.server_window_bits, a.client_window_bits), (11, 9));
        assert!(a.server_no_context_takeover && a.client_no_context_takeover);
        assert_eq!(
            v,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=11; client_max_window_bits=8"
        );
        // Without `client_max_window_bits` in the offer the client's window stays 15.
        assert_eq!(
            answer(&["permessage-deflate"], shared).as_deref(),
            Some(
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
                 server_max_window_bits=11"
            )
        );
    }

    #[test]
    fn invalid_offers_are_declined() {
        for bad in [
            "permessage-deflate; foo",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; server_max_window_bits=1x",
            "permessage-deflate; client_max_window_bits=0",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
            "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
            "permessage-deflate; client_max_window_bits=\"1",
            // See the module docs.
            "permessage-deflate; server_max_window_bits=8",
            "x-webkit-deflate-frame",
        ] {
            assert_eq!(one(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_first_acceptable_offer_wins() {
        assert_eq!(
            answer(
                &[
                    "permessage-deflate; server_max_window_bits=8, permessage-deflate; \
                     server_max_window_bits=9",
                    "permessage-deflate",
                ],
                KEEP
            )
            .as_deref(),
            Some("permessage-deflate; server_max_window_bits=9")
        );
        assert_eq!(
            answer(&["foo; a=\"x,y\"", "permessage-deflate; bogus"], KEEP),
            None
        );
        assert_eq!(
            answer(&["foo; a=\"x,y;z\", permessage-deflate"], KEEP).as_deref(),
            Some("permessage-deflate")
        );
        assert_eq!(answer(&[], KEEP), None);
    }
}
