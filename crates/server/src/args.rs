//! The command line: every subcommand and option of the `hookvault` binary.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use hookvault_replay::guard::PrivateTargets;
use hookvault_server::Role;
use ipnet::IpNet;

/// Hookvault: capture webhooks byte for byte, inspect them live, replay them with fresh signatures.
#[derive(Parser)]
#[command(name = "hookvault", version)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Run the service (dashboard, capture, API).
    Serve(Box<ServeArgs>),
    /// Ask for email and password, create an API token and store it in your config directory.
    Login {
        /// The Hookvault server.
        #[arg(long, env = "HOOKVAULT_SERVER", default_value = hookvault_cli::config::DEFAULT_SERVER)]
        server: String,
    },
    /// Revoke the stored API token on its server, then remove it.
    Logout {
        /// Only remove the token from this computer, without revoking it (when the server cannot be reached).
        #[arg(long)]
        local_only: bool,
    },
    /// Forward live captures and dashboard replays of an endpoint to a local URL.
    Listen(ListenArgs),
    /// Deliver a capture again to where the endpoint's running `hookvault listen` forwards
    /// (through the server), and print what the local server answered.
    Resend(ResendArgs),
    /// Check a webhook handler against the production checklist: nine probes built from one
    /// event, a scorecard, exit status 1 when a must-pass probe fails (2 when the audit could
    /// not run).
    Audit(AuditArgs),
    /// Operator commands against the database (DATABASE_URL, else the embedded cluster in --data-dir): accounts, plans, suspension, retention, billing events.
    Admin(AdminArgs),
    /// Apply database migrations to DATABASE_URL and exit.
    Migrate {
        /// PostgreSQL URL.
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
    },
}

#[derive(clap::Args)]
pub(crate) struct AdminArgs {
    /// PostgreSQL URL of the service's database; unset: the embedded cluster in --data-dir.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub(crate) database_url: Option<String>,
    /// The data directory of `hookvault serve` (when DATABASE_URL is unset): its embedded
    /// cluster is used while the server runs, or started for the command and stopped after.
    #[arg(long, env = "HOOKVAULT_DATA_DIR", default_value = "./.hookvault")]
    pub(crate) data_dir: PathBuf,
    #[command(subcommand)]
    pub(crate) command: AdminCommand,
}

