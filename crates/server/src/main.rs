//! The `hookvault` binary.

/// mimalloc: the capture path allocates and frees many small buffers per request, and glibc's
/// malloc showed up at about a tenth of the server's CPU in profiles.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
mod args;

use anyhow::Context;
use args::*;
use clap::Parser;
use hookvault_capture::listener::ConnectionLimits;
use hookvault_core::secretbox::SecretKey;
use hookvault_server::{Database, ServeConfig, Server};

fn main() -> std::process::ExitCode {
    init_tracing();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("hookvault: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // A failed audit has already printed its scorecard.
            if !e.is::<hookvault_cli::audit::MustPassFailed>() {
                eprintln!("hookvault: {e:#}");
            }
            hookvault_cli::audit::exit_code(&e).unwrap_or(std::process::ExitCode::FAILURE)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(*args).await,
        Command::Login { server } => hookvault_cli::login::login(&server).await,
        Command::Logout { local_only } => hookvault_cli::login::logout(local_only).await,
        Command::Listen(a) => {
            hookvault_cli::listen::listen(hookvault_cli::listen::ListenOptions {
                server: a.server,
                token: a.token,
                endpoint: a.endpoint,
                forward_to: a.forward_to,
                events: a.events,
                sign: a.sign,
                secret: a.secret,
                sign_unverified: a.sign_unverified,
                retries: if a.no_retry { 0 } else { a.retries },
                retry_delay: std::time::Duration::from_millis(a.retry_delay_ms),
            })
            .await
        }
        Command::Resend(a) => {
            hookvault_cli::resend::resend(hookvault_cli::resend::ResendOptions {
                request_id: a.request_id,
                server: a.server,
                token: a.token,
                wait: std::time::Duration::from_secs(a.wait_secs),
            })
            .await
        }
        Command::Audit(a) => {
            hookvault_cli::audit::command(hookvault_cli::audit::AuditOptions {
                target: a.target,
                sign: a.sign,
                secret: a.secret,
                from_capture: a.from_capture,
                from_file: a.from_file,
                sample: a.sample,
                json: a.json,
                spacing: std::time::Duration::from_millis(a.spacing_ms),
                timeout: std::time::Duration::from_secs(a.timeout_secs),
                server: a.server,
                token: a.token,
            })
            .await
        }
        Command::Admin(a) => admin(a).await,
        Command::Migrate { database_url } => {
            let options = database_url.parse().context("parsing DATABASE_URL")?;
            let pool = hookvault_store::connect(
                options,
                2,
                hookvault_store::Deadlines {
                    acquire: std::time::Duration::from_secs(10),
                    statement: std::time::Duration::from_secs(3600),
                },
            )
            .await?;
            hookvault_store::migrate(&pool).await?;
            println!("migrations applied");
            Ok(())
        }
    }
}

async fn admin(args: AdminArgs) -> anyhow::Result<()> {
    let (options, cluster) = match &args.database_url {
        Some(url) => (url.parse().context("parsing DATABASE_URL")?, None),
        None => {
            let cluster = hookvault_store::embedded::EmbeddedCluster::start(&args.data_dir)
                .await
                .with_context(|| {
                    format!(
                        "opening the embedded cluster in {} (or set DATABASE_URL)",
                        args.data_dir.display()
                    )
                })?;
            (cluster.connect_options(), Some(cluster))
        }
    };
    // The embedded cluster's schema is Hookvault's to keep current, as `serve` does; an
    // external database is migrated by its operator (`hookvault migrate`).
    let out = admin_command(options, cluster.is_some(), &args.command).await;
    // A cluster started for this command is stopped again; one `hookvault serve` runs is left.
    if let Some(cluster) = cluster.filter(|c| !c.adopted()) {
        cluster.stop().context("stopping the embedded cluster")?;
    }
    println!("{}", out?.trim_end());
    Ok(())
}

