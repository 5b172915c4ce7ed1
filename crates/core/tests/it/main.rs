//! Core's integration tests: the ones that read fixture files, open sockets or run other
//! programs, which the pure library and its unit tests in `src/` must not. One binary (one
//! link of the crate), a module per area.

mod curl_replay;
mod provider_corpus;
mod stripe_fixtures;
