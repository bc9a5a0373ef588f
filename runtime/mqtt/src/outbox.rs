//! The outbox: journal records to the broker, in order, acknowledged by PUBACK.
//!
//! The journal is the outbox. The watch loop appends every event there first; this
//! thread reads the journal from a durable cursor (`outbox.cursor` in the journal's
//! folder), publishes each record once it is synced, and moves the cursor only over
//! records whose every publish the broker acknowledged ([`Inflight`]). While the
//! broker is away nothing is held in memory: the records wait on disk, and when the
//! broker returns the thread reconnects (with backoff) and replays them from the
//! cursor, in order. A record whose PUBACK was lost is sent again with the same
//! event id, so subscribers drop QoS 1 redeliveries by id.
//!
//! The outbox is bounded by the journal's retention: if the broker stays away until
//! retention deletes records the outbox has not reached, those records are skipped
//! (counted in [`OutboxStats::skipped`] and logged) and the rest go out in order.
//!
//! rumqttc keeps its own copy of unacknowledged publishes only in memory and only
//! re-sends it on a resumed session; this outbox uses clean sessions and a fresh
//! client after every disconnect, so what goes out after an outage is decided by the
//! cursor alone.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use edgeclip_events::Event;
use edgeclip_journal::{Cursor, DurableSeq, Reader, Record};
use rumqttc::{Client, ConnectReturnCode, LastWill, MqttOptions, Outgoing, Packet, QoS};

use crate::config::MqttConfig;
use crate::inflight::Inflight;
use crate::message::{self, Message};
use crate::topics::Topics;
use crate::{discovery, MqttError};

/// Name of the outbox's cursor in the journal folder.
pub const CURSOR_NAME: &str = "outbox";

/// How often the delivered position is written to disk at most: a crash re-sends
/// at most this much (as redeliveries with the same ids).
const CURSOR_EVERY: Duration = Duration::from_millis(200);
/// How long to wait for the broker's CONNACK.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const BACKOFF_FIRST: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// Counters of the outbox, for status and the closing log line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxStats {
    /// The newest record delivered with all before it.
    pub delivered_seq: u64,
    /// Records published (redeliveries included).
    pub published: u64,
    /// Successful connections.
    pub connects: u64,
    /// Connections lost or refused.
    pub disconnects: u64,
    /// Sequence numbers jumped over: records retention deleted before the outbox
    /// reached them, or numbers never written.
    pub skipped: u64,
    /// Whether the broker is connected now.
    pub connected: bool,
}

enum Wake {
    /// A record became durable.
    Durable,
    /// Stop was asked for.
    Stop,
    /// Something from the connection of session `session`.
    Conn {
        session: u64,
        event: Result<rumqttc::Event, rumqttc::ConnectionError>,
    },
}

/// Wakes the outbox when new records are durable, so it publishes at once
/// instead of polling. Cheap to clone; safe to call from any thread.
#[derive(Clone)]
pub struct Waker(Sender<Wake>);

impl Waker {
    /// New records are durable.
    pub fn wake(&self) {
        let _ = self.0.send(Wake::Durable);
    }
}

struct Shared {
    stop: AtomicBool,
    stats: Mutex<OutboxStats>,
}

/// The running outbox thread.
pub struct Outbox {
    thread: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
    tx: Sender<Wake>,
}

