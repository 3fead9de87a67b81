//! The shared `key = value, ...` parser: unknown keys (listing the valid ones), duplicates,
//! missing keys, wrong value types — each an error on the offending token.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Expr, ExprArray, ExprLit, Lit, LitBool, LitInt, LitStr, Token};

/// One parsed argument.
pub(crate) struct Arg {
    pub(crate) key: syn::Ident,
    pub(crate) value: Option<Expr>,
    /// The value of a key that takes types (`provides = dyn Repo` or `[dyn A, dyn B]`).
    types: Option<Vec<syn::Type>>,
}

/// An argument as written, before it is checked against the keys.
enum Raw {
    /// `key`, `key = expr` or `key = Type`.
    Arg(Box<(syn::Path, Option<Expr>, Option<Vec<syn::Type>>)>),
    /// `key(..)`, which no macro here takes.
    List(TokenStream),
}

/// `key`, `key = value`, `key(..)`, separated by commas; the values of `type_keys` are types.
fn parse_raw(input: ParseStream<'_>, type_keys: &[&str]) -> syn::Result<Vec<Raw>> {
    let mut out = Vec::new();
    while !input.is_empty() {
        let path = input.call(syn::Path::parse_mod_style)?;
        if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            let takes_types = path
                .get_ident()
                .is_some_and(|i| type_keys.contains(&i.to_string().as_str()));
            if takes_types {
                let types = if input.peek(syn::token::Bracket) {
                    let content;
                    syn::bracketed!(content in input);
                    Punctuated::<syn::Type, Token![,]>::parse_terminated(&content)?
                        .into_iter()
                        .collect()
                } else {
                    vec![input.parse()?]
                };
                out.push(Raw::Arg(Box::new((path, None, Some(types)))));
            } else {
                out.push(Raw::Arg(Box::new((path, Some(input.parse()?), None))));
            }
        } else if input.peek(syn::token::Paren)
            || input.peek(syn::token::Bracket)
            || input.peek(syn::token::Brace)
        {
            let group: proc_macro2::Group = input.parse()?;
            let mut tokens = path.into_token_stream();
            group.to_tokens(&mut tokens);
            out.push(Raw::List(tokens));
        } else {
            out.push(Raw::Arg(Box::new((path, None, None))));
        }
        if !input.is_empty() {
            input.parse::<Token![,]>()?;
        }
    }
    Ok(out)
}

/// Parsed arguments, checked against the keys a macro accepts.
pub(crate) struct Args {
    args: Vec<Arg>,
    pub(crate) errors: Vec<syn::Error>,
}

impl Args {
    /// Parses `attr` for a macro named `macro_name` that accepts `keys`.
    pub(crate) fn parse(attr: TokenStream, macro_name: &str, keys: &[&str]) -> Self {
        Self::parse_with_types(attr, macro_name, keys, &[])
    }

