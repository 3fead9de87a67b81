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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    name: String,
    reason: String,
    missing: bool,
}

impl Display for ParamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.name {
            "" => write!(f, "path parameters: {}", self.reason),
            name => write!(f, "path parameter `{name}`: {}", self.reason),
        }
    }
}

impl std::error::Error for ParamError {}

impl ParamError {
    /// The parameter's name (empty when the error is about the parameters as a whole, as
    /// [`Path<T>`](crate::http::Path)'s when they do not fit `T`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What is wrong (the parse error, with the value).
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// Whether the route's pattern has no such parameter, or (for
    /// [`Path<T>`](crate::http::Path)) parameters that do not fit `T`: a mistake of the app,
    /// answered 500.
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

/// The route's parameters deserialized into `T` (what [`Path<T>`](crate::http::Path)
/// extracts): one value when the pattern has one parameter (`Path<u64>`), a tuple in the
/// pattern's order (`Path<(String, u32)>`), or a struct or map by name. A value that does not
/// parse names its parameter (400); parameters that do not fit `T`'s shape (a tuple of the
/// wrong length, a field the pattern lacks) are the app's mistake (500).
pub(crate) fn deserialize<T: serde::de::DeserializeOwned>(
    params: Option<&PathParams>,
) -> Result<T, ParamError> {
    let empty = PathParams::default();
    let params = params.unwrap_or(&empty);
    T::deserialize(de::Params(&params.0)).map_err(|e| match e.name {
        Some(name) => ParamError {
            name: name.into(),
            reason: e.reason,
            missing: false,
        },
        None => ParamError {
            name: String::new(),
            reason: e.reason,
            missing: true,
        },
    })
}

/// The serde `Deserializer` of [`deserialize`]: every value is text, parsed into the type the
/// visitor asks for.
mod de {
    use std::fmt;
    use std::str::FromStr;

    use serde::de::value::{MapDeserializer, SeqDeserializer};
    use serde::de::{self, Deserializer, IntoDeserializer, Visitor};

    /// What went wrong; `name` when it was one parameter's value.
    #[derive(Debug)]
    pub(super) struct Error {
        pub(super) name: Option<Box<str>>,
        pub(super) reason: String,
    }