#[derive(Subcommand)]
pub(crate) enum AdminCommand {
    /// Every account with its plan and usage.
    Accounts,
    /// Put an account on a plan (its new limits apply at once).
    SetPlan { email: String, plan: String },
    /// Suspend an account: its captures get 403 with the reason, its login says why.
    Suspend {
        email: String,
        /// Shown to senders and at login.
        #[arg(long, default_value = "suspended by the operator")]
        reason: String,
    },
    /// Lift a suspension.
    Unsuspend { email: String },
    /// Delete every capture older than its account's retention now.
    PurgeExpired,
    /// The billing webhook's events, newest first: type, status (pending, done, ignored,
    /// failed), attempts, next attempt, last error and what was done.
    BillingEvents {
        /// Only events still pending or failed.
        #[arg(long)]
        unfinished: bool,
        /// Most events listed.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Queue a failed billing event again (after fixing what made it fail).
    BillingRetry { event_id: String },
}

#[derive(clap::Args)]
pub(crate) struct ListenArgs {
    /// Local URL to deliver to; repeat as PATTERN=URL to route event types (e.g. 'invoice.*=http://localhost:8000/invoices').
    #[arg(long, env = "HOOKVAULT_FORWARD_TO", required = true)]
    pub(crate) forward_to: Vec<String>,
    /// Endpoint name or id (default: your first endpoint; one named "listen" is created if you have none).
    #[arg(long, env = "HOOKVAULT_ENDPOINT")]
    pub(crate) endpoint: Option<String>,
    /// Only these event types (comma-separated, `*` wildcard), e.g. invoice.*,charge.succeeded.
    #[arg(long, env = "HOOKVAULT_EVENTS", value_delimiter = ',')]
    pub(crate) events: Vec<String>,
    /// Re-sign deliveries with this scheme: stripe, standard-webhooks, github, shopify, slack, original, none. Only captures whose signature was valid at capture are re-signed; others are forwarded without one.
    #[arg(long, env = "HOOKVAULT_SIGN")]
    pub(crate) sign: Option<hookvault_core::signing::Scheme>,
    /// With --sign: re-sign every capture, including those whose signature was invalid or not checked at capture.
    #[arg(long, env = "HOOKVAULT_SIGN_UNVERIFIED", requires = "sign")]
    pub(crate) sign_unverified: bool,
    /// The signing secret your local handler verifies with (e.g. whsec_…).
    #[arg(long, env = "HOOKVAULT_SECRET", hide_env_values = true)]
    pub(crate) secret: Option<String>,
    /// The Hookvault server (default: the one you logged in to).
    #[arg(long, env = "HOOKVAULT_SERVER")]
    pub(crate) server: Option<String>,
    /// API token (default: the one stored by `hookvault login`).
    #[arg(long, env = "HOOKVAULT_TOKEN", hide_env_values = true)]
    pub(crate) token: Option<String>,
    /// How many times a failed local delivery (connection refused, timeout, 5xx) is tried again, with a wait that doubles each time.
    #[arg(long, env = "HOOKVAULT_RETRIES", default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=20))]
    pub(crate) retries: u32,
    /// Never retry a failed local delivery (the same as --retries 0).
    #[arg(long, env = "HOOKVAULT_NO_RETRY", conflicts_with = "retries")]
    pub(crate) no_retry: bool,
    /// The wait before the first retry, in milliseconds (doubling after each, at most 30 s).
    #[arg(long, env = "HOOKVAULT_RETRY_DELAY_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..=30_000))]
    pub(crate) retry_delay_ms: u64,
}

#[derive(clap::Args)]
pub(crate) struct ResendArgs {
    /// The capture's id (its page's URL, or `id` in the API).
    pub(crate) request_id: String,
    /// Seconds to wait for the listener's answer (0: queue it and return at once).
    #[arg(long, env = "HOOKVAULT_WAIT_SECS", default_value_t = 60)]
    pub(crate) wait_secs: u64,
    /// The Hookvault server (default: the one you logged in to).
    #[arg(long, env = "HOOKVAULT_SERVER")]
    pub(crate) server: Option<String>,
    /// API token (default: the one stored by `hookvault login`).
    #[arg(long, env = "HOOKVAULT_TOKEN", hide_env_values = true)]
    pub(crate) token: Option<String>,
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("event").args(["from_capture", "from_file", "sample"])))]
pub(crate) struct AuditArgs {
    /// The handler's URL; every probe goes there and nowhere else (redirects are not followed).
    #[arg(long, env = "HOOKVAULT_TARGET")]
    pub(crate) target: String,
    /// Signing scheme the handler verifies: stripe, standard-webhooks, github, shopify, slack.
    #[arg(long, env = "HOOKVAULT_SIGN")]
    pub(crate) sign: hookvault_core::signing::Scheme,
    /// The signing secret the handler verifies with (e.g. whsec_…).
    #[arg(long, env = "HOOKVAULT_SECRET", hide_env_values = true)]
    pub(crate) secret: String,
    /// Build the probes from this capture (needs `hookvault login` or --token).
    #[arg(long, env = "HOOKVAULT_FROM_CAPTURE")]
    pub(crate) from_capture: Option<String>,
    /// Build the probes from a capture's fixture download (JSON).
    #[arg(long, env = "HOOKVAULT_FROM_FILE")]
    pub(crate) from_file: Option<PathBuf>,
    /// Build the probes from a built-in event: stripe:invoice.paid, standard-webhooks:contact.created, github:issues.opened, shopify:orders/create, slack:app_mention (default: the one for --sign).
    #[arg(long, env = "HOOKVAULT_SAMPLE")]
    pub(crate) sample: Option<String>,
    /// Print the report as JSON (the announcement goes to stderr).
    #[arg(long, env = "HOOKVAULT_JSON")]
    pub(crate) json: bool,
    /// Pause between two probes, in milliseconds.
    #[arg(long, env = "HOOKVAULT_SPACING_MS", default_value_t = 250, value_parser = clap::value_parser!(u64).range(100..=60_000))]
    pub(crate) spacing_ms: u64,
    /// Longest wait for one answer, in seconds.
    #[arg(long, env = "HOOKVAULT_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=120))]
    pub(crate) timeout_secs: u64,
    /// The Hookvault server, for --from-capture (default: the one you logged in to).
    #[arg(long, env = "HOOKVAULT_SERVER")]
    pub(crate) server: Option<String>,
    /// API token, for --from-capture (default: the one stored by `hookvault login`).
    #[arg(long, env = "HOOKVAULT_TOKEN", hide_env_values = true)]
    pub(crate) token: Option<String>,
}

