//! `#[ws_handler(server = "..", path = "..")] async fn f(ws: WebSocket, ..)`: the coroutine
//! style. Arguments after the socket are injected once at start-up (`Inject<T>`, `Sender`,
//! `Config`) and cloned for each connection.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::ws_route::WsRouteArgs;

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut args = WsRouteArgs::parse(attr, "ws_handler", "\"/stream\"");
    let func: syn::ItemFn = match crate::attr::parse_item(item.clone()) {
        Ok(f) => f,
        Err(_) => {
            return crate::attr::wrong_item(
                item,
                "#[ws_handler] goes on an `async fn handler(ws: ws_core::WebSocket)`",
            )
        }
    };
    let errors = &mut args.errors;
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
    if !args.errors.is_empty() {
        let errs = crate::attr::to_compile_errors(args.errors);
        return quote! { #func #errs };
    }
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
    let build = quote! {
        #(#resolve)*
        ::core::result::Result::Ok(::ws_core::__private::handler(move |__ws| {
            #ident(#ws_arg, #(#clones),*)
        }))
    };
    match args.register(ident, build) {
        Some(reg) => quote! { #func #reg },
        None => {
            let errs = crate::attr::to_compile_errors(args.errors);
            quote! { #func #errs }
        }
    }
}
