//! The commands of `hookvault` that run on a developer's laptop: `login`, `logout`,
//! `listen`, which carries deliveries from a hosted Hookvault to a local dev server, and
//! `audit`, which checks a local webhook handler against the production checklist.

pub mod audit;
pub mod config;
pub mod listen;
pub mod login;
mod sse;
