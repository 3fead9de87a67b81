//! One controller per file.

pub mod chat;
pub mod echo;
pub mod health;
pub mod home;
pub mod push;
pub mod rpc;
