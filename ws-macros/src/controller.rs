//! `#[ws_controller(server = "..", path = "..", protocol = .., protocol_required)]`.

use proc_macro2::{Span, TokenStream};
use quote::quote;

use crate::attr::{check_path_lit, Args};
use crate::register::{construct, no_generics, origin, static_record};

const KEYS: &[&str] = &["server", "path", "protocol", "protocol_required"];

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut args = Args::parse(attr, "ws_controller", KEYS);
    let strukt: syn::ItemStruct = match crate::attr::parse_item(item.clone()) {
        Ok(s) => s,
        Err(_) => {
            return crate::attr::wrong_item(
                item,
                "#[ws_controller] goes on a struct, e.g. `pub struct Chat;` or a struct with `Inject<T>` fields",
            )
        }
    };
    let span = Span::call_site();
    let server = args.required_str("server", "\"ws\"", span);
    let path = args.required_str("path", "\"/chat\"", span);
    let protocols = args.optional_str_list("protocol");
    let required = args.optional_bool("protocol_required");
    let mut errors = std::mem::take(&mut args.errors);
    if let Some(p) = &path {
        check_path_lit(p, &mut errors);
    }
    if let Some(r) = &required {
        if r.value && protocols.is_empty() {
            errors.push(syn::Error::new_spanned(
                r,
                "`protocol_required` needs `protocol = \"name\"` (the protocols a client must offer)",
            ));
        }
    }
    no_generics(&strukt.generics, "ws_controller", &mut errors);
    let (Some(server), Some(path), true) = (server, path, errors.is_empty()) else {
        let errs = crate::attr::to_compile_errors(errors);
        return quote! { #strukt #errs };
    };
    let ident = &strukt.ident;
    let origin = origin(ident);
    let build = construct(ident, &strukt.fields);
    let required = required.is_some_and(|r| r.value);
    let support = quote! {
        const __ORIGIN: ::ws_core::__private::Origin = #origin;
        fn __build(
            __resolver: &::ws_core::__private::Resolver<'_>,
        ) -> ::core::result::Result<
            ::std::sync::Arc<dyn ::ws_core::__private::ErasedControllerHandle>,
            ::ws_core::__private::StartupError,
        > {
            ::core::result::Result::Ok(::ws_core::__private::controller(#build))
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
    quote! { #strukt #reg }
}
