//! `#[http_route(server = "..", method = "GET", path = "..")]` on `async fn(..) -> impl
//! IntoResponse`. Every argument is a `RouteArg`: prepared once at start-up (an injected value
//! is resolved there), then taken from each request (an extractor) or cloned (an injected
//! value); the registration builds the handler that the server keeps and calls per request.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::attr::{check_path_lit, Args};
use crate::register::{arg_by_value, origin, return_span, static_record};

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
    // Bindings spanned on their argument's type too: an error about their type lands there.
    let named = |prefix: &str| -> Vec<syn::Ident> {
        types
            .iter()
            .enumerate()
            .map(|(i, ty)| format_ident!("{prefix}{i}", span = ty.span()))
            .collect()
    };
    let states = named("__state");
    let pending = named("__pending");
    let values = named("__arg");
    // Each use of an argument's trait is spanned on the user's type, where its errors land.
    let spanned = |f: &dyn Fn(&syn::Type, usize) -> TokenStream| -> Vec<TokenStream> {
        types.iter().enumerate().map(|(i, ty)| f(ty, i)).collect()
    };
    let prepares = spanned(&|ty, _| {
        quote_spanned!(ty.span()=>
            <#ty as ::ws_core::__private::RouteArg>::prepare(__resolver, __ORIGIN)
        )
    });
    let extracts = spanned(&|ty, i| {
        let index = syn::Index::from(i);
        quote_spanned!(ty.span()=>
            <#ty as ::ws_core::__private::RouteArg>::extract(&__states.#index, &__req)
        )
    });
    let finishes = spanned(&|ty, i| {
        let pending = &pending[i];
        quote_spanned!(ty.span()=>
            <#ty as ::ws_core::__private::RouteArg>::finish(#pending, &mut __req)
        )
    });
    let takes = spanned(&|ty, _| {
        quote_spanned!(ty.span()=>
            <#ty as ::ws_core::__private::RouteArg>::TAKES_REQUEST
        )
    });
    let deps = spanned(&|ty, _| {
        quote_spanned!(ty.span()=>
            <#ty as ::ws_core::__private::RouteArg>::DEPENDENCY
        )
    });
    // Every argument is prepared before any error returns, so that all of a route's problems
    // are reported.
    let prepare = if types.is_empty() {
        TokenStream::new()
    } else {
        quote! {
            let (#(#states,)*) = match (#(#prepares,)*) {
                (#(::core::result::Result::Ok(#states),)*) => (#(#states,)*),
                (#(#states,)*) => {
                    return ::core::result::Result::Err(::ws_core::__private::failed([
                        #(::core::result::Result::err(#states)),*
                    ]));
                }
            };
        }
    };
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
            const _: () = ::ws_core::__private::request_taken_once(&[
                #(#takes),*
            ]);
            #prepare
            let __states = ::std::sync::Arc::new((#(#states,)*));
            ::core::result::Result::Ok(::ws_core::__private::http_route(
                move |__req: ::ws_core::__private::Request| {
                    let __states = ::std::sync::Arc::clone(&__states);
                    async move {
                        #(
                            let #pending = match #extracts.await {
                                ::core::result::Result::Ok(p) => p,
                                ::core::result::Result::Err(r) => return r,
                            };
                        )*
                        let mut __req = ::core::option::Option::Some(__req);
                        #(
                            let #values = match #finishes {
                                ::core::option::Option::Some(v) => v,
                                ::core::option::Option::None => {
                                    return ::ws_core::__private::request_taken_twice();
                                }
                            };
                        )*
                        ::core::mem::drop(__req);
                        #respond
                    }
                },
            ))
        }
    };
    let deps = quote! { &[#(#deps),*] };
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
