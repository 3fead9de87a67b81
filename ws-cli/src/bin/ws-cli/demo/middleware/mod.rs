//! One middleware per file.

pub mod origin;
