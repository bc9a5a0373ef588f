//! A GPIO output that is active while a watched label is present: an LED, a relay,
//! a buzzer.
//!
//! [`Indicator`] is a [`Sink`]: it follows the [`Event::Appeared`] and
//! [`Event::Left`] events and ignores the rest. Those events already come after
//! the tracker's dwell and hold times, so the pin follows presence with the same
//! debouncing as every other output, and the indicator itself keeps no clock.
//!
//! It is generic over any [`embedded_hal::digital::OutputPin`], so the same code
//! drives a Linux GPIO character-device line, a microcontroller's pin or a test
//! mock. Several watched labels may be present at once (a [`Watched::Group`] or
//! [`Watched::AnyOf`]): the pin stays active until the last of them leaves, and
//! it is only written when the level it should have changes.
//!
//! ```
//! use edgeclip_events::indicator::{Indicator, IndicatorConfig, Watched};
//! use edgeclip_events::{Event, Meta, Presence, Sink};
//! use embedded_hal_mock::eh1::digital::{Mock as PinMock, State, Transaction};
//!
//! // The mock checks the exact writes: inactive at start, on when the mug
//! // appears, off when it leaves.
//! let pin = PinMock::new(&[
//!     Transaction::set(State::Low),
//!     Transaction::set(State::High),
//!     Transaction::set(State::Low),
//! ]);
//! let config = IndicatorConfig { watched: Watched::Label("red mug".into()), active_low: false };
//! let mut led = Indicator::new(pin, config)?;
//!
//! let presence = Presence {
//!     meta: Meta { id: "run1-1".into(), seq: 1, time_ms: 0 },
//!     label: "red mug".into(), group: None, score: 0.8,
//!     first_seen_ms: 0, last_seen_ms: 0, first_frame: 0, last_frame: 0,
//! };
//! led.send(&Event::Appeared(presence.clone()))?;
//! assert!(led.is_active());
//! led.send(&Event::Left(presence))?;
//! assert!(!led.is_active());
//!
//! // Hand the pin back (already inactive, so no further write) and check the mock.
//! led.release()?.done();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeSet;
use std::fmt::Debug;

use embedded_hal::digital::OutputPin;

use crate::{Event, EventsErrorKind, Presence, Sink, SinkError};

/// Which presences make the indicator active.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Watched {
    /// One label, by its exact name.
    Label(String),
    /// Every label of this group (the label store's group).
    Group(String),
    /// Any of these labels, by their exact names.
    AnyOf(Vec<String>),
    /// Any label at all.
    Any,
}

impl Watched {
    /// Whether `presence` counts.
    pub fn matches(&self, presence: &Presence) -> bool {
        match self {
            Watched::Label(label) => presence.label == *label,
            Watched::Group(group) => presence.group.as_deref() == Some(group.as_str()),
            Watched::AnyOf(labels) => labels.contains(&presence.label),
            Watched::Any => true,
        }
    }
}

/// How an [`Indicator`] is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndicatorConfig {
    /// Which presences make the pin active.
    pub watched: Watched,
    /// Active is the low level (a LED wired to the supply, many relay boards):
    /// active means `set_low`, inactive `set_high`.
    pub active_low: bool,
}

/// Setting up or releasing an [`Indicator`]'s pin failed. `E` is the pin's error.
#[derive(Debug, thiserror::Error)]
pub enum IndicatorError<E: Debug> {
    /// Driving the pin to its inactive level at start failed.
    #[error("GPIO pin: driving the indicator inactive at start failed: {0:?}")]
    Init(E),
    /// Driving the pin to its inactive level on release failed.
    #[error("GPIO pin: driving the indicator inactive on release failed: {0:?}")]
    Release(E),
}

impl<E: Debug> IndicatorError<E> {
    /// What class of failure this is: a pin write that failed.
    pub fn kind(&self) -> EventsErrorKind {
        match self {
            IndicatorError::Init(_) | IndicatorError::Release(_) => EventsErrorKind::Gpio,
        }
    }
}

