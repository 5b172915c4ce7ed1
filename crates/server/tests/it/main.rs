//! The server's integration tests: one binary (one link of the whole server), a module per
//! area, the shared harness in `common`.

#[allow(dead_code)]
mod common;

mod accounts;
mod audit;
mod audit_pages;
mod browser;
mod capture;
mod capture_deleted;
mod embedded;
mod endpoints;
mod exactly_once;
mod isolation;
mod listen;
mod live;
mod login;
mod official;
mod outage;
mod pages;
mod quota;
mod replay;
mod replay_pages;
mod smoke;
mod understand;