#[derive(clap::Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "HOOKVAULT_LISTEN", default_value = "127.0.0.1:8080")]
    pub(crate) listen: SocketAddr,
    /// Serve Prometheus metrics at http://ADDR/metrics, on this separate address only (off unless set; keep it private, e.g. 127.0.0.1:9090 or an internal interface).
    #[arg(long, env = "HOOKVAULT_METRICS_LISTEN")]
    pub(crate) metrics_listen: Option<SocketAddr>,
    /// Public base URL of the dashboard (decides Secure cookies; capture URLs too unless --capture-url is set); defaults to http://LISTEN.
    #[arg(long, env = "HOOKVAULT_PUBLIC_URL")]
    pub(crate) public_url: Option<String>,
    /// Base of capture URLs (scheme, host, optional port), e.g. https://hooks-capture.example.net. On another host than the public URL, this process serves /in/… only on that host and the dashboard only on the other.
    #[arg(long, env = "HOOKVAULT_CAPTURE_URL")]
    pub(crate) capture_url: Option<String>,
    /// Accept capture URLs on the dashboard's host although the public URL is https (otherwise the server refuses to start).
    #[arg(long, env = "HOOKVAULT_SHARED_CAPTURE_ORIGIN")]
    pub(crate) shared_capture_origin: bool,
    /// Directory for the embedded PostgreSQL cluster (when DATABASE_URL is unset) and the server key.
    #[arg(long, env = "HOOKVAULT_DATA_DIR", default_value = "./.hookvault")]
    pub(crate) data_dir: PathBuf,
    /// Which services to run in this process.
    #[arg(long, env = "HOOKVAULT_ROLE", value_enum, default_value = "all")]
    pub(crate) role: Role,
    /// Largest accepted capture body in bytes (larger ones get 413).
    #[arg(long, env = "HOOKVAULT_MAX_BODY_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub(crate) max_body_bytes: usize,
    /// Proxies (CIDR, comma-separated) whose X-Forwarded-For is believed.
    #[arg(long, env = "HOOKVAULT_TRUSTED_PROXIES", value_delimiter = ',')]
    pub(crate) trusted_proxies: Vec<IpNet>,
    /// PostgreSQL URL of an existing server; unset = embedded cluster in --data-dir.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub(crate) database_url: Option<String>,
    /// Key sealing users' signing secrets (32 bytes, hex or base64); default: DATA_DIR/secret.key.
    #[arg(long, env = "HOOKVAULT_SECRET_KEY", hide_env_values = true)]
    pub(crate) secret_key: Option<String>,
    /// Most captures per endpoint per minute (per process); over it senders get 429 with Retry-After. Unset = unlimited.
    #[arg(long, env = "HOOKVAULT_CAPTURE_QUOTA_PER_MINUTE")]
    pub(crate) capture_quota_per_minute: Option<u32>,
    /// Concurrent batching writer tasks on the capture path.
    #[arg(long, env = "HOOKVAULT_WRITER_TASKS", default_value_t = 2)]
    pub(crate) writer_tasks: usize,
    /// Size of the database connection pool of the dashboard, API and replay workers.
    #[arg(long, env = "HOOKVAULT_DB_CONNECTIONS", default_value_t = 16)]
    pub(crate) db_connections: u32,
    /// Size of the capture path's own connection pool (route lookups and writers), which
    /// dashboard and API load cannot take; at least the writer tasks plus two.
    #[arg(long, env = "HOOKVAULT_CAPTURE_DB_CONNECTIONS", default_value_t = 4)]
    pub(crate) capture_db_connections: u32,
    /// Seconds a capture's body may take to arrive after its head (then 408, connection closed).
    #[arg(long, env = "HOOKVAULT_BODY_DEADLINE_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub(crate) body_deadline_secs: u64,
    /// Bytes of capture bodies this process buffers at once; over it senders get 503 + Retry-After.
    #[arg(long, env = "HOOKVAULT_BODY_BUDGET_BYTES", default_value_t = 256 * 1024 * 1024)]
    pub(crate) body_budget_bytes: usize,
    /// Most open HTTP connections in all.
    #[arg(long, env = "HOOKVAULT_MAX_OPEN_CONNECTIONS", default_value_t = 8192)]
    pub(crate) max_open_connections: usize,
    /// Most open HTTP connections from one client address (trusted proxies are exempt).
    #[arg(
        long,
        env = "HOOKVAULT_MAX_CONNECTIONS_PER_ADDRESS",
        default_value_t = 256
    )]
    pub(crate) max_connections_per_address: usize,
    /// Most open event streams (live lists and `hookvault listen`) per account, per process.
    #[arg(long, env = "HOOKVAULT_MAX_STREAMS_PER_ACCOUNT", default_value_t = 10)]
    pub(crate) max_streams_per_account: usize,
    /// Whether replays may target loopback and private addresses (allow|deny); default: allow
    /// only when the public URL's host is loopback. Link-local, cloud metadata and unspecified
    /// addresses are refused either way.
    #[arg(long, env = "HOOKVAULT_PRIVATE_TARGETS")]
    pub(crate) private_targets: Option<PrivateTargets>,
    /// Total time limit, in seconds, for one replay send (connect, send, read the answer).
    #[arg(long, env = "HOOKVAULT_REPLAY_TIMEOUT_SECS", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub(crate) replay_timeout_secs: u64,
    /// Most replay chains in flight in this process (roles all and worker): a replay of its own (also each replay of an unordered bulk replay), or an ordered bulk batch.
    #[arg(long, env = "HOOKVAULT_REPLAY_WORKERS", default_value_t = 16)]
    pub(crate) replay_workers: usize,
    /// Most replay sends in flight to one destination host, per process.
    #[arg(long, env = "HOOKVAULT_REPLAY_HOST_CONCURRENCY", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) replay_host_concurrency: u32,
    /// Most replays of one account in flight at once, over all processes (fair sharing of the workers); an ordered bulk batch counts once.
    #[arg(long, env = "HOOKVAULT_REPLAY_ACCOUNT_CONCURRENCY", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) replay_account_concurrency: u32,
    /// Most replay sends started per second to one destination host, per process (0: no limit).
    #[arg(long, env = "HOOKVAULT_REPLAY_HOST_RATE", default_value_t = 100)]
    pub(crate) replay_host_rate: u32,
    /// Seconds of searches and exports each account may use per second (its share of the server; over it, requests wait, then 429).
    #[arg(long, env = "HOOKVAULT_SEARCH_SHARE", default_value_t = 0.1, value_parser = parse_share)]
    pub(crate) search_share: f64,
    /// Seconds of searches and exports an account may save up (and owe).
    #[arg(long, env = "HOOKVAULT_SEARCH_BURST_SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) search_burst_secs: u64,
    /// Mail server for account mails (issue 13): smtps://user:pass@host:465 (TLS) or
    /// smtp://user:pass@host:587 (STARTTLS). Unset = mails are written to the log (development).
    #[arg(long, env = "HOOKVAULT_SMTP_URL", hide_env_values = true)]
    pub(crate) smtp_url: Option<String>,
    /// Sender of account mails.
    #[arg(
        long,
        env = "HOOKVAULT_MAIL_FROM",
        default_value = "Hookvault <hookvault@localhost>"
    )]
    pub(crate) mail_from: String,
    /// Captures of accounts whose email is not verified yet wait for it: `503` with
    /// `Retry-After` (nothing stored), so senders that retry deliver them once it is verified.
    #[arg(long, env = "HOOKVAULT_REQUIRE_VERIFIED_EMAIL")]
    pub(crate) require_verified_email: bool,
    /// Plans file (TOML, `[plans.NAME]` tables of limits) written to the database at start.
    #[arg(long, env = "HOOKVAULT_PLANS")]
    pub(crate) plans: Option<PathBuf>,
    /// Count captures against the accounts' monthly plan quotas (`--plan-quotas false`: never refuse a capture for its monthly quota; the other plan limits still apply).
    #[arg(long, env = "HOOKVAULT_PLAN_QUOTAS", default_value_t = true, action = clap::ArgAction::Set)]
    pub(crate) plan_quotas: bool,
    /// Stripe secret key (sk_test_… or sk_live_…) for Pro upgrades through Stripe Checkout; with
    /// --stripe-price-id and --stripe-webhook-secret. Unset = billing is off.
    #[arg(long, env = "HOOKVAULT_STRIPE_SECRET_KEY", hide_env_values = true, requires_all = ["stripe_price_id", "stripe_webhook_secret"])]
    pub(crate) stripe_secret_key: Option<String>,
    /// The recurring Stripe price of the Pro plan (price_…).
    #[arg(
        long,
        env = "HOOKVAULT_STRIPE_PRICE_ID",
        requires = "stripe_secret_key"
    )]
    pub(crate) stripe_price_id: Option<String>,
    /// Signing secret (whsec_…) of the Stripe webhook endpoint that points at /billing/stripe/webhook.
    #[arg(
        long,
        env = "HOOKVAULT_STRIPE_WEBHOOK_SECRET",
        hide_env_values = true,
        requires = "stripe_secret_key"
    )]
    pub(crate) stripe_webhook_secret: Option<String>,
    /// Base URL of Stripe's API.
    #[arg(
        long,
        env = "HOOKVAULT_STRIPE_API_BASE",
        default_value = "https://api.stripe.com"
    )]
    pub(crate) stripe_api_base: String,
    /// How long an account keeps its plan after a failed payment (e.g. 7d, 36h, 30m, 45s).
    #[arg(long, env = "HOOKVAULT_BILLING_GRACE", default_value = "7d", value_parser = parse_grace)]
    pub(crate) billing_grace: std::time::Duration,
}

pub(crate) fn parse_grace(text: &str) -> Result<std::time::Duration, String> {
    hookvault_core::billing::parse_duration(text)
}

/// A share of time: a number of seconds per second above 0 and at most 1.
pub(crate) fn parse_share(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 1.0 => Ok(v),
        _ => Err(format!("{s:?} is not a number above 0 and at most 1")),
    }
}
