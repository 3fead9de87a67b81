//! permessage-deflate (RFC 7692 §7.2): the compressor and decompressor of one connection, as
//! negotiated ([`extension`](super::extension)), on zlib-rs through `flate2`.
//!
//! Memory, the point of most of what is here (the model is uWebSockets' shared compressor):
//!
//! - Without context takeover (`*_no_context_takeover`, the default answer), a connection
//!   keeps no zlib state at all: a message is compressed, or decompressed when it arrived in
//!   one frame, by a compressor or decompressor of the worker thread, reset before each use.
//!   Only a fragmented message keeps a decompressor of its own, from its first frame to its
//!   last.
//! - With context takeover, the side that takes it over keeps its stream for the connection's
//!   life: the compressor is zlib's state for the window (about `2^(bits + 3)` bytes plus
//!   zlib-rs's fixed 128 KiB hash table and 112 KiB of buffers), the decompressor about 7 KiB
//!   plus its window (`2^bits` bytes). README "Compression" gives the measured figures.
//!
//! Decompression is bounded by `max_message_size` as it goes: the output grows as the
//! decompressor fills it, never past the limit plus one byte, so a small frame that inflates
//! to gigabytes (a zip bomb) closes with 1009 once the limit is passed, having allocated at
//! most the limit. Compressed bytes that do not decompress close with 1007.
//!
//! A message compressed for many connections ([`Compressed`], a broadcast) is compressed once
//! per parameter set among the receivers without context takeover; a receiver with its own
//! context gets its own compression (its stream depends on what it was sent before).

use std::cell::RefCell;
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::error::Violation;
use super::extension::Agreed;

/// What ends every compressed message, removed by the sender and put back by the receiver
/// (§7.2.1, §7.2.2): the end of an empty stored block, as a sync flush writes it.
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The window of the threads' shared decompressors: the largest, which reads every smaller
/// one.
const SHARED_INFLATE_BITS: u8 = 15;

thread_local! {
    /// This thread's decompressor for messages that arrive in one frame without context
    /// takeover.
    static INFLATE: RefCell<Option<Decompress>> = const { RefCell::new(None) };
    /// This thread's compressors without context takeover, one per level and window.
    static DEFLATE: RefCell<Vec<(u8, u8, Compress)>> = const { RefCell::new(Vec::new()) };
}

/// The decompressing side of one connection.
#[derive(Debug)]
pub(crate) struct Inflater {
    /// The client's compressor starts afresh with each message.
    reset: bool,
    /// The window to decompress with.
    window_bits: u8,
    /// A stream of the connection's own: for its whole life with context takeover, else
    /// for the frames of one fragmented message.
    stream: Option<Box<Decompress>>,
}

impl Inflater {
    /// The decompressor of a connection that agreed on `agreed`.
    pub(crate) fn new(agreed: &Agreed) -> Self {
        Self {
            reset: agreed.client_no_context_takeover,
            window_bits: agreed.client_window_bits.clamp(9, 15),
            stream: None,
        }
    }

    /// Decompresses one frame of a compressed message onto `out`, which may hold at most
    /// `max` bytes in all; `first` and `fin` say where the frame is in its message.
    pub(crate) fn inflate(
        &mut self,
        payload: &[u8],
        first: bool,
        fin: bool,
        out: &mut Vec<u8>,
        max: usize,
    ) -> Result<(), Violation> {
        if self.reset && first && fin {
            // One frame, no context: the thread's decompressor, reset, does it.
            return INFLATE.with(|cell| {
                let mut cell = cell.borrow_mut();
                let d = cell.get_or_insert_with(|| {
                    Decompress::new_with_window_bits(false, SHARED_INFLATE_BITS)
                });
                d.reset(false);
                let result = run_inflate(d, payload, true, out, max);
                if result.is_err() {
                    d.reset(false);
                }
                result
            });
        }
        if self.reset && first {
            // A fragmented message: a stream of its own until its last frame (a stream left
            // over from a message that failed is dropped).
            self.stream = None;
        }
        let bits = self.window_bits;
        let stream = self
            .stream
            .get_or_insert_with(|| Box::new(Decompress::new_with_window_bits(false, bits)));
        let result = run_inflate(stream, payload, fin, out, max);
        if fin && self.reset {
            self.stream = None;
        }
        result
    }

