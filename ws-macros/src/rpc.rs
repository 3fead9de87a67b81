//! `#[rpc_methods]` on an impl block, with `#[rpc(name = "..")]` on the methods it exposes:
//! generates `ws_core::jsonrpc::RpcMethods` (a `match` on the method name).
//!
//! An exposed method is `async fn name(&self[, cx: &mut Conn][, params: P]) -> Result<R, RpcError>`
//! with `P: DeserializeOwned` and `R: Serialize`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::attr::Args;

struct Method {
    name: syn::LitStr,
    ident: syn::Ident,
    with_cx: bool,
    params: Option<syn::Type>,
}

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let args = Args::parse(attr, "rpc_methods", &[]);
    let mut imp: syn::ItemImpl = match crate::attr::parse_item(item.clone()) {
        Ok(i) => i,
        Err(_) => {
            return crate::attr::wrong_item(
                item,
                "#[rpc_methods] goes on an `impl Service { #[rpc(name = \"echo\")] async fn echo(&self, params: Value) -> Result<Value, RpcError> { .. } }`",
            )
        }
    };
    let mut errors = args.errors;
    if let Some((_, path, _)) = &imp.trait_ {
        errors.push(syn::Error::new_spanned(
            path,
            "#[rpc_methods] goes on an inherent impl block, not a trait impl",
        ));
    }
    crate::register::no_generics(&imp.generics, "rpc_methods", &mut errors);
    let mut methods: Vec<Method> = Vec::new();
    for item in &mut imp.items {
        let syn::ImplItem::Fn(f) = item else { continue };
        let Some(pos) = f.attrs.iter().position(|a| a.path().is_ident("rpc")) else {
            continue;
        };
        let attr = f.attrs.remove(pos);
        let tokens = match &attr.meta {
            syn::Meta::Path(_) => TokenStream::new(),
            syn::Meta::List(l) => l.tokens.clone(),
            syn::Meta::NameValue(nv) => {
                errors.push(syn::Error::new_spanned(
                    nv,
                    "write `#[rpc]` or `#[rpc(name = \"method\")]`",
                ));
                continue;
            }
        };
        let mut rpc_args = Args::parse(tokens, "rpc", &["name"]);
        let name = rpc_args
            .optional_str("name", "\"echo\"")
            .unwrap_or_else(|| syn::LitStr::new(&f.sig.ident.to_string(), f.sig.ident.span()));
        errors.append(&mut rpc_args.errors);
        if let Some(first) = methods.iter().find(|m| m.name.value() == name.value()) {
            errors.push(syn::Error::new_spanned(
                &name,
                format!(
                    "two methods are named `{}` (the other is `{}`); names must be unique",
                    name.value(),
                    first.ident
                ),
            ));
        }
        if f.sig.asyncness.is_none() {
            errors.push(syn::Error::new_spanned(
                f.sig.fn_token,
                "an RPC method is an `async fn`",
            ));
        }
        let mut inputs = f.sig.inputs.iter();
        match inputs.next() {
            Some(syn::FnArg::Receiver(r)) if r.reference.is_some() && r.mutability.is_none() => {}
            other => {
                errors.push(syn::Error::new(
                    other.map_or_else(|| f.sig.ident.span(), |o| o.span()),
                    "an RPC method takes `&self` first",
                ));
                continue;
            }
        }
        let rest: Vec<&syn::Type> = inputs
            .filter_map(|a| match a {
                syn::FnArg::Typed(t) => Some(t.ty.as_ref()),
                syn::FnArg::Receiver(_) => None,
            })
            .collect();
        let is_conn =
            |ty: &syn::Type| matches!(ty, syn::Type::Reference(r) if r.mutability.is_some());
        let (with_cx, params) = match rest.as_slice() {
            [] => (false, None),
            [one] if is_conn(one) => (true, None),
            [one] => (false, Some((*one).clone())),
            [cx, p] if is_conn(cx) => (true, Some((*p).clone())),
            _ => {
                errors.push(syn::Error::new_spanned(
                    &f.sig.inputs,
                    "an RPC method takes `&self`, optionally `cx: &mut Conn`, then at most one `params` argument (a struct, tuple, Vec or Value)",
                ));
                continue;
            }
        };
        methods.push(Method {
            name,
            ident: f.sig.ident.clone(),
            with_cx,
            params,
        });
    }
    if methods.is_empty() && errors.is_empty() {
        errors.push(syn::Error::new_spanned(
            &imp.self_ty,
            "#[rpc_methods] found no method marked `#[rpc]` or `#[rpc(name = \"..\")]`",
        ));
    }
    if !errors.is_empty() {
        let errs = crate::attr::to_compile_errors(errors);
        return quote! { #imp #errs };
    }
    let self_ty = &imp.self_ty;
    let names = methods.iter().map(|m| &m.name);
    let arms = methods.iter().map(|m| {
        let name = &m.name;
        let ident = &m.ident;
        let cx = m.with_cx.then(|| quote!(__cx,));
        let (decode, arg) = match &m.params {
            Some(ty) => (
                quote_spanned! {ty.span()=> let __p: #ty = ::ws_core::jsonrpc::params(__params)?; },
                quote!(__p),
            ),
            None => (quote! { let _ = __params; }, quote!()),
        };
        quote! {
            #name => {
                #decode
                let __r = self.#ident(#cx #arg).await?;
                ::ws_core::jsonrpc::result(__r)
            }
        }
    });
    quote! {
        #imp

        impl ::ws_core::jsonrpc::RpcMethods for #self_ty {
            const METHODS: &'static [&'static str] = &[#(#names),*];

            fn call<'a>(
                &'a self,
                __cx: &'a mut ::ws_core::Conn,
                __method: &'a str,
                __params: ::core::option::Option<::ws_core::jsonrpc::Value>,
            ) -> ::ws_core::BoxFuture<'a, ::core::result::Result<::ws_core::jsonrpc::Value, ::ws_core::jsonrpc::RpcError>> {
                let _ = &__cx;
                ::std::boxed::Box::pin(async move {
                    match __method {
                        #(#arms)*
                        _ => ::core::result::Result::Err(::ws_core::jsonrpc::RpcError::method_not_found(__method)),
                    }
                })
            }
        }
    }
}
