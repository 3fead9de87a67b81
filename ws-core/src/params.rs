//! Path parameters: what the `{name}` and `{*name}` segments of a route's pattern matched in
//! the request's path, percent-decoded. Taken once per request or handshake; a WebSocket
//! connection keeps them in its extensions for its life (only routes with parameters pay).

use std::borrow::Cow;

use percent_encoding::percent_decode_str;

/// The values of a route's parameters, by name (a handful: searched in order).
#[derive(Debug, Clone, Default)]
pub(crate) struct PathParams(Box<[(Box<str>, Box<str>)]>);

/// A parameter's value is not UTF-8 once percent-decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("path parameter `{name}` is not UTF-8 once percent-decoded")]
pub(crate) struct ParamError {
    pub(crate) name: String,
}

impl PathParams {
    /// Decodes the values that matched, in order.
    pub(crate) fn decode<'k, 'v>(
        params: impl Iterator<Item = (&'k str, &'v str)>,
    ) -> Result<Self, ParamError> {
        params
            .map(|(name, raw)| match percent_decode_str(raw).decode_utf8() {
                Ok(value) => Ok((name.into(), Cow::into_owned(value).into_boxed_str())),
                Err(_) => Err(ParamError { name: name.into() }),
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
    fn refuses_values_that_are_not_utf8() {
        let e = PathParams::decode([("id", "%FF")].into_iter()).unwrap_err();
        assert_eq!(e.name, "id");
    }
}