    /// Whether the connection holds a decompressor now (for tests of idle memory).
    #[cfg(test)]
    fn holds_state(&self) -> bool {
        self.stream.is_some()
    }
}

/// Feeds `payload` (and, at the end of a message, the tail) through `d` onto `out`, growing
/// `out` as the output comes, never past `max + 1` bytes.
fn run_inflate(
    d: &mut Decompress,
    payload: &[u8],
    fin: bool,
    out: &mut Vec<u8>,
    max: usize,
) -> Result<(), Violation> {
    if feed(d, payload, out, max)? == End::Stream {
        // A block with BFINAL set ended the stream (§7.2.3.3): the next message starts a
        // new one, and the tail is not needed.
        d.reset(false);
        return Ok(());
    }
    if fin && feed(d, &TAIL, out, max)? == End::Stream {
        d.reset(false);
    }
    Ok(())
}

/// How [`feed`] ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// Every byte is in.
    Input,
    /// A final block ended the deflate stream, with nothing after it.
    Stream,
}

fn feed(
    d: &mut Decompress,
    mut input: &[u8],
    out: &mut Vec<u8>,
    max: usize,
) -> Result<End, Violation> {
    loop {
        if out.len() == out.capacity() {
            if out.len() > max {
                return Err(Violation::TooBig(max));
            }
            // Double, from a guess at the ratio, but never past one byte over the limit.
            let want = out.len().max(input.len().saturating_mul(4)).max(256);
            let room = want.min(max.saturating_add(1) - out.len());
            out.reserve_exact(room);
        }
        let (before_in, before_out) = (d.total_in(), d.total_out());
        let status = d
            .decompress_vec(input, out, FlushDecompress::None)
            .map_err(|_| Violation::BadDeflate)?;
        let used = usize::try_from(d.total_in() - before_in).unwrap_or(usize::MAX);
        let made = d.total_out() - before_out;
        input = input.get(used..).unwrap_or_default();
        if out.len() > max {
            return Err(Violation::TooBig(max));
        }
        match status {
            Status::StreamEnd if input.is_empty() => return Ok(End::Stream),
            // Bytes after the end of the stream.
            Status::StreamEnd => return Err(Violation::BadDeflate),
            _ if input.is_empty() && out.len() < out.capacity() => return Ok(End::Input),
            // No progress with input left and room to write: the data is broken.
            _ if used == 0 && made == 0 && out.len() < out.capacity() => {
                return Err(Violation::BadDeflate);
            }
            _ => {}
        }
    }
}

/// The compressing side of one connection.
#[derive(Debug)]
pub(crate) struct Deflater {
    level: u8,
    window_bits: u8,
    threshold: usize,
    /// The server keeps its context between messages (no `server_no_context_takeover`).
    takeover: bool,
    /// The connection's own stream, with context takeover, made by the first message that
    /// is compressed (a connection that never sends one above the threshold holds none).
    stream: Option<Box<Compress>>,
    /// The fragmented message under way (`WebSocket::push_frame`), if any.
    fragmenting: Option<Fragmenting>,
}

/// A fragmented message being sent.
#[derive(Debug)]
struct Fragmenting {
    /// Decided at its first fragment: the message is compressed (RSV1 on its first frame).
    compressed: bool,
    /// Without context takeover: the message's own stream, made at its first compressed
    /// fragment and freed with its last.
    own: Option<Box<Compress>>,
}

/// A fragment's payload as [`Deflater::deflate_fragment`] makes it.
#[derive(Debug)]
pub(crate) enum FragmentPayload {
    /// The message is not compressed: the fragment goes out as it is.
    Plain,
    /// The fragment's part of the compressed message.
    Compressed(Bytes),
    /// zlib failed in the middle of a compressed message (it does not, on a stream used this
    /// way): the message cannot be finished, so the connection must fail.
    Failed,
}

