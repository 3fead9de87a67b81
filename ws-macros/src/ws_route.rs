//! What `#[ws_controller]` and `#[ws_handler]` share: the route arguments
//! (`server`, `path`, `protocol`, `protocol_required`, `compression`; `default` for a
//! controller) and the
//! `ControllerDef` registration.

use proc_macro2::{Span, TokenStream};
use quote::quote;

use crate::attr::{check_path_lit, Args};
use crate::register::{origin, static_record};

const KEYS: &[&str] = &[
    "server",
    "path",
    "protocol",
    "protocol_required",
    "compression",
];
const CONTROLLER_KEYS: &[&str] = &[
    "server",
    "path",
    "protocol",
    "protocol_required",
    "compression",
    "default",
];

/// The checked arguments of a WebSocket route attribute.
pub(crate) struct WsRouteArgs {
    server: Option<syn::LitStr>,
    path: Option<syn::LitStr>,
    protocols: Vec<syn::LitStr>,
    required: bool,
    /// `compression = true`: permessage-deflate on this route.
    compression: bool,
    /// `default`: the struct is built by its own `Default` impl.
    pub(crate) default: Option<syn::Ident>,
    /// Every problem found, each on its token.
    pub(crate) errors: Vec<syn::Error>,
}

impl WsRouteArgs {
    /// Parses the arguments of `#[macro_name(..)]`; `path_example` goes into the "missing
    /// `path`" message; `on_struct` admits the `default` key.
    pub(crate) fn parse(
        attr: TokenStream,
        macro_name: &str,
        path_example: &str,
        on_struct: bool,
    ) -> Self {
        let keys = if on_struct { CONTROLLER_KEYS } else { KEYS };
        let mut args = Args::parse(attr, macro_name, keys);
        let span = Span::call_site();
        let server = args.required_str("server", "\"ws\"", span);
        let path = args.required_str("path", path_example, span);
        let protocols = args.optional_str_list("protocol");
        let required = args.optional_bool("protocol_required");
        let compression = args.optional_bool("compression");
        let default = args.flag("default");
        let mut errors = std::mem::take(&mut args.errors);
        if let Some(p) = &path {
            check_path_lit(p, &mut errors);
        }
        if let Some(r) = required
            .as_ref()
            .filter(|r| r.value && protocols.is_empty())
        {
            errors.push(syn::Error::new_spanned(
                r,
                "`protocol_required` needs `protocol = \"name\"` (the protocols a client must offer)",
            ));
        }
        Self {
            server,
            path,
            protocols,
            required: required.is_some_and(|r| r.value),
            compression: compression.is_some_and(|c| c.value),
            default,
            errors,
        }
    }

    /// The registration of `ident` as a WebSocket route. `build` is the body of
    /// `fn __build(__resolver) -> Result<Arc<dyn ErasedControllerHandle>, StartupError>`,
    /// which may use `__ORIGIN`; `deps` the singletons it injects. `None` when the arguments
    /// had errors.
    pub(crate) fn register(
        &self,
        ident: &syn::Ident,
        deps: TokenStream,
        build: TokenStream,
    ) -> Option<TokenStream> {
        let (Some(server), Some(path), true) = (&self.server, &self.path, self.errors.is_empty())
        else {
            return None;
        };
        let origin = origin(ident);
        let (protocols, required, compression) = (&self.protocols, self.required, self.compression);
        let support = quote! {
            const __ORIGIN: ::ws_core::__private::Origin = #origin;
            fn __build(
                __resolver: &::ws_core::__private::Resolver<'_>,
            ) -> ::core::result::Result<
                ::std::sync::Arc<dyn ::ws_core::__private::ErasedControllerHandle>,
                ::ws_core::__private::StartupError,
            > {
                #build
            }
        };
        let record = quote! {
            ::ws_core::__private::ControllerDef {
                origin: __ORIGIN,
                server: #server,
                path: #path,
                protocols: &[#(#protocols),*],
                protocol_required: #required,
                compression: #compression,
                deps: #deps,
                build: __build,
            }
        };
        Some(static_record(
            ident,
            "CONTROLLERS",
            "ControllerDef",
            record,
            support,
        ))
    }
}
