//! The arguments of an `#[http_route]` or `#[ws_handler]` function that the generated code
//! takes from a request: each a `RouteArg`, prepared once at start-up (an injected value is
//! resolved there), then extracted from each request (or handshake) and finished once every
//! argument has looked at it. Every use of an argument's trait is spanned on the user's type,
//! where its errors land.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

pub(crate) struct RouteArgs {
    types: Vec<syn::Type>,
    states: Vec<syn::Ident>,
    pending: Vec<syn::Ident>,
    values: Vec<syn::Ident>,
}

impl RouteArgs {
    pub(crate) fn new(types: Vec<syn::Type>) -> Self {
        // Bindings spanned on their argument's type too: an error about their type lands there.
        let named = |prefix: &str| -> Vec<syn::Ident> {
            types
                .iter()
                .enumerate()
                .map(|(i, ty)| format_ident!("{prefix}{i}", span = ty.span()))
                .collect()
        };
        Self {
            states: named("__state"),
            pending: named("__pending"),
            values: named("__arg"),
            types,
        }
    }

    /// `<T as RouteArg>::$rest` for each argument, spanned on its type.
    fn each(&self, rest: impl Fn(usize) -> TokenStream) -> Vec<TokenStream> {
        self.types
            .iter()
            .enumerate()
            .map(|(i, ty)| {
                let rest = rest(i);
                quote_spanned!(ty.span()=> <#ty as ::ws_core::__private::RouteArg>::#rest)
            })
            .collect()
    }

    /// The bindings of the finished arguments, in order.
    pub(crate) fn values(&self) -> &[syn::Ident] {
        &self.values
    }

    /// Statements, in a function of `__resolver` returning `Result<_, StartupError>` with
    /// `__ORIGIN` in scope, that bind `__states`: every argument prepared (all of them before
    /// any error returns, so that all of a registration's problems are reported).
    pub(crate) fn prepare(&self) -> TokenStream {
        let states = &self.states;
        let prepares = self.each(|_| quote!(prepare(__resolver, __ORIGIN)));
        let bind = if self.types.is_empty() {
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
        quote! {
            #bind
            let __states = ::std::sync::Arc::new((#(#states,)*));
        }
    }

    /// Statements, where `__states` (a clone of the prepared `Arc`) and `__req` (the request,
    /// or a reference to it) are in scope, that bind each argument's value to
    /// [`values`](Self::values): first every argument looks at the request, then `slot` (an
    /// `Option<Request>`: the request, or `None` where it cannot be taken) is made and the
    /// argument that takes the request moves it out. `refuse` is what a refusal (`__refusal`,
    /// a `Response`) does.
    pub(crate) fn take(&self, slot: TokenStream, refuse: TokenStream) -> TokenStream {
        let (pending, values) = (&self.pending, &self.values);
        let extracts = self.each(|i| {
            let index = syn::Index::from(i);
            quote!(extract(&__states.#index, &__req))
        });
        let finishes = self.each(|i| {
            let pending = &self.pending[i];
            quote!(finish(#pending, &mut __slot))
        });
        quote! {
            #(
                let #pending = match #extracts.await {
                    ::core::result::Result::Ok(p) => p,
                    ::core::result::Result::Err(__refusal) => #refuse,
                };
            )*
            let mut __slot: ::core::option::Option<::ws_core::__private::Request> = #slot;
            #(
                let #values = match #finishes {
                    ::core::option::Option::Some(v) => v,
                    ::core::option::Option::None => {
                        let __refusal = ::ws_core::__private::request_taken_twice();
                        #refuse
                    }
                };
            )*
            ::core::mem::drop(__slot);
        }
    }

    /// Whether each argument takes the request, as a slice expression.
    pub(crate) fn takes(&self) -> TokenStream {
        let takes = self.each(|_| quote!(TAKES_REQUEST));
        quote! { &[#(#takes),*] }
    }

    /// The singleton dependencies of the arguments, as a const slice expression.
    pub(crate) fn deps(&self) -> TokenStream {
        let deps = self.each(|_| quote!(DEPENDENCY));
        quote! { &[#(#deps),*] }
    }
}
