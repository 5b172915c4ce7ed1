//! Hookvault's domain: raw captured headers, signature schemes (sign and verify), provider
//! detection and body rendering helpers. Pure code: no IO, no clock (callers pass `now`).

pub mod client_addr;
pub mod diff;
pub mod export;
pub mod headers;
pub mod position;
pub mod provider;
pub mod render;
pub mod response;
pub mod search;
pub mod secretbox;
pub mod signing;
pub mod stripe;
