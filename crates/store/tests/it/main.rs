//! The store against a real PostgreSQL (the shared embedded test cluster, or `DATABASE_URL`),
//! one test binary with a module per subject.

mod captures;
mod common;
mod feed;
mod priority;
mod replays;
mod stored_names;
mod test_databases;
