//! `#[ws_handler(server = "..", path = "..")] async fn f(ws: WebSocket, ..)`: the coroutine
//! style. Arguments after the socket are injected once at start-up (`Inject<T>`, `Sender`,
//! `Config`) and cloned for each connection.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::attr::{check_path_lit, Args};
use crate::register::{origin, static_record};

const KEYS: &[&str] = &["server", "path", "protocol", "protocol_required"];

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut args = Args::parse(attr, "ws_handler", KEYS);
    let func: syn::ItemFn = match crate::attr::parse_item(item.clone()) {
        Ok(f) => f,
        Err(_) => {
            return crate::attr::wrong_item(
                item,
                "#[ws_handler] goes on an `async fn handler(ws: ws_core::WebSocket)`",
            )
        }
    };
    let span = Span::call_site();
    let server = args.required_str("server", "\"ws\"", span);
    let path = args.required_str("path", "\"/stream\"", span);
    let protocols = args.optional_str_list("protocol");
    let required = args.optional_bool("protocol_required");
    let mut errors = std::mem::take(&mut args.errors);
    if let Some(p) = &path {
        check_path_lit(p, &mut errors);
    }
    if let Some(r) = required
        .as_ref()
        .filter(|r| r.value && protocols.is_empty())
    {
        errors.push(syn::Error::new_spanned(
            r,
            "`protocol_required` needs `protocol = \"name\"` (the protocols a client must offer)",
        ));
    }
    if func.sig.asyncness.is_none() {
        errors.push(syn::Error::new_spanned(
            func.sig.fn_token,
            "a WebSocket handler is an `async fn`",
        ));
    }
    if !func.sig.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &func.sig.generics,
            "a WebSocket handler has no generic parameters",
        ));
    }
    let mut types = Vec::new();
    for input in &func.sig.inputs {
        match input {
            syn::FnArg::Typed(t) => types.push(t.ty.as_ref().clone()),
            syn::FnArg::Receiver(r) => errors.push(syn::Error::new_spanned(
                r,
                "a WebSocket handler is a free function, without `self`",
            )),
        }
    }
    if types.is_empty() {
        errors.push(syn::Error::new_spanned(
            &func.sig,
            "a WebSocket handler takes the socket first: `async fn f(ws: ws_core::WebSocket)`",
        ));
    }
    let (Some(server), Some(path), true) = (server, path, errors.is_empty()) else {
        let errs = crate::attr::to_compile_errors(errors);
        return quote! { #func #errs };
    };
    let ident = &func.sig.ident;
    let ws_ty = &types[0];
    let ws_arg = quote_spanned!(ws_ty.span()=> ::ws_core::__private::websocket_arg(__ws));
    let injected: Vec<_> = types[1..]
        .iter()
        .enumerate()
        .map(|(i, ty)| (format_ident!("__arg{i}"), ty))
        .collect();
    let resolve = injected.iter().map(|(name, ty)| {
        quote_spanned! {ty.span()=>
            let #name = <#ty as ::ws_core::__private::FromResolver>::from_resolver(__resolver, __ORIGIN)?;
        }
    });
    let clones = injected
        .iter()
        .map(|(name, _)| quote! { ::core::clone::Clone::clone(&#name) });
    let origin = origin(ident);
    let required = required.is_some_and(|r| r.value);
    let support = quote! {
        const __ORIGIN: ::ws_core::__private::Origin = #origin;
        fn __build(
            __resolver: &::ws_core::__private::Resolver<'_>,
        ) -> ::core::result::Result<
            ::std::sync::Arc<dyn ::ws_core::__private::ErasedControllerHandle>,
            ::ws_core::__private::StartupError,
        > {
            #(#resolve)*
            ::core::result::Result::Ok(::ws_core::__private::handler(move |__ws| {
                #ident(#ws_arg, #(#clones),*)
            }))
        }
    };
    let record = quote! {
        ::ws_core::__private::ControllerDef {
            origin: __ORIGIN,
            server: #server,
            path: #path,
            protocols: &[#(#protocols),*],
            protocol_required: #required,
            build: __build,
        }
    };
    let reg = static_record(ident, "CONTROLLERS", "ControllerDef", record, support);
    quote! { #func #reg }
}