impl Deflater {
    /// The compressor of a connection that agreed on `agreed`.
    pub(crate) fn new(agreed: &Agreed) -> Self {
        Self {
            level: agreed.level.min(9),
            window_bits: agreed.server_window_bits.clamp(9, 15),
            threshold: agreed.threshold,
            takeover: !agreed.server_no_context_takeover,
            stream: None,
            fragmenting: None,
        }
    }

    /// One fragment of a message sent in fragments (`first`, `fin`: its place in the
    /// message). The message is compressed when its first fragment is at least the threshold
    /// (its whole size is not known in advance). Each compressed fragment ends with a sync
    /// flush, so the client can decompress it as it arrives; the flush's tail comes off the
    /// last fragment only (RFC 7692 §7.2.1). The stream is the connection's context with
    /// context takeover; without it, one made for the message and freed at its last fragment
    /// (so no zlib state outlives the message).
    pub(crate) fn deflate_fragment(
        &mut self,
        payload: &[u8],
        first: bool,
        fin: bool,
    ) -> FragmentPayload {
        let key = (self.level, self.window_bits);
        let fragmenting = match (&mut self.fragmenting, first) {
            (Some(f), false) => f,
            (slot, _) => slot.insert(Fragmenting {
                compressed: payload.len() >= self.threshold,
                own: None,
            }),
        };
        let out = if !fragmenting.compressed {
            FragmentPayload::Plain
        } else {
            let stream = match &mut self.stream {
                Some(stream) if self.takeover => stream,
                slot if self.takeover => slot.insert(Box::new(compressor(key))),
                _ => fragmenting
                    .own
                    .get_or_insert_with(|| Box::new(compressor(key))),
            };
            match compress_fragment(stream, payload, fin) {
                Some(bytes) => FragmentPayload::Compressed(Bytes::from(bytes)),
                // Nothing was sent compressed yet: the message goes out as it is.
                None if first => {
                    fragmenting.compressed = false;
                    FragmentPayload::Plain
                }
                None => FragmentPayload::Failed,
            }
        };
        if fin {
            self.fragmenting = None;
        }
        out
    }

    /// The payload to send for a message and whether it is compressed (RSV1): compressed
    /// unless it is under the threshold or, without context takeover, would not shrink.
    /// `shared`: the compressed forms of a message sent to many connections.
    pub(crate) fn deflate(&mut self, payload: &[u8], shared: Option<&Compressed>) -> Option<Bytes> {
        if payload.len() < self.threshold {
            return None;
        }
        let key = (self.level, self.window_bits);
        if self.takeover {
            // The connection's context: every message above the threshold goes through it
            // (the client's decompressor follows the same stream).
            let stream = self.stream.get_or_insert_with(|| Box::new(compressor(key)));
            return compress(stream, payload).map(Bytes::from);
        }
        match shared {
            Some(shared) => shared.get_or_compress(key, payload),
            None => compress_shared(key, payload),
        }
    }

    /// Whether the connection holds a compressor now (for tests of idle memory).
    #[cfg(test)]
    fn holds_state(&self) -> bool {
        self.stream.is_some() || self.fragmenting.as_ref().is_some_and(|f| f.own.is_some())
    }
}

/// Compresses `payload` with this thread's compressor for `(level, window bits)`; `None`
/// when that does not make it smaller.
fn compress_shared((level, bits): Key, payload: &[u8]) -> Option<Bytes> {
    DEFLATE.with(|cell| {
        let mut all = cell.borrow_mut();
        let i = match all.iter().position(|(l, b, _)| (*l, *b) == (level, bits)) {
            Some(i) => i,
            None => {
                let c =
                    Compress::new_with_window_bits(Compression::new(u32::from(level)), false, bits);
                all.push((level, bits, c));
                all.len() - 1
            }
        };
        let c = &mut all[i].2;
        c.reset();
        let out = compress(c, payload)?;
        (out.len() < payload.len()).then(|| Bytes::from(out))
    })
}

