//! `#[ws_handler(server = "..", path = "..")] async fn f(ws: WebSocket, ..)`: the coroutine
//! style. Arguments after the socket are injected once at start-up (their types implement
//! `FromResolver`: `Inject<T>`, `Settings<T>`, `Sender`, `Config`, `LiveConfig`) and cloned
//! for each connection.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::register::{first_arg_by_value, return_span, Injected};
use crate::ws_route::WsRouteArgs;

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut args = WsRouteArgs::parse(attr, "ws_handler", "\"/stream\"", false);
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
    first_arg_by_value(&func.sig, "a WebSocket handler owns its socket", errors);
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
    let injected = Injected::new("__arg", &types[1..]);
    let resolve = injected.resolve();
    let clones = injected
        .names()
        .map(|name| quote! { ::core::clone::Clone::clone(&#name) });
    // What the function returns is checked where it is written.
    let wrap = quote_spanned!(return_span(&func.sig)=> ::ws_core::__private::handler(__handler));
    let build = quote! {
        #resolve
        let __handler = move |__ws: ::ws_core::__private::WebSocket| #ident(#ws_arg, #(#clones),*);
        ::core::result::Result::Ok(#wrap)
    };
    match args.register(ident, injected.deps(), build) {
        Some(reg) => quote! { #func #reg },
        None => {
            let errs = crate::attr::to_compile_errors(args.errors);
            quote! { #func #errs }
        }
    }
}
