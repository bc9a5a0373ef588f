//! edgeclip-serve: a local HTTP/JSON query API for robots and people.
//!
//! A robot sends free text ("a red mug") and gets, from the newest camera frame or
//! an image it posts, each text's cosine score, its probability against the other
//! texts or the active label store, and with `where` the region of the image that
//! matches it best.
//!
//! ```text
//!  frame source ─> capture thread (edgeclip-capture's Pump loop)
//!               ─> FrameSlot (newest frame, never waits)
//!                                         │
//!  TCP ─> listener (connection caps, head timeout, TLS)
//!  HTTP ─> metrics ─> timeout ─> rate limit ─> token ─> route
//!                                         │
//!            /v1/query: image worker (dense features) ─┐
//!                       text worker (LRU cache, batching concurrent queries)
//!                                         │
//!                       scoring (the matcher's kernels, top-k, softmax),
//!                       locate() ─> where-answer
//! ```
//!
//! [`api::app`] builds the router over an [`AppState`]; tests call it directly.
//! [`run`] binds, serves until SIGINT/SIGTERM, and finishes the requests in flight.
//! The contract is `openapi.json`, beside this crate's manifest.
#![deny(missing_docs)]

pub mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod frames;
pub mod heatmap;
pub mod inference;
pub mod labels;
pub mod limit;
pub mod listener;
pub mod locate;
pub mod memory;
pub mod metrics;
pub mod scoring;
pub mod state;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use api::app;
pub use config::ServeConfig;
pub use error::ApiError;
pub use frames::{spawn_feed, FrameSlot, SourceKind};
pub use state::AppState;

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The settings are unsafe or unusable.
    #[error("serve settings: {0}")]
    Config(String),
    /// The address could not be bound or the server failed.
    #[error("{what} {addr}: {error}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The operating system's error.
        error: std::io::Error,
    },
}

/// The class of a [`ServeError`], independent of the message. (Errors answered to
/// clients are [`ApiError`]s, classed by their documented `code` instead.)
///
/// Non-exhaustive: new kinds may be added; match with a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServeErrorKind {
    /// The settings are unsafe or unusable (no token beyond loopback, a zero limit).
    Config,
    /// The operating system refused to bind the address, or the server failed.
    Io,
}

impl ServeErrorKind {
    /// The kind as written in JSON records: `config`, `io`.
    pub fn as_str(self) -> &'static str {
        match self {
            ServeErrorKind::Config => "config",
            ServeErrorKind::Io => "io",
        }
    }
}

impl std::fmt::Display for ServeErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ServeError {
    /// What class of failure this is.
    pub fn kind(&self) -> ServeErrorKind {
        match self {
            ServeError::Config(_) => ServeErrorKind::Config,
            ServeError::Io { .. } => ServeErrorKind::Io,
        }
    }
}

/// How long the API goes without a request before the server returns its free
/// memory to the system ([`memory::spawn_idle_trim`]).
pub const IDLE_TRIM_AFTER: Duration = Duration::from_secs(2);

/// Serves `state` on `config.bind` until `shutdown` resolves, then stops taking
/// connections and lets requests in flight finish (for the request timeout at
/// most). `on_bound` is told the bound address (port 0 picks a free one). With TLS,
/// SIGHUP reloads the certificate and key.
pub async fn run(
    state: Arc<AppState>,
    config: &ServeConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    on_bound: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    config.validate().map_err(ServeError::Config)?;
    let tls = match &config.tls {
        Some(files) => {
            let acceptor = tls::TlsAcceptor::load(files.clone()).map_err(ServeError::Config)?;
            reload_on_hangup(acceptor.clone());
            Some(acceptor)
        }
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|error| ServeError::Io {
            what: "binding",
            addr: config.bind,
            error,
        })?;
    let addr = listener.local_addr().map_err(|error| ServeError::Io {
        what: "reading the address of",
        addr: config.bind,
        error,
    })?;
    on_bound(addr);
    memory::spawn_idle_trim(state.activity.clone(), IDLE_TRIM_AFTER);
    let router = app(state, config);
    let drain = config.request_timeout + Duration::from_secs(1);
    listener::serve(listener, router, config.connections, tls, shutdown, drain).await;
    Ok(())
}

/// Reloads the certificate and key on every SIGHUP, for as long as the runtime runs.
fn reload_on_hangup(acceptor: tls::TlsAcceptor) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangup = match signal(SignalKind::hangup()) {
        Ok(hangup) => hangup,
        Err(e) => {
            log::warn!("no certificate reload on SIGHUP: {e}");
            return;
        }
    };
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            match acceptor.reload() {
                Ok(()) => log::info!("SIGHUP: TLS certificate reloaded"),
                Err(e) => log::error!("SIGHUP: keeping the TLS certificate in use: {e}"),
            }
        }
    });
}

/// A future that resolves on SIGINT or SIGTERM. The handlers are installed when
/// this is called (inside a tokio runtime), not when the future is first polled, so
/// a signal that arrives while the server is still binding already stops it cleanly.
pub fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()> + Send> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => log::info!("SIGTERM: finishing requests in flight"),
            _ = int.recv() => log::info!("SIGINT: finishing requests in flight"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_tell_unsafe_settings_from_a_refused_address() {
        let exposed = ServeConfig {
            bind: "0.0.0.0:7878".parse().unwrap(),
            ..ServeConfig::default()
        };
        let refused = ServeError::Config(exposed.validate().unwrap_err());
        assert_eq!(refused.kind(), ServeErrorKind::Config);
        assert_eq!(refused.kind().as_str(), "config");
        let taken = ServeError::Io {
            what: "binding",
            addr: "127.0.0.1:7878".parse().unwrap(),
            error: std::io::ErrorKind::AddrInUse.into(),
        };
        assert_eq!(taken.kind().to_string(), "io");
    }
}
