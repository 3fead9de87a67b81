//! `#[http_route(server = "..", method = "GET", path = "..")]` on `async fn(Request, ..) -> impl
//! IntoResponse`. The arguments after the request are injected once at start-up (their types
//! implement `FromResolver`); the registration builds the handler that the server keeps and
//! calls per request with clones of them.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::attr::{check_path_lit, Args};
use crate::register::{first_arg_by_value, origin, return_span, static_record, Injected};

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
    if func.sig.inputs.is_empty() {
        errors.push(syn::Error::new_spanned(
            &func.sig,
            "an HTTP route handler takes the request first: `req: ws_core::http::Request`, then any \
             injected `Inject<T>`, `Settings<T>`, `Sender`, `Config` or `LiveConfig`",
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
    first_arg_by_value(
        &func.sig,
        "an HTTP route takes the request by value",
        &mut errors,
    );
    let (Some(server), Some(path), true) = (server, path, errors.is_empty()) else {
        let errs = crate::attr::to_compile_errors(errors);
        return quote! { #func #errs };
    };
    let ident = &func.sig.ident;
    let origin = origin(ident);
    // Type errors about the argument land on the user's argument type.
    let arg_span = match func.sig.inputs.first() {
        Some(syn::FnArg::Typed(t)) => t.ty.span(),
        Some(other) => other.span(),
        None => Span::call_site(),
    };
    let request = quote_spanned!(arg_span=> ::ws_core::__private::request_arg(__req));
    let injected = Injected::new(
        "__arg",
        func.sig.inputs.iter().skip(1).filter_map(|a| match a {
            syn::FnArg::Typed(t) => Some(t.ty.as_ref()),
            syn::FnArg::Receiver(_) => None,
        }),
    );
    let resolve = injected.resolve();
    let clones = injected
        .names()
        .map(|name| quote! { ::core::clone::Clone::clone(&#name) });
    // What the function returns is checked where it is written: an `IntoResponse`.
    let wrap = quote_spanned!(return_span(&func.sig)=> ::ws_core::__private::http_route(__handler));
    let support = quote! {
        const __ORIGIN: ::ws_core::__private::Origin = #origin;
        fn __build(
            __resolver: &::ws_core::__private::Resolver<'_>,
        ) -> ::core::result::Result<
            ::ws_core::__private::HttpHandler,
            ::ws_core::__private::StartupError,
        > {
            #resolve
            let __handler = move |__req: ::ws_core::__private::Request| {
                #ident(#request, #(#clones),*)
            };
            ::core::result::Result::Ok(#wrap)
        }
    };
    let deps = injected.deps();
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