impl Outbox {
    /// Starts publishing the journal in `journal_dir` (whose records up to
    /// `durable` are synced) to the broker of `config`; `labels` get discovery
    /// configs. Fails at once when the journal or the cursor cannot be read.
    pub fn start(
        config: MqttConfig,
        journal_dir: &Path,
        durable: DurableSeq,
        labels: Vec<String>,
    ) -> Result<Self, MqttError> {
        config.validate()?;
        let cursor = Cursor::open(journal_dir, CURSOR_NAME)?;
        let reader = Reader::open(journal_dir)?;
        let options = options(&config)?;
        let (tx, rx) = mpsc::channel();
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            stats: Mutex::new(OutboxStats {
                delivered_seq: cursor.get(),
                ..OutboxStats::default()
            }),
        });
        let worker = Worker {
            topics: Topics::new(&config.prefix, &config.camera),
            delivered: cursor.get(),
            last_sent: cursor.get(),
            config,
            options,
            reader,
            cursor,
            durable,
            labels,
            rx,
            tx: tx.clone(),
            shared: shared.clone(),
            inflight: Inflight::new(),
            held: None,
            session: 0,
            stored_at: Instant::now(),
            stopping_since: None,
        };
        let thread = std::thread::Builder::new()
            .name("mqtt-outbox".into())
            .spawn(move || worker.run())
            .map_err(|e| MqttError::Config(format!("starting the outbox thread: {e}")))?;
        Ok(Self {
            thread: Some(thread),
            shared,
            tx,
        })
    }

    /// A handle that wakes the outbox when records become durable.
    pub fn waker(&self) -> Waker {
        Waker(self.tx.clone())
    }

    /// The counters now.
    pub fn stats(&self) -> OutboxStats {
        *lock(&self.shared.stats)
    }

    /// Stops: while connected, waits up to the configured drain time for what is
    /// durable to be delivered, stores the cursor, publishes `offline` and
    /// disconnects; while the broker is away, stops at once (the records wait on
    /// disk for the next start).
    pub fn stop(mut self) -> OutboxStats {
        self.shutdown();
        self.stats()
    }

    fn shutdown(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = self.tx.send(Wake::Stop);
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                log::error!("mqtt: the outbox thread panicked");
            }
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn options(config: &MqttConfig) -> Result<MqttOptions, MqttError> {
    let topics = Topics::new(&config.prefix, &config.camera);
    let mut o = MqttOptions::new(&config.client_id, &config.host, config.port);
    o.set_keep_alive(config.keep_alive)
        .set_clean_session(true)
        .set_inflight(config.window)
        .set_max_packet_size(1 << 20, 1 << 20)
        .set_last_will(LastWill::new(
            topics.available(),
            "offline",
            QoS::AtLeastOnce,
            true,
        ));
    if let Some((user, password)) = &config.credentials {
        o.set_credentials(user, password.expose());
    }
    if let Some(tls) = &config.tls {
        tls_transport(&mut o, tls)?;
    }
    Ok(o)
}

#[cfg(feature = "tls")]
fn tls_transport(o: &mut MqttOptions, tls: &crate::config::TlsTable) -> Result<(), MqttError> {
    let read = |p: &Path| {
        let limit = edgeclip_io::Limit::new("a TLS certificate or key file", 1 << 20);
        edgeclip_io::read_limited(p, limit).map_err(|source| MqttError::Io {
            path: p.to_owned(),
            source,
        })
    };
    let ca = match &tls.ca_file {
        Some(p) => read(p)?,
        None => return Err(MqttError::Config("[mqtt.tls] needs ca_file".into())),
    };
    let client_auth = match (&tls.client_cert_file, &tls.client_key_file) {
        (Some(c), Some(k)) => Some((read(c)?, read(k)?)),
        (None, None) => None,
        _ => {
            return Err(MqttError::Config(
                "[mqtt.tls] client_cert_file and client_key_file go together".into(),
            ))
        }
    };
    o.set_transport(rumqttc::Transport::tls_with_config(
        rumqttc::TlsConfiguration::Simple {
            ca,
            alpn: None,
            client_auth,
        },
    ));
    Ok(())
}

#[cfg(not(feature = "tls"))]
fn tls_transport(_: &mut MqttOptions, _: &crate::config::TlsTable) -> Result<(), MqttError> {
    Err(MqttError::Config(
        "[mqtt.tls] needs a build with the `tls` feature".into(),
    ))
}

struct Worker {
    config: MqttConfig,
    topics: Topics,
    options: MqttOptions,
    reader: Reader,
    cursor: Cursor,
    durable: DurableSeq,
    labels: Vec<String>,
    rx: Receiver<Wake>,
    tx: Sender<Wake>,
    shared: Arc<Shared>,
    inflight: Inflight,
    /// A record read but not yet durable.
    held: Option<Record>,
    /// The newest record delivered with all before it.
    delivered: u64,
    /// The newest record submitted in this session.
    last_sent: u64,
    session: u64,
    stored_at: Instant,
    stopping_since: Option<Instant>,
}

/// How a session ended without an error.
enum Ended {
    Stopped,
}

