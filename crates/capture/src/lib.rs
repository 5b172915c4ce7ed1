//! The capture service: `/in/{token}` routes, the raw head recorder, the connection loop that
//! feeds recorded heads to requests, and the batching writer.

pub mod body;
pub mod listener;
pub mod quota;
pub mod rawhead;
pub mod router;
pub mod routes;
pub mod writer;

pub use router::{health_router, inert, router, CaptureConfig, CaptureState};
