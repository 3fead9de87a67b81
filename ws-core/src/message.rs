//! WebSocket messages as hooks see them.

use std::fmt;

use bytes::Bytes;

/// A complete WebSocket message (all fragments reassembled).
///
/// A received message of up to 1 KiB shares an 8 KiB chunk with the messages received around
/// it on the same worker thread (no allocation per message; the chunk is freed with the last of
/// them). One that is kept for long, in a history or a cache, keeps its chunk alive: keep
/// [`msg.detach()`](Self::detach) instead, which holds only its own bytes.
#[derive(Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message; always valid UTF-8.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
}

impl Message {
    /// A text message.
    pub fn text(s: impl Into<Utf8Bytes>) -> Self {
        Self::Text(s.into())
    }

    /// A binary message.
    pub fn binary(b: impl Into<Bytes>) -> Self {
        Self::Binary(b.into())
    }

    /// The payload bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Text(t) => t.as_bytes(),
            Self::Binary(b) => b,
        }
    }

    /// The text, if this is a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(t) => Some(t.as_str()),
            Self::Binary(_) => None,
        }
    }

    /// Payload length in bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The same message with its bytes in an allocation of their own (a copy), to keep for
    /// long without keeping the chunk a small received message shares with others.
    ///
    /// ```
    /// # use ws_core::Message;
    /// let mut history = Vec::new();
    /// let msg = Message::text("hello");
    /// history.push(msg.detach());
    /// assert_eq!(history[0].as_text(), Some("hello"));
    /// ```
    #[must_use]
    pub fn detach(self) -> Self {
        match self {
            Self::Text(t) => Self::Text(Utf8Bytes(Bytes::copy_from_slice(&t.0))),
            Self::Binary(b) => Self::Binary(Bytes::copy_from_slice(&b)),
        }
    }

    pub(crate) fn into_parts(self) -> (bool, Bytes) {
        match self {
            Self::Text(t) => (true, t.0),
            Self::Binary(b) => (false, b),
        }
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Text(t) if t.len() <= 64 => f.debug_tuple("Text").field(&t.as_str()).finish(),
            Self::Text(t) => write!(f, "Text({} bytes)", t.len()),
            Self::Binary(b) => write!(f, "Binary({} bytes)", b.len()),
        }
    }
}

impl From<&'static str> for Message {
    fn from(s: &'static str) -> Self {
        Self::Text(s.into())
    }
}

impl From<String> for Message {
    fn from(s: String) -> Self {
        Self::Text(s.into())
    }
}

impl From<Vec<u8>> for Message {
    fn from(b: Vec<u8>) -> Self {
        Self::Binary(b.into())
    }
}

impl From<Bytes> for Message {
    fn from(b: Bytes) -> Self {
        Self::Binary(b)
    }
}

/// UTF-8 text backed by [`Bytes`]: cheap to clone and to share between many receivers.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// Checks that `bytes` is UTF-8 (SIMD-accelerated; on failure the std error says where).
    pub fn try_from_bytes(bytes: Bytes) -> Result<Self, std::str::Utf8Error> {
        if simdutf8::basic::from_utf8(&bytes).is_err() {
            // Slow path only to build the detailed error.
            std::str::from_utf8(&bytes)?;
        }
        Ok(Self(bytes))
    }

    /// The text.
    #[allow(unsafe_code)]
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor checks or receives valid UTF-8 (`try_from_bytes` validates,
        // `From<String>`/`From<&'static str>` take `str`), and the bytes are immutable.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::ops::Deref for Utf8Bytes {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<String> for Utf8Bytes {
    fn from(s: String) -> Self {
        Self(Bytes::from(s))
    }
}

impl From<&'static str> for Utf8Bytes {
    fn from(s: &'static str) -> Self {
        Self(Bytes::from_static(s.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::slab;

    #[test]
    fn a_detached_message_holds_only_its_own_bytes() {
        let received = slab::copy_out(b"from the chunk").freeze();
        let neighbour = slab::copy_out(b"next").freeze();
        let chunk = received.as_ptr() as usize..received.as_ptr() as usize + slab::CHUNK;
        assert!(
            chunk.contains(&(neighbour.as_ptr() as usize)),
            "carved together"
        );
        for msg in [
            Message::Binary(received.clone()),
            Message::Text(Utf8Bytes::try_from_bytes(received.clone()).expect("utf-8")),
        ] {
            let kept = msg.clone().detach();
            assert_eq!(kept, msg);
            assert!(!chunk.contains(&(kept.as_bytes().as_ptr() as usize)));
        }
    }
}
