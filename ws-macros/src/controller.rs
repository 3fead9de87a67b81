//! `#[ws_controller(server = "..", path = "..", protocol = .., protocol_required, default)]`.

use proc_macro2::TokenStream;
use quote::quote;

use crate::register::{no_generics, struct_build};
use crate::ws_route::WsRouteArgs;

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut args = WsRouteArgs::parse(attr, "ws_controller", "\"/chat\"", true);
    let mut strukt: syn::ItemStruct = match crate::attr::parse_item(item.clone()) {
        Ok(s) => s,
        Err(_) => {
            return crate::attr::wrong_item(
                item,
                "#[ws_controller] goes on a struct, e.g. `pub struct Chat;` or a struct with `#[inject]` fields",
            )
        }
    };
    no_generics(&strukt.generics, "ws_controller", &mut args.errors);
    let default = args.default.clone();
    let build = struct_build(
        &mut strukt,
        default.as_ref(),
        "ws_controller",
        &mut args.errors,
    );
    let resolve = build.injected.resolve();
    let value = build.value;
    let body = quote! {
        #resolve
        ::core::result::Result::Ok(::ws_core::__private::controller(#value))
    };
    match args.register(&strukt.ident, build.injected.deps(), body) {
        Some(reg) => quote! { #strukt #reg },
        None => {
            let errs = crate::attr::to_compile_errors(args.errors);
            quote! { #strukt #errs }
        }
    }
}
