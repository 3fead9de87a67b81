//! `#[singleton]`: a shared service built once at start-up, in dependency order.
//!
//! On a struct: built like a controller (`Inject<T>`/`Sender` fields injected, the rest
//! `Default`). On an `impl` block: built by its `fn new(..)`, whose parameters are injected
//! (`Inject<T>`, `Sender`, `Config`) and which returns `Self` or `Result<Self, E: Display>`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::attr::Args;
use crate::register::{construct, field_deps, no_generics, origin, static_record};

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let args = Args::parse(attr, "singleton", &[]);
    match syn::parse2::<syn::Item>(item.clone()) {
        Ok(syn::Item::Struct(s)) => on_struct(args, s),
        Ok(syn::Item::Impl(i)) => on_impl(args, i),
        _ => crate::attr::wrong_item(
            item,
            "#[singleton] goes on a struct (built with `Default`, `Inject<T>` fields injected) \
             or on an `impl` block with a constructor `fn new(..) -> Self`",
        ),
    }
}

fn record(
    ident: &syn::Ident,
    ty: TokenStream,
    deps: TokenStream,
    build: TokenStream,
) -> TokenStream {
    let origin = origin(ident);
    let support = quote! {
        const __ORIGIN: ::ws_core::__private::Origin = #origin;
        fn __build(
            __resolver: &::ws_core::__private::Resolver<'_>,
        ) -> ::core::result::Result<
            ::std::sync::Arc<dyn ::core::any::Any + ::core::marker::Send + ::core::marker::Sync>,
            ::ws_core::__private::StartupError,
        > {
            ::core::result::Result::Ok(::ws_core::__private::singleton::<#ty>(#build))
        }
    };
    let record = quote! {
        ::ws_core::__private::SingletonDef {
            origin: __ORIGIN,
            type_id: ::ws_core::__private::type_id::<#ty>,
            deps: #deps,
            build: __build,
        }
    };
    static_record(ident, "SINGLETONS", "SingletonDef", record, support)
}

fn on_struct(args: Args, strukt: syn::ItemStruct) -> TokenStream {
    let mut errors = args.errors;
    no_generics(&strukt.generics, "singleton", &mut errors);
    if !errors.is_empty() {
        let errs = crate::attr::to_compile_errors(errors);
        return quote! { #strukt #errs };
    }
    let ident = &strukt.ident;
    let build = construct(ident, &strukt.fields);
    let reg = record(ident, quote!(#ident), field_deps(&strukt.fields), build);
    quote! { #strukt #reg }
}

fn on_impl(args: Args, imp: syn::ItemImpl) -> TokenStream {
    let mut errors = args.errors;
    let ident = match imp.self_ty.as_ref() {
        syn::Type::Path(p) if p.qself.is_none() => p.path.segments.last().map(|s| s.ident.clone()),
        _ => None,
    };
    if imp.trait_.is_some() {
        errors.push(syn::Error::new_spanned(
            imp.impl_token,
            "#[singleton] goes on an inherent `impl Type { fn new(..) -> Self }`, not a trait impl",
        ));
    }
    no_generics(&imp.generics, "singleton", &mut errors);
    let new = imp.items.iter().find_map(|item| match item {
        syn::ImplItem::Fn(f) if f.sig.ident == "new" => Some(f),
        _ => None,
    });
    let Some(new) = new else {
        errors.push(syn::Error::new_spanned(
            &imp.self_ty,
            "a #[singleton] impl block needs a constructor `fn new(..) -> Self` whose parameters \
             are `Inject<T>`, `Sender` or `Config`",
        ));
        let errs = crate::attr::to_compile_errors(errors);
        return quote! { #imp #errs };
    };
    if let Some(receiver) = new.sig.receiver() {
        errors.push(syn::Error::new_spanned(
            receiver,
            "the constructor takes no `self`: `fn new(rooms: Inject<Rooms>) -> Self`",
        ));
    }
    if let Some(a) = &new.sig.asyncness {
        errors.push(syn::Error::new_spanned(
            a,
            "the constructor is a plain `fn`, not `async fn`",
        ));
    }
    let Some(ident) = ident else {
        errors.push(syn::Error::new_spanned(
            &imp.self_ty,
            "#[singleton] needs a named type",
        ));
        let errs = crate::attr::to_compile_errors(errors);
        return quote! { #imp #errs };
    };
    if !errors.is_empty() {
        let errs = crate::attr::to_compile_errors(errors);
        return quote! { #imp #errs };
    }
    let self_ty = &imp.self_ty;
    let param_tys: Vec<&syn::Type> = new
        .sig
        .inputs
        .iter()
        .filter_map(|a| match a {
            syn::FnArg::Typed(t) => Some(t.ty.as_ref()),
            syn::FnArg::Receiver(_) => None,
        })
        .collect();
    let args = param_tys.iter().map(|ty| {
        quote_spanned! {ty.span()=>
            <#ty as ::ws_core::__private::FromResolver>::from_resolver(__resolver, __ORIGIN)?
        }
    });
    let deps = param_tys.iter().map(|ty| {
        quote_spanned! {ty.span()=> <#ty as ::ws_core::__private::FromResolver>::DEPENDENCY }
    });
    let returns_result = match &new.sig.output {
        syn::ReturnType::Type(_, ty) => matches!(ty.as_ref(), syn::Type::Path(p)
            if p.path.segments.last().is_some_and(|s| s.ident == "Result")),
        syn::ReturnType::Default => false,
    };
    let call = quote! { <#self_ty>::new(#(#args),*) };
    let build = if returns_result {
        quote! { #call.map_err(|e| ::ws_core::__private::constructor_failed(__ORIGIN, e))? }
    } else {
        call
    };
    let reg = record(&ident, quote!(#self_ty), quote!(&[#(#deps),*]), build);
    quote! { #imp #reg }
}
