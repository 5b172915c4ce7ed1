//! Re-checking the signatures of an endpoint's existing captures when its signature check is
//! set, changed or cleared: a background run per endpoint, a page of captures at a time, its
//! progress in the database (shown on the endpoint page) so that a restart resumes it. Each
//! capture is judged as at its arrival (`received_at` is the verifier's "now"), so one that
//! was fresh when it came is not called stale today.

use std::sync::LazyLock;

use hookvault_core::ids::{EndpointId, UserId};
use hookvault_core::signing;
use hookvault_store::rechecks::{self as store, Recheck, Verdict};
use tokio::sync::Semaphore;

use crate::error::AppError;
use crate::state::AppState;

/// Captures read per page (bodies included, so the page stays small).
const PAGE: i64 = 200;

/// Runs at once in this process: re-checking is background work and must not take the pool.
static RUNNING: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(2));

/// Starts re-checking the endpoint's captures against its current signature check (call after
/// the change is committed). A run for an older change stops at its next page.
pub(crate) async fn start(state: &AppState, endpoint_id: EndpointId) -> Result<(), AppError> {
    let generation = store::start_recheck(&state.pool, endpoint_id).await?;
    spawn(state.clone(), endpoint_id, generation, 0);
    Ok(())
}

/// Resumes the runs a stop interrupted (called once at start).
pub async fn resume_rechecks(state: AppState) {
    match store::list_unfinished_rechecks(&state.pool).await {
        Ok(runs) => {
            for r in runs {
                spawn(state.clone(), r.endpoint_id, r.generation, r.after_seq);
            }
        }
        Err(e) => tracing::warn!(error = %e, "listing interrupted signature re-checks"),
    }
}

fn spawn(state: AppState, endpoint_id: EndpointId, generation: i64, after_seq: i64) {
    tokio::spawn(async move {
        let Ok(_permit) = RUNNING.acquire().await else {
            return;
        };
        match run(&state, endpoint_id, generation, after_seq).await {
            Ok(true) => tracing::info!(endpoint.id = %endpoint_id, "signatures re-checked"),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(endpoint.id = %endpoint_id, error = %e, "signature re-check stopped; it resumes at the next start");
            }
        }
    });
}

/// Re-checks page after page; true when finished, false when a newer change took over.
async fn run(
    state: &AppState,
    endpoint_id: EndpointId,
    generation: i64,
    mut after_seq: i64,
) -> Result<bool, AppError> {
    let Some((scheme, sealed)) = store::find_endpoint_signing(&state.pool, endpoint_id).await?
    else {
        return Ok(false);
    };
    let check = match (scheme, sealed) {
        (Some(scheme), Some(sealed)) => {
            let plain = state
                .secret_key
                .open(&sealed, endpoint_id.as_bytes())
                .map_err(|e| {
                    AppError::internal(anyhow::Error::new(e).context("opening a signing secret"))
                })?;
            let secret = String::from_utf8(plain).map_err(|e| {
                AppError::internal(anyhow::Error::new(e).context("a signing secret is not UTF-8"))
            })?;
            Some((scheme, secret))
        }
        _ => None,
    };
    loop {
        let page = store::list_recheck_sources(&state.pool, endpoint_id, after_seq, PAGE).await?;
        let finished = (page.len() as i64) < PAGE;
        let verdicts: Vec<Verdict> = page
            .iter()
            .map(|r| {
                let Some((scheme, secret)) = &check else {
                    return Verdict {
                        id: r.id,
                        scheme: None,
                        status: None,
                        reason: None,
                    };
                };
                let v = signing::verify(
                    *scheme,
                    &r.headers,
                    &r.body,
                    secret,
                    r.received_at.unix_timestamp(),
                );
                Verdict {
                    id: r.id,
                    scheme: Some(v.scheme),
                    status: Some(v.status),
                    reason: Some(v.reason),
                }
            })
            .collect();
        after_seq = page.last().map_or(after_seq, |r| r.seq);
        if !store::save_recheck_page(
            &state.pool,
            endpoint_id,
            generation,
            after_seq,
            &verdicts,
            finished,
        )
        .await?
        {
            return Ok(false);
        }
        if finished {
            return Ok(true);
        }
    }
}

/// What the endpoint page says about the latest run, if there was one.
pub(crate) async fn progress(
    state: &AppState,
    user_id: UserId,
    endpoint_id: EndpointId,
) -> Result<Option<String>, AppError> {
    Ok(store::find_recheck(&state.pool, user_id, endpoint_id)
        .await?
        .map(|r| describe(&r)))
}

fn describe(r: &Recheck) -> String {
    match r.finished_at {
        None => format!(
            "Re-checking the signatures of existing captures with the new setting: {} of {} done.",
            r.done, r.total
        ),
        Some(_) => format!(
            "Signatures of the {} existing captures were re-checked with the current setting (each judged as at its arrival).",
            r.done
        ),
    }
}
