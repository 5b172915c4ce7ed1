//! The server's integration tests: one binary (one link of the whole server), a module per
//! area, the shared harness in `common`.

#[allow(dead_code)]
mod common;

mod account_deletion;
mod account_hygiene;
mod accounts;
mod audit;
mod audit_pages;
mod billing;
mod billing_browser;
mod browser;
mod bulk_search;
mod capture;
mod capture_deleted;
mod capture_origin;
mod embedded;
mod endpoints;
mod exactly_once;
mod faults;
mod form_errors;
mod forms;
mod inspector;
mod isolation;
mod listen;
mod listen_queue;
mod listen_sign;
mod listen_surface;
mod live;
mod login;
mod login_abuse;
mod mail;
mod metrics;
mod official;
mod openapi;
mod outage;
mod pages;
mod plain_words;
mod plans;
mod quota;
mod recheck;
mod replay;
mod replay_history;
mod replay_loop;
mod replay_pages;
mod replay_unordered;
mod responsive;
mod session_cookie;
mod smoke;
mod ssrf_policy;
mod test_databases;
mod understand;
