//! Hookvault's domain: raw captured headers, signature schemes (sign and verify), provider
//! detection, body rendering helpers and the handler audit. Pure code: no IO, no clock (callers
//! pass `now`; the audit sends through a transport the caller supplies).

pub mod api;
pub mod audit;
pub mod billing;
pub mod client_addr;
pub mod diff;
pub mod export;
pub mod headers;
pub mod ids;
pub mod position;
pub mod provider;
pub mod render;
pub mod response;
pub mod search;
pub mod secretbox;
pub mod signing;
pub mod stored;
pub mod stripe;
