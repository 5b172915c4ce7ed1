//! The commands of `hookvault` that run on a developer's laptop: `login`, `logout` and
//! `listen`, which carries deliveries from a hosted Hookvault to a local dev server.

pub mod config;
pub mod listen;
pub mod login;
mod sse;
