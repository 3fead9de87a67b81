//! The code every registration shares: the record's origin and its `linkme` static, how a
//! registered struct is built (`#[inject]` and `#[default]` fields, or its own `Default`), and
//! how injected values are resolved.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;

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

/// Injected values: each a type whose `FromResolver` impl builds it at start-up.
pub(crate) struct Injected {
    /// `(binding name, type)`, in order.
    values: Vec<(syn::Ident, syn::Type)>,
}

impl Injected {
    /// Names the values `{prefix}0`, `{prefix}1`, ...
    pub(crate) fn new<'a>(prefix: &str, types: impl IntoIterator<Item = &'a syn::Type>) -> Self {
        let values = types
            .into_iter()
            .enumerate()
            .map(|(i, ty)| (format_ident!("{prefix}{i}"), ty.clone()))
            .collect();
        Self { values }
    }

    /// The binding names, in order.
    pub(crate) fn names(&self) -> impl Iterator<Item = &syn::Ident> {
        self.values.iter().map(|(name, _)| name)
    }

    /// Statements that bind every value by its name, in a function of `__resolver` that
    /// returns `Result<_, StartupError>` and has `__ORIGIN` in scope. Every value is built
    /// before any error returns, so that all of a registration's problems are reported.
    /// Type errors (a type that is not injectable) land on the user's type.
    pub(crate) fn resolve(&self) -> TokenStream {
        if self.values.is_empty() {
            return TokenStream::new();
        }
        let names: Vec<_> = self.names().collect();
        let exprs = self.values.iter().map(|(_, ty)| {
            quote_spanned! {ty.span()=>
                <#ty as ::ws_core::__private::FromResolver>::from_resolver(__resolver, __ORIGIN)
            }
        });
        quote! {
            let (#(#names,)*) = match (#(#exprs,)*) {
                (#(::core::result::Result::Ok(#names),)*) => (#(#names,)*),
                (#(#names,)*) => {
                    return ::core::result::Result::Err(::ws_core::__private::failed([
                        #(::core::result::Result::err(#names)),*
                    ]));
                }
            };
        }
    }

    /// The singleton dependencies of the values, as a const slice expression.
    pub(crate) fn deps(&self) -> TokenStream {
        let deps = self.values.iter().map(|(_, ty)| {
            quote_spanned! {ty.span()=> <#ty as ::ws_core::__private::FromResolver>::DEPENDENCY }
        });
        quote! { &[#(#deps),*] }
    }
}

/// How a registered struct is built.
pub(crate) struct StructBuild {
    /// The `#[inject]` fields.
    pub(crate) injected: Injected,
    /// The value, once `injected.resolve()` has bound the injected fields.
    pub(crate) value: TokenStream,
}

/// How a field is filled, as its attributes say.
enum Fill {
    Inject,
    Default,
}

/// Reads (and removes, so that the re-emitted struct compiles) the `#[inject]`/`#[default]`
/// attributes of `strukt`'s fields and says how to build it. `whole_default` is the `default`
/// key of the registration's attribute (`macro_name`, e.g. `ws_controller`): the struct's own
/// `Default` impl builds it. Unit structs are themselves. Any other field needs `#[inject]` or
/// `#[default]`; mistakes go into `errors`, each on its field or attribute.
pub(crate) fn struct_build(
    strukt: &mut syn::ItemStruct,
    whole_default: Option<&syn::Ident>,
    macro_name: &str,
    errors: &mut Vec<syn::Error>,
) -> StructBuild {
    let ident = strukt.ident.clone();
    let mut fills = Vec::new();
    for (index, field) in strukt.fields.iter_mut().enumerate() {
        let fill = field_fill(field, whole_default, macro_name, errors);
        if fill.is_none() && whole_default.is_none() {
            errors.push(plain_field(field, index, macro_name));
        }
        fills.push(fill);
    }
    if let Some(key) = whole_default {
        return StructBuild {
            injected: Injected::new("__field", []),
            value: quote_spanned! {key.span()=> <#ident as ::core::default::Default>::default() },
        };
    }
    let fields: Vec<_> = strukt.fields.iter().zip(&fills).collect();
    let injected = Injected::new(
        "__field",
        fields
            .iter()
            .filter(|(_, fill)| matches!(fill, Some(Fill::Inject)))
            .map(|(f, _)| &f.ty),
    );
    let mut names = injected.names().cloned().collect::<Vec<_>>().into_iter();
    let mut values = Vec::new();
    for (field, fill) in &fields {
        let ty = &field.ty;
        values.push(match fill {
            Some(Fill::Inject) => names.next().map_or_else(TokenStream::new, |n| quote!(#n)),
            _ => quote_spanned! {ty.span()=> <#ty as ::core::default::Default>::default() },
        });
    }
    let value = match &strukt.fields {
        syn::Fields::Unit => quote! { #ident },
        syn::Fields::Named(named) => {
            let inits = named.named.iter().zip(&values).map(|(f, v)| {
                let name = &f.ident;
                quote! { #name: #v }
            });
            quote! { #ident { #(#inits),* } }
        }
        syn::Fields::Unnamed(_) => quote! { #ident ( #(#values),* ) },
    };
    StructBuild { injected, value }
}

/// The `#[inject]`/`#[default]` attribute of `field`, removed from it.
fn field_fill(
    field: &mut syn::Field,
    whole_default: Option<&syn::Ident>,
    macro_name: &str,
    errors: &mut Vec<syn::Error>,
) -> Option<Fill> {
    let mut fill: Option<(Fill, String)> = None;
    let mut kept = Vec::new();
    for attr in std::mem::take(&mut field.attrs) {
        let this = if attr.path().is_ident("inject") {
            Fill::Inject
        } else if attr.path().is_ident("default") {
            Fill::Default
        } else {
            kept.push(attr);
            continue;
        };
        let name = if matches!(this, Fill::Inject) {
            "inject"
        } else {
            "default"
        };
        if !matches!(attr.meta, syn::Meta::Path(_)) {
            errors.push(syn::Error::new_spanned(
                &attr.meta,
                format!("`#[{name}]` takes no arguments; write just `#[{name}]`"),
            ));
        }
        if let Some(key) = whole_default {
            errors.push(syn::Error::new_spanned(
                &attr,
                format!(
                    "`#[{name}]` has no effect: `{key}` on #[{macro_name}] builds the whole struct \
                     with its own `Default` impl; remove `#[{name}]`, or remove `{key}` to build \
                     the struct field by field"
                ),
            ));
        }
        match &fill {
            Some((_, first)) if first == name => errors.push(syn::Error::new_spanned(
                &attr,
                format!("`#[{name}]` is given twice; give it once"),
            )),
            Some((_, first)) => errors.push(syn::Error::new_spanned(
                &attr,
                format!(
                    "a field is injected or defaulted, not both: keep `#[{first}]` or `#[{name}]`"
                ),
            )),
            None => fill = Some((this, name.to_owned())),
        }
    }
    field.attrs = kept;
    fill.map(|(f, _)| f)
}

/// The error on a field that is neither `#[inject]` nor `#[default]`: how to write either.
fn plain_field(field: &syn::Field, index: usize, macro_name: &str) -> syn::Error {
    let ty = type_text(&field.ty);
    let whole = if macro_name == "singleton" {
        "#[singleton(default)]".to_owned()
    } else {
        format!("#[{macro_name}(.., default)]")
    };
    let (what, name) = match &field.ident {
        Some(i) => (format!("field `{i}`"), format!("{i}: ")),
        None => (format!("field {index}"), String::new()),
    };
    let message = if names_injectable(&field.ty) {
        format!("{what} is not injected: write `#[inject] {name}{ty}` to fill it at start-up")
    } else {
        format!(
            "{what} is neither injected nor defaulted: write `#[inject] {name}Inject<{ty}>` if \
             `{ty}` is a #[singleton] to share, or `#[default] {name}{ty}` for a value of its own \
             (built with `Default::default()`); `{whole}` builds the whole struct with its \
             `Default` impl instead"
        )
    };
    let tokens = match &field.ident {
        Some(i) => {
            let colon = field.colon_token;
            let ty = &field.ty;
            quote!(#i #colon #ty)
        }
        None => field.ty.to_token_stream(),
    };
    syn::Error::new_spanned(tokens, message)
}

/// Whether `ty` is spelled like one of ws-core's injectable types. Only the wording of the
/// "not injected" hint depends on it (a macro cannot know what a name resolves to): never
/// what is injected.
fn names_injectable(ty: &syn::Type) -> bool {
    let syn::Type::Path(p) = ty else {
        return false;
    };
    p.path.segments.last().is_some_and(|s| {
        ["Inject", "Settings", "Sender", "Config", "LiveConfig"]
            .contains(&s.ident.to_string().as_str())
    })
}

/// Refuses a first argument taken by reference: `what` (e.g. "an HTTP route takes the request
/// by value") is followed by the argument as it should be written.
pub(crate) fn first_arg_by_value(sig: &syn::Signature, what: &str, errors: &mut Vec<syn::Error>) {
    if let Some(syn::FnArg::Typed(first)) = sig.inputs.first() {
        arg_by_value(first, what, errors);
    }
}

/// An error on `arg`'s type if it is a reference, saying `what` and how to write it instead.
pub(crate) fn arg_by_value(arg: &syn::PatType, what: &str, errors: &mut Vec<syn::Error>) {
    if let syn::Type::Reference(r) = arg.ty.as_ref() {
        let pat = &arg.pat;
        errors.push(syn::Error::new_spanned(
            r,
            format!(
                "{what}: write `{}: {}`, without `{}`",
                quote!(#pat),
                type_text(&r.elem),
                if r.mutability.is_some() { "&mut" } else { "&" }
            ),
        ));
    }
}

/// A type as a user writes it (`Inject<Counter>`, not `Inject < Counter >`), for messages.
pub(crate) fn type_text(ty: &syn::Type) -> String {
    let mut s = ty.to_token_stream().to_string();
    for (from, to) in [
        (" < ", "<"),
        ("< ", "<"),
        (" <", "<"),
        (" >", ">"),
        (" :: ", "::"),
        (":: ", "::"),
        (" ,", ","),
        ("& ", "&"),
        ("' ", "'"),
    ] {
        s = s.replace(from, to);
    }
    s
}

/// The span of a function's return type (its name when it has none), where errors about what
/// it returns belong.
pub(crate) fn return_span(sig: &syn::Signature) -> Span {
    match &sig.output {
        syn::ReturnType::Type(_, ty) => ty.span(),
        syn::ReturnType::Default => sig.ident.span(),
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
