//! `gloss serve`: wires the store into the web application and serves it until a
//! shutdown signal.
//!
//! ```text
//!  SIGINT/SIGTERM ──> shutdown_signal ──> watch channel (stop = true)
//!                                            │            │              │
//!                           axum graceful shutdown    housekeeping   delivery worker,
//!                           (finish open requests,    task (stops    backfill worker
//!                            at most SHUTDOWN_GRACE)  purging        (inbox requests and
//!                                                     sessions)      every 30 min; stops)
//! ```

use crate::Failure;
use crate::settings::Settings;
use anyhow::Context;
use gloss_federation::context::{Federation, FederationSettings};
use gloss_federation::http_client::{HttpClientSettings, build_client};
use gloss_storage::Store;
use gloss_web::{AppState, WebConfig};
use rand::distr::{Alphanumeric, SampleString};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How long open requests may take to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// How often expired admin sessions are removed.
const SESSION_PURGE_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// Runs the web server until SIGINT or SIGTERM.
pub async fn run(settings: &Settings) -> Result<(), Failure> {
    // Bind before opening the database: a port already in use is reported without
    // creating anything.
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let address = listener
        .local_addr()
        .context("cannot read the listening address")?;

    let store = gloss_storage::connect(settings.database_url.expose())
        .await
        .with_context(|| {
            format!(
                "cannot open the database {}",
                settings.database_url.redacted()
            )
        })?;
    let federation_settings = FederationSettings {
        public_url: settings.public_url.clone(),
        blog_handle: settings.blog_handle.clone(),
        allow_private_addresses: settings.federation_allow_private_addresses,
        extra_ca_pem: settings
            .federation_extra_ca
            .as_ref()
            .map(|(_, pem)| pem.clone()),
    };
    if settings.federation_allow_private_addresses {
        tracing::warn!(
            "GLOSS_FEDERATION_ALLOW_PRIVATE_ADDRESSES is on: fetches and deliveries may reach \
             loopback and private addresses. Use this on test networks only."
        );
    }
    if let Some((path, _)) = &settings.federation_extra_ca {
        tracing::warn!(
            "GLOSS_FEDERATION_EXTRA_CA is set: {} is trusted as a certificate authority. \
             Use this on test networks only.",
            path.display()
        );
    }
    let client_settings = HttpClientSettings {
        allow_private_addresses: federation_settings.allow_private_addresses,
        extra_ca_pem: federation_settings.extra_ca_pem.clone(),
        // Servers' operators see who calls them, and where to look.
        user_agent: format!(
            "Gloss/{} (+{})",
            env!("CARGO_PKG_VERSION"),
            settings.public_base()
        ),
        ..HttpClientSettings::default()
    };
    let http =
        build_client(&client_settings).context("cannot set up the federation HTTP client")?;
    // Deliveries never follow redirects (an inbox answering 3xx is a failure).
    let delivery_http = build_client(&HttpClientSettings {
        refuse_redirects: true,
        ..client_settings
    })
    .context("cannot set up the federation HTTP client")?;
    let federation = Federation::with_delivery_client(
        Arc::clone(&store),
        federation_settings,
        http,
        delivery_http,
    );
    federation.set_comments_moderation(settings.comments_moderation);
    federation.set_comments_close_after_days(settings.comments_close_after_days);
    federation.set_local_comments(settings.comments_local);
    let delivery_federation = federation.clone();
    let backfill_federation = federation.clone();
    let state = AppState::new(
        Arc::clone(&store),
        WebConfig {
            public_url: settings.public_url.clone(),
            posts_per_page: i64::from(settings.posts_per_page),
        },
        federation,
    )
    .with_page_cache_bytes(settings.page_cache_bytes);

    if gloss_web::admin::setup::setup_needed(store.as_ref()).await? {
        let token = Alphanumeric.sample_string(&mut rand::rng(), 32);
        state.arm_setup_token(token.clone());
        let link = format!(
            "Open {}/admin/setup?token={token} to create the first author",
            settings.public_base()
        );
        tracing::info!("{link}");
        // Shown even when the log filter hides INFO: without it nobody can log in.
        if !tracing::enabled!(tracing::Level::INFO) {
            eprintln!("{link}");
        }
    }

    let (stop_sender, stop) = watch::channel(false);
    tokio::spawn(forward_shutdown_signal(stop_sender));
    let housekeeping = tokio::spawn(purge_sessions_until_stopped(
        Arc::clone(&store),
        stop.clone(),
    ));
    // Sends the durable outbox: deliveries recorded by this process, by the CLI and by
    // other processes on the same database.
    let delivery =
        gloss_federation::delivery::DeliveryWorker::spawn(delivery_federation, stop.clone());
    // Completes threads: replies to replies that never reached our inbox, read from the
    // originals' replies and context collections, after each new comment and every 30
    // minutes for recent posts, within request budgets.
    let backfill = gloss_federation::backfill::BackfillWorker::spawn(
        backfill_federation,
        gloss_federation::backfill::BackfillLimits::default(),
        stop.clone(),
    );

    tracing::info!(
        "Gloss is listening on http://{address} (public URL {})",
        settings.public_base()
    );
    let app = gloss_web::router(state).into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(stopped(stop.clone()));
    let deadline = async {
        stopped(stop).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        result = server => result.context("the HTTP server failed")?,
        () = deadline => tracing::warn!(
            "requests still open {} s after the shutdown signal were cut off",
            SHUTDOWN_GRACE.as_secs()
        ),
    }
    housekeeping.abort();
    if let Err(err) = delivery.await {
        tracing::warn!("the delivery worker ended abnormally: {err}");
    }
    if let Err(err) = backfill.await {
        tracing::warn!("the backfill worker ended abnormally: {err}");
    }
    tracing::info!("Gloss stopped");
    Ok(())
}

/// Resolves once `stop` turns true (or its sender is gone).
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Waits for SIGINT or SIGTERM, then tells everyone to stop.
async fn forward_shutdown_signal(stop: watch::Sender<bool>) {
    let interrupt = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for SIGINT: {err}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!("cannot listen for SIGTERM: {err}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
    let _ = stop.send(true);
}

/// Removes expired admin sessions every hour, so the table does not grow forever.
async fn purge_sessions_until_stopped(store: Arc<dyn Store>, stop: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(SESSION_PURGE_INTERVAL);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            () = stopped(stop.clone()) => return,
        }
        match store.purge_expired_sessions(chrono::Utc::now()).await {
            Ok(0) => {}
            Ok(count) => tracing::debug!("removed {count} expired sessions"),
            Err(err) => tracing::warn!("cannot remove expired sessions: {err}"),
        }
    }
}
