//! Operations: the rules and actions that the dashboard pages and the JSON API share. Handlers
//! parse their input, call one operation, and render its result; neither imports the other.

pub(crate) mod accounts;
pub(crate) mod audits;
pub(crate) mod edits;
pub(crate) mod endpoints;
pub(crate) mod last_target;
pub(crate) mod links;
pub(crate) mod rechecks;
pub(crate) mod replays;
pub(crate) mod requests;
pub(crate) mod tokens;
