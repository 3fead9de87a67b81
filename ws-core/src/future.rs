//! [`BoxFuture`]: the one boxed future type of the crate (hooks behind a pointer, handlers,
//! brokers).

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