/// A raw deflate compressor of `(level, window bits)`.
fn compressor((level, bits): Key) -> Compress {
    Compress::new_with_window_bits(Compression::new(u32::from(level)), false, bits)
}

/// Compresses one message with a sync flush and takes the flush's tail off (§7.2.1); `None`
/// if zlib failed (it does not, on a stream used this way), so that the message goes out
/// uncompressed.
fn compress(c: &mut Compress, payload: &[u8]) -> Option<Vec<u8>> {
    without_tail(flush_sync(c, payload)?)
}

/// Compresses one fragment of a message with a sync flush, whose tail comes off at the
/// message's last fragment only. An empty fragment adds nothing: the stream is flushed
/// already (a second flush without input is no flush to zlib), and the tail of the
/// fragment before stays in place of the one the client appends.
fn compress_fragment(c: &mut Compress, payload: &[u8], fin: bool) -> Option<Vec<u8>> {
    if payload.is_empty() {
        return Some(Vec::new());
    }
    let out = flush_sync(c, payload)?;
    if fin {
        without_tail(out)
    } else {
        Some(out)
    }
}

/// Compressed bytes that end with a sync flush, without the flush's tail (§7.2.1); `None` if
/// they do not end with one.
fn without_tail(mut out: Vec<u8>) -> Option<Vec<u8>> {
    out.ends_with(&TAIL).then(|| {
        out.truncate(out.len() - TAIL.len());
        out
    })
}

/// `payload` through `c` with a sync flush: the compressed bytes, the flush's tail included;
/// `None` if zlib failed.
fn flush_sync(c: &mut Compress, payload: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(payload.len() / 2 + 64);
    let mut input = payload;
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity().max(64));
        }
        let before = c.total_in();
        c.compress_vec(input, &mut out, FlushCompress::Sync).ok()?;
        let used = usize::try_from(c.total_in() - before).unwrap_or(usize::MAX);
        input = input.get(used..).unwrap_or_default();
        // The flush is complete once the input is in and there was room left to write.
        if input.is_empty() && out.len() < out.capacity() {
            break;
        }
    }
    Some(out)
}

/// What a compressed form depends on without context takeover: level and window bits.
type Key = (u8, u8);

/// The compressed forms of one message that goes to many connections, made on first use, one
/// per `(level, window bits)` among the receivers that take no context over.
#[derive(Debug, Default)]
pub(crate) struct Compressed {
    /// `None`: compressing did not make it smaller, so it goes out as it is.
    forms: Mutex<Vec<(Key, Option<Bytes>)>>,
}

