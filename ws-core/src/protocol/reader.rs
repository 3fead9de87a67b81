//! Reading one frame (RFC 6455 §5.2): its header, checked by every
//! rule that concerns a single frame, and its unmasked payload.
//!
//! An idle connection holds no read buffer. A read goes into the receive buffer of the thread
//! that makes it (64 KiB, one per worker thread, as uWebSockets' one per event loop, so a frame
//! of up to 64 KiB arrives in one read); a frame that arrived whole is copied out of it (a
//! small payload into the chunk the thread carves payloads from, [`slab`](super::slab), a
//! larger one into a buffer of its size), and only bytes of a frame that is not complete yet
//! stay with the connection, in a buffer sized for that frame (the rest of a large payload is
//! read straight into it; past 1 MiB the buffer grows with the bytes that arrive, not with the
//! length a header announces). The buffer is released as soon as its bytes are handed out.
//! fastwebsockets' reader, which this replaces, holds 8 KiB per connection for the
//! connection's life.
//!
//! Frame rules checked here, from the header, before any of the payload is read (all answered
//! with 1002, except the size limit):
//!
//! - reserved bits set (RSV1 is allowed on the first frame of a data message once
//!   permessage-deflate is agreed) or a reserved opcode;
//! - an unmasked frame (a client must mask every frame);
//! - a fragmented control frame, or one with more than 125 bytes of payload;
//! - a payload length not in its shortest encoding, or with the top bit of its 64-bit form set;
//! - a data frame that would take its message past `max_message_size`: 1009 (for a compressed
//!   message, its compressed bytes past [`compressed_bound`](super::head::compressed_bound);
//!   what it decompresses to is bounded as it is decompressed).
//!
//! The rules about sequences of frames (fragments) and text are in
//! [`assemble`](super::assemble).

use std::cell::Cell;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, ReadBuf};
use tokio_util::io::poll_read_buf;

use super::error::ReadError;
use super::head::{parse_head, Frame, Room, MAX_HEAD};
use super::slab;

/// How much one read from an idle connection takes at most: the size of a thread's receive
/// buffer. A frame's header, its payload and the mask must fit for the frame to arrive in one
/// read (at 16 KiB, a 16 KiB message took two reads and a copy of a partial frame).
const RECV_BUF: usize = 64 * 1024;

/// A thread's receive buffer (see [`with_recv_buf`]).
type RecvBuf = Box<[MaybeUninit<u8>]>;

thread_local! {
    /// The receive buffer of this thread, while no read is using it.
    static RECV: Cell<Option<RecvBuf>> = const { Cell::new(None) };
}

/// Runs `f` with this thread's receive buffer: taken out of the thread's slot for the call and
/// put back after it, so a read never shares it (one made while another is under way, which a
/// reader does not do, would get a buffer of its own). Allocated on a thread's first read.
fn with_recv_buf<T>(f: impl FnOnce(&mut [MaybeUninit<u8>]) -> T) -> T {
    let mut buf = RECV
        .try_with(Cell::take)
        .ok()
        .flatten()
        .unwrap_or_else(|| Box::new_uninit_slice(RECV_BUF));
    let out = f(&mut buf);
    // The thread is exiting when its slot is gone: the buffer is freed here.
    let _ = RECV.try_with(|slot| slot.set(Some(buf)));
    out
}

/// How far the buffer of a large frame grows ahead of the bytes that have arrived: a header
/// alone does not make the server allocate the whole payload it announces (up to
/// `max_message_size` per connection). Past this, the buffer doubles as the bytes come.
const RESERVE_AHEAD: usize = 1 << 20;

/// Reads frames from a client (see the module docs).
pub(crate) struct FrameReader<R> {
    source: R,
    /// Bytes read past the frames handed out so far: empty, and without an allocation, while
    /// no frame is partly read.
    buf: BytesMut,
    /// `max_message_size`.
    max: usize,
    /// permessage-deflate is agreed: RSV1 marks a compressed message.
    deflate: bool,
}