/// [`Indicator::release`] could not drive the pin inactive; the pin is handed
/// back anyway, so that the caller can try again or drop it.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct ReleaseError<P, E: Debug> {
    /// The pin, in whatever state the failed write left it.
    pub pin: P,
    /// What failed.
    pub error: IndicatorError<E>,
}

impl<P, E: Debug> ReleaseError<P, E> {
    /// What class of failure this is: its [`error`](Self::error)'s.
    pub fn kind(&self) -> EventsErrorKind {
        self.error.kind()
    }
}

/// Drives one output pin while a watched label is present. See the
/// [module documentation](self).
///
/// Dropping it drives the pin inactive (best effort: a failure is only logged),
/// so that a relay does not stay switched on after the loop ends; use
/// [`Indicator::release`] to see that write's result and get the pin back.
#[derive(Debug)]
pub struct Indicator<P: OutputPin> {
    /// `None` only once [`Indicator::release`] has taken it, so that `Drop`
    /// does nothing then.
    pin: Option<P>,
    config: IndicatorConfig,
    /// The watched labels present now; the pin is wanted active while it is not
    /// empty. A set, so a repeated `Appeared` counts once and the last `Left`
    /// decides.
    present: BTreeSet<String>,
    /// The level last written successfully, as active (`true`) or inactive;
    /// `None` after a failed write, when the electrical level is unknown and the
    /// next chance must write again even if the wanted state did not change.
    level: Option<bool>,
    failures: u64,
}

impl<P: OutputPin> Indicator<P> {
    /// Takes `pin` and drives it inactive, so that the output starts from a known
    /// level whatever the board left it at.
    pub fn new(pin: P, config: IndicatorConfig) -> Result<Self, IndicatorError<P::Error>> {
        let mut pin = pin;
        // Written before `Self` exists: on failure there is no `Indicator` whose
        // `Drop` would only try the same write again.
        drive(&mut pin, config.active_low).map_err(IndicatorError::Init)?;
        Ok(Self {
            pin: Some(pin),
            config,
            present: BTreeSet::new(),
            level: Some(false),
            failures: 0,
        })
    }

    /// Whether the pin should be active now (a watched label is present). This is
    /// the wanted state; after a failed write the electrical level may differ
    /// until [`Indicator::retry`] or the next event succeeds.
    pub fn is_active(&self) -> bool {
        !self.present.is_empty()
    }

    /// How many pin writes have failed since the start.
    pub fn failures(&self) -> u64 {
        self.failures
    }

    /// The configuration it was made with.
    pub fn config(&self) -> &IndicatorConfig {
        &self.config
    }

    /// Writes the wanted level again if the last write failed (the electrical
    /// level is unknown); does nothing when the level is known to be right.
    pub fn retry(&mut self) -> Result<(), SinkError> {
        self.apply()
    }

    /// Drives the pin inactive and hands it back. Dropping the pin then releases
    /// the line (on Linux, the GPIO character device's line request). No write
    /// happens when the pin is already known to be inactive.
    pub fn release(mut self) -> Result<P, ReleaseError<P, P::Error>> {
        let result = if self.level == Some(false) {
            Ok(())
        } else {
            self.write(false)
        };
        // `pin` is `Some` until here: only `release`, which consumes `self`,
        // takes it (and `Drop` then finds `None` and does nothing).
        let Some(pin) = self.pin.take() else {
            unreachable_pin()
        };
        match result {
            Ok(()) => Ok(pin),
            Err(e) => Err(ReleaseError {
                pin,
                error: IndicatorError::Release(e),
            }),
        }
    }

    /// Brings the pin to the wanted level when it is not known to be there.
    fn apply(&mut self) -> Result<(), SinkError> {
        let wanted = self.is_active();
        if self.level == Some(wanted) {
            return Ok(());
        }
        self.write(wanted).map_err(|e| {
            self.failures += 1;
            let level = self.electrical(wanted);
            SinkError::Io(std::io::Error::other(format!(
                "GPIO pin: driving the indicator {} ({}) failed: {e:?}",
                if wanted { "active" } else { "inactive" },
                if level { "high" } else { "low" },
            )))
        })
    }

