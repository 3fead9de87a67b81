//! Where the payload of a small frame goes when it leaves the thread's receive buffer: carved
//! out of a chunk the thread holds, instead of an allocation of its own per message.
//!
//! Hooks get an owned [`Message`](crate::Message) that they may keep (store it, push it to a
//! room), so a payload cannot stay a view into the receive buffer, as uWebSockets' does. It
//! is copied instead, and for a payload of up to [`MAX_CARVED`] bytes the copy goes into the
//! thread's chunk of [`CHUNK`] bytes: the bytes that follow the previous payload, handed out
//! with [`BytesMut::split`] (one reference count on the chunk per payload, no `malloc`). Once
//! every payload carved from the chunk is gone, the next carve that finds the chunk full
//! starts over at its beginning; while one of them is still held, the thread moves on to a new
//! chunk and the old one is freed with its last payload. So an echo makes no allocation per
//! message, and the chunks come and go with the messages.
//!
//! The cost, as with hyper's body chunks (slices of its read buffer): a small payload that
//! is kept keeps its whole chunk, at most [`CHUNK`] bytes, alive. (A message to keep for long
//! can be [`detach`](crate::Message::detach)ed, which holds only its own bytes.) A client
//! cannot make the server keep a chunk past the hooks that handle its messages: only what a
//! hook keeps does. The first frames of fragmented
//! messages are not carved, since the rest of the message is appended to them.

use std::cell::Cell;

use bytes::BytesMut;

/// Bytes of one chunk.
pub(crate) const CHUNK: usize = 8 * 1024;

/// Largest payload that is carved out of a chunk: an eighth of it, so that what is left
/// unused at a chunk's end stays small.
pub(crate) const MAX_CARVED: usize = CHUNK / 8;

thread_local! {
    /// The rest of this thread's current chunk (none before the thread's first carve).
    static SLAB: Cell<Option<BytesMut>> = const { Cell::new(None) };
}

/// A copy of `payload`, carved out of the thread's chunk when it is small (see the module
/// docs), else in an allocation of its own.
pub(crate) fn copy_out(payload: &[u8]) -> BytesMut {
    if payload.is_empty() || payload.len() > MAX_CARVED {
        return BytesMut::from(payload);
    }
    SLAB.try_with(|slot| {
        let mut chunk = slot.take().unwrap_or_default();
        // `try_reclaim` takes the chunk back from its start once nothing carved from it is
        // held; otherwise a new chunk, and the old one goes with its last payload.
        if chunk.capacity() < payload.len() && !chunk.try_reclaim(payload.len()) {
            chunk = BytesMut::with_capacity(CHUNK);
        }
        chunk.extend_from_slice(payload);
        let carved = chunk.split();
        slot.set(Some(chunk));
        carved
    })
    // The thread is exiting: its slot is gone.
    .unwrap_or_else(|_| BytesMut::from(payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(b: &BytesMut) -> usize {
        b.as_ptr() as usize
    }

    #[test]
    fn small_payloads_share_a_chunk_that_is_reused_once_they_are_gone() {
        // On a thread of its own, so that the chunk starts empty.
        std::thread::spawn(|| {
            let a = copy_out(b"hello");
            let b = copy_out(b"world!");
            assert_eq!((&a[..], &b[..]), (&b"hello"[..], &b"world!"[..]));
            assert_eq!(addr(&b), addr(&a) + 5, "carved one after the other");
            let start = addr(&a);
            drop((a, b));
            // Fill the chunk, dropping each payload: the next carve starts at the chunk's
            // beginning again instead of allocating.
            let mut addrs = Vec::new();
            for _ in 0..2 * CHUNK / MAX_CARVED {
                addrs.push(addr(&copy_out(&[7; MAX_CARVED])));
            }
            assert!(addrs.contains(&start), "the chunk was not taken back");
            assert!(
                addrs.iter().all(|a| (start..start + CHUNK).contains(a)),
                "a second chunk was allocated"
            );
        })
        .join()
        .expect("thread");
    }

    #[test]
    fn a_kept_payload_keeps_its_bytes_and_only_its_chunk() {
        std::thread::spawn(|| {
            let kept = copy_out(b"kept").freeze();
            let first = kept.as_ptr() as usize;
            let mut others = Vec::new();
            for i in 0..4 * CHUNK / MAX_CARVED {
                let b = copy_out(&[i as u8; MAX_CARVED]);
                assert_eq!(&b[..], &[i as u8; MAX_CARVED][..]);
                others.push(addr(&b));
            }
            assert_eq!(&kept[..], b"kept", "not overwritten");
            // Once the kept payload's chunk is full, carving moves to another chunk (and
            // reuses that one, as nothing carved from it is kept).
            assert!(others.iter().any(|a| !(first..first + CHUNK).contains(a)));
        })
        .join()
        .expect("thread");
    }

    #[test]
    fn large_and_empty_payloads_have_allocations_of_their_own() {
        let big = copy_out(&[1; MAX_CARVED + 1]);
        assert_eq!(big.capacity(), MAX_CARVED + 1);
        assert_eq!(copy_out(b"").capacity(), 0);
    }
}
