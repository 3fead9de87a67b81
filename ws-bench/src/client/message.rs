//! The benchmark message: payload bytes, pre-masked once, so that sending a frame costs no
//! masking (as uWebSockets' `load_test` does).

use fastwebsockets::{Frame, OpCode, Payload};

/// The fixed masking key of every client frame (frames are pre-masked once).
pub const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// One benchmark message, plain and pre-masked.
#[derive(Debug, Clone)]
pub struct Message {
    /// The payload as sent.
    pub(crate) plain: Vec<u8>,
    /// The payload masked with [`MASK`].
    pub(crate) masked: Vec<u8>,
    /// Text, binary or close.
    pub(crate) opcode: OpCode,
}

impl Message {
    /// A binary message of `size` deterministic pseudo-random bytes.
    pub fn binary(size: usize) -> Self {
        Self::new(pattern(size), OpCode::Binary)
    }

    /// A text message.
    pub fn text(text: &str) -> Self {
        Self::new(text.as_bytes().to_vec(), OpCode::Text)
    }

    /// A message of `opcode` with the payload `plain`.
    pub(crate) fn new(plain: Vec<u8>, opcode: OpCode) -> Self {
        let masked = apply_mask(&plain, MASK);
        Self {
            plain,
            masked,
            opcode,
        }
    }

    /// Payload length in bytes.
    pub fn len(&self) -> usize {
        self.plain.len()
    }

    /// True for an empty payload.
    pub fn is_empty(&self) -> bool {
        self.plain.is_empty()
    }

    /// This message's whole client frame as it goes on the wire: header, mask key, masked
    /// payload (for writing several frames in one write).
    pub(crate) fn wire(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        self.frame().write(&mut buf).to_vec()
    }

    /// The masked frame of this message.
    pub(crate) fn frame(&self) -> Frame<'_> {
        Frame::new(
            true,
            self.opcode,
            Some(MASK),
            Payload::Borrowed(&self.masked),
        )
    }
}

/// XORs `data` with the 4-byte `mask` (RFC 6455 §5.3).
pub fn apply_mask(data: &[u8], mask: [u8; 4]) -> Vec<u8> {
    data.iter()
        .enumerate()
        .map(|(i, b)| b ^ mask[i % 4])
        .collect()
}

/// `size` deterministic pseudo-random bytes (xorshift64).
pub fn pattern(size: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ size as u64;
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// FNV-1a 64-bit checksum, used in error reports.
pub fn checksum(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_roundtrip_and_pattern() {
        let p = pattern(1000);
        assert_eq!(p.len(), 1000);
        assert_eq!(p, pattern(1000));
        assert_ne!(apply_mask(&p, MASK), p);
        assert_eq!(apply_mask(&apply_mask(&p, MASK), MASK), p);
        assert_ne!(checksum(&p), checksum(&pattern(999)));
    }
}
