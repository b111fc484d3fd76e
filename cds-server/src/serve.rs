//! Running the server: logging, the secure-by-default check (no authentication only on a
//! loopback address, unless `--insecure-no-auth`), binding, TLS, reloading rulesets on change
//! or SIGHUP, graceful shutdown on Ctrl-C or SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::app::router;
use crate::config::{Config, LogFormat};
use crate::state::AppState;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The rulesets, auth, tenants or audit store could not be set up.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// No trusted clients, on an address other machines can reach.
    #[error("refusing to serve {addr} without authentication: configure [[auth.clients]] (see the README's security section), listen on a loopback address, or pass --insecure-no-auth")]
    Insecure {
        /// The address.
        addr: std::net::SocketAddr,
    },
    /// The TLS configuration is wrong.
    #[error("tls: {0}")]
    Tls(#[from] crate::listen::ListenError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The server failed while running.
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}

/// Sets up JSON (or text) logs on stderr; `RUST_LOG` filters (default `info`).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Loads the rulesets, binds and serves until Ctrl-C or SIGTERM. `ready` is called with the
/// bound address (port 0 picks a free one).
pub async fn serve(
    config: Config,
    ready: impl FnOnce(std::net::SocketAddr),
) -> Result<(), ServeError> {
    let state = Arc::new(AppState::new(config.clone())?);
    check_secure(&state)?;
    let tls = crate::listen::tls_acceptor(&config.tls)?;
    let listener = TcpListener::bind(config.addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.addr,
            source,
        })?;
    let addr = listener.local_addr()?;
    let rules = state.rules.load();
    tracing::info!(
        %addr,
        services = rules.services.len(),
        rulesets = rules.engine.rulesets().len(),
        tls = tls.is_some(),
        mutual_tls = config.tls.client_ca.is_some(),
        authentication = state.verifier.enabled(),
        tenants = state.tenants.ids().len(),
        audit = %state.audit.describe(),
        "CDS Hooks service listening"
    );
    drop(rules);
    spawn_reloaders(state.clone());
    ready(addr);
    let l = &config.limits;
    let limits = crate::listen::ConnectionLimits {
        max_connections: l.max_connections.max(1),
        header_read_timeout: Duration::from_millis(l.header_read_timeout_ms.max(1)),
        tls_handshake_timeout: Duration::from_millis(l.tls_handshake_timeout_ms.max(1)),
        idle_timeout: Duration::from_millis(l.idle_timeout_ms.max(1)),
        ..crate::listen::ConnectionLimits::default()
    };
    crate::listen::serve(listener, router(state.clone()), tls, limits, shutdown()).await?;
    // Everything audited before the stop is stored before the process ends.
    if let Err(e) = state.audit.flush().await {
        tracing::error!(error = %e, "the audit store could not be flushed");
    }
    Ok(())
}

/// Secure by default: without trusted clients, serve only on loopback, or when told to.
fn check_secure(state: &AppState) -> Result<(), ServeError> {
    let addr = state.config.addr;
    if state.verifier.enabled() {
        if state.config.insecure_no_auth {
            tracing::warn!("insecure_no_auth is ignored: trusted clients are configured");
        }
        if state.config.auth.audience_base.is_none() {
            tracing::warn!(
                "auth.audience_base is not set: token audiences are checked against the Host the request names; set it to the public URL"
            );
        }
        if state.config.tls.cert.is_none() && !addr.ip().is_loopback() {
            tracing::warn!("TLS is off: tokens and patient data cross the network in clear unless a proxy terminates TLS");
        }
        return Ok(());
    }
    if addr.ip().is_loopback() {
        tracing::warn!(
            %addr,
            "authentication is OFF (no [[auth.clients]] configured): serving on loopback only, every local caller is admin"
        );
        Ok(())
    } else if state.config.insecure_no_auth {
        for _ in 0..3 {
            tracing::error!(
                %addr,
                "INSECURE: authentication is OFF on an address other machines can reach (--insecure-no-auth); anyone who can connect can send patient data and administer this server"
            );
        }
        Ok(())
    } else {
        Err(ServeError::Insecure { addr })
    }
}

fn spawn_reloaders(state: Arc<AppState>) {
    #[cfg(unix)]
    {
        let s = state.clone();
        tokio::spawn(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let Ok(mut hup) = signal(SignalKind::hangup()) else {
                return;
            };
            while hup.recv().await.is_some() {
                tracing::info!("SIGHUP: reloading rulesets");
                let s = s.clone();
                let _ = tokio::task::spawn_blocking(move || s.reload()).await;
            }
        });
    }
    if state.config.watch {
        watch(state);
    }
}

/// Watches the rulesets folder; changes are gathered for half a second, then reloaded.
fn watch(state: Arc<AppState>) {
    use notify::{RecursiveMode, Watcher};
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let watcher = notify::recommended_watcher(move |e: notify::Result<notify::Event>| {
        if let Ok(e) = e {
            if !e.kind.is_access() {
                let _ = tx.send(());
            }
        }
    });
    let mut watcher = match watcher {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch the rulesets folder; reload with SIGHUP");
            return;
        }
    };
    if let Err(e) = watcher.watch(&state.config.rulesets, RecursiveMode::Recursive) {
        tracing::warn!(error = %e, "cannot watch the rulesets folder; reload with SIGHUP");
        return;
    }
    tokio::spawn(async move {
        let _keep = watcher;
        while rx.recv().await.is_some() {
            tokio::time::sleep(Duration::from_millis(500)).await;
            while rx.try_recv().is_ok() {}
            let s = state.clone();
            let _ = tokio::task::spawn_blocking(move || s.reload()).await;
        }
    });
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
