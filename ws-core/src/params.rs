//! Path parameters: what the `{name}` and `{*name}` segments of a route's pattern matched in
//! the request's path, percent-decoded. Taken once per request or handshake; a WebSocket
//! connection keeps them in its extensions for its life (only routes with parameters pay).
//! `param_as` parses one into a type ([`ParamError`] when it does not fit).

use std::borrow::Cow;
use std::fmt::Display;
use std::str::FromStr;

use percent_encoding::percent_decode_str;

/// The values of a route's parameters, by name (a handful: searched in order).
#[derive(Debug, Clone, Default)]
pub(crate) struct PathParams(Box<[(Box<str>, Box<str>)]>);

/// A parameter's value is not UTF-8 once percent-decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("path parameter `{name}` is not UTF-8 once percent-decoded")]
pub(crate) struct NotUtf8 {
    pub(crate) name: String,
}

/// A path parameter that does not parse as the type asked for (`param_as`), or that the route
/// does not have. As a response (or a `Rejection`): 400 saying which
/// parameter and why, or 500 for a parameter the route's pattern lacks (a mistake in the
/// app, not in the request).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("path parameter `{name}`: {reason}")]
pub struct ParamError {
    name: String,
    reason: String,
    missing: bool,
}

impl ParamError {
    /// The parameter's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What is wrong (the parse error, with the value).
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// Whether the route's pattern has no such parameter.
    pub fn is_missing(&self) -> bool {
        self.missing
    }
}

/// Parameter `name` of `params` parsed as `T` (what every `param_as` does).
pub(crate) fn parse<T>(params: Option<&PathParams>, name: &str) -> Result<T, ParamError>
where
    T: FromStr,
    T::Err: Display,
{
    let Some(value) = params.and_then(|p| p.get(name)) else {
        return Err(ParamError {
            name: name.to_owned(),
            reason: "the route's pattern has no such parameter".to_owned(),
            missing: true,
        });
    };
    value.parse().map_err(|e| ParamError {
        name: name.to_owned(),
        reason: format!("{value:?} is not valid: {e}"),
        missing: false,
    })
}

impl PathParams {
    /// Decodes the values that matched, in order.
    pub(crate) fn decode<'k, 'v>(
        params: impl Iterator<Item = (&'k str, &'v str)>,
    ) -> Result<Self, NotUtf8> {
        params
            .map(|(name, raw)| match percent_decode_str(raw).decode_utf8() {
                Ok(value) => Ok((name.into(), Cow::into_owned(value).into_boxed_str())),
                Err(_) => Err(NotUtf8 { name: name.into() }),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|v| Self(v.into_boxed_slice()))
    }

    /// The value of parameter `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| &**n == name).map(|(_, v)| &**v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_values_by_name() {
        let p = PathParams::decode([("id", "a%20b"), ("path", "x/y%2Fz")].into_iter()).unwrap();
        assert_eq!(p.get("id"), Some("a b"));
        assert_eq!(p.get("path"), Some("x/y/z"));
        assert_eq!(p.get("nope"), None);
    }

    #[test]
    fn parses_a_value_or_says_which_and_why() {
        let p = PathParams::decode([("id", "42"), ("name", "x")].into_iter()).unwrap();
        assert_eq!(parse::<u64>(Some(&p), "id"), Ok(42));
        let e = parse::<u64>(Some(&p), "name").unwrap_err();
        assert_eq!((e.name(), e.is_missing()), ("name", false));
        assert!(
            e.to_string()
                .starts_with("path parameter `name`: \"x\" is not valid: "),
            "{e}"
        );
        let e = parse::<u64>(Some(&p), "nope").unwrap_err();
        assert!(e.is_missing(), "{e}");
        assert!(parse::<u64>(None, "id").unwrap_err().is_missing());
    }

    #[test]
    fn refuses_values_that_are_not_utf8() {
        let e = PathParams::decode([("id", "%FF")].into_iter()).unwrap_err();
        assert_eq!(e.name, "id");
    }
}