impl<R> std::fmt::Debug for FrameReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameReader")
            .field("buffered", &self.buf.len())
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// Reads `prefix` (the bytes hyper read past the HTTP request), then `source`; no data frame
    /// may take its message past `max` bytes.
    pub(crate) fn new(prefix: Bytes, source: R, max: usize) -> Self {
        Self {
            source,
            // A copy: the prefix is a slice of hyper's read buffer, which it would keep alive.
            buf: BytesMut::from(&prefix[..]),
            max,
            deflate: false,
        }
    }

    /// Accepts RSV1 on the first frame of a data message (permessage-deflate is agreed).
    pub(crate) fn allow_compressed(&mut self) {
        self.deflate = true;
    }

    /// `max_message_size`.
    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// Whether a whole frame is already here (read with an earlier one, as when a client
    /// pipelines): the next [`poll_frame`](Self::poll_frame) returns without reading. A frame
    /// whose header breaks a rule counts as here (the next poll returns its error at once).
    pub(crate) fn frame_ready(&self) -> bool {
        if self.buf.is_empty() {
            return false;
        }
        match parse_head(&self.buf, Room::after(self.max, 0), self.max, self.deflate) {
            Ok(Some(head)) => self.buf.len() >= head.total(),
            Ok(None) => false,
            Err(_) => true,
        }
    }

    /// The next frame; `room` is how many payload bytes a data frame may carry (what the
    /// message under way leaves of the size limit). Cancel-safe: bytes read stay in the
    /// reader until their frame is whole.
    #[inline]
    pub(crate) fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
        room: Room,
    ) -> Poll<Result<Frame, ReadError>> {
        loop {
            if self.buf.is_empty() {
                if let Some(frame) = ready!(self.poll_read_idle(cx, room))? {
                    return Poll::Ready(Ok(frame));
                }
                continue;
            }
            match parse_head(&self.buf, room, self.max, self.deflate)? {
                Some(head) if self.buf.len() >= head.total() => {
                    self.buf.advance(head.len);
                    let payload = self.buf.split_to(head.payload);
                    if self.buf.is_empty() {
                        // Drop our share of the allocation: the payload may own it alone.
                        self.buf = BytesMut::new();
                    }
                    return Poll::Ready(Ok(head.frame(payload)));
                }
                Some(head) if self.buf.len() == self.buf.capacity() => {
                    let room = room_for(head.total(), self.buf.len());
                    self.buf.reserve(room - self.buf.len());
                }
                Some(_) => {} // Room left: read into it.
                None => self.buf.reserve(MAX_HEAD),
            }
            if ready!(poll_read_buf(Pin::new(&mut self.source), cx, &mut self.buf))? == 0 {
                return Poll::Ready(Err(ReadError::Closed));
            }
        }
    }

    /// Reads with nothing buffered, into the thread's receive buffer: returns a frame that
    /// arrived whole and keeps only the bytes after it; keeps everything when no frame is whole
    /// yet (`None`).
    fn poll_read_idle(
        &mut self,
        cx: &mut Context<'_>,
        room: Room,
    ) -> Poll<Result<Option<Frame>, ReadError>> {
        with_recv_buf(|recv| {
            let mut read = ReadBuf::uninit(recv);
            ready!(Pin::new(&mut self.source).poll_read(cx, &mut read))?;
            Poll::Ready(self.take_read(read.filled(), room))
        })
    }

    /// What [`poll_read_idle`](Self::poll_read_idle) does with the bytes it read.
    fn take_read(&mut self, data: &[u8], room: Room) -> Result<Option<Frame>, ReadError> {
        if data.is_empty() {
            return Err(ReadError::Closed);
        }
        if let Some(head) = parse_head(data, room, self.max, self.deflate)? {
            if let (Some(payload), Some(rest)) =
                (data.get(head.len..head.total()), data.get(head.total()..))
            {
                self.buf.extend_from_slice(rest);
                // The first frame of a fragmented message gets its own buffer: the rest of the
                // message is appended to it.
                let payload = if head.fin {
                    slab::copy_out(payload)
                } else {
                    BytesMut::from(payload)
                };
                return Ok(Some(head.frame(payload)));
            }
            // Room for the frame, so the rest of it is read in place.
            self.buf.reserve(room_for(head.total(), data.len()));
        }
        self.buf.extend_from_slice(data);
        Ok(None)
    }
}

