//! The code every registration shares: the record's origin and its `linkme` static.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};

/// `Origin { name, file, line }` of the registered item `ident`.
pub(crate) fn origin(ident: &syn::Ident) -> TokenStream {
    quote! {
        ::ws_core::__private::Origin {
            name: ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#ident)),
            file: ::core::file!(),
            line: ::core::line!(),
        }
    }
}

/// A `static` record of type `def_ty` in distributed slice `slice`, plus `support` items,
/// wrapped in an anonymous const so nothing leaks into the user's namespace.
pub(crate) fn static_record(
    ident: &syn::Ident,
    slice: &str,
    def_ty: &str,
    record: TokenStream,
    support: TokenStream,
) -> TokenStream {
    let slice = format_ident!("{slice}");
    let def_ty = format_ident!("{def_ty}");
    let static_name = format_ident!("__WS_REGISTRATION_{}", ident);
    quote! {
        const _: () = {
            #support

            #[::ws_core::__private::linkme::distributed_slice(::ws_core::__private::#slice)]
            #[linkme(crate = ::ws_core::__private::linkme)]
            #[allow(non_upper_case_globals)]
            static #static_name: ::ws_core::__private::#def_ty = #record;
        };
    }
}

/// The constructor expression of a registered struct: a unit struct is itself; a struct with no
/// injected field is `Default::default()`; otherwise `Inject<T>`/`Settings<T>`/`Sender` fields are injected
/// and the other fields are `Default::default()`.
pub(crate) fn construct(ident: &syn::Ident, fields: &syn::Fields) -> TokenStream {
    let value = |ty: &syn::Type| {
        if is_injected(ty) {
            quote! { <#ty as ::ws_core::__private::FromResolver>::from_resolver(__resolver, __ORIGIN)? }
        } else {
            quote! { <#ty as ::core::default::Default>::default() }
        }
    };
    if !matches!(fields, syn::Fields::Unit) && !fields.iter().any(|f| is_injected(&f.ty)) {
        // Nothing to inject: the type's own `Default` (which may be hand-written).
        return quote_spanned! {ident.span()=> <#ident as ::core::default::Default>::default() };
    }
    match fields {
        syn::Fields::Unit => quote! { #ident },
        syn::Fields::Named(named) => {
            let inits = named.named.iter().map(|f| {
                let name = &f.ident;
                let v = value(&f.ty);
                quote! { #name: #v }
            });
            quote! { #ident { #(#inits),* } }
        }
        syn::Fields::Unnamed(unnamed) => {
            let inits = unnamed.unnamed.iter().map(|f| value(&f.ty));
            quote! { #ident ( #(#inits),* ) }
        }
    }
}

/// The singleton dependencies of the injected fields, as a const slice expression.
pub(crate) fn field_deps(fields: &syn::Fields) -> TokenStream {
    let deps = fields.iter().filter(|f| is_injected(&f.ty)).map(|f| {
        let ty = &f.ty;
        quote! { <#ty as ::ws_core::__private::FromResolver>::DEPENDENCY }
    });
    quote! { &[#(#deps),*] }
}

/// Whether a field type is filled from the container: `Inject<..>`, `Settings<..>` or
/// `Sender`.
fn is_injected(ty: &syn::Type) -> bool {
    match ty {
        syn::Type::Path(p) => {
            p.path.segments.last().is_some_and(|s| {
                s.ident == "Inject" || s.ident == "Settings" || s.ident == "Sender"
            })
        }
        _ => false,
    }
}

/// Rejects generics on a registered type (the registry holds one concrete type).
pub(crate) fn no_generics(generics: &syn::Generics, what: &str, errors: &mut Vec<syn::Error>) {
    if !generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &generics.params,
            format!("#[{what}] needs a concrete type: remove the generic parameters (one registration is one type)"),
        ));
    }
}