    /// The electrical level (high = `true`) for the logical state `active`.
    fn electrical(&self, active: bool) -> bool {
        active != self.config.active_low
    }

    /// Writes `active` to the pin and records the level it is now known to have
    /// (or that it is unknown, after a failure).
    fn write(&mut self, active: bool) -> Result<(), P::Error> {
        let high = self.electrical(active);
        let Some(pin) = self.pin.as_mut() else {
            return Ok(());
        };
        let result = drive(pin, high);
        self.level = match result {
            Ok(()) => Some(active),
            Err(_) => None,
        };
        result
    }
}

/// Sets `pin` high or low.
fn drive<P: OutputPin>(pin: &mut P, high: bool) -> Result<(), P::Error> {
    if high {
        pin.set_high()
    } else {
        pin.set_low()
    }
}

/// The pin is gone only after `release`, which consumes the `Indicator`, so
/// this is never reached.
#[cold]
fn unreachable_pin() -> ! {
    unreachable!("the indicator's pin is only taken by release()")
}

impl<P: OutputPin> Sink for Indicator<P> {
    fn send(&mut self, event: &Event) -> Result<(), SinkError> {
        match event {
            Event::Appeared(p) if self.config.watched.matches(p) => {
                self.present.insert(p.label.clone());
            }
            // A label never seen present (or not watched) is not in the set, so
            // removing it changes nothing; no need to match it again.
            Event::Left(p) => {
                self.present.remove(&p.label);
            }
            _ => {}
        }
        // Also after an event that changed nothing: this is the next chance to
        // repair a level a failed write left unknown.
        self.apply()
    }

    /// Makes the pin show the wanted state: retries a failed write.
    fn flush(&mut self) -> Result<(), SinkError> {
        self.apply()
    }
}