impl Compressed {
    fn get_or_compress(&self, key: Key, payload: &[u8]) -> Option<Bytes> {
        // Held while compressing: a second receiver with the same key waits for the first
        // one's result instead of compressing again.
        let mut forms = self.forms.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, form)) = forms.iter().find(|(k, _)| *k == key) {
            return form.clone();
        }
        let form = compress_shared(key, payload);
        forms.push((key, form.clone()));
        form
    }

    /// How many forms were made (for tests).
    #[cfg(test)]
    fn made(&self) -> usize {
        self.forms
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

    use super::*;

    fn agreed(server_reset: bool, client_reset: bool, bits: u8) -> Agreed {
        Agreed {
            server_no_context_takeover: server_reset,
            client_no_context_takeover: client_reset,
            server_window_bits: bits,
            client_window_bits: bits,
            level: 6,
            threshold: 0,
        }
    }

    fn text(n: usize) -> Vec<u8> {
        let words = ["alpha ", "beta ", "gamma ", "delta ", "{\"id\":42} "];
        words
            .iter()
            .cycle()
            .flat_map(|w| w.bytes())
            .take(n)
            .collect()
    }

    /// What a client's decompressor makes of the server's messages (a stream per context).
    fn client_inflate(d: &mut Decompress, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        run_inflate(d, payload, true, &mut out, usize::MAX).unwrap();
        out
    }

    /// A message sent in fragments (`push_frame`), in every mode: the client joins the
    /// fragments' payloads and decompresses them as one message; each fragment decompresses
    /// on arrival (a sync flush ends it); whole messages before and after share the context
    /// when it is taken over; without takeover no stream outlives the message.
    #[test]
    fn fragments_round_trip_in_every_mode() {
        let shapes: [&[usize]; 5] = [
            &[3000, 5000, 200],
            &[3000, 0, 4000],
            &[3000, 4000, 0],
            &[0, 0, 70_000],
            &[100_000],
        ];
        for server_reset in [true, false] {
            for bits in [9, 15] {
                let a = agreed(server_reset, false, bits);
                let mut deflater = Deflater::new(&a);
                let mut peer = Decompress::new_with_window_bits(false, bits);
                for (i, shape) in shapes.iter().enumerate() {
                    let msg = text(shape.iter().sum::<usize>() + i);
                    let mut sent = Vec::new();
                    let mut at = 0;
                    for (k, len) in shape.iter().enumerate() {
                        let (first, fin) = (k == 0, k + 1 == shape.len());
                        let len = if fin { msg.len() - at } else { *len };
                        let part = &msg[at..at + len];
                        at += len;
                        let bytes = match deflater.deflate_fragment(part, first, fin) {
                            FragmentPayload::Compressed(bytes) => bytes,
                            other => panic!("{other:?}"),
                        };
                        if !fin && !part.is_empty() {
                            assert!(bytes.ends_with(&TAIL), "a fragment ends with a sync flush");
                        }
                        sent.extend_from_slice(&bytes);
                        assert!(fin || deflater.holds_state());
                    }
                    if server_reset {
                        peer.reset(false);
                    }
                    let what = format!("{shape:?}, {bits} bits, reset {server_reset}");
                    assert_eq!(client_inflate(&mut peer, &sent), msg, "{what}");
                    assert_eq!(deflater.holds_state(), !server_reset, "{what}");
                    // A whole message after it, on the same context.
                    let whole = deflater.deflate(&msg, None).unwrap();
                    if server_reset {
                        peer.reset(false);
                    }
                    assert_eq!(client_inflate(&mut peer, &whole), msg, "{what}");
                }
            }
        }
    }

    #[test]
    fn a_fragmented_message_below_the_threshold_goes_as_it_is() {
        let mut a = agreed(true, true, 15);
        a.threshold = 100;
        let mut deflater = Deflater::new(&a);
        // Decided at the first fragment: small, so the whole message is plain.
        for (part, first, fin) in [
            (&b"tiny"[..], true, false),
            (&[b'x'; 5000][..], false, true),
        ] {
            assert!(matches!(
                deflater.deflate_fragment(part, first, fin),
                FragmentPayload::Plain
            ));
        }
        assert!(!deflater.holds_state());
    }

    #[test]
    fn round_trips_in_every_mode() {
        for (server_reset, client_reset) in
            [(true, true), (false, false), (true, false), (false, true)]
        {
            for bits in [9, 12, 15] {
                let a = agreed(server_reset, client_reset, bits);
                let mut deflater = Deflater::new(&a);
                let mut inflater = Inflater::new(&a);
                // The client's compressor: resets when the client takes no context over.
                let mut client = Deflater::new(&agreed(client_reset, server_reset, bits));
                let mut peer = Decompress::new_with_window_bits(false, bits);
                for n in [200, 1000, 70_000, 300_000, 1000] {
                    let msg = text(n);
                    let sent = deflater.deflate(&msg, None).unwrap();
                    assert!(sent.len() < msg.len());
                    if server_reset {
                        peer.reset(false);
                    }
                    assert_eq!(client_inflate(&mut peer, &sent), msg);
                    // The client's messages through the server's decompressor, in one frame
                    // and in three.
                    for frames in [1, 3] {
                        let sent = client.deflate(&msg, None).unwrap();
                        let cut = sent.len() / frames;
                        let mut out = Vec::new();
                        for i in 0..frames {
                            let end = if i + 1 == frames {
                                sent.len()
                            } else {
                                (i + 1) * cut
                            };
                            let fin = i + 1 == frames;
                            inflater
                                .inflate(&sent[i * cut..end], i == 0, fin, &mut out, n)
                                .unwrap();
                            assert!(fin || inflater.holds_state());
                        }
                        assert_eq!(out, msg, "{n} bytes, {bits} bits, {frames} frames");
                        assert_eq!(inflater.holds_state(), !client_reset);
                    }
                }
                assert_eq!(deflater.holds_state(), !server_reset);
                assert!(!Deflater::new(&a).holds_state(), "nothing before a message");
            }
        }
    }

    #[test]
    fn a_zip_bomb_stops_at_the_limit() {
        let zeros = vec![0u8; 20 << 20];
        let mut c = Compress::new_with_window_bits(Compression::best(), false, 15);
        let bomb = compress(&mut c, &zeros).unwrap();
        assert!(bomb.len() < 30_000, "{}", bomb.len());
        let mut inflater = Inflater::new(&agreed(true, true, 15));
        let mut out = Vec::new();
        let max = 1 << 20;
        assert_eq!(
            inflater.inflate(&bomb, true, true, &mut out, max),
            Err(Violation::TooBig(max))
        );
        assert!(out.capacity() <= max + 1, "{}", out.capacity());
        // Exactly the limit passes.
        let mut out = Vec::new();
        c.reset();
        let exact = compress(&mut c, &zeros[..max]).unwrap();
        inflater.inflate(&exact, true, true, &mut out, max).unwrap();
        assert_eq!(out.len(), max);
    }

    #[test]
    fn broken_data_is_refused() {
        let mut inflater = Inflater::new(&agreed(true, true, 15));
        let mut out = Vec::new();
        // Block type 3 is reserved.
        assert_eq!(
            inflater.inflate(&[0xff, 0xff, 0xff], true, true, &mut out, 100),
            Err(Violation::BadDeflate)
        );
        // The thread's decompressor works again afterwards.
        let mut d = Deflater::new(&agreed(true, true, 15));
        let sent = d.deflate(&text(500), None).unwrap();
        let mut out = Vec::new();
        inflater.inflate(&sent, true, true, &mut out, 1000).unwrap();
        assert_eq!(out, text(500));
    }

    #[test]
    fn small_or_incompressible_messages_go_as_they_are() {
        let mut a = agreed(true, true, 15);
        a.threshold = 100;
        let mut d = Deflater::new(&a);
        assert_eq!(d.deflate(&text(99), None), None);
        assert!(d.deflate(&text(100), None).is_some());
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let noise: Vec<u8> = (0..5000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        assert_eq!(d.deflate(&noise, None), None);
    }

    #[test]
    fn a_broadcast_compresses_once_per_parameter_set() {
        let msg = text(4000);
        let shared = Compressed::default();
        let mut first = Deflater::new(&agreed(true, true, 15));
        let mut second = Deflater::new(&agreed(true, false, 15));
        let mut other = Deflater::new(&agreed(true, true, 10));
        let a = first.deflate(&msg, Some(&shared)).unwrap();
        let b = second.deflate(&msg, Some(&shared)).unwrap();
        assert_eq!(a.as_ptr(), b.as_ptr(), "the same bytes, shared");
        assert_eq!(shared.made(), 1);
        other.deflate(&msg, Some(&shared)).unwrap();
        assert_eq!(shared.made(), 2);
        // A receiver with its own context compresses for itself.
        let mut own = Deflater::new(&agreed(false, true, 15));
        own.deflate(&msg, Some(&shared)).unwrap();
        assert_eq!(shared.made(), 2);
    }
}
