//! `edgeclip watch` publishing to a real `mosquitto` broker through the journal's
//! outbox, across broker outages and a SIGKILLed device.
//!
//! The broker is the Debian `mosquitto` that `firmware-tools/test-env.sh` installs,
//! started here on a free loopback port with persistence, so that the test's
//! subscriber (a persistent session) gets what was published while it was away,
//! as any real consumer with `clean_session = false` would. The device's own record
//! of what it sent is its journal, read back with `edgeclip events export`.

use std::collections::{BTreeMap, HashMap};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use edgeclip_e2e::{default_model, edgeclip, edgeclip_bin};
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
use serde_json::Value;

const LABELS: &str = "red circle,green triangle,blue square,yellow star";
/// What the camera "sees", looped: every run of the same object long enough to
/// appear after the dwell, so each loop makes a few events.
const TIMELINE: &[(&str, usize)] = &[
    ("green_triangle", 6),
    ("red_circle", 6),
    ("blue_square", 6),
    ("yellow_star", 6),
];

/// A mosquitto process on a loopback port, with its persistence folder.
struct Broker {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl Broker {
    fn start(dir: &Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut b = Broker {
            port,
            dir: dir.to_owned(),
            child: None,
        };
        b.restart();
        b
    }

    fn restart(&mut self) {
        assert!(self.child.is_none());
        let conf = self.dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            // No cap on queued QoS 1 messages per client (mosquitto's default
            // drops them beyond 1,000): the test measures the device's outbox.
            // Started as root, mosquitto switches to its own `mosquitto` user,
            // which cannot write this private folder: it then loses every
            // session at a restart (and with it what a slow subscriber had not
            // yet received). `user root` keeps the invoking user; it has no
            // effect when the test does not run as root.
            format!(
                "listener {} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\nautosave_interval 1\nmax_queued_messages 0\nuser root\n",
                self.port,
                self.dir.display()
            ),
        )
        .unwrap();
        let child = Command::new(mosquitto())
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting mosquitto");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "mosquitto did not listen on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM: mosquitto saves its persistence file and exits.
    fn stop(&mut self) {
        let mut child = self.child.take().expect("running");
        terminate(&child);
        child.wait().unwrap();
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn mosquitto() -> PathBuf {
    ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .expect("mosquitto is not installed: run firmware-tools/test-env.sh")
}

fn terminate(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// One message the subscriber got.
#[derive(Debug, Clone)]
struct Got {
    topic: String,
    payload: Vec<u8>,
}

/// A real MQTT client with a persistent session, collecting everything under
/// its filters.
struct Subscriber {
    got: Arc<Mutex<Vec<Got>>>,
    /// SUBACKs received: the broker holds the subscriptions from the first on.
    subacks: Arc<Mutex<usize>>,
    /// CONNACKs that resumed the session the broker kept for this client.
    resumed: Arc<Mutex<usize>>,
    /// While set, the client reads nothing (and acknowledges nothing).
    paused: Arc<AtomicBool>,
    client: Client,
}

impl Subscriber {
    /// Connects and returns once the broker acknowledged the subscriptions, so
    /// nothing the device publishes afterwards can miss them.
    fn start(port: u16, id: &str, filters: &[&str]) -> Self {
        let mut options = MqttOptions::new(id, "127.0.0.1", port);
        options
            .set_clean_session(false)
            .set_keep_alive(Duration::from_secs(5))
            .set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut connection) = Client::new(options, 64);
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = got.clone();
        let subacks = Arc::new(Mutex::new(0));
        let subacked = subacks.clone();
        let resumed = Arc::new(Mutex::new(0));
        let resumes = resumed.clone();
        let paused = Arc::new(AtomicBool::new(false));
        let hold = paused.clone();
        let count = filters.len();
        let resubscribe = client.clone();
        let filters: Vec<String> = filters.iter().map(|f| f.to_string()).collect();
        std::thread::spawn(move || loop {
            if hold.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            match connection.recv() {
                Ok(Ok(Event::Incoming(Packet::Publish(p)))) => sink.lock().unwrap().push(Got {
                    topic: p.topic.clone(),
                    payload: p.payload.to_vec(),
                }),
                Ok(Ok(Event::Incoming(Packet::ConnAck(ack)))) => {
                    if ack.session_present {
                        *resumes.lock().unwrap() += 1;
                    } else {
                        for f in &filters {
                            let _ = resubscribe.try_subscribe(f.clone(), QoS::AtLeastOnce);
                        }
                    }
                }
                Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => *subacked.lock().unwrap() += 1,
                Ok(Ok(_)) => {}
                Ok(Err(_)) => std::thread::sleep(Duration::from_millis(100)),
                Err(_) => return,
            }
        });
        let sub = Subscriber {
            got,
            subacks,
            resumed,
            paused,
            client,
        };
        sub.wait_for("the subscriptions", Duration::from_secs(30), |s| {
            *s.subacks.lock().unwrap() >= count
        });
        sub
    }

    /// Stops or resumes reading. While stopped, the broker has to hold what it
    /// gets for this client (beyond its in-flight window) in the session, as
    /// for any consumer slower than the device.
    fn set_reading(&self, reading: bool) {
        self.paused.store(!reading, Ordering::SeqCst);
    }

    /// Waits for the reconnection after a broker restart to resume the session:
    /// without it the broker forgot the subscriptions and whatever it held for
    /// this client, and what the device sent before the outage could be lost
    /// by the broker, not by the device.
    fn wait_for_resumed_session(&self) {
        self.wait_for(
            "the subscriber's session resumed after the broker restart",
            Duration::from_secs(30),
            |s| *s.resumed.lock().unwrap() >= 1,
        );
    }

    fn messages(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    fn events(&self, topic: &str) -> Vec<Value> {
        self.messages()
            .iter()
            .filter(|m| m.topic == topic)
            .map(|m| serde_json::from_slice(&m.payload).expect("an event JSON"))
            .collect()
    }

    fn wait_for(&self, what: &str, timeout: Duration, done: impl FnMut(&Self) -> bool) {
        assert!(self.wait(timeout, done), "timed out waiting for {what}");
    }

    /// Whether `done` held within `timeout`.
    fn wait(&self, timeout: Duration, mut done: impl FnMut(&Self) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while !done(self) {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        true
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.client.try_disconnect();
    }
}

fn frames() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut i = 0;
    for (name, count) in TIMELINE {
        let src = ["png", "jpg"]
            .iter()
            .map(|e| default_model().join("samples").join(format!("{name}.{e}")))
            .find(|p| p.is_file())
            .unwrap();
        let ext = src.extension().unwrap().to_str().unwrap().to_owned();
        for _ in 0..*count {
            std::fs::copy(&src, dir.path().join(format!("{i:03}.{ext}"))).unwrap();
            i += 1;
        }
    }
    dir
}

fn settings(dir: &Path, port: u16) -> PathBuf {
    let path = dir.join("watch.toml");
    std::fs::write(
        &path,
        format!(
            r#"[watch]
status_every_s = 1

[journal]
dir = "journal"
durability = "every-record"

[mqtt]
host = "127.0.0.1"
port = {port}
prefix = "e2e"
camera = "bench"
discovery_prefix = "e2e-ha"
drain_s = 10
"#
        ),
    )
    .unwrap();
    path
}

/// `edgeclip watch` looping over the timeline until stopped.
fn start_watch(settings: &Path, frames: &Path) -> Child {
    Command::new(edgeclip_bin())
        .args(["--json", "watch", "--fps", "10", "--loop"])
        .args(["--dwell-ms", "200", "--hold-ms", "200"])
        .arg("--config")
        .arg(settings)
        .arg("--files")
        .arg(frames)
        .args(["--labels", LABELS])
        .env("EDGECLIP_MODEL", default_model())
        .env(
            "EDGECLIP_LOG",
            "edgeclip_mqtt=info,edgeclip::commands::watch=info",
        )
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting edgeclip watch")
}

/// The journal's events, in order.
fn journal(dir: &Path) -> Vec<Value> {
    let out = edgeclip()
        .args(["events", "export", "--journal"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn id(e: &Value) -> String {
    e["data"]["id"].as_str().unwrap().to_owned()
}

fn seq(e: &Value) -> u64 {
    e["data"]["seq"].as_u64().unwrap()
}

/// Every journaled `appeared`/`left`/`camera` event reached the subscriber, in
/// journal order, and every copy of an id is the same event (a redelivery).
fn assert_delivered(journal: &[Value], received: &[Value]) {
    let expected: Vec<&Value> = journal.iter().filter(|e| e["type"] != "status").collect();
    assert!(!expected.is_empty());
    let mut first: Vec<String> = Vec::new();
    let mut copies: HashMap<String, &Value> = HashMap::new();
    let mut duplicates = 0;
    for e in received {
        match copies.get(&id(e)) {
            Some(before) => {
                assert_eq!(*before, e, "two different events with id {}", id(e));
                duplicates += 1;
            }
            None => {
                copies.insert(id(e), e);
                first.push(id(e));
            }
        }
    }
    let by_id: BTreeMap<String, &Value> = expected.iter().map(|e| (id(e), *e)).collect();
    let missing: Vec<String> = expected
        .iter()
        .filter(|e| !copies.contains_key(&id(e)))
        .map(|e| format!("{} {} ({})", seq(e), e["type"], id(e)))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} journaled events never arrived ({} received, the last journal seq {}): {missing:?}",
        missing.len(),
        expected.len(),
        received.len(),
        journal.last().map_or(0, seq)
    );
    for (i, e) in &copies {
        assert_eq!(
            Some(e),
            by_id.get(i),
            "event {i} differs from the journal's"
        );
    }
    let order: Vec<u64> = first.iter().map(|i| seq(by_id[i])).collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "first arrivals out of journal order: {order:?}"
    );
    println!(
        "{} events journaled, all received in order, {duplicates} redeliveries",
        expected.len()
    );
}

#[test]
fn events_survive_a_broker_outage_in_order() {
    let work = tempfile::tempdir().unwrap();
    let mut broker = Broker::start(work.path());
    let sub = Subscriber::start(broker.port, "e2e-sub-outage", &["e2e/#", "e2e-ha/#"]);
    let frames = frames();
    let settings = settings(work.path(), broker.port);
    let mut watch = start_watch(&settings, frames.path());

    sub.wait_for(
        "10 events before the outage",
        Duration::from_secs(60),
        |s| s.events("e2e/events").len() >= 10,
    );
    // The broker stops while it holds messages for a lagging subscriber: they
    // must come back with the session after the restart.
    sub.set_reading(false);
    std::thread::sleep(Duration::from_millis(500));
    broker.stop();
    sub.set_reading(true);
    let before = journal(&work.path().join("journal")).len();
    std::thread::sleep(Duration::from_secs(3));
    let during = journal(&work.path().join("journal")).len();
    assert!(
        during > before,
        "the device kept tagging while the broker was away ({before} -> {during})"
    );
    broker.restart();
    sub.wait_for_resumed_session();
    let target = during;
    sub.wait_for(
        "the outage's events replayed",
        Duration::from_secs(60),
        |s| s.events("e2e/events").len() >= target.saturating_sub(target / 3),
    );
    terminate(&watch);
    assert!(watch.wait().unwrap().success());

    let journal = journal(&work.path().join("journal"));
    // The clean stop drained the outbox before disconnecting. On a timeout,
    // assert_delivered names what is missing.
    sub.wait(Duration::from_secs(60), |s| {
        let got = s.events("e2e/events");
        journal
            .iter()
            .filter(|e| e["type"] != "status")
            .all(|e| got.iter().any(|g| id(g) == id(e)))
    });
    assert_delivered(&journal, &sub.events("e2e/events"));

    let messages = sub.messages();
    let last = |topic: &str| {
        messages
            .iter()
            .rev()
            .find(|m| m.topic == topic)
            .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
    };
    assert_eq!(
        last("e2e/available").as_deref(),
        Some("offline"),
        "a clean stop says offline"
    );
    // Each label's state topic ends where its last event left it.
    for label in ["red circle", "green triangle", "blue square", "yellow star"] {
        let final_event = journal.iter().rev().find(|e| {
            e["data"]["label"] == label && (e["type"] == "appeared" || e["type"] == "left")
        });
        if let Some(e) = final_event {
            let want = if e["type"] == "appeared" { "ON" } else { "OFF" };
            let topic = format!("e2e/bench/{}", label.replace(' ', "_"));
            assert_eq!(last(&topic).as_deref(), Some(want), "{topic}");
        }
    }
    let status = last("e2e/status").expect("status published");
    let status: Value = serde_json::from_str(&status).unwrap();
    assert!(status["fps_out"].as_f64().unwrap() > 0.0);
    // Discovery configs for every label, the fps and camera sensors.
    let configs: Vec<&Got> = messages
        .iter()
        .filter(|m| m.topic.starts_with("e2e-ha/") && m.topic.ends_with("/config"))
        .collect();
    for object in ["red_circle", "green_triangle", "blue_square", "yellow_star"] {
        let topic = format!("e2e-ha/binary_sensor/edgeclip-bench/{object}/config");
        assert!(configs.iter().any(|m| m.topic == topic), "{topic} missing");
    }
    assert!(configs
        .iter()
        .any(|m| m.topic == "e2e-ha/sensor/edgeclip-bench/fps/config"));
}

#[test]
fn a_device_killed_while_the_broker_is_down_loses_nothing() {
    let work = tempfile::tempdir().unwrap();
    let mut broker = Broker::start(work.path());
    let sub = Subscriber::start(broker.port, "e2e-sub-kill", &["e2e/events"]);
    let frames = frames();
    let settings = settings(work.path(), broker.port);
    let mut watch = start_watch(&settings, frames.path());
    sub.wait_for("5 events", Duration::from_secs(60), |s| {
        s.events("e2e/events").len() >= 5
    });
    broker.stop();
    std::thread::sleep(Duration::from_secs(2));
    watch.kill().unwrap(); // SIGKILL: no drain, no cursor save, no offline
    watch.wait().unwrap();
    let after_kill = journal(&work.path().join("journal"));

    // Restarted with the broker still away: it continues the journal and waits.
    let mut watch = start_watch(&settings, frames.path());
    std::thread::sleep(Duration::from_secs(2));
    broker.restart();
    sub.wait_for_resumed_session();
    sub.wait_for("the first run's events", Duration::from_secs(60), |s| {
        let got = s.events("e2e/events");
        after_kill
            .iter()
            .filter(|e| e["type"] != "status")
            .all(|e| got.iter().any(|g| id(g) == id(e)))
    });
    terminate(&watch);
    assert!(watch.wait().unwrap().success());
    let journal = journal(&work.path().join("journal"));
    let seqs: Vec<u64> = journal.iter().map(seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "the second run continued the numbering"
    );
    assert!(journal.len() > after_kill.len());
    // On a timeout, assert_delivered names what is missing.
    sub.wait(Duration::from_secs(60), |s| {
        let got = s.events("e2e/events");
        journal
            .iter()
            .filter(|e| e["type"] != "status")
            .all(|e| got.iter().any(|g| id(g) == id(e)))
    });
    assert_delivered(&journal, &sub.events("e2e/events"));
}

#[test]
fn home_assistant_coming_online_gets_the_configs_again() {
    let work = tempfile::tempdir().unwrap();
    let broker = Broker::start(work.path());
    let sub = Subscriber::start(broker.port, "e2e-sub-ha", &["e2e-ha/#"]);
    let frames = frames();
    let settings = settings(work.path(), broker.port);
    let mut watch = start_watch(&settings, frames.path());
    let configs = |s: &Subscriber| {
        s.messages()
            .iter()
            .filter(|m| m.topic == "e2e-ha/binary_sensor/edgeclip-bench/red_circle/config")
            .count()
    };
    sub.wait_for("the first configs", Duration::from_secs(60), |s| {
        configs(s) >= 1
    });
    let first = configs(&sub);
    sub.client
        .publish("e2e-ha/status", QoS::AtLeastOnce, false, "online")
        .unwrap();
    sub.wait_for("configs sent again", Duration::from_secs(10), |s| {
        configs(s) > first
    });
    terminate(&watch);
    assert!(watch.wait().unwrap().success());
}

/// Frames that alternate between two objects every frame: with no dwell or hold,
/// each frame is an `appeared` and a `left`, far above 25 events a second.
fn alternating_frames() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let samples = default_model().join("samples");
    for i in 0..20 {
        let (src, ext) = if i % 2 == 0 {
            (samples.join("red_circle.png"), "png")
        } else {
            (samples.join("blue_square.jpg"), "jpg")
        };
        std::fs::copy(src, dir.path().join(format!("{i:03}.{ext}"))).unwrap();
    }
    dir
}

#[test]
fn the_outbox_catches_up_during_a_sustained_event_rate_after_an_outage() {
    let work = tempfile::tempdir().unwrap();
    let mut broker = Broker::start(work.path());
    let sub = Subscriber::start(broker.port, "e2e-sub-sustained", &["e2e/events"]);
    let frames = alternating_frames();
    let settings = settings(work.path(), broker.port);
    let journal_dir = work.path().join("journal");
    let mut watch = Command::new(edgeclip_bin())
        .args([
            "--json",
            "watch",
            "--loop",
            "--dwell-ms",
            "0",
            "--hold-ms",
            "0",
        ])
        .arg("--config")
        .arg(&settings)
        .arg("--files")
        .arg(frames.path())
        .args(["--labels", LABELS])
        .env("EDGECLIP_MODEL", default_model())
        .env("EDGECLIP_LOG", "edgeclip_mqtt=info")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting edgeclip watch");
    let started = Instant::now();
    let at = |s: u64| {
        let until = started + Duration::from_secs(s);
        std::thread::sleep(until.saturating_duration_since(Instant::now()));
    };
    // 60 s of events, the broker away from 25 s to 35 s.
    at(25);
    broker.stop();
    at(35);
    broker.restart();
    sub.wait_for_resumed_session();
    at(58);
    let early = journal(&journal_dir);
    at(60);
    let received = sub.events("e2e/events");
    let end = journal(&journal_dir);
    terminate(&watch);
    assert!(watch.wait().unwrap().success());
    let events = early.iter().filter(|e| e["type"] != "status").count();
    println!(
        "{events} events journaled 2 s before the end ({:.0} per second), {} by the end",
        events as f64 / 58.0,
        end.len()
    );
    assert!(
        events as f64 / 58.0 >= 25.0,
        "the test's event rate: {events} in 58 s"
    );
    // Every event journaled 2 s before the end reached the subscriber by the end,
    // in order, each id once (or redelivered unchanged).
    let early_ids: std::collections::HashSet<String> = early.iter().map(id).collect();
    let received: Vec<Value> = received
        .into_iter()
        .filter(|e| early_ids.contains(&id(e)))
        .collect();
    assert_delivered(&early, &received);
}