    impl fmt::Display for Error {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.reason)
        }
    }

    impl std::error::Error for Error {}

    impl de::Error for Error {
        fn custom<T: fmt::Display>(msg: T) -> Self {
            Self {
                name: None,
                reason: msg.to_string(),
            }
        }
    }

    /// All the parameters, in the pattern's order.
    pub(super) struct Params<'a>(pub(super) &'a [(Box<str>, Box<str>)]);

    impl<'a> Params<'a> {
        /// The only value, for a `T` that is one value.
        fn single(&self) -> Result<Value<'a>, Error> {
            match self.0 {
                [(name, value)] => Ok(Value { name, value }),
                _ => Err(Error {
                    name: None,
                    reason: format!(
                        "the route has {} parameters, which do not make one value: take a \
                         tuple or a struct",
                        self.0.len()
                    ),
                }),
            }
        }
    }

    /// Forwards to the one value's deserializer.
    macro_rules! single {
        ($($method:ident),* $(,)?) => {$(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                self.single()?.$method(visitor)
            }
        )*};
    }

    impl<'de> Deserializer<'de> for Params<'_> {
        type Error = Error;

        fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            self.deserialize_map(visitor)
        }

        fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            let pairs = self
                .0
                .iter()
                .map(|(name, value)| (&**name, Value { name, value }));
            let mut map = MapDeserializer::new(pairs);
            let out = visitor.visit_map(&mut map)?;
            map.end()?;
            Ok(out)
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            _: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, Error> {
            self.deserialize_map(visitor)
        }

        fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            let values = self.0.iter().map(|(name, value)| Value { name, value });
            let mut seq = SeqDeserializer::new(values);
            let out = visitor.visit_seq(&mut seq)?;
            seq.end()?;
            Ok(out)
        }

        fn deserialize_tuple<V: Visitor<'de>>(
            self,
            len: usize,
            visitor: V,
        ) -> Result<V::Value, Error> {
            if len != self.0.len() {
                return Err(Error {
                    name: None,
                    reason: format!(
                        "the route has {} parameters, taken as a tuple of {len}",
                        self.0.len()
                    ),
                });
            }
            self.deserialize_seq(visitor)
        }

        fn deserialize_tuple_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            len: usize,
            visitor: V,
        ) -> Result<V::Value, Error> {
            self.deserialize_tuple(len, visitor)
        }

        fn deserialize_newtype_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            visitor: V,
        ) -> Result<V::Value, Error> {
            visitor.visit_newtype_struct(self)
        }

        fn deserialize_enum<V: Visitor<'de>>(
            self,
            name: &'static str,
            variants: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, Error> {
            self.single()?.deserialize_enum(name, variants, visitor)
        }

        fn deserialize_unit_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            visitor: V,
        ) -> Result<V::Value, Error> {
            self.deserialize_unit(visitor)
        }

        single! {
            deserialize_bool, deserialize_i8, deserialize_i16, deserialize_i32, deserialize_i64,
            deserialize_i128, deserialize_u8, deserialize_u16, deserialize_u32, deserialize_u64,
            deserialize_u128, deserialize_f32, deserialize_f64, deserialize_char,
            deserialize_str, deserialize_string, deserialize_bytes, deserialize_byte_buf,
            deserialize_option, deserialize_unit, deserialize_identifier,
            deserialize_ignored_any,
        }
    }

    /// One parameter's value.
    struct Value<'a> {
        name: &'a str,
        value: &'a str,
    }

    impl Value<'_> {
        /// Names the parameter in an error about its value.
        fn named(&self, e: Error) -> Error {
            Error {
                name: Some(e.name.unwrap_or_else(|| self.name.into())),
                reason: e.reason,
            }
        }

        fn parse<T>(&self) -> Result<T, Error>
        where
            T: FromStr,
            T::Err: fmt::Display,
        {
            self.value.parse().map_err(|e| Error {
                name: Some(self.name.into()),
                reason: format!("{:?} is not valid: {e}", self.value),
            })
        }
    }

    impl<'de> IntoDeserializer<'de, Error> for Value<'_> {
        type Deserializer = Self;
        fn into_deserializer(self) -> Self {
            self
        }
    }

    /// Parses the value with `FromStr` into the type the method asks for.
    macro_rules! parsed {
        ($($method:ident => $visit:ident),* $(,)?) => {$(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                let value = self.parse()?;
                visitor.$visit(value).map_err(|e| self.named(e))
            }
        )*};
    }

    impl<'de> Deserializer<'de> for Value<'_> {
        type Error = Error;

        fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            visitor.visit_str(self.value).map_err(|e| self.named(e))
        }

        parsed! {
            deserialize_bool => visit_bool, deserialize_i8 => visit_i8,
            deserialize_i16 => visit_i16, deserialize_i32 => visit_i32,
            deserialize_i64 => visit_i64, deserialize_i128 => visit_i128,
            deserialize_u8 => visit_u8, deserialize_u16 => visit_u16,
            deserialize_u32 => visit_u32, deserialize_u64 => visit_u64,
            deserialize_u128 => visit_u128, deserialize_f32 => visit_f32,
            deserialize_f64 => visit_f64, deserialize_char => visit_char,
        }

        fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            visitor.visit_some(self)
        }

        fn deserialize_newtype_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            visitor: V,
        ) -> Result<V::Value, Error> {
            visitor.visit_newtype_struct(self)
        }

        fn deserialize_enum<V: Visitor<'de>>(
            self,
            name: &'static str,
            variants: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, Error> {
            let text: de::value::StrDeserializer<'_, Error> = self.value.into_deserializer();
            text.deserialize_enum(name, variants, visitor)
                .map_err(|e| self.named(e))
        }

        serde::forward_to_deserialize_any! {
            str string bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
            identifier ignored_any
        }
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
    fn deserializes_values_tuples_structs_and_maps() {
        #[derive(Debug, PartialEq, serde::Deserialize)]
        struct Post {
            id: u64,
            slug: String,
            draft: Option<bool>,
        }
        let one = PathParams::decode([("id", "42")].into_iter()).unwrap();
        let two = PathParams::decode([("id", "7"), ("slug", "a%20b")].into_iter()).unwrap();
        assert_eq!(deserialize::<u64>(Some(&one)), Ok(42));
        assert_eq!(deserialize::<String>(Some(&one)), Ok("42".to_owned()));
        assert_eq!(deserialize::<Option<u8>>(Some(&one)), Ok(Some(42)));
        assert_eq!(deserialize::<(u64,)>(Some(&one)), Ok((42,)));
        assert_eq!(
            deserialize::<(u32, String)>(Some(&two)),
            Ok((7, "a b".to_owned()))
        );
        assert_eq!(
            deserialize::<Post>(Some(&two)),
            Ok(Post {
                id: 7,
                slug: "a b".to_owned(),
                draft: None
            })
        );
        let map = deserialize::<std::collections::BTreeMap<String, String>>(Some(&two)).unwrap();
        assert_eq!(map.len(), 2);

        // A value that does not parse names its parameter: the client's mistake.
        let e = deserialize::<(u32, u32)>(Some(&two)).unwrap_err();
        assert_eq!((e.name(), e.is_missing()), ("slug", false), "{e}");
        assert!(e.to_string().contains("\"a b\" is not valid"), "{e}");
        // Shapes that do not fit: the app's.
        for e in [
            deserialize::<u64>(Some(&two)).unwrap_err(),
            deserialize::<(u64, u64, u64)>(Some(&two)).unwrap_err(),
            deserialize::<(u64, String)>(None).unwrap_err(),
            deserialize::<Post>(Some(&one)).unwrap_err(),
        ] {
            assert!(e.is_missing(), "{e}");
            assert!(e.to_string().starts_with("path parameters: "), "{e}");
        }
    }

    #[test]
    fn refuses_values_that_are_not_utf8() {
        let e = PathParams::decode([("id", "%FF")].into_iter()).unwrap_err();
        assert_eq!(e.name, "id");
    }
}
