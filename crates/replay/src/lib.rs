//! Replays: the guarded outbound HTTP client, the job worker and attempt records.

pub mod guard;
