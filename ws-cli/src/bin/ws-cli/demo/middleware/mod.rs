//! One middleware per file.

pub mod bearer;
pub mod origin;
