//! RFC 6455 itself, with no knowledge of apps, tables or tasks: reading a frame and checking
//! every rule about a single frame, assembling messages from frames, writing a frame, and close
//! codes; and its one extension, permessage-deflate (RFC 7692).
//!
//! | file | what |
//! | --- | --- |
//! | `head.rs` | a frame header, checked by every rule about a single frame |
//! | `reader.rs` | one frame from a byte stream, buffering only a frame not yet complete |
//! | `slab.rs` | the chunk a thread carves small payloads out of, instead of one allocation each |
//! | `assemble.rs` | whole messages from frames: fragments, size limit, UTF-8 |
//! | `error.rs` | the rules a client can break, read errors, and the close code for each |
//! | `writer.rs` | one frame to a byte stream, header and payload in one vectored write |
//! | `close.rs` | close codes, the close frame `on_close` sees, close payloads |
//! | `extension.rs` | negotiating permessage-deflate from the client's offers |
//! | `deflate.rs` | a connection's compressor and decompressor, bounded by the size limit |

pub(crate) mod assemble;
pub(crate) mod close;
pub(crate) mod deflate;
pub(crate) mod error;
pub(crate) mod extension;
pub(crate) mod head;
pub(crate) mod reader;
pub(crate) mod slab;
pub(crate) mod writer;