impl Worker {
    fn run(mut self) {
        let mut backoff = BACKOFF_FIRST;
        while !self.stop_requested() {
            let started = Instant::now();
            match self.session() {
                Ok(Ended::Stopped) => break,
                Err(e) => {
                    self.stats(|s| {
                        s.disconnects += 1;
                        s.connected = false;
                    });
                    self.store_cursor();
                    if started.elapsed() > BACKOFF_MAX {
                        backoff = BACKOFF_FIRST;
                    }
                    log::warn!(
                        "mqtt {}:{}: {e}; retrying in {} ms ({} events waiting on disk)",
                        self.config.host,
                        self.config.port,
                        backoff.as_millis(),
                        self.durable.get().saturating_sub(self.delivered)
                    );
                    self.sleep(backoff);
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
        self.store_cursor();
        self.stats(|s| s.connected = false);
        let pending = self.durable.get().saturating_sub(self.delivered);
        if pending > 0 {
            log::warn!(
                "mqtt: stopped with {pending} events not delivered (through record {}); \
                 they wait in the journal and are sent on the next start",
                self.delivered
            );
        }
    }

    fn stop_requested(&self) -> bool {
        self.shared.stop.load(Ordering::SeqCst)
    }

    fn stats(&self, f: impl FnOnce(&mut OutboxStats)) {
        f(&mut lock(&self.shared.stats));
    }

    /// Waits `d` or until stop is asked for; other wakes are dropped (the next
    /// session re-reads the journal anyway).
    fn sleep(&self, d: Duration) {
        let until = Instant::now() + d;
        while !self.stop_requested() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            let _ = self.rx.recv_timeout(left);
        }
    }

    fn session(&mut self) -> Result<Ended, MqttError> {
        self.session += 1;
        let session = self.session;
        let capacity = usize::from(self.config.window) * 2 + self.labels.len() + 16;
        let (client, mut connection) = Client::new(self.options.clone(), capacity);
        let tx = self.tx.clone();
        // The connection is driven on its own thread with blocking receives:
        // cancelling rumqttc's poll half-way (a receive timeout) can cut a packet.
        // The thread ends with the first error or when `client` is dropped.
        std::thread::Builder::new()
            .name("mqtt-connection".into())
            .spawn(move || {
                for event in connection.iter() {
                    let failed = event.is_err();
                    if tx.send(Wake::Conn { session, event }).is_err() || failed {
                        break;
                    }
                }
            })
            .map_err(|e| MqttError::Config(format!("starting the connection thread: {e}")))?;
        if !self.await_connack(session)? {
            return Ok(Ended::Stopped);
        }
        self.stats(|s| {
            s.connects += 1;
            s.connected = true;
        });
        log::info!(
            "mqtt: connected to {}:{}",
            self.config.host,
            self.config.port
        );
        self.inflight.clear();
        self.held = None;
        self.reader.seek(self.delivered)?;
        self.last_sent = self.delivered;
        let online = Message::text(self.topics.available(), "online", true);
        self.publish(&client, &online, None)?;
        if let Some(prefix) = &self.config.discovery_prefix {
            client.try_subscribe(discovery::status_topic(prefix), QoS::AtLeastOnce)?;
            self.send_discovery(&client)?;
        }
        loop {
            self.fill(&client)?;
            if self.stop_requested() && self.drained() {
                self.finish(&client, session);
                return Ok(Ended::Stopped);
            }
            match self.rx.recv_timeout(Duration::from_millis(250)) {
                Ok(Wake::Conn { session: s, event }) if s == session => {
                    self.on_event(&client, event?)?;
                }
                Ok(Wake::Stop) | Ok(Wake::Durable) | Ok(Wake::Conn { .. }) => {}
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Ok(Ended::Stopped),
            }
            self.maybe_store_cursor();
        }
    }

    /// Waits for the broker's CONNACK; `false` when stop was asked for first.
    fn await_connack(&mut self, session: u64) -> Result<bool, MqttError> {
        let deadline = Instant::now() + CONNECT_TIMEOUT;
        loop {
            if self.stop_requested() {
                return Ok(false);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(MqttError::Connect("no CONNACK within 10 s".into()));
            }
            match self.rx.recv_timeout(left) {
                Ok(Wake::Conn { session: s, event }) if s == session => {
                    if let rumqttc::Event::Incoming(Packet::ConnAck(ack)) = event? {
                        if ack.code == ConnectReturnCode::Success {
                            return Ok(true);
                        }
                        return Err(MqttError::Connect(format!("refused: {:?}", ack.code)));
                    }
                }
                Ok(_) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Ok(false),
            }
        }
    }

    fn on_event(&mut self, client: &Client, event: rumqttc::Event) -> Result<(), MqttError> {
        match event {
            rumqttc::Event::Outgoing(Outgoing::Publish(pkid)) => self.inflight.sent(pkid),
            rumqttc::Event::Incoming(Packet::PubAck(ack)) => {
                if let Some(seq) = self.inflight.acked(ack.pkid) {
                    self.delivered = seq;
                    self.stats(|s| s.delivered_seq = seq);
                }
            }
            rumqttc::Event::Incoming(Packet::Publish(p)) => {
                let from_ha = self
                    .config
                    .discovery_prefix
                    .as_deref()
                    .is_some_and(|prefix| p.topic == discovery::status_topic(prefix));
                if from_ha && p.payload.as_ref() == b"online" {
                    log::info!("mqtt: Home Assistant is online; sending discovery again");
                    self.send_discovery(client)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn send_discovery(&mut self, client: &Client) -> Result<(), MqttError> {
        for m in discovery::configs(&self.config, &self.labels) {
            self.publish(client, &m, None)?;
        }
        Ok(())
    }

    fn publish(
        &mut self,
        client: &Client,
        m: &Message,
        completes: Option<u64>,
    ) -> Result<(), MqttError> {
        client.try_publish(
            m.topic.clone(),
            QoS::AtLeastOnce,
            m.retain,
            m.payload.clone(),
        )?;
        self.inflight.submitted(completes);
        Ok(())
    }

    /// Submits durable records while the window has room.
    fn fill(&mut self, client: &Client) -> Result<(), MqttError> {
        let window = usize::from(self.config.window);
        while self.inflight.len() + 2 <= window.max(2) {
            let record = match self.held.take() {
                Some(r) => r,
                None => match self.reader.next()? {
                    Some(r) => r,
                    None => return Ok(()),
                },
            };
            if record.seq > self.durable.get() {
                self.held = Some(record);
                return Ok(());
            }
            self.send_record(client, &record)?;
        }
        Ok(())
    }

    fn send_record(&mut self, client: &Client, record: &Record) -> Result<(), MqttError> {
        let expected = self.last_sent + 1;
        if record.seq > expected {
            let gap = record.seq - expected;
            log::warn!(
                "mqtt: records {expected}..{} are not in the journal (retention deleted them \
                 before the broker came back, or they were never written); going on",
                record.seq - 1
            );
            self.stats(|s| s.skipped += gap);
        }
        let messages = match serde_json::from_slice::<Event>(&record.payload) {
            Ok(event) => message::for_event(&self.topics, &event, &record.payload),
            Err(e) => {
                // Still delivered, so the stream has no hole and the cursor moves.
                log::error!(
                    "journal record {}: not an event ({e}); sent as is",
                    record.seq
                );
                vec![Message {
                    topic: self.topics.events(),
                    payload: record.payload.clone(),
                    retain: false,
                }]
            }
        };
        let last = messages.len() - 1;
        for (i, m) in messages.iter().enumerate() {
            self.publish(client, m, (i == last).then_some(record.seq))?;
        }
        self.last_sent = record.seq;
        self.stats(|s| s.published += 1);
        Ok(())
    }

    fn drained(&mut self) -> bool {
        let since = *self.stopping_since.get_or_insert_with(Instant::now);
        let done = self.inflight.is_empty() && self.delivered >= self.durable.get();
        if !done && since.elapsed() >= self.config.drain {
            // `run` says how many are left once the session is closed.
            return true;
        }
        done
    }

    /// A clean stop: cursor, `offline`, DISCONNECT.
    fn finish(&mut self, client: &Client, session: u64) {
        self.store_cursor();
        let offline = Message::text(self.topics.available(), "offline", true);
        if self.publish(client, &offline, None).is_ok() {
            let deadline = Instant::now() + Duration::from_secs(1);
            while !self.inflight.is_empty() && Instant::now() < deadline {
                match self.rx.recv_timeout(Duration::from_millis(50)) {
                    Ok(Wake::Conn {
                        session: s,
                        event: Ok(event),
                    }) if s == session => {
                        let _ = self.on_event(client, event);
                    }
                    Ok(Wake::Conn {
                        session: s,
                        event: Err(_),
                    }) if s == session => break,
                    _ => {}
                }
            }
        }
        let _ = client.try_disconnect();
        // Let the DISCONNECT go out before the client is dropped.
        std::thread::sleep(Duration::from_millis(50));
        log::info!(
            "mqtt: disconnected; delivered through record {}",
            self.delivered
        );
    }

    fn maybe_store_cursor(&mut self) {
        if self.cursor.get() != self.delivered && self.stored_at.elapsed() >= CURSOR_EVERY {
            self.store_cursor();
        }
    }

    fn store_cursor(&mut self) {
        if self.cursor.get() == self.delivered {
            return;
        }
        self.stored_at = Instant::now();
        if let Err(e) = self.cursor.store(self.delivered) {
            log::error!("mqtt: saving the outbox position: {e}");
        }
    }
}
