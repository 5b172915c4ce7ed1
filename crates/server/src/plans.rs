//! Plans: the operator's plans file (`--plans FILE`), the retention pruner and the
//! `hookvault admin` commands.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use hookvault_store::plans::{self as store, AdminChange, Plan};
use hookvault_store::PgPool;
use serde::Deserialize;

/// One plan in the plans file: every limit may be left out to keep its current value (a new
/// plan must give them all).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanLimits {
    pub endpoints: Option<i32>,
    pub captures_per_month: Option<i64>,
    pub retention_days: Option<i32>,
    pub max_body_bytes: Option<i32>,
    pub replays_per_day: Option<i32>,
    pub listen_streams: Option<i32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlansFile {
    #[serde(default)]
    plans: BTreeMap<String, PlanLimits>,
}

/// Reads a plans file:
///
/// ```toml
/// [plans.free]
/// captures_per_month = 50000
/// retention_days = 3
/// ```
pub fn read_plans_file(path: &Path) -> anyhow::Result<BTreeMap<String, PlanLimits>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse_plans(&text).with_context(|| format!("plans file {}", path.display()))
}

/// Parses the text of a plans file.
pub fn parse_plans(text: &str) -> anyhow::Result<BTreeMap<String, PlanLimits>> {
    let file: PlansFile = toml::from_str(text)?;
    for (name, p) in &file.plans {
        if name.is_empty() || name.len() > 40 {
            anyhow::bail!("plan name {name:?} must have 1 to 40 characters");
        }
        let negative = [
            p.endpoints.map(i64::from),
            p.captures_per_month,
            p.max_body_bytes.map(i64::from),
            p.replays_per_day.map(i64::from),
            p.listen_streams.map(i64::from),
        ]
        .into_iter()
        .flatten()
        .any(|v| v < 0);
        if negative {
            anyhow::bail!("plan {name}: limits cannot be negative");
        }
        if p.retention_days.is_some_and(|d| d < 1) {
            anyhow::bail!("plan {name}: retention_days must be at least 1");
        }
    }
    Ok(file.plans)
}

/// Writes the plans file's plans into the database (at start, before serving).
pub async fn apply_plans(
    pool: &PgPool,
    plans: &BTreeMap<String, PlanLimits>,
) -> anyhow::Result<()> {
    if plans.is_empty() {
        return Ok(());
    }
    let current = store::list_plans(pool).await?;
    for (name, limits) in plans {
        let base = current.iter().find(|p| &p.name == name);
        let pick = |given: Option<i64>, have: Option<i64>, what: &str| {
            given
                .or(have)
                .with_context(|| format!("plan {name} is new, so it must set {what}"))
        };
        let plan = Plan {
            name: name.clone(),
            endpoints: narrow(pick(
                limits.endpoints.map(i64::from),
                base.map(|b| i64::from(b.endpoints)),
                "endpoints",
            )?),
            captures_per_month: pick(
                limits.captures_per_month,
                base.map(|b| b.captures_per_month),
                "captures_per_month",
            )?,
            retention_days: narrow(pick(
                limits.retention_days.map(i64::from),
                base.map(|b| i64::from(b.retention_days)),
                "retention_days",
            )?),
            max_body_bytes: narrow(pick(
                limits.max_body_bytes.map(i64::from),
                base.map(|b| i64::from(b.max_body_bytes)),
                "max_body_bytes",
            )?),
            replays_per_day: narrow(pick(
                limits.replays_per_day.map(i64::from),
                base.map(|b| i64::from(b.replays_per_day)),
                "replays_per_day",
            )?),
            listen_streams: narrow(pick(
                limits.listen_streams.map(i64::from),
                base.map(|b| i64::from(b.listen_streams)),
                "listen_streams",
            )?),
        };
        store::upsert_plan(pool, &plan).await?;
        tracing::info!(plan = %plan.name, "plan limits from the plans file applied");
    }
    Ok(())
}

