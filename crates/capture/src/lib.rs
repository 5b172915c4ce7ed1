//! The capture service: `/in/{token}` routes, the raw head recorder and the batching writer.

pub mod rawhead;
