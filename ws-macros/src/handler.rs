//! `#[ws_handler(server = "..", path = "..")] async fn f(ws: WebSocket, ..)`: the coroutine
//! style. The arguments after the socket are `RouteArg`s, as an `#[http_route]`'s: taken from
//! the handshake before the upgrade (`Path<T>`, `Query<T>`, `HeaderMap`, `Extension<T>`, ...;
//! a refusal answers the handshake) or injected once at start-up and cloned for each
//! connection.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::register::{arg_by_value, first_arg_by_value, return_span};
use crate::route_args::RouteArgs;
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
    for input in func.sig.inputs.iter().skip(1) {
        if let syn::FnArg::Typed(t) = input {
            arg_by_value(
                t,
                "a WebSocket handler takes its arguments by value",
                errors,
            );
        }
    }
    if !args.errors.is_empty() {
        let errs = crate::attr::to_compile_errors(args.errors);
        return quote! { #func #errs };
    }
    let ident = &func.sig.ident;
    let ws_ty = &types[0];
    let ws_arg = quote_spanned!(ws_ty.span()=> ::ws_core::__private::websocket_arg(__ws));
    let rest = RouteArgs::new(types[1..].to_vec());
    let values = rest.values();
    let (prepare, takes, deps) = (rest.prepare(), rest.takes(), rest.deps());
    let take = rest.take(
        quote!(::core::option::Option::None),
        quote!(return ::core::result::Result::Err(__refusal)),
    );
    // What the function returns is checked where it is written.
    let wrap = quote_spanned!(return_span(&func.sig)=>
        ::ws_core::__private::handler(__handler, __extract)
    );
    let build = quote! {
        const _: () = ::ws_core::__private::request_not_taken(#takes);
        #prepare
        let __handler = move |__ws: ::ws_core::__private::WebSocket, (#(#values,)*)| {
            #ident(#ws_arg, #(#values),*)
        };
        let __extract = ::ws_core::__private::handshake_args(
            move |__req: &::ws_core::__private::Request| {
                let __states = ::std::sync::Arc::clone(&__states);
                ::std::boxed::Box::pin(async move {
                    #take
                    ::core::result::Result::Ok((#(#values,)*))
                }) as ::ws_core::__private::BoxFuture<'_, _>
            },
        );
        ::core::result::Result::Ok(#wrap)
    };
    match args.register(ident, deps, build) {
        Some(reg) => quote! { #func #reg },
        None => {
            let errs = crate::attr::to_compile_errors(args.errors);
            quote! { #func #errs }
        }
    }
}