fn narrow(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// Captures deleted per retention statement: each batch is its own short transaction, so live
/// streams (which wait for the oldest running write) and captures never wait long for it.
pub const RETENTION_BATCH: i64 = 500;
/// How often the pruner looks for expired captures; with batches that keep up, a capture is
/// deleted within this long (plus the time to delete the backlog) after it expires.
pub const RETENTION_EVERY: Duration = Duration::from_secs(600);
/// Pause between two batches, leaving the database to the capture path.
const RETENTION_PAUSE: Duration = Duration::from_millis(20);

/// Deletes every capture older than its account's retention, in batches; returns how many.
pub async fn purge_expired(pool: &PgPool) -> anyhow::Result<i64> {
    let mut total = 0;
    loop {
        let n = store::delete_expired_batch(pool, RETENTION_BATCH).await?;
        total += n;
        if n < RETENTION_BATCH {
            return Ok(total);
        }
        tokio::time::sleep(RETENTION_PAUSE).await;
    }
}

/// The retention pruner every process runs: only one deletes at a time (an advisory lock).
pub async fn retention_loop(pool: PgPool) {
    let mut every = tokio::time::interval(RETENTION_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match purge_expired(&pool).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "expired captures deleted"),
            Err(e) => tracing::warn!(error = %e, "retention: deleting expired captures"),
        }
    }
}

/// `hookvault admin accounts`: one line per account with its plan and usage.
pub async fn admin_accounts(pool: &PgPool) -> anyhow::Result<String> {
    use std::fmt::Write;
    let accounts = store::accounts_usage(pool, None).await?;
    let mut out = format!(
        "{:<40} {:<8} {:>21} {:>9} {:>13} {:>12}  {}\n",
        "EMAIL", "PLAN", "CAPTURES THIS MONTH", "ENDPOINTS", "REPLAYS TODAY", "STORAGE", "STATUS"
    );
    for a in accounts {
        let captures = format!("{}/{}", a.captures_this_period, a.plan.captures_per_month);
        let endpoints = format!("{}/{}", a.endpoints, a.plan.endpoints);
        let replays = format!("{}/{}", a.replays_today, a.plan.replays_per_day);
        let status = match &a.suspended_reason {
            Some(r) => format!("suspended: {r}"),
            None => "active".to_string(),
        };
        let _ = writeln!(
            out,
            "{:<40} {:<8} {:>21} {:>9} {:>13} {:>12}  {}",
            a.email, a.plan.name, captures, endpoints, replays, a.storage_bytes, status
        );
    }
    Ok(out)
}

/// `hookvault admin set-plan EMAIL PLAN`.
pub async fn admin_set_plan(pool: &PgPool, email: &str, plan: &str) -> anyhow::Result<String> {
    match store::set_plan(pool, email, plan).await? {
        AdminChange::Done => Ok(format!("{email} is now on plan {plan}")),
        AdminChange::NoSuchAccount => anyhow::bail!("no account with email {email}"),
        AdminChange::NoSuchPlan => {
            let names: Vec<String> = store::list_plans(pool)
                .await?
                .into_iter()
                .map(|p| p.name)
                .collect();
            anyhow::bail!("no plan named {plan} (plans: {})", names.join(", "))
        }
    }
}

/// `hookvault admin suspend EMAIL [--reason …]` and `unsuspend EMAIL`.
pub async fn admin_suspend(
    pool: &PgPool,
    email: &str,
    reason: Option<&str>,
) -> anyhow::Result<String> {
    match store::set_suspended(pool, email, reason).await? {
        AdminChange::Done => Ok(match reason {
            Some(r) => format!("{email} is suspended ({r})"),
            None => format!("{email} is no longer suspended"),
        }),
        _ => anyhow::bail!("no account with email {email}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plans_file_sets_some_limits_and_refuses_nonsense() {
        let plans = parse_plans(
            "[plans.free]\ncaptures_per_month = 50000\nretention_days = 3\n[plans.team]\nendpoints = 50\n",
        )
        .unwrap();
        assert_eq!(plans["free"].captures_per_month, Some(50000));
        assert_eq!(plans["free"].endpoints, None);
        assert_eq!(plans["team"].endpoints, Some(50));
        assert!(parse_plans("[plans.free]\nretention_days = 0\n").is_err());
        assert!(parse_plans("[plans.free]\ncaptures = 1\n").is_err());
        assert!(parse_plans("[plans.free]\nendpoints = -1\n").is_err());
    }
}
