//! `#[middleware(server = "..", priority = N, paths = ["/a", ..], default)]` on a guard
//! struct, on a wrapping `async fn(req: Request, next: Next, ..)`, or on a `fn(..) -> impl
//! Layer` (with `handshakes` when the layer is to see WebSocket handshakes too).

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{LitInt, LitStr};

use crate::attr::Args;
use crate::register::{
    first_arg_by_value, no_generics, origin, return_span, static_record, struct_build, Injected,
};

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut args = Args::parse(
        attr,
        "middleware",
        &[
            "server",
            "global",
            "priority",
            "paths",
            "default",
            "handshakes",
        ],
    );
    let mut strukt: syn::ItemStruct = match crate::attr::parse_item(item.clone()) {
        Ok(s) => s,
        Err(_) => match crate::attr::parse_item::<syn::ItemFn>(item.clone()) {
            Ok(f) => return expand_fn(args, f),
            Err(_) => {
                return crate::attr::wrong_item(
                    item,
                    "#[middleware] goes on a struct that implements `ws_core::Middleware` (a \
                     guard), or on an `async fn(req: Request, next: Next) -> impl IntoResponse` \
                     (a wrapper)",
                )
            }
        },
    };
    let global = args.flag("global");
    let server = match &global {
        Some(_) => args.optional_str("server", "\"ws\""),
        None => args.required_str("server", "\"ws\"", Span::call_site()),
    };
    let priority = args.optional_int("priority");
    let paths = args.optional_str_list("paths");
    let default = args.flag("default");
    let handshakes = args.flag("handshakes");
    let mut errors = std::mem::take(&mut args.errors);
    if let Some(h) = &handshakes {
        errors.push(not_a_layer(h));
    }
    check_placement(&global, &server, &paths, &priority, &mut errors);
    no_generics(&strukt.generics, "middleware", &mut errors);
    let build = struct_build(&mut strukt, default.as_ref(), "middleware", &mut errors);
    if !errors.is_empty() || (server.is_none() && global.is_none()) {
        let errs = crate::attr::to_compile_errors(errors);
        return quote! { #strukt #errs };
    }
    let server = match server {
        Some(s) => quote!(::core::option::Option::Some(#s)),
        None => quote!(::core::option::Option::None),
    };
    let priority = priority.map_or_else(|| quote!(0), |p| quote!(#p));
    let ident = &strukt.ident;
    let origin = origin(ident);
    let resolve = build.injected.resolve();
    let deps = build.injected.deps();
    let value = build.value;
    let support = quote! {
        const __ORIGIN: ::ws_core::__private::Origin = #origin;
        fn __build(
            __resolver: &::ws_core::__private::Resolver<'_>,
        ) -> ::core::result::Result<
            ::std::sync::Arc<dyn ::ws_core::__private::ErasedMiddlewareHandle>,
            ::ws_core::__private::StartupError,
        > {
            #resolve
            ::core::result::Result::Ok(::ws_core::__private::middleware(#value))
        }
    };
    let record = quote! {
        ::ws_core::__private::MiddlewareDef {
            origin: __ORIGIN,
            server: #server,
            priority: #priority,
            paths: &[#(#paths),*],
            deps: #deps,
            build: __build,
        }
    };
    let reg = static_record(ident, "MIDDLEWARE", "MiddlewareDef", record, support);
    quote! { #strukt #reg }
}

/// `#[middleware(..)]` on `async fn(req: Request, next: Next, injected..) -> impl
/// IntoResponse`: a wrapper, with the same keys as the struct form but `default`.
fn expand_fn(mut args: Args, func: syn::ItemFn) -> TokenStream {
    let global = args.flag("global");
    let server = match &global {
        Some(_) => args.optional_str("server", "\"http\""),
        None => args.required_str("server", "\"http\"", Span::call_site()),
    };
    let priority = args.optional_int("priority");
    let paths = args.optional_str_list("paths");
    let default = args.flag("default");
    let handshakes = args.flag("handshakes");
    let mut errors = std::mem::take(&mut args.errors);
    if let Some(d) = &default {
        errors.push(syn::Error::new_spanned(
            d,
            "`default` builds a middleware struct; a wrapping function takes its injected \
             values as arguments after `next`",
        ));
    }
    check_placement(&global, &server, &paths, &priority, &mut errors);
    let sig = &func.sig;
    // A plain `fn` returns a tower layer, built once at start-up from its injected arguments.
    let layer = sig.asyncness.is_none();
    if let (false, Some(h)) = (layer, &handshakes) {
        errors.push(not_a_layer(h));
    }
    if layer && matches!(sig.output, syn::ReturnType::Default) {
        errors.push(syn::Error::new_spanned(
            sig,
            "a middleware `fn` returns a tower `Layer` (`fn cors() -> CorsLayer`); a wrapping \
             middleware is an `async fn(req: Request, next: Next) -> impl IntoResponse`",
        ));
    }
    let takes_next = sig.inputs.iter().any(|a| {
        matches!(a, syn::FnArg::Typed(t) if matches!(t.ty.as_ref(), syn::Type::Path(p)
            if p.path.segments.last().is_some_and(|s| s.ident == "Next")))
    });
    if layer && takes_next {
        errors.push(syn::Error::new_spanned(
            sig.fn_token,
            "a wrapping middleware (one that takes `next: Next`) is an `async fn`; a plain \
             middleware `fn` returns a tower `Layer` instead",
        ));
    }
    if !layer && sig.inputs.len() < 2 {
        errors.push(syn::Error::new_spanned(
            sig,
            "a wrapping middleware takes the request, then what runs next: `req: \
             ws_core::http::Request, next: ws_core::Next`, then any injected `Inject<T>`, \
             `Settings<T>`, `Sender`, `Config` or `LiveConfig`",
        ));
    }
    if let Some(syn::FnArg::Receiver(r)) = sig.inputs.first() {
        errors.push(syn::Error::new_spanned(
            r,
            "a wrapping middleware is a free function, without `self`",
        ));
    }
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &sig.generics,
            "a wrapping middleware has no generic parameters",
        ));
    }
    if !layer {
        first_arg_by_value(
            sig,
            "a wrapping middleware takes the request by value",
            &mut errors,
        );
        if let Some(syn::FnArg::Typed(t)) = sig.inputs.iter().nth(1) {
            let is_next = matches!(t.ty.as_ref(), syn::Type::Path(p)
                if p.path.segments.last().is_some_and(|s| s.ident == "Next"));
            if !is_next {
                errors.push(syn::Error::new_spanned(
                    &t.ty,
                    "a wrapping middleware's second argument is what runs next: `next: \
                     ws_core::Next`; injected arguments come after it",
                ));
            }
        }
    }
    if !errors.is_empty() || (server.is_none() && global.is_none()) {
        let errs = crate::attr::to_compile_errors(errors);
        return quote! { #func #errs };
    }
    let server = match server {
        Some(s) => quote!(::core::option::Option::Some(#s)),
        None => quote!(::core::option::Option::None),
    };
    let priority = priority.map_or_else(|| quote!(0), |p| quote!(#p));
    let ident = &sig.ident;
    let origin = origin(ident);
    let span_of = |i: usize| match sig.inputs.iter().nth(i) {
        Some(syn::FnArg::Typed(t)) => t.ty.span(),
        Some(other) => other.span(),
        None => Span::call_site(),
    };
    if layer {
        return expand_layer(&func, server, priority, &paths, handshakes.is_some());
    }
    let request = quote_spanned!(span_of(0)=> ::ws_core::__private::request_arg(__req));
    let next = quote_spanned!(span_of(1)=> ::ws_core::__private::next_arg(__next));
    let injected = Injected::new(
        "__arg",
        sig.inputs.iter().skip(2).filter_map(|a| match a {
            syn::FnArg::Typed(t) => Some(t.ty.as_ref()),
            syn::FnArg::Receiver(_) => None,
        }),
    );
    let resolve = injected.resolve();
    let clones = injected
        .names()
        .map(|name| quote! { ::core::clone::Clone::clone(&#name) });
    let wrap = quote_spanned!(return_span(sig)=> ::ws_core::__private::wrap(__wrapper));
    let deps = injected.deps();
    let support = quote! {
        const __ORIGIN: ::ws_core::__private::Origin = #origin;
        fn __build(
            __resolver: &::ws_core::__private::Resolver<'_>,
        ) -> ::core::result::Result<
            ::std::sync::Arc<dyn ::ws_core::__private::ErasedMiddlewareHandle>,
            ::ws_core::__private::StartupError,
        > {
            #resolve
            let __wrapper = move |__req: ::ws_core::__private::Request,
                                  __next: ::ws_core::__private::Next| {
                #ident(#request, #next, #(#clones),*)
            };
            ::core::result::Result::Ok(#wrap)
        }
    };
    let record = quote! {
        ::ws_core::__private::MiddlewareDef {
            origin: __ORIGIN,
            server: #server,
            priority: #priority,
            paths: &[#(#paths),*],
            deps: #deps,
            build: __build,
        }
    };
    let reg = static_record(ident, "MIDDLEWARE", "MiddlewareDef", record, support);
    quote! { #func #reg }
}

/// `handshakes` on a guard or a wrapper, which see handshakes anyway.
fn not_a_layer(flag: &syn::Ident) -> syn::Error {
    syn::Error::new_spanned(
        flag,
        "`handshakes` is for a middleware `fn` that returns a tower `Layer`; a guard struct \
         and a wrapping `async fn` run on WebSocket handshakes already",
    )
}

/// `#[middleware(..)]` on `fn(injected..) -> impl tower::Layer<..>`: the layer, built once at
/// start-up, wraps the rest of the way of the server's HTTP requests (and its WebSocket
/// handshakes with `handshakes`).
fn expand_layer(
    func: &syn::ItemFn,
    server: TokenStream,
    priority: TokenStream,
    paths: &[syn::LitStr],
    handshakes: bool,
) -> TokenStream {
    let sig = &func.sig;
    let ident = &sig.ident;
    let origin = origin(ident);
    let injected = Injected::new(
        "__arg",
        sig.inputs.iter().filter_map(|a| match a {
            syn::FnArg::Typed(t) => Some(t.ty.as_ref()),
            syn::FnArg::Receiver(_) => None,
        }),
    );
    let resolve = injected.resolve();
    let names = injected.names();
    let wrap = quote_spanned!(return_span(sig)=> ::ws_core::__private::layer(__layer, #handshakes));
    let deps = injected.deps();
    let support = quote! {
        const __ORIGIN: ::ws_core::__private::Origin = #origin;
        fn __build(
            __resolver: &::ws_core::__private::Resolver<'_>,
        ) -> ::core::result::Result<
            ::std::sync::Arc<dyn ::ws_core::__private::ErasedMiddlewareHandle>,
            ::ws_core::__private::StartupError,
        > {
            #resolve
            let __layer = #ident(#(#names),*);
            ::core::result::Result::Ok(#wrap)
        }
    };
    let record = quote! {
        ::ws_core::__private::MiddlewareDef {
            origin: __ORIGIN,
            server: #server,
            priority: #priority,
            paths: &[#(#paths),*],
            deps: #deps,
            build: __build,
        }
    };
    let reg = static_record(ident, "MIDDLEWARE", "MiddlewareDef", record, support);
    quote! { #func #reg }
}

/// The checks of where a middleware runs, the same for a guard, a wrapper and a layer: `global`
/// or a `server`, `paths` only on one server (each a well-formed path), a `priority` that fits
/// an `i32`.
fn check_placement(
    global: &Option<syn::Ident>,
    server: &Option<LitStr>,
    paths: &[LitStr],
    priority: &Option<LitInt>,
    errors: &mut Vec<syn::Error>,
) {
    if let (Some(g), Some(_)) = (global, server) {
        errors.push(syn::Error::new_spanned(
            g,
            "`global` runs on every server; remove it or remove `server = ..`",
        ));
    }
    for p in paths {
        crate::attr::check_path_lit(p, errors);
    }
    if let (Some(_), Some(p)) = (global, paths.first()) {
        errors.push(syn::Error::new_spanned(
            p,
            "`paths` names routes of one server; use `server = \"..\"` instead of `global`",
        ));
    }
    if let Some(p) = priority {
        if let Err(e) = p.base10_parse::<i32>() {
            errors.push(syn::Error::new_spanned(
                p,
                format!("`priority` must fit in an i32: {e}"),
            ));
        }
    }
}