    /// [`Args::parse`], where the keys in `type_keys` take a type or a list of types
    /// (read with [`Args::types`]).
    pub(crate) fn parse_with_types(
        attr: TokenStream,
        macro_name: &str,
        keys: &[&str],
        type_keys: &[&str],
    ) -> Self {
        let mut errors = Vec::new();
        let parsed = (|input: ParseStream<'_>| parse_raw(input, type_keys)).parse2(attr);
        let raws = match parsed {
            Ok(m) => m,
            Err(e) => {
                errors.push(e);
                Vec::new()
            }
        };
        let mut args: Vec<Arg> = Vec::new();
        for raw in raws {
            let (path, value, types) = match raw {
                Raw::Arg(arg) => *arg,
                Raw::List(l) => {
                    errors.push(syn::Error::new_spanned(
                        &l,
                        format!(
                            "expected `key = value`; #[{macro_name}] takes {}",
                            list(keys)
                        ),
                    ));
                    continue;
                }
            };
            let Some(key) = path.get_ident().cloned() else {
                errors.push(syn::Error::new_spanned(&path, "expected a key name"));
                continue;
            };
            if keys.is_empty() {
                errors.push(syn::Error::new_spanned(
                    &key,
                    format!("#[{macro_name}] takes no arguments; write just `#[{macro_name}]`"),
                ));
                continue;
            }
            if !keys.contains(&key.to_string().as_str()) {
                errors.push(syn::Error::new_spanned(
                    &key,
                    format!(
                        "unknown key `{key}` for #[{macro_name}]; valid keys: {}",
                        list(keys)
                    ),
                ));
                continue;
            }
            if args.iter().any(|a| a.key == key) {
                errors.push(syn::Error::new_spanned(
                    &key,
                    format!("duplicate key `{key}`; give it once"),
                ));
                continue;
            }
            args.push(Arg { key, value, types });
        }
        Self { args, errors }
    }

    fn take(&mut self, key: &str) -> Option<Arg> {
        let i = self.args.iter().position(|a| a.key == key)?;
        Some(self.args.remove(i))
    }

    /// A required string: `key = "..."`.
    pub(crate) fn required_str(&mut self, key: &str, example: &str, span: Span) -> Option<LitStr> {
        match self.take(key) {
            Some(arg) => self.lit_str(arg, example),
            None => {
                self.errors.push(syn::Error::new(
                    span,
                    format!("missing `{key}`; write `{key} = {example}`"),
                ));
                None
            }
        }
    }

    /// An optional string.
    pub(crate) fn optional_str(&mut self, key: &str, example: &str) -> Option<LitStr> {
        let arg = self.take(key)?;
        self.lit_str(arg, example)
    }

    fn lit_str(&mut self, arg: Arg, example: &str) -> Option<LitStr> {
        match arg.value {
            Some(Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            })) => Some(s),
            Some(other) => {
                self.errors.push(syn::Error::new_spanned(
                    other,
                    format!(
                        "`{}` takes a string literal, e.g. `{} = {example}`",
                        arg.key, arg.key
                    ),
                ));
                None
            }
            None => {
                self.errors.push(syn::Error::new_spanned(
                    &arg.key,
                    format!(
                        "`{}` needs a value, e.g. `{} = {example}`",
                        arg.key, arg.key
                    ),
                ));
                None
            }
        }
    }

    /// An optional integer.
    pub(crate) fn optional_int(&mut self, key: &str) -> Option<LitInt> {
        let arg = self.take(key)?;
        let value = match arg.value {
            Some(Expr::Lit(ExprLit {
                lit: Lit::Int(i), ..
            })) => return Some(i),
            Some(Expr::Unary(u)) => {
                if let (
                    syn::UnOp::Neg(_),
                    Expr::Lit(ExprLit {
                        lit: Lit::Int(i), ..
                    }),
                ) = (&u.op, u.expr.as_ref())
                {
                    return Some(LitInt::new(&format!("-{}", i.base10_digits()), i.span()));
                }
                Some(Expr::Unary(u))
            }
            other => other,
        };
        let err = match value {
            Some(v) => {
                syn::Error::new_spanned(v, format!("`{key}` takes an integer, e.g. `{key} = 10`"))
            }
            None => syn::Error::new_spanned(
                &arg.key,
                format!("`{key}` needs a value, e.g. `{key} = 10`"),
            ),
        };
        self.errors.push(err);
        None
    }

    /// An optional boolean; a bare `key` means `true`.
    pub(crate) fn optional_bool(&mut self, key: &str) -> Option<LitBool> {
        let arg = self.take(key)?;
        match arg.value {
            None => Some(LitBool::new(true, arg.key.span())),
            Some(Expr::Lit(ExprLit {
                lit: Lit::Bool(b), ..
            })) => Some(b),
            Some(other) => {
                self.errors.push(syn::Error::new_spanned(
                    other,
                    format!("`{key}` takes `true` or `false`"),
                ));
                None
            }
        }
    }

    /// An optional string or array of strings: `key = "a"` or `key = ["a", "b"]`.
    pub(crate) fn optional_str_list(&mut self, key: &str) -> Vec<LitStr> {
        let Some(arg) = self.take(key) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        match arg.value {
            Some(Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            })) => out.push(s),
            Some(Expr::Array(ExprArray { elems, .. })) => {
                for e in elems {
                    match e {
                        Expr::Lit(ExprLit {
                            lit: Lit::Str(s), ..
                        }) => out.push(s),
                        other => self.errors.push(syn::Error::new_spanned(
                            other,
                            format!("`{key}` takes string literals, e.g. `{key} = [\"a\", \"b\"]`"),
                        )),
                    }
                }
            }
            other => {
                let msg = format!(
                    "`{key}` takes a string or an array of strings, e.g. `{key} = \"jsonrpc\"`"
                );
                match other {
                    Some(v) => self.errors.push(syn::Error::new_spanned(v, msg)),
                    None => self.errors.push(syn::Error::new_spanned(&arg.key, msg)),
                }
            }
        }
        out
    }
}

