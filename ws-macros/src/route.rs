//! `#[http_route(server = "..", method = "GET", path = "..")]` on `async fn(..) -> impl
//! IntoResponse`. Every argument is a `RouteArg`: prepared once at start-up (an injected value
//! is resolved there), then taken from each request (an extractor) or cloned (an injected
//! value); the registration builds the handler that the server keeps and calls per request.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};

use crate::attr::{check_path_lit, Args};
use crate::register::{arg_by_value, origin, return_span, static_record};
use crate::route_args::RouteArgs;

const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut args = Args::parse(attr, "http_route", &["server", "method", "path"]);
    let func: syn::ItemFn = match crate::attr::parse_item(item.clone()) {
        Ok(f) => f,
        Err(_) => {
            return crate::attr::wrong_item(
                item,
                "#[http_route] goes on an `async fn handler(req: ws_core::http::Request) -> impl IntoResponse`",
            )
        }
    };
    let span = Span::call_site();
    let server = args.required_str("server", "\"http\"", span);
    let method = args.optional_str("method", "\"GET\"");
    let path = args.required_str("path", "\"/health\"", span);
    let mut errors = std::mem::take(&mut args.errors);
    if let Some(p) = &path {
        check_path_lit(p, &mut errors);
    }
    let method_value = method
        .as_ref()
        .map_or_else(|| "GET".to_owned(), |m| m.value());
    if let Some(m) = &method {
        if !METHODS.contains(&m.value().as_str()) {
            errors.push(syn::Error::new_spanned(
                m,
                format!(
                    "unknown method `{}`; use one of {}",
                    m.value(),
                    METHODS.join(", ")
                ),
            ));
        }
    }
    if func.sig.asyncness.is_none() {
        errors.push(syn::Error::new_spanned(
            func.sig.fn_token,
            "an HTTP route handler is an `async fn`",
        ));
    }
    if let Some(syn::FnArg::Receiver(r)) = func.sig.inputs.first() {
        errors.push(syn::Error::new_spanned(
            r,
            "an HTTP route handler is a free function, without `self`",
        ));
    }
    if !func.sig.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &func.sig.generics,
            "an HTTP route handler has no generic parameters",
        ));
    }
    let mut types = Vec::new();
    for arg in &func.sig.inputs {
        if let syn::FnArg::Typed(arg) = arg {
            arg_by_value(
                arg,
                "an HTTP route takes its arguments by value",
                &mut errors,
            );
            types.push(arg.ty.as_ref().clone());
        }
    }
    let (Some(server), Some(path), true) = (server, path, errors.is_empty()) else {
        let errs = crate::attr::to_compile_errors(errors);
        return quote! { #func #errs };
    };
    let ident = &func.sig.ident;
    let origin = origin(ident);
    let args = RouteArgs::new(types);
    let values = args.values();
    let (prepare, takes, deps) = (args.prepare(), args.takes(), args.deps());
    let take = args.take(
        quote!(::core::option::Option::Some(__req)),
        quote!(return __refusal),
    );
    // What the function returns is checked where it is written: an `IntoResponse`.
    let respond = quote_spanned!(return_span(&func.sig)=>
        ::ws_core::__private::respond(#ident(#(#values),*).await)
    );
    let support = quote! {
        const __ORIGIN: ::ws_core::__private::Origin = #origin;
        fn __build(
            __resolver: &::ws_core::__private::Resolver<'_>,
        ) -> ::core::result::Result<
            ::ws_core::__private::HttpHandler,
            ::ws_core::__private::StartupError,
        > {
            const _: () = ::ws_core::__private::request_taken_once(#takes);
            #prepare
            ::core::result::Result::Ok(::ws_core::__private::http_route(
                move |__req: ::ws_core::__private::Request| {
                    let __states = ::std::sync::Arc::clone(&__states);
                    async move {
                        #take
                        #respond
                    }
                },
            ))
        }
    };
    let record = quote! {
        ::ws_core::__private::HttpRouteDef {
            origin: __ORIGIN,
            server: #server,
            method: #method_value,
            path: #path,
            deps: #deps,
            build: __build,
        }
    };
    let reg = static_record(ident, "HTTP_ROUTES", "HttpRouteDef", record, support);
    quote! { #func #reg }
}
