//! `#[singleton]`: a shared service built once at start-up.

use proc_macro2::TokenStream;
use quote::quote;

use crate::attr::Args;
use crate::register::{construct, no_generics, origin, static_record};

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let args = Args::parse(attr, "singleton", &[]);
    let strukt: syn::ItemStruct = match crate::attr::parse_item(item.clone()) {
        Ok(s) => s,
        Err(_) => {
            return crate::attr::wrong_item(
                item,
                "#[singleton] goes on a struct, e.g. `#[singleton] #[derive(Default)] pub struct Rooms { .. }`",
            )
        }
    };
    let mut errors = args.errors;
    no_generics(&strukt.generics, "singleton", &mut errors);
    if !errors.is_empty() {
        let errs = crate::attr::to_compile_errors(errors);
        return quote! { #strukt #errs };
    }
    let ident = &strukt.ident;
    let origin = origin(ident);
    let build = construct(ident, &strukt.fields);
    let support = quote! {
        const __ORIGIN: ::ws_core::__private::Origin = #origin;
        fn __build(
            __resolver: &::ws_core::__private::Resolver<'_>,
        ) -> ::core::result::Result<
            ::std::sync::Arc<dyn ::core::any::Any + ::core::marker::Send + ::core::marker::Sync>,
            ::ws_core::__private::StartupError,
        > {
            ::core::result::Result::Ok(::ws_core::__private::singleton(#build))
        }
    };
    let record = quote! {
        ::ws_core::__private::SingletonDef {
            origin: __ORIGIN,
            type_id: ::ws_core::__private::type_id::<#ident>,
            build: __build,
        }
    };
    let reg = static_record(ident, "SINGLETONS", "SingletonDef", record, support);
    quote! { #strukt #reg }
}
