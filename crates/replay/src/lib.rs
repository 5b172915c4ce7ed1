//! Replays: queueing them, the guarded outbound HTTP client, the job worker and attempt records.

pub mod audit;
pub mod guard;
pub mod limit;
pub mod order;
pub mod queue;
pub mod record;
pub mod target;
pub mod worker;
