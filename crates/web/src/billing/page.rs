//! `/settings/billing`: the account's plan and its limits; **Upgrade** creates a Stripe
//! Checkout Session and sends the browser there; **Manage billing** opens Stripe's billing
//! portal. Without Stripe settings the page says billing is off and how an operator changes
//! plans instead.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use hookvault_core::billing::PAID_PLAN;
use serde::Deserialize;

use super::stripe::Checkout;
use crate::auth::{CheckedForm, CsrfForm, CurrentUser};
use crate::error::AppError;
use crate::state::AppState;
use crate::views::{render, Page};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/settings/billing", get(show))
        .route("/settings/billing/upgrade", post(upgrade))
        .route("/settings/billing/manage", post(manage))
}

#[derive(Template)]
#[template(path = "settings/billing.html")]
struct BillingPage {
    page: Page,
    usage: Option<crate::usage::UsageView>,
    /// Stripe is configured.
    enabled: bool,
    /// The account is on the paid plan.
    paid: bool,
    /// A Stripe customer is linked (Manage billing works).
    customer: bool,
    subscription_status: Option<String>,
    grace_until: Option<String>,
    /// The paid plan's limits, for the upgrade offer.
    offer: Option<hookvault_store::plans::Plan>,
    message: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct ShowQuery {
    #[serde(default)]
    checkout: String,
}

async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<ShowQuery>,
) -> Result<Response, AppError> {
    let message = match q.checkout.as_str() {
        "success" => Some(
            "Thank you. Your upgrade takes effect as soon as Stripe confirms the payment to \
             Hookvault, usually within seconds: reload this page."
                .to_string(),
        ),
        "cancel" => Some("Checkout was cancelled; nothing was charged.".to_string()),
        _ => None,
    };
    page(&state, &user, message, None, StatusCode::OK).await
}

async fn page(
    state: &AppState,
    user: &CurrentUser,
    message: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let usage = crate::usage::view(state, user.id).await?;
    let account = hookvault_store::billing::account_billing(&state.pool, user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    let offer = hookvault_store::plans::list_plans(&state.pool)
        .await?
        .into_iter()
        .find(|p| p.name == PAID_PLAN);
    let mut resp = render(&BillingPage {
        page: Page::for_user("Billing", user).await?,
        paid: usage.as_ref().is_some_and(|u| u.plan == PAID_PLAN),
        usage,
        enabled: state.billing.is_some(),
        customer: account.customer_id.is_some(),
        subscription_status: account.subscription_status,
        grace_until: account.grace_until.map(|t| crate::views::rfc3339(&t)),
        offer,
        message,
        error,
    })?;
    *resp.status_mut() = status;
    if let Some(billing) = &state.billing {
        let csp = crate::security::csp_with_form_targets(&billing.form_targets);
        if let Ok(v) = axum::http::HeaderValue::from_str(&csp) {
            resp.headers_mut()
                .insert(axum::http::header::CONTENT_SECURITY_POLICY, v);
        }
    }
    Ok(resp)
}

/// Creates a Checkout Session for the Pro price and sends the browser to it (303).
async fn upgrade(
    State(state): State<AppState>,
    user: CurrentUser,
    CheckedForm(_): CheckedForm<CsrfForm>,
) -> Result<Response, AppError> {
    let refuse = |why: String, status| page(&state, &user, None, Some(why), status);
    let Some(billing) = &state.billing else {
        return refuse(
            "Billing is off on this server: there is nothing to buy here.".into(),
            StatusCode::NOT_FOUND,
        )
        .await;
    };
    if !user.email_verified {
        return refuse(
            format!(
                "Verify your email address first: open the link we mailed to {} (or send it \
                 again with the button above), then upgrade.",
                user.email
            ),
            StatusCode::FORBIDDEN,
        )
        .await;
    }
    if hookvault_store::billing::has_paying_subscription(&state.pool, user.id).await? {
        return refuse(
            "You have a Pro subscription already; use Manage billing to change it.".into(),
            StatusCode::CONFLICT,
        )
        .await;
    }
    let account = hookvault_store::billing::account_billing(&state.pool, user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    let base = &state.config.public_url;
    let account_id = user.id.to_string();
    let success_url = format!("{base}/settings/billing?checkout=success");
    let cancel_url = format!("{base}/settings/billing?checkout=cancel");
    let created = billing
        .stripe
        .create_checkout_session(&Checkout {
            price_id: &billing.config.price_id,
            account_id: &account_id,
            email: &user.email,
            customer: account.customer_id.as_deref(),
            success_url: &success_url,
            cancel_url: &cancel_url,
        })
        .await;
    match created {
        Ok(url) => {
            tracing::info!(user.id = %user.id, "checkout session created");
            Ok(Redirect::to(&url).into_response())
        }
        Err(e) => {
            tracing::warn!(user.id = %user.id, error = %e, "creating a checkout session failed");
            refuse(
                format!("The upgrade could not start. {e}"),
                StatusCode::BAD_GATEWAY,
            )
            .await
        }
    }
}

/// Opens Stripe's billing portal for the account's customer (303).
async fn manage(
    State(state): State<AppState>,
    user: CurrentUser,
    CheckedForm(_): CheckedForm<CsrfForm>,
) -> Result<Response, AppError> {
    let refuse = |why: String, status| page(&state, &user, None, Some(why), status);
    let Some(billing) = &state.billing else {
        return refuse(
            "Billing is off on this server.".into(),
            StatusCode::NOT_FOUND,
        )
        .await;
    };
    let account = hookvault_store::billing::account_billing(&state.pool, user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    let Some(customer) = account.customer_id else {
        return refuse(
            "There is no billing account to manage yet: upgrade first.".into(),
            StatusCode::CONFLICT,
        )
        .await;
    };
    let return_url = format!("{}/settings/billing", state.config.public_url);
    match billing
        .stripe
        .create_portal_session(&customer, &return_url)
        .await
    {
        Ok(url) => Ok(Redirect::to(&url).into_response()),
        Err(e) => {
            tracing::warn!(user.id = %user.id, error = %e, "creating a portal session failed");
            refuse(
                format!("The billing portal could not be opened. {e}"),
                StatusCode::BAD_GATEWAY,
            )
            .await
        }
    }
}
