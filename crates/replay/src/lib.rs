//! Replays: the guarded outbound HTTP client, the job worker and attempt records.

pub mod audit;
pub mod guard;
pub mod limit;
pub mod order;
pub mod record;
pub mod target;
pub mod worker;
