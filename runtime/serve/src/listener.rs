//! The accept loop: who gets a connection, and for how long.
//!
//! A client that opens a socket and then sends nothing, or one byte at a time,
//! holds a descriptor and a task until something closes it; enough of them and the
//! process runs out of descriptors, `accept` fails, and `/v1/health` stops answering
//! (the slowloris attack). So before the router ever sees a request:
//! - every connection must send a whole request head within the
//!   [head timeout](ConnectionLimits::head_timeout) of opening, and of its previous
//!   response: the same clock closes a slow head and an idle keep-alive connection;
//! - at most [`ConnectionLimits::max_connections`] are open at once, and at most
//!   [`ConnectionLimits::max_per_client`] from one client address, so one host cannot
//!   take every slot; a connection over either cap is closed as soon as it is
//!   accepted, before it costs a task or a buffer;
//! - the global cap is held below the process's descriptor limit, which is raised
//!   to its hard limit first (a server's usual set-up).
//!
//! The token is checked on the first request of each connection like on every
//! other, so an unauthenticated client holds a slot for one head timeout at most.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt as _;

use crate::tls::TlsAcceptor;

/// Descriptors kept free of connections: the model files, the camera, the journal,
/// the log and the listener itself need some.
const RESERVED_DESCRIPTORS: u64 = 64;

/// The HTTP parser's read buffer per connection, which bounds a request head: four
/// times [`crate::api::MAX_HEAD_BYTES`], so that a head over the API's limit but
/// within this reaches the router and is refused in the API's error JSON; a larger
/// one is refused by the parser with a bare 431. Times the connection cap, this is
/// the most memory slow clients can hold in heads (512 × 64 KiB = 32 MiB).
pub const HEAD_BUFFER: usize = 64 << 10;

/// Header fields the HTTP parser accepts before refusing with a bare 431: four times
/// [`crate::api::MAX_HEADERS`], for the same reason.
const PARSED_HEADERS: usize = 256;

/// How many connections, from whom, for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections open at once, all clients together.
    pub max_connections: usize,
    /// Connections open at once from one client address.
    pub max_per_client: usize,
    /// Longest wait for a whole request head, from the connection's opening or its
    /// previous response (with TLS, the handshake too).
    pub head_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: 512,
            max_per_client: 64,
            head_timeout: Duration::from_secs(10),
        }
    }
}

impl ConnectionLimits {
    /// Refuses zero caps and a zero timeout.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_connections == 0 || self.max_per_client == 0 {
            return Err("the connection caps must be at least 1".into());
        }
        if self.head_timeout.is_zero() {
            return Err("the request-head timeout must be above 0".into());
        }
        Ok(())
    }

    /// The global cap this process can hold: the configured one, or fewer when the
    /// descriptor limit (raised to its hard limit first) leaves less room.
    pub fn effective_max_connections(&self) -> usize {
        let soft = match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(limit) => limit,
            Err(e) => {
                log::warn!("reading the descriptor limit: {e}");
                return self.max_connections;
            }
        };
        let room = soft.saturating_sub(RESERVED_DESCRIPTORS).max(1);
        let cap = self
            .max_connections
            .min(usize::try_from(room).unwrap_or(usize::MAX));
        if cap < self.max_connections {
            log::warn!(
                "at most {cap} connections: the descriptor limit is {soft} \
                 (raise it, e.g. LimitNOFILE=, for {})",
                self.max_connections
            );
        }
        cap
    }
}

/// Counts open connections, all together and per client address.
#[derive(Debug)]
pub struct Gate {
    max_connections: usize,
    max_per_client: usize,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_client: HashMap<IpAddr, usize>,
}

/// Why a connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The global cap is reached.
    Full,
    /// This client address has its share already.
    ClientFull,
}

impl Gate {
    /// A gate with room for `max_connections`, `max_per_client` of them from one
    /// address.
    pub fn new(max_connections: usize, max_per_client: usize) -> Arc<Self> {
        Arc::new(Self {
            max_connections,
            max_per_client,
            open: Mutex::default(),
        })
    }

