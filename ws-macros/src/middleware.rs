//! `#[middleware(server = "..", priority = N, paths = ["/a", ..], default)]`.

use proc_macro2::{Span, TokenStream};
use quote::quote;

use crate::attr::Args;
use crate::register::{no_generics, origin, static_record, struct_build};

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut args = Args::parse(
        attr,
        "middleware",
        &["server", "global", "priority", "paths", "default"],
    );
    let mut strukt: syn::ItemStruct = match crate::attr::parse_item(item.clone()) {
        Ok(s) => s,
        Err(_) => {
            return crate::attr::wrong_item(
                item,
                "#[middleware] goes on a struct that implements `ws_core::Middleware`",
            )
        }
    };
    let global = args.flag("global");
    let server = match &global {
        Some(_) => args.optional_str("server", "\"ws\""),
        None => args.required_str("server", "\"ws\"", Span::call_site()),
    };
    let priority = args.optional_int("priority");
    let paths = args.optional_str_list("paths");
    let default = args.flag("default");
    let mut errors = std::mem::take(&mut args.errors);
    if let (Some(g), Some(_)) = (&global, &server) {
        errors.push(syn::Error::new_spanned(
            g,
            "`global` runs on every server; remove it or remove `server = ..`",
        ));
    }
    for p in &paths {
        crate::attr::check_path_lit(p, &mut errors);
    }
    if let (Some(_), Some(p)) = (&global, paths.first()) {
        errors.push(syn::Error::new_spanned(
            p,
            "`paths` names routes of one server; use `server = \"..\"` instead of `global`",
        ));
    }
    if let Some(p) = &priority {
        if let Err(e) = p.base10_parse::<i32>() {
            errors.push(syn::Error::new_spanned(
                p,
                format!("`priority` must fit in an i32: {e}"),
            ));
        }
    }
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