impl Args {
    /// Types: `key = Type` or `key = [Type, ..]` (a key given to `parse_with_types`).
    pub(crate) fn types(&mut self, key: &str, example: &str) -> Vec<syn::Type> {
        let Some(arg) = self.take(key) else {
            return Vec::new();
        };
        match arg.types {
            Some(types) => types,
            None => {
                self.errors.push(syn::Error::new_spanned(
                    &arg.key,
                    format!("`{key}` needs a value, e.g. `{key} = {example}`"),
                ));
                Vec::new()
            }
        }
    }

    /// A flag (`key` alone); `key = value` is an error.
    pub(crate) fn flag(&mut self, key: &str) -> Option<syn::Ident> {
        let arg = self.take(key)?;
        if let Some(v) = arg.value {
            self.errors.push(syn::Error::new_spanned(
                v,
                format!("`{key}` is a flag and takes no value; write just `{key}`"),
            ));
        }
        Some(arg.key)
    }
}

fn list(keys: &[&str]) -> String {
    keys.iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Combines errors into one compile error token stream (all shown at once).
pub(crate) fn to_compile_errors(errors: Vec<syn::Error>) -> TokenStream {
    errors.into_iter().map(|e| e.to_compile_error()).collect()
}

/// Parses an item of the given kind, keeping the tokens for re-emission on error.
pub(crate) fn parse_item<T: Parse>(item: TokenStream) -> syn::Result<T> {
    syn::parse2(item)
}

/// Checks a path literal with the runtime's own rules (the `ws-path` crate, which ws-core
/// applies again at start-up).
pub(crate) fn check_path_lit(path: &LitStr, errors: &mut Vec<syn::Error>) {
    if let Err(reason) = ws_path::check_path(&path.value()) {
        errors.push(syn::Error::new_spanned(
            path,
            format!("invalid path: {reason}"),
        ));
    }
}

/// The item unchanged (so IDEs keep working) plus an error on its keyword.
pub(crate) fn wrong_item(item: TokenStream, msg: &str) -> TokenStream {
    let err = match syn::parse2::<syn::Item>(item.clone()) {
        Ok(syn::Item::Enum(e)) => syn::Error::new_spanned(e.enum_token, msg),
        Ok(syn::Item::Fn(f)) => syn::Error::new_spanned(f.sig.fn_token, msg),
        Ok(syn::Item::Struct(s)) => syn::Error::new_spanned(s.struct_token, msg),
        Ok(syn::Item::Union(u)) => syn::Error::new_spanned(u.union_token, msg),
        Ok(syn::Item::Impl(i)) => syn::Error::new_spanned(i.impl_token, msg),
        Ok(syn::Item::Trait(t)) => syn::Error::new_spanned(t.trait_token, msg),
        Ok(other) => syn::Error::new_spanned(other, msg),
        Err(e) => e,
    };
    let err = err.to_compile_error();
    quote::quote! { #item #err }
}