    /// A pass for one more connection from `client`, held until dropped.
    pub fn admit(self: &Arc<Self>, client: IpAddr) -> Result<Pass, Refusal> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.total >= self.max_connections {
            return Err(Refusal::Full);
        }
        let mine = open.by_client.entry(client).or_insert(0);
        if *mine >= self.max_per_client {
            return Err(Refusal::ClientFull);
        }
        *mine += 1;
        open.total += 1;
        Ok(Pass {
            gate: self.clone(),
            client,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total
    }
}

/// One admitted connection; dropping it frees its slot.
#[derive(Debug)]
pub struct Pass {
    gate: Arc<Gate>,
    client: IpAddr,
}

impl Drop for Pass {
    fn drop(&mut self) {
        let mut open = self
            .gate
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        open.total -= 1;
        if let Some(mine) = open.by_client.get_mut(&self.client) {
            *mine -= 1;
            if *mine == 0 {
                open.by_client.remove(&self.client);
            }
        }
    }
}

/// Accepts connections on `listener` and serves `router` on each until `shutdown`
/// resolves; then stops accepting and gives the connections open `drain` to finish
/// their requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    tls: Option<TlsAcceptor>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    drain: Duration,
) {
    let gate = Gate::new(limits.effective_max_connections(), limits.max_per_client);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    wait_after_accept_error(&e).await;
                    continue;
                }
            },
        };
        let pass = match gate.admit(peer.ip()) {
            Ok(pass) => pass,
            Err(refusal) => {
                log::debug!("closing a connection from {peer}: {refusal:?}");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            router: router.clone(),
            peer,
            limits,
            tls: tls.clone(),
            watcher: graceful.watcher(),
        };
        tokio::spawn(async move {
            connection.run(stream).await;
            drop(pass);
        });
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        log::warn!(
            "{} connections still open {} s after the stop; closing them",
            gate.open(),
            drain.as_secs()
        );
    }
}

/// `accept` fails for the connection's sake (reset before it was taken: go on) or
/// for the process's (out of descriptors: wait, or the loop would spin).
async fn wait_after_accept_error(e: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::Interrupted
    ) {
        return;
    }
    log::warn!("accepting a connection: {e}");
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// What one connection's task needs.
struct Connection {
    router: Router,
    peer: SocketAddr,
    limits: ConnectionLimits,
    tls: Option<TlsAcceptor>,
    watcher: hyper_util::server::graceful::Watcher,
}

impl Connection {
    async fn run(self, stream: TcpStream) {
        match &self.tls {
            None => self.http(stream).await,
            Some(acceptor) => {
                let acceptor = acceptor.current();
                let handshake = acceptor.accept(stream);
                match tokio::time::timeout(self.limits.head_timeout, handshake).await {
                    Ok(Ok(stream)) => self.http(stream).await,
                    Ok(Err(e)) => log::debug!("TLS handshake with {}: {e}", self.peer),
                    Err(_) => log::debug!("TLS handshake with {} timed out", self.peer),
                }
            }
        }
    }

    async fn http<S>(self, stream: S)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let peer = self.peer;
        // Handlers read the client's address from the request, as axum's own
        // `into_make_service_with_connect_info` would give it.
        let service = self
            .router
            .map_request(move |mut request: axum::http::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.head_timeout)
            .max_buf_size(HEAD_BUFFER)
            .max_headers(PARSED_HEADERS)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        if let Err(e) = self.watcher.watch(connection).await {
            log::debug!("connection from {peer}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_holds_both_caps_and_frees_slots_on_drop() {
        let gate = Gate::new(3, 2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let a1 = gate.admit(a).unwrap();
        let _a2 = gate.admit(a).unwrap();
        assert_eq!(gate.admit(a).unwrap_err(), Refusal::ClientFull);
        let _b1 = gate.admit(b).unwrap();
        assert_eq!(gate.admit(b).unwrap_err(), Refusal::Full);
        drop(a1);
        assert_eq!(gate.open(), 2);
        assert!(gate.admit(b).is_ok());
    }

    #[test]
    fn zero_caps_and_timeouts_are_refused() {
        let mut limits = ConnectionLimits::default();
        assert!(limits.validate().is_ok());
        limits.max_per_client = 0;
        assert!(limits.validate().is_err());
        limits = ConnectionLimits {
            head_timeout: Duration::ZERO,
            ..ConnectionLimits::default()
        };
        assert!(limits.validate().is_err());
    }

    #[test]
    fn the_cap_stays_below_the_descriptor_limit() {
        let limits = ConnectionLimits {
            max_connections: usize::MAX,
            ..ConnectionLimits::default()
        };
        let (soft, _) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
        let cap = limits.effective_max_connections() as u64;
        let (raised, _) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
        assert!(raised >= soft);
        assert!(cap < raised, "cap {cap}, descriptor limit {raised}");
    }
}
