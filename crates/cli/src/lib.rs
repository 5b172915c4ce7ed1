//! The commands of `hookvault` that run on a developer's laptop: `login`, `logout`,
//! `listen`, which carries deliveries from a hosted Hookvault to a local dev server, `resend`,
//! which hands a capture to the running `listen` again, and
//! `audit`, which checks a local webhook handler against the production checklist.

pub mod audit;
pub mod config;
pub mod endpoint;
pub mod listen;
pub mod login;
pub mod resend;
mod sse;
