//! `#[ws_controller(server = "..", path = "..", protocol = .., protocol_required)]`.

use proc_macro2::TokenStream;
use quote::quote;

use crate::register::{construct, no_generics};
use crate::ws_route::WsRouteArgs;

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut args = WsRouteArgs::parse(attr, "ws_controller", "\"/chat\"");
    let strukt: syn::ItemStruct = match crate::attr::parse_item(item.clone()) {
        Ok(s) => s,
        Err(_) => {
            return crate::attr::wrong_item(
                item,
                "#[ws_controller] goes on a struct, e.g. `pub struct Chat;` or a struct with `Inject<T>` fields",
            )
        }
    };
    no_generics(&strukt.generics, "ws_controller", &mut args.errors);
    let build = construct(&strukt.ident, &strukt.fields);
    let build = quote! {
        ::core::result::Result::Ok(::ws_core::__private::controller(#build))
    };
    match args.register(&strukt.ident, build) {
        Some(reg) => quote! { #strukt #reg },
        None => {
            let errs = crate::attr::to_compile_errors(args.errors);
            quote! { #strukt #errs }
        }
    }
}
