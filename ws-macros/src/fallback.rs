//! `#[http_fallback(server = "..")]` on `fn(..) -> impl tower::Service<http::Request<Body>>`:
//! the function's arguments are injected once at start-up (their types implement
//! `FromResolver`), and the service it returns (an axum `Router`) answers every request of
//! the server that no route takes.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};

use crate::attr::Args;
use crate::register::{origin, return_span, static_record, Injected};

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut args = Args::parse(attr, "http_fallback", &["server"]);
    let func: syn::ItemFn =
        match crate::attr::parse_item(item.clone()) {
            Ok(f) => f,
            Err(_) => return crate::attr::wrong_item(
                item,
                "#[http_fallback] goes on a `fn(..) -> impl tower::Service<http::Request<Body>>` \
                 that builds the service (an axum `Router`) at start-up",
            ),
        };
    let server = args.required_str("server", "\"http\"", Span::call_site());
    let mut errors = std::mem::take(&mut args.errors);
    let sig = &func.sig;
    if let Some(a) = &sig.asyncness {
        errors.push(syn::Error::new_spanned(
            a,
            "#[http_fallback] builds the service once at start-up: a plain `fn` that returns \
             it, not an `async fn`",
        ));
    }
    if let Some(syn::FnArg::Receiver(r)) = sig.inputs.first() {
        errors.push(syn::Error::new_spanned(
            r,
            "#[http_fallback] goes on a free function, without `self`",
        ));
    }
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &sig.generics,
            "#[http_fallback] takes a function without generic parameters",
        ));
    }
    if matches!(sig.output, syn::ReturnType::Default) {
        errors.push(syn::Error::new_spanned(
            sig,
            "#[http_fallback] needs the service as the return value: \
             `fn api() -> axum::Router { .. }`",
        ));
    }
    let (Some(server), true) = (server, errors.is_empty()) else {
        let errs = crate::attr::to_compile_errors(errors);
        return quote! { #func #errs };
    };
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
    let wrap = quote_spanned!(return_span(sig)=> ::ws_core::__private::fallback(__service));
    let deps = injected.deps();
    let support = quote! {
        const __ORIGIN: ::ws_core::__private::Origin = #origin;
        fn __build(
            __resolver: &::ws_core::__private::Resolver<'_>,
        ) -> ::core::result::Result<
            ::ws_core::__private::HttpFallback,
            ::ws_core::__private::StartupError,
        > {
            #resolve
            let __service = #ident(#(#names),*);
            ::core::result::Result::Ok(#wrap)
        }
    };
    let record = quote! {
        ::ws_core::__private::HttpFallbackDef {
            origin: __ORIGIN,
            server: #server,
            deps: #deps,
            build: __build,
        }
    };
    let reg = static_record(ident, "HTTP_FALLBACKS", "HttpFallbackDef", record, support);
    quote! { #func #reg }
}
