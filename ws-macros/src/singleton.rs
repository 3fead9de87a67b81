//! `#[singleton]`: a shared service built once at start-up, in dependency order.
//!
//! On a struct: built like a controller (`#[inject]` fields injected, `#[default]` fields
//! with `Default::default()`), or by its own `Default` impl with `#[singleton(default)]`. On
//! an `impl` block: built by its `fn new(..)`, whose parameters are injected (their types
//! implement `FromResolver`) and which returns `Self` or `Result<Self, E: Display>`.
//! `provides = dyn Trait` (or `[dyn A, dyn B]`) binds the singleton to trait objects too:
//! it is then injected as `Inject<dyn Trait>` as well as `Inject<Self>`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::attr::Args;
use crate::register::{no_generics, origin, return_span, static_record, struct_build, Injected};

const KEYS: &[&str] = &["default", "provides"];

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut args = Args::parse_with_types(attr, "singleton", KEYS, &["provides"]);
    let default = args.flag("default");
    let provides = args.types("provides", "dyn Repo");
    for ty in &provides {
        if !matches!(ty, syn::Type::TraitObject(_)) {
            args.errors.push(syn::Error::new_spanned(
                ty,
                "`provides` takes trait objects, e.g. `provides = dyn Repo` (the singleton is \
                 injected as `Inject<Self>` already)",
            ));
        }
    }
    let singleton = Singleton {
        errors: std::mem::take(&mut args.errors),
        default,
        provides,
    };
    match syn::parse2::<syn::Item>(item.clone()) {
        Ok(syn::Item::Struct(s)) => singleton.on_struct(s),
        Ok(syn::Item::Impl(i)) => singleton.on_impl(i),
        _ => crate::attr::wrong_item(
            item,
            "#[singleton] goes on a struct (`#[inject]`/`#[default]` fields, or \
             `#[singleton(default)]` to build it with `Default`) or on an `impl` block with a \
             constructor `fn new(..) -> Self`",
        ),
    }
}

/// The checked arguments.
struct Singleton {
    errors: Vec<syn::Error>,
    default: Option<syn::Ident>,
    provides: Vec<syn::Type>,
}

impl Singleton {
    /// The registration of `ty`: `resolve` binds the injected values, then `value` is the
    /// singleton.
    fn record(
        &self,
        ident: &syn::Ident,
        ty: TokenStream,
        injected: &Injected,
        value: TokenStream,
    ) -> TokenStream {
        let origin = origin(ident);
        let resolve = injected.resolve();
        let deps = injected.deps();
        let binds: Vec<_> = (0..self.provides.len())
            .map(|i| format_ident!("__provide{i}"))
            .collect();
        // The unsizing `Arc<Self> -> Arc<dyn Trait>` is written out here, where both types
        // are known; a type that does not implement the trait fails on the `provides` type.
        let bind_fns = self.provides.iter().zip(&binds).map(|(p, name)| {
            let coerce = quote_spanned! {p.span()=>
                ::ws_core::__private::provide::<#ty, #p>(
                    __built,
                    |__s: ::std::sync::Arc<#ty>| -> ::std::sync::Arc<#p> { __s },
                )
            };
            quote! {
                fn #name(
                    __built: &(dyn ::core::any::Any + ::core::marker::Send + ::core::marker::Sync),
                ) -> ::core::option::Option<::ws_core::__private::ErasedSingleton> {
                    #coerce
                }
            }
        });
        let bindings = self.provides.iter().zip(&binds).map(|(p, name)| {
            quote! {
                ::ws_core::__private::Binding {
                    type_id: ::ws_core::__private::type_id::<#p>,
                    type_name: ::ws_core::__private::type_name::<#p>,
                    bind: #name,
                }
            }
        });
        let support = quote! {
            const __ORIGIN: ::ws_core::__private::Origin = #origin;
            fn __build(
                __resolver: &::ws_core::__private::Resolver<'_>,
            ) -> ::core::result::Result<
                ::ws_core::__private::ErasedSingleton,
                ::ws_core::__private::StartupError,
            > {
                #resolve
                ::core::result::Result::Ok(::ws_core::__private::singleton::<#ty>(#value))
            }
            #(#bind_fns)*
        };
        let record = quote! {
            ::ws_core::__private::SingletonDef {
                origin: __ORIGIN,
                type_id: ::ws_core::__private::type_id::<#ty>,
                provides: &[#(#bindings),*],
                deps: #deps,
                build: __build,
            }
        };
        static_record(ident, "SINGLETONS", "SingletonDef", record, support)
    }

    fn on_struct(mut self, mut strukt: syn::ItemStruct) -> TokenStream {
        no_generics(&strukt.generics, "singleton", &mut self.errors);
        let build = struct_build(
            &mut strukt,
            self.default.as_ref(),
            "singleton",
            &mut self.errors,
        );
        if !self.errors.is_empty() {
            let errs = crate::attr::to_compile_errors(self.errors);
            return quote! { #strukt #errs };
        }
        let ident = &strukt.ident;
        let reg = self.record(ident, quote!(#ident), &build.injected, build.value);
        quote! { #strukt #reg }
    }

    fn on_impl(mut self, imp: syn::ItemImpl) -> TokenStream {
        let errors = &mut self.errors;
        if let Some(key) = &self.default {
            errors.push(syn::Error::new_spanned(
                key,
                "`default` is for a #[singleton] struct; an impl block is built by its `fn new(..)`",
            ));
        }
        let ident = match imp.self_ty.as_ref() {
            syn::Type::Path(p) if p.qself.is_none() => {
                p.path.segments.last().map(|s| s.ident.clone())
            }
            _ => None,
        };
        if imp.trait_.is_some() {
            errors.push(syn::Error::new_spanned(
                imp.impl_token,
                "#[singleton] goes on an inherent `impl Type { fn new(..) -> Self }`, not a trait impl",
            ));
        }
        no_generics(&imp.generics, "singleton", errors);
        let new = imp.items.iter().find_map(|item| match item {
            syn::ImplItem::Fn(f) if f.sig.ident == "new" => Some(f),
            _ => None,
        });
        let Some(new) = new else {
            errors.push(syn::Error::new_spanned(
                &imp.self_ty,
                "a #[singleton] impl block needs a constructor `fn new(..) -> Self` whose \
                 parameters are injected (`Inject<T>`, `Settings<T>`, `Sender`, `Config`, \
                 `LiveConfig`)",
            ));
            let errs = crate::attr::to_compile_errors(self.errors);
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
            let errs = crate::attr::to_compile_errors(self.errors);
            return quote! { #imp #errs };
        };
        if !errors.is_empty() {
            let errs = crate::attr::to_compile_errors(self.errors);
            return quote! { #imp #errs };
        }
        let self_ty = &imp.self_ty;
        let injected = Injected::new(
            "__arg",
            new.sig.inputs.iter().filter_map(|a| match a {
                syn::FnArg::Typed(t) => Some(t.ty.as_ref()),
                syn::FnArg::Receiver(_) => None,
            }),
        );
        let names = injected.names();
        // What `new` returns is checked where it is written: `Self` or `Result<Self, E>`.
        let returned = quote_spanned! {return_span(&new.sig)=>
            ::ws_core::__private::constructed::<#self_ty, _>(__value, __ORIGIN)?
        };
        let value = quote! {{
            let __value = <#self_ty>::new(#(#names),*);
            #returned
        }};
        let reg = self.record(&ident, quote!(#self_ty), &injected, value);
        quote! { #imp #reg }
    }
}