/// How many bytes the buffer of a frame of `total` bytes, `arrived` of them here, makes room
/// for: the whole frame, or `RESERVE_AHEAD` past what arrived (twice what arrived, once that
/// is more, so a large frame's buffer grows geometrically).
fn room_for(total: usize, arrived: usize) -> usize {
    total.min(arrived.saturating_add(arrived.max(RESERVE_AHEAD)))
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::future::poll_fn;
    use std::io;

    use super::*;
    use crate::protocol::error::Violation;
    use fastwebsockets::OpCode;

    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    /// A client frame: `first` is the first header byte, the length in its shortest form.
    fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let len = payload.len();
        let mut out = vec![first];
        match len {
            0..=125 => out.push(0x80 | len as u8),
            126..=0xffff => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&KEY);
        out.extend(payload.iter().zip(KEY.iter().cycle()).map(|(b, k)| b ^ k));
        out
    }

    /// Hands out its bytes `step` at a time, then end of stream; counts the reads.
    struct Trickle {
        bytes: VecDeque<u8>,
        step: usize,
        reads: usize,
    }

    impl AsyncRead for Trickle {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            self.reads += 1;
            let n = self.step.min(buf.remaining()).min(self.bytes.len());
            let chunk: Vec<u8> = self.bytes.drain(..n).collect();
            buf.put_slice(&chunk);
            Poll::Ready(Ok(()))
        }
    }

    fn reader(prefix: &[u8], bytes: Vec<u8>, step: usize, max: usize) -> FrameReader<Trickle> {
        let source = Trickle {
            bytes: bytes.into(),
            step,
            reads: 0,
        };
        FrameReader::new(Bytes::copy_from_slice(prefix), source, max)
    }

    async fn next(r: &mut FrameReader<Trickle>) -> Result<Frame, ReadError> {
        poll_fn(|cx| r.poll_frame(cx, Room::after(r.max, 0))).await
    }

    fn payload(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    const LENGTHS: [usize; 9] = [0, 1, 125, 126, 127, 0xffff, 0x10000, 20_000, 200_000];

    #[tokio::test]
    async fn frames_of_every_length_form_in_any_pieces() {
        let mut bytes = Vec::new();
        for len in LENGTHS {
            bytes.extend(frame(0x82, &payload(len)));
        }
        bytes.extend(frame(0x89, b"ping"));
        for step in [1, 7, 4096, usize::MAX] {
            let mut r = reader(&[], bytes.clone(), step, 1 << 20);
            for len in LENGTHS {
                let f = next(&mut r).await.expect("frame");
                assert!(f.fin);
                assert_eq!(f.opcode, OpCode::Binary);
                assert_eq!(
                    &f.payload[..],
                    &payload(len)[..],
                    "{len} bytes, step {step}"
                );
            }
            let ping = next(&mut r).await.expect("ping");
            assert_eq!(
                (ping.opcode, &ping.payload[..]),
                (OpCode::Ping, &b"ping"[..])
            );
            assert!(matches!(next(&mut r).await, Err(ReadError::Closed)));
        }
    }

    #[tokio::test]
    async fn no_buffer_is_held_between_frames() {
        for step in [1, 3, usize::MAX] {
            let mut r = reader(&[], frame(0x81, &payload(300)), step, 1 << 20);
            next(&mut r).await.expect("frame");
            assert_eq!(r.buf.capacity(), 0, "step {step}");
        }
        // Two frames in one read: the second waits in a buffer, which goes once it is read.
        let mut two = frame(0x81, b"a");
        two.extend(frame(0x81, &payload(1000)));
        let mut r = reader(&[], two, usize::MAX, 1 << 20);
        assert_eq!(&next(&mut r).await.expect("first").payload[..], b"a");
        assert!(r.buf.capacity() > 0);
        assert_eq!(next(&mut r).await.expect("second").payload.len(), 1000);
        assert_eq!(r.buf.capacity(), 0);
    }

    #[tokio::test]
    async fn a_frame_that_fits_the_receive_buffer_takes_one_read() {
        // 16 KiB and the largest payload whose frame (8-byte header with the mask) still fits.
        for len in [16 * 1024, RECV_BUF - 8] {
            let mut r = reader(&[], frame(0x82, &payload(len)), usize::MAX, 1 << 20);
            let f = next(&mut r).await.expect("frame");
            assert_eq!(&f.payload[..], &payload(len)[..]);
            assert_eq!(r.source.reads, 1, "{len} bytes");
            assert_eq!(r.buf.capacity(), 0, "nothing kept after a whole frame");
        }
    }

    #[test]
    fn a_read_inside_a_read_gets_a_buffer_of_its_own() {
        let (outer, inner) = with_recv_buf(|outer| {
            outer[0] = MaybeUninit::new(1);
            let inner = with_recv_buf(|inner| inner.as_ptr() as usize);
            (outer.as_ptr() as usize, inner)
        });
        assert_ne!(outer, inner);
        // The thread keeps one of them for its next read.
        let again = with_recv_buf(|buf| buf.as_ptr() as usize);
        assert!(again == outer || again == inner);
    }

    #[tokio::test]
    async fn a_large_frame_grows_its_buffer_as_its_bytes_arrive() {
        // 16 MiB announced, 100 KiB sent: the buffer stays near what arrived.
        let mut bytes = frame(0x82, &payload(16 << 20));
        bytes.truncate(100_000);
        let mut r = reader(&[], bytes, 4096, 32 << 20);
        assert!(matches!(next(&mut r).await, Err(ReadError::Closed)));
        assert!(r.buf.capacity() < 4 << 20, "{}", r.buf.capacity());
        // A frame that does arrive whole is read whole.
        let mut r = reader(&[], frame(0x82, &payload(3 << 20)), 64 << 10, 32 << 20);
        assert_eq!(
            &next(&mut r).await.expect("frame").payload[..],
            &payload(3 << 20)[..]
        );
    }

    #[tokio::test]
    async fn the_prefix_is_read_first() {
        let mut r = reader(&frame(0x81, b"one"), frame(0x81, b"two"), 2, 100);
        assert_eq!(&next(&mut r).await.expect("one").payload[..], b"one");
        assert_eq!(&next(&mut r).await.expect("two").payload[..], b"two");
    }

    #[tokio::test]
    async fn a_fragment_keeps_its_flags() {
        let mut bytes = frame(0x01, b"he");
        bytes.extend(frame(0x80, b"llo"));
        let mut r = reader(&[], bytes, usize::MAX, 100);
        let first = next(&mut r).await.expect("first");
        assert_eq!((first.fin, first.opcode), (false, OpCode::Text));
        let last = next(&mut r).await.expect("last");
        assert_eq!((last.fin, last.opcode), (true, OpCode::Continuation));
    }

    async fn violation(bytes: Vec<u8>, max: usize, used: usize) -> Violation {
        let mut r = reader(&[], bytes, usize::MAX, max);
        match poll_fn(|cx| r.poll_frame(cx, Room::after(max, used))).await {
            Err(ReadError::Violation(v)) => v,
            other => panic!("expected a violation, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn single_frame_rules() {
        let v = |bytes| violation(bytes, 1 << 20, 0);
        assert_eq!(v(frame(0x81 | 0x40, b"x")).await, Violation::ReservedBits);
        assert_eq!(v(frame(0x81 | 0x10, b"x")).await, Violation::ReservedBits);
        assert_eq!(v(frame(0x83, b"")).await, Violation::ReservedOpcode(3));
        assert_eq!(v(frame(0x8b, b"")).await, Violation::ReservedOpcode(0xb));
        assert_eq!(v(vec![0x81, 0x01, b'x']).await, Violation::Unmasked);
        assert_eq!(v(frame(0x09, b"")).await, Violation::FragmentedControl);
        assert_eq!(
            v(frame(0x89, &[0; 126])).await,
            Violation::ControlTooLarge(126)
        );
        assert_eq!(
            v(frame(0x88, &[0; 70_000])).await,
            Violation::ControlTooLarge(70_000)
        );
    }

    #[tokio::test]
    async fn lengths_must_use_their_shortest_form() {
        let long = |code: u8, len: &[u8]| {
            let mut f = vec![0x82, 0x80 | code];
            f.extend_from_slice(len);
            f.extend_from_slice(&KEY);
            f
        };
        let v = |bytes| violation(bytes, usize::MAX, 0);
        assert_eq!(v(long(126, &[0, 125])).await, Violation::BadLength(125));
        assert_eq!(
            v(long(127, &0xffffu64.to_be_bytes())).await,
            Violation::BadLength(0xffff)
        );
        assert_eq!(
            v(long(127, &(1u64 << 63).to_be_bytes())).await,
            Violation::BadLength(1 << 63)
        );
        // The shortest forms pass (the payload is not there: the stream ends).
        let mut r = reader(&[], long(126, &[0, 126]), usize::MAX, usize::MAX);
        assert!(matches!(next(&mut r).await, Err(ReadError::Closed)));
    }

    #[tokio::test]
    async fn the_size_limit_is_checked_from_the_header() {
        // Only the header arrives: the limit is known before any payload.
        let head =
            |len: usize| frame(0x82, &payload(len))[..if len < 126 { 6 } else { 8 }].to_vec();
        assert_eq!(violation(head(101), 100, 0).await, Violation::TooBig(100));
        // A fragment counts what the message has so far; control frames do not count.
        assert_eq!(violation(head(3), 10, 8).await, Violation::TooBig(10));
        let mut r = reader(&[], frame(0x89, &[1; 100]), usize::MAX, 10);
        let ping = poll_fn(|cx| r.poll_frame(cx, Room::after(10, 8)))
            .await
            .expect("ping");
        assert_eq!(ping.payload.len(), 100);
    }

    #[tokio::test]
    async fn any_bytes_in_any_pieces_give_frames_or_an_error() {
        // xorshift: no dependency, the same bytes on every run.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next_u64 = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..2_000 {
            let len = (next_u64() % 64) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| next_u64() as u8).collect();
            if let Some(b) = bytes.get_mut(1) {
                *b |= 0x80; // masked, mostly, so that headers get past the mask rule
            }
            let step = 1 + (next_u64() % 8) as usize;
            let max = (next_u64() % 200) as usize;
            let mut r = reader(&[], bytes, step, max);
            let mut frames = 0;
            loop {
                match next(&mut r).await {
                    Ok(_) => frames += 1,
                    Err(ReadError::Closed | ReadError::Violation(_)) => break,
                    Err(e) => panic!("unexpected {e}"),
                }
                assert!(frames <= len, "more frames than bytes");
            }
        }
    }

    #[tokio::test]
    async fn an_end_mid_frame_is_a_lost_connection() {
        let mut bytes = frame(0x82, &payload(1000));
        bytes.truncate(500);
        let mut r = reader(&[], bytes, 64, 1 << 20);
        assert!(matches!(next(&mut r).await, Err(ReadError::Closed)));
    }
}
