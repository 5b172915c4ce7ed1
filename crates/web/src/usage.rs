//! The account's plan and usage: `GET /api/v1/account`, the meters on `/` and `/settings`, and
//! the plan checks of endpoint creation and replays (issue 12).

use crate::api_routes::ApiRoutes;
use axum::extract::State;
use axum::Json;
use hookvault_core::api::{AccountJson, LimitsJson, UsageJson};
use hookvault_core::ids::{EndpointId, RequestId, UserId};
use hookvault_store::plans::{self as store, AccountUsage};

use crate::api::ApiUser;
use crate::error::{ApiError, AppError};
use crate::state::AppState;
use crate::views::rfc3339_ms;

pub fn router() -> ApiRoutes {
    ApiRoutes::new().get("/api/v1/account", get_account)
}

/// `GET /api/v1/account`.
#[utoipa::path(get, path = "/api/v1/account", tag = "account", responses((status = 200, description = "`{\"id\",\"email\",\"plan\",\"limits\",\"usage\"}`", body = hookvault_core::api::AccountJson), (status = 401, description = "No or bad credentials", body = hookvault_core::api::ErrorJson)))]
async fn get_account(
    State(state): State<AppState>,
    user: ApiUser,
) -> Result<Json<AccountJson>, ApiError> {
    let a = store::account_usage(&state.pool, user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(account_json(&a)))
}

pub(crate) fn account_json(a: &AccountUsage) -> AccountJson {
    let p = &a.plan;
    AccountJson {
        id: a.id,
        email: a.email.clone(),
        plan: p.name.clone(),
        limits: LimitsJson {
            endpoints: p.endpoints,
            captures_per_month: p.captures_per_month,
            retention_days: p.retention_days,
            max_body_bytes: p.max_body_bytes,
            replays_per_day: p.replays_per_day,
            listen_streams: p.listen_streams,
        },
        usage: UsageJson {
            captures_this_period: a.captures_this_period,
            period_resets_at: rfc3339_ms(&a.period_resets_at),
            endpoints: a.endpoints,
            replays_today: a.replays_today,
            storage_bytes: a.storage_bytes,
        },
    }
}

/// Creates an endpoint when the plan allows one more; otherwise a 422 with the reason.
pub(crate) async fn create_endpoint(
    state: &AppState,
    user_id: UserId,
    id: EndpointId,
    name: &str,
    token: &str,
) -> Result<(), AppError> {
    if store::insert_endpoint_within_plan(&state.pool, id, user_id, name, token).await? {
        return Ok(());
    }
    let plan = store::user_plan(&state.pool, user_id).await?;
    let (name, n) = plan.map_or((String::new(), 0), |p| (p.name, p.endpoints));
    Err(AppError::PlanLimit(format!(
        "your plan ({name}) allows {n} endpoints and you have them all; delete one to create another"
    )))
}

/// The refusal of `asked` replays over the plan's replays per day (nothing was queued): what
/// the plan allows and what was used today.
pub(crate) async fn over_plan(state: &AppState, user_id: UserId, asked: usize) -> AppError {
    let usage = match store::account_usage(&state.pool, user_id).await {
        Ok(usage) => usage,
        Err(e) => return e.into(),
    };
    let (plan, limit, used) = usage.map_or((String::new(), 0, 0), |a| {
        (a.plan.name, a.plan.replays_per_day, a.replays_today)
    });
    AppError::QuotaExceeded(format!(
        "your plan ({plan}) allows {limit} replays per day (UTC); {used} were queued today, so \
         these {asked} would go over it; nothing was queued, try again tomorrow (UTC)"
    ))
}

/// One meter on the dashboard.
pub struct Meter {
    pub label: &'static str,
    pub used: i64,
    pub limit: i64,
    /// 0–100, for the `<meter>`.
    pub percent: i64,
    /// At 80 % or more.
    pub warn: bool,
    /// What happens when the limit is reached.
    pub at_limit: &'static str,
}

/// The plan and usage block of `/` and `/settings`.
pub struct UsageView {
    pub plan: String,
    pub resets_at: String,
    pub retention_days: i32,
    pub meters: Vec<Meter>,
    pub suspended_reason: Option<String>,
}

impl UsageView {
    #[allow(dead_code, reason = "for templates that want one warning line")]
    pub fn any_warning(&self) -> bool {
        self.meters.iter().any(|m| m.warn)
    }
}

/// The usage block for this account.
pub(crate) async fn view(state: &AppState, user_id: UserId) -> Result<Option<UsageView>, AppError> {
    let Some(a) = store::account_usage(&state.pool, user_id).await? else {
        return Ok(None);
    };
    let meter = |label, used: i64, limit: i64, at_limit| {
        let percent = if limit <= 0 {
            100
        } else {
            (used.saturating_mul(100) / limit).clamp(0, 100)
        };
        Meter {
            label,
            used,
            limit,
            percent,
            warn: percent >= 80,
            at_limit,
        }
    };
    Ok(Some(UsageView {
        resets_at: crate::views::rfc3339(&a.period_resets_at),
        retention_days: a.plan.retention_days,
        meters: vec![
            meter(
                "Captures this month",
                a.captures_this_period,
                a.plan.captures_per_month,
                "senders get 429 with Retry-After and nothing is stored until the month ends (UTC)",
            ),
            meter(
                "Endpoints",
                a.endpoints,
                i64::from(a.plan.endpoints),
                "new endpoints are refused until you delete one",
            ),
            meter(
                "Replays today",
                a.replays_today,
                i64::from(a.plan.replays_per_day),
                "replays are refused (429) until the next day (UTC)",
            ),
        ],
        plan: a.plan.name,
        suspended_reason: a.suspended_reason,
    }))
}

/// `found`, or why the capture `id` is not there: a capture whose id (a UUIDv7, which carries
/// its receive time) is older than the plan's retention has expired and been deleted (410 with
/// when and why); anything else is not found.
pub(crate) async fn found<T>(
    state: &AppState,
    user_id: UserId,
    id: RequestId,
    found: Option<T>,
) -> Result<T, AppError> {
    if let Some(v) = found {
        return Ok(v);
    }
    let Some((secs, nanos)) = id.into_uuid().get_timestamp().map(|t| t.to_unix()) else {
        return Err(AppError::NotFound);
    };
    let Ok(received) = time::OffsetDateTime::from_unix_timestamp(i64::try_from(secs).unwrap_or(0))
        .map(|t| t + time::Duration::nanoseconds(i64::from(nanos)))
    else {
        return Err(AppError::NotFound);
    };
    let Some(plan) = store::user_plan(&state.pool, user_id).await? else {
        return Err(AppError::NotFound);
    };
    let expiry = received + time::Duration::days(i64::from(plan.retention_days));
    if expiry > time::OffsetDateTime::now_utc() {
        return Err(AppError::NotFound);
    }
    Err(AppError::Expired(format!(
        "this capture expired on {} and was deleted: your plan ({}) keeps captures for {} days, \
         so it can no longer be shown, replayed, compared or exported",
        crate::views::rfc3339(&expiry),
        plan.name,
        plan.retention_days
    )))
}