impl<P: OutputPin> Drop for Indicator<P> {
    fn drop(&mut self) {
        if self.pin.is_none() || self.level == Some(false) {
            return;
        }
        if !std::thread::panicking() {
            if let Err(e) = self.write(false) {
                log::warn!("GPIO pin: driving the indicator inactive on drop failed: {e:?}");
            }
            return;
        }
        // Unwinding from a panic elsewhere: still switch the output off (a relay
        // should not stay on because the loop crashed), but a pin that panics
        // too must not turn the first panic into an abort.
        let off = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.write(false)));
        if !matches!(off, Ok(Ok(()))) {
            log::warn!("GPIO pin: driving the indicator inactive while unwinding failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CameraState, Meta, StageMs, Status};
    use edgeclip_match::track::{Change, TrackConfig, Tracker};
    use embedded_hal_mock::eh1::digital::{Mock as PinMock, State, Transaction};
    use embedded_hal_mock::eh1::MockError;

    fn presence(label: &str, group: Option<&str>) -> Presence {
        Presence {
            meta: Meta {
                id: "r-1".into(),
                seq: 1,
                time_ms: 0,
            },
            label: label.into(),
            group: group.map(Into::into),
            score: 0.8,
            first_seen_ms: 0,
            last_seen_ms: 0,
            first_frame: 0,
            last_frame: 0,
        }
    }

    fn appeared(label: &str) -> Event {
        Event::Appeared(presence(label, None))
    }

    fn left(label: &str) -> Event {
        Event::Left(presence(label, None))
    }

    fn label(l: &str) -> IndicatorConfig {
        IndicatorConfig {
            watched: Watched::Label(l.into()),
            active_low: false,
        }
    }

    fn fail() -> MockError {
        MockError::Io(std::io::ErrorKind::Other)
    }

    fn set(state: State) -> Transaction {
        Transaction::set(state)
    }

    #[test]
    fn the_pin_follows_a_label() {
        let pin = PinMock::new(&[set(State::Low), set(State::High), set(State::Low)]);
        let mut ind = Indicator::new(pin, label("red mug")).unwrap();
        assert!(!ind.is_active());
        ind.send(&appeared("red mug")).unwrap();
        assert!(ind.is_active());
        ind.send(&left("red mug")).unwrap();
        assert!(!ind.is_active());
        assert_eq!(ind.failures(), 0);
        ind.release().unwrap().done();
    }

    #[test]
    fn active_low_inverts_the_level() {
        let pin = PinMock::new(&[set(State::High), set(State::Low), set(State::High)]);
        let config = IndicatorConfig {
            active_low: true,
            ..label("red mug")
        };
        let mut ind = Indicator::new(pin, config).unwrap();
        ind.send(&appeared("red mug")).unwrap();
        ind.send(&left("red mug")).unwrap();
        ind.release().unwrap().done();
    }

    #[test]
    fn a_group_stays_active_until_its_last_label_leaves() {
        let pin = PinMock::new(&[set(State::Low), set(State::High), set(State::Low)]);
        let config = IndicatorConfig {
            watched: Watched::Group("pets".into()),
            active_low: false,
        };
        let mut ind = Indicator::new(pin, config).unwrap();
        let cat = presence("cat", Some("pets"));
        let dog = presence("dog", Some("pets"));
        let mug = presence("red mug", Some("kitchen"));
        ind.send(&Event::Appeared(cat.clone())).unwrap();
        ind.send(&Event::Appeared(dog.clone())).unwrap();
        ind.send(&Event::Appeared(mug.clone())).unwrap();
        ind.send(&Event::Left(cat)).unwrap();
        assert!(ind.is_active(), "the dog is still there");
        ind.send(&Event::Left(mug)).unwrap();
        assert!(ind.is_active());
        ind.send(&Event::Left(dog)).unwrap();
        assert!(!ind.is_active());
        ind.release().unwrap().done();
    }

    #[test]
    fn any_of_a_list_stays_active_until_the_last_leaves() {
        let pin = PinMock::new(&[
            set(State::Low),
            set(State::High),
            set(State::Low),
            set(State::High),
            set(State::Low),
        ]);
        let config = IndicatorConfig {
            watched: Watched::AnyOf(vec!["cat".into(), "dog".into()]),
            active_low: false,
        };
        let mut ind = Indicator::new(pin, config).unwrap();
        ind.send(&appeared("dog")).unwrap();
        ind.send(&appeared("cat")).unwrap();
        ind.send(&appeared("red mug")).unwrap();
        ind.send(&left("dog")).unwrap();
        ind.send(&left("cat")).unwrap();
        ind.send(&left("red mug")).unwrap();
        // A second presence switches it on again.
        ind.send(&appeared("cat")).unwrap();
        ind.send(&left("cat")).unwrap();
        ind.release().unwrap().done();
    }

    #[test]
    fn any_watches_every_label() {
        let pin = PinMock::new(&[set(State::Low), set(State::High), set(State::Low)]);
        let config = IndicatorConfig {
            watched: Watched::Any,
            active_low: false,
        };
        let mut ind = Indicator::new(pin, config).unwrap();
        ind.send(&appeared("a")).unwrap();
        ind.send(&appeared("b")).unwrap();
        ind.send(&left("b")).unwrap();
        ind.send(&left("a")).unwrap();
        ind.release().unwrap().done();
    }

    #[test]
    fn events_that_change_nothing_write_nothing() {
        // Only the initial write and one on / one off: every other event below
        // would be an unexpected call, which the mock turns into a panic.
        let pin = PinMock::new(&[set(State::Low), set(State::High), set(State::Low)]);
        let mut ind = Indicator::new(pin, label("red mug")).unwrap();
        let meta = Meta {
            id: "r-2".into(),
            seq: 2,
            time_ms: 5,
        };
        let status = Event::Status(Status {
            meta: meta.clone(),
            uptime_s: 1.0,
            fps_in: 10.0,
            fps_out: 10.0,
            frames: 10,
            dropped: 0,
            bad: 0,
            stage_ms: StageMs::default(),
            camera: "streaming".into(),
            present: vec!["red mug".into()],
        });
        let camera = Event::Camera(CameraState {
            meta,
            device: "/dev/video0".into(),
            state: "lost".into(),
            detail: "gone".into(),
        });
        ind.send(&left("red mug")).unwrap(); // never seen present
        ind.send(&appeared("cat")).unwrap(); // not watched
        ind.send(&status).unwrap();
        ind.send(&camera).unwrap();
        ind.send(&appeared("red mug")).unwrap();
        ind.send(&appeared("red mug")).unwrap(); // a duplicate (a redelivery)
        ind.send(&left("cat")).unwrap();
        ind.send(&status).unwrap();
        ind.flush().unwrap();
        ind.retry().unwrap();
        ind.send(&left("red mug")).unwrap();
        ind.send(&left("red mug")).unwrap();
        ind.release().unwrap().done();
    }

    #[test]
    fn a_failed_write_is_reported_and_repaired_by_the_next_event() {
        let pin = PinMock::new(&[
            set(State::Low),
            set(State::High).with_error(fail()),
            // The duplicate Appeared changes nothing wanted, but the level is
            // unknown, so it writes again.
            set(State::High),
            set(State::Low),
        ]);
        let mut ind = Indicator::new(pin, label("red mug")).unwrap();
        let err = ind.send(&appeared("red mug")).unwrap_err();
        assert!(matches!(err, SinkError::Io(_)), "{err:?}");
        assert!(err.to_string().contains("GPIO pin"), "{err}");
        assert!(err.to_string().contains("high"), "{err}");
        assert_eq!(ind.failures(), 1);
        assert!(ind.is_active(), "the wanted state holds");
        ind.send(&appeared("red mug")).unwrap();
        ind.send(&left("red mug")).unwrap();
        assert_eq!(ind.failures(), 1);
        ind.release().unwrap().done();
    }

    #[test]
    fn retry_writes_the_wanted_level_again() {
        let pin = PinMock::new(&[
            set(State::Low),
            set(State::High).with_error(fail()),
            set(State::High).with_error(fail()),
            set(State::High),
            // release() drives it inactive.
            set(State::Low),
        ]);
        let mut ind = Indicator::new(pin, label("red mug")).unwrap();
        assert!(ind.send(&appeared("red mug")).is_err());
        assert!(ind.retry().is_err());
        assert_eq!(ind.failures(), 2);
        ind.retry().unwrap();
        ind.retry().unwrap(); // known now: no write
        assert_eq!(ind.failures(), 2);
        ind.release().unwrap().done();
    }

    #[test]
    fn an_unrelated_event_also_repairs_the_level() {
        let pin = PinMock::new(&[set(State::Low)]);
        let mut ind = Indicator::new(pin, label("red mug")).unwrap();
        let mut check = ind.pin.clone().unwrap();
        // On, then the off write fails: the level is unknown.
        check.update_expectations(&[set(State::High), set(State::Low).with_error(fail())]);
        ind.send(&appeared("red mug")).unwrap();
        assert!(ind.send(&left("red mug")).is_err());
        check.update_expectations(&[set(State::Low)]);
        ind.send(&appeared("cat")).unwrap();
        assert_eq!(ind.failures(), 1);
        // Known inactive: neither release nor drop writes.
        ind.release().unwrap();
        check.done();
    }

    #[test]
    fn release_after_a_failure_drives_inactive() {
        let pin = PinMock::new(&[set(State::Low)]);
        let mut ind = Indicator::new(pin, label("red mug")).unwrap();
        let mut check = ind.pin.clone().unwrap();
        check.update_expectations(&[
            set(State::High),
            set(State::Low).with_error(fail()),
            set(State::Low).with_error(fail()),
            set(State::Low),
        ]);
        ind.send(&appeared("red mug")).unwrap();
        assert!(ind.send(&left("red mug")).is_err());
        // The first release fails and hands the pin back.
        let err = ind.release().unwrap_err();
        assert!(matches!(err.error, IndicatorError::Release(_)));
        assert_eq!(err.kind(), EventsErrorKind::Gpio);
        assert!(err.to_string().contains("on release"), "{err}");
        // The caller can try again by hand.
        let mut pin = err.pin;
        pin.set_low().unwrap();
        pin.done();
    }

    #[test]
    fn a_failing_initial_write_is_an_error() {
        let pin = PinMock::new(&[set(State::Low).with_error(fail())]);
        let mut check = pin.clone();
        let err = Indicator::new(pin, label("red mug")).unwrap_err();
        assert!(matches!(err, IndicatorError::Init(_)));
        assert_eq!(err.kind().as_str(), "gpio");
        assert!(err.to_string().contains("at start"), "{err}");
        check.done();
    }

    #[test]
    fn dropping_an_active_indicator_switches_it_off() {
        let pin = PinMock::new(&[set(State::High), set(State::Low), set(State::High)]);
        let mut check = pin.clone();
        let config = IndicatorConfig {
            active_low: true,
            ..label("red mug")
        };
        let mut ind = Indicator::new(pin, config).unwrap();
        ind.send(&appeared("red mug")).unwrap();
        drop(ind);
        check.done();
    }

    #[test]
    fn a_failing_write_on_drop_does_not_panic() {
        let pin = PinMock::new(&[
            set(State::Low),
            set(State::High),
            set(State::Low).with_error(fail()),
        ]);
        let mut check = pin.clone();
        let mut ind = Indicator::new(pin, label("red mug")).unwrap();
        ind.send(&appeared("red mug")).unwrap();
        drop(ind);
        check.done();
    }

    /// The tracker's dwell and hold decide when the pin switches: frames at
    /// 10 fps, the mug's score high from t = 0 to t = 1000 ms, then low.
    #[test]
    fn the_pin_follows_presence_with_the_trackers_dwell_and_hold() {
        let labels = [("red mug", Some("kitchen")), ("cat", Some("pets"))];
        let config = TrackConfig {
            alpha: 1.0,
            enter: 0.6,
            exit: 0.4,
            dwell_ms: 300,
            hold_ms: 500,
        };
        let mut tracker = Tracker::new(labels.len(), config);
        let pin = PinMock::new(&[set(State::Low)]);
        let mut check = pin.clone();
        let mut ind = Indicator::new(pin, label("red mug")).unwrap();
        let mut seq = 0;
        let mut switched = Vec::new();
        for frame in 0..=25u64 {
            let t = frame * 100;
            let mug = if t <= 1000 { 0.9 } else { 0.1 };
            // The cat blips for less than the dwell: no event, and unwatched anyway.
            let cat = if (500..=600).contains(&t) { 0.9 } else { 0.0 };
            // Exactly the writes this frame may make; any other write panics,
            // and leftover expectations fail the next update or `done`.
            let expected = match t {
                300 => vec![set(State::High)],
                1600 => vec![set(State::Low)],
                _ => vec![],
            };
            check.update_expectations(&expected);
            let mut events = Vec::new();
            tracker.update(&[mug, cat], t, frame, |tr| {
                let (name, group) = labels[tr.label];
                seq += 1;
                let presence = Presence {
                    meta: Meta {
                        id: format!("r-{seq}"),
                        seq,
                        time_ms: t,
                    },
                    label: name.into(),
                    group: group.map(Into::into),
                    score: tr.score,
                    first_seen_ms: tr.first_seen_ms,
                    last_seen_ms: tr.last_seen_ms,
                    first_frame: tr.first_seq,
                    last_frame: tr.last_seq,
                };
                events.push(match tr.change {
                    Change::Appeared => Event::Appeared(presence),
                    Change::Left => Event::Left(presence),
                });
            });
            for event in &events {
                let was = ind.is_active();
                ind.send(event).unwrap();
                if ind.is_active() != was {
                    switched.push((t, ind.is_active()));
                }
            }
            assert_eq!(ind.is_active(), (300..1600).contains(&t), "at {t} ms");
        }
        assert_eq!(switched, [(300, true), (1600, false)]);
        ind.release().unwrap();
        check.done();
    }
}