async fn admin_command(
    options: hookvault_store::PgConnectOptions,
    migrate: bool,
    command: &AdminCommand,
) -> anyhow::Result<String> {
    use hookvault_server::plans;
    let pool = hookvault_store::connect(
        options,
        2,
        hookvault_store::Deadlines {
            acquire: std::time::Duration::from_secs(10),
            statement: std::time::Duration::from_secs(60),
        },
    )
    .await
    .context("connecting to PostgreSQL")?;
    if migrate {
        hookvault_store::migrate(&pool)
            .await
            .context("applying migrations")?;
    }
    let out = match command {
        AdminCommand::Accounts => plans::admin_accounts(&pool).await?,
        AdminCommand::SetPlan { email, plan } => plans::admin_set_plan(&pool, email, plan).await?,
        AdminCommand::Suspend { email, reason } => {
            plans::admin_suspend(&pool, email, Some(reason)).await?
        }
        AdminCommand::Unsuspend { email } => plans::admin_suspend(&pool, email, None).await?,
        AdminCommand::BillingEvents { unfinished, limit } => {
            hookvault_server::billing::admin_billing_events(&pool, *unfinished, *limit).await?
        }
        AdminCommand::BillingRetry { event_id } => {
            hookvault_server::billing::admin_billing_retry(&pool, event_id).await?
        }
        AdminCommand::PurgeExpired => {
            let n = plans::purge_expired(&pool).await?;
            format!("{n} expired captures deleted")
        }
    };
    pool.close().await;
    Ok(out)
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let database = match &args.database_url {
        Some(url) => Database::External(url.parse().context("parsing DATABASE_URL")?),
        None => Database::Embedded(args.data_dir.clone()),
    };
    let secret_key = args
        .secret_key
        .as_deref()
        .map(SecretKey::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("HOOKVAULT_SECRET_KEY: {e}"))?;
    let server = Server::start(ServeConfig {
        listen: args.listen,
        public_url: args.public_url,
        capture_url: args.capture_url,
        shared_capture_origin: args.shared_capture_origin,
        data_dir: args.data_dir,
        database,
        role: args.role,
        max_body_bytes: args.max_body_bytes,
        trusted_proxies: args.trusted_proxies,
        secret_key,
        writer_tasks: args.writer_tasks,
        capture_quota_per_minute: args.capture_quota_per_minute,
        max_connections: args.db_connections,
        capture_db_connections: args.capture_db_connections,
        body_deadline: std::time::Duration::from_secs(args.body_deadline_secs),
        body_budget_bytes: args.body_budget_bytes,
        connection_limits: ConnectionLimits {
            total: args.max_open_connections,
            per_address: args.max_connections_per_address,
            exempt: Vec::new(),
        },
        max_streams_per_account: args.max_streams_per_account,
        private_targets: args.private_targets,
        replay_timeout: std::time::Duration::from_secs(args.replay_timeout_secs),
        replay_workers: args.replay_workers,
        replay_host_concurrency: args.replay_host_concurrency as usize,
        replay_account_concurrency: args.replay_account_concurrency as usize,
        search_share: hookvault_web::HeavyShare {
            per_second: args.search_share,
            burst: std::time::Duration::from_secs(args.search_burst_secs),
        },
        replay_host_rate: Some(args.replay_host_rate).filter(|r| *r > 0),
        accounts: hookvault_web::AccountsConfig {
            smtp_url: args.smtp_url,
            mail_from: args.mail_from,
            require_verified_email: args.require_verified_email,
        },
        plans: match &args.plans {
            Some(path) => hookvault_server::plans::read_plans_file(path)?,
            None => Default::default(),
        },
        plan_quotas: args.plan_quotas,
        metrics_listen: args.metrics_listen,
        billing: match (
            args.stripe_secret_key,
            args.stripe_price_id,
            args.stripe_webhook_secret,
        ) {
            (Some(secret_key), Some(price_id), Some(webhook_secret)) => {
                Some(hookvault_web::BillingConfig {
                    secret_key,
                    price_id,
                    webhook_secret,
                    api_base: args.stripe_api_base,
                    grace: args.billing_grace,
                })
            }
            _ => None,
        },
    })
    .await?;
    println!(
        "Hookvault is running: dashboard at {}/, capture URLs at {}/in/… (listening on {})",
        server.public_url, server.capture_url, server.addr
    );
    shutdown_signal().await;
    println!("Shutting down: finishing requests in flight…");
    server.stop().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("HOOKVAULT_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_sessions=warn"));
    let json = std::env::var("HOOKVAULT_LOG_FORMAT").is_ok_and(|v| v == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
