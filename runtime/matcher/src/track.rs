//! Temporal smoothing with hysteresis: per-label scores frame after frame turned
//! into `appeared` / `left` transitions that do not flicker.
//!
//! Each label keeps an exponential moving average of its score
//! (`ema ← α·score + (1 − α)·ema`, starting at 0). An absent label *appears* once
//! its average has stayed at or above the enter threshold for the dwell time; a
//! present label *leaves* once its average has stayed below the (lower) exit
//! threshold for the hold time. The gap between the two thresholds and the two
//! times is what keeps a score hovering near one threshold from producing an
//! event storm.
//!
//! Time is whatever clock the frames carry (milliseconds), so a recording replayed
//! faster than real time gives the same transitions as the live camera did. The
//! state is sized once for the label count; an update allocates nothing.

/// How scores are smoothed and when a label appears or leaves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackConfig {
    /// Weight of the newest score in the moving average, in `(0, 1]`; 1 disables
    /// smoothing.
    pub alpha: f32,
    /// The average a label must reach to start appearing.
    pub enter: f32,
    /// The average a present label must fall below to start leaving (≤ `enter`).
    pub exit: f32,
    /// How long (ms) the average must stay at or above `enter` before `appeared`.
    pub dwell_ms: u64,
    /// How long (ms) the average must stay below `exit` before `left`.
    pub hold_ms: u64,
}

impl Default for TrackConfig {
    fn default() -> Self {
        Self {
            alpha: 0.5,
            enter: 0.6,
            exit: 0.4,
            dwell_ms: 300,
            hold_ms: 1000,
        }
    }
}

impl TrackConfig {
    /// Checks the settings; the message names the one that is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.alpha > 0.0 && self.alpha <= 1.0) {
            return Err(format!("alpha {} must be in (0, 1]", self.alpha));
        }
        if !(self.enter.is_finite() && self.exit.is_finite()) {
            return Err("enter and exit must be numbers".into());
        }
        if self.exit > self.enter {
            return Err(format!(
                "exit {} must not be above enter {} (hysteresis)",
                self.exit, self.enter
            ));
        }
        Ok(())
    }
}

/// What happened to a label on one update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The label is now present.
    Appeared,
    /// The label is no longer present.
    Left,
}

/// One label's transition, with the span it was (or is) present.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transition {
    /// The label's index.
    pub label: usize,
    /// Appeared or left.
    pub change: Change,
    /// The smoothed score at the transition.
    pub score: f32,
    /// When the average first reached `enter` in this presence (ms).
    pub first_seen_ms: u64,
    /// The frame sequence number of `first_seen_ms`.
    pub first_seq: u64,
    /// When the average was last at or above `exit` (ms).
    pub last_seen_ms: u64,
    /// The frame sequence number of `last_seen_ms`.
    pub last_seq: u64,
}

#[derive(Debug, Clone, Copy, Default)]
struct LabelState {
    ema: f32,
    present: bool,
    /// While absent: since when the average has been at or above `enter`.
    rising_since: Option<(u64, u64)>,
    /// While present: since when the average has been below `exit`.
    falling_since: Option<u64>,
    first_seen: (u64, u64),
    last_seen: (u64, u64),
}

/// Per-label smoothing and hysteresis over a fixed label set.
#[derive(Debug, Clone)]
pub struct Tracker {
    config: TrackConfig,
    /// Per-label (enter, exit), from the config or per-label thresholds.
    thresholds: Vec<(f32, f32)>,
    states: Vec<LabelState>,
}

impl Tracker {
    /// A tracker of `labels` labels, all with `config`'s thresholds.
    pub fn new(labels: usize, config: TrackConfig) -> Self {
        Self {
            config,
            thresholds: vec![(config.enter, config.exit); labels],
            states: vec![LabelState::default(); labels],
        }
    }

    /// Gives labels their own enter threshold (a store's per-label tag threshold);
    /// their exit threshold keeps the config's gap below it.
    pub fn with_enter_thresholds(mut self, enter: &[Option<f32>]) -> Self {
        let gap = self.config.enter - self.config.exit;
        for (t, e) in self.thresholds.iter_mut().zip(enter) {
            if let Some(e) = *e {
                *t = (e, e - gap);
            }
        }
        self
    }

    /// Number of labels tracked.
    pub fn labels(&self) -> usize {
        self.states.len()
    }

    /// Whether label `i` is present now.
    pub fn is_present(&self, i: usize) -> bool {
        self.states.get(i).is_some_and(|s| s.present)
    }

    /// The smoothed score of label `i`.
    pub fn smoothed(&self, i: usize) -> Option<f32> {
        self.states.get(i).map(|s| s.ema)
    }

    /// Feeds one frame's scores (one per label; extra or missing labels are
    /// ignored) taken at `time_ms`, frame `seq`; calls `on_change` for each
    /// transition, in label order.
    pub fn update(
        &mut self,
        scores: &[f32],
        time_ms: u64,
        seq: u64,
        mut on_change: impl FnMut(Transition),
    ) {
        let alpha = self.config.alpha;
        let (dwell, hold) = (self.config.dwell_ms, self.config.hold_ms);
        for (label, ((state, &(enter, exit)), &score)) in self
            .states
            .iter_mut()
            .zip(&self.thresholds)
            .zip(scores)
            .enumerate()
        {
            // A NaN score is no evidence either way: it must not poison the average.
            let score = if score.is_nan() { 0.0 } else { score };
            state.ema = alpha * score + (1.0 - alpha) * state.ema;
            let transition = |state: &LabelState, change| Transition {
                label,
                change,
                score: state.ema,
                first_seen_ms: state.first_seen.0,
                first_seq: state.first_seen.1,
                last_seen_ms: state.last_seen.0,
                last_seq: state.last_seen.1,
            };
            if state.present {
                if state.ema >= exit {
                    state.last_seen = (time_ms, seq);
                    state.falling_since = None;
                } else {
                    let since = *state.falling_since.get_or_insert(time_ms);
                    if time_ms.saturating_sub(since) >= hold {
                        state.present = false;
                        state.falling_since = None;
                        on_change(transition(state, Change::Left));
                    }
                }
            } else if state.ema >= enter {
                let since = *state.rising_since.get_or_insert((time_ms, seq));
                if time_ms.saturating_sub(since.0) >= dwell {
                    state.present = true;
                    state.rising_since = None;
                    state.first_seen = since;
                    state.last_seen = (time_ms, seq);
                    on_change(transition(state, Change::Appeared));
                }
            } else {
                state.rising_since = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> TrackConfig {
        TrackConfig {
            alpha: 1.0,
            enter: 0.6,
            exit: 0.4,
            dwell_ms: 200,
            hold_ms: 300,
        }
    }

    /// Runs one label through `scores`, one frame per 100 ms.
    fn run(config: TrackConfig, scores: &[f32]) -> Vec<(usize, Change, u64)> {
        let mut tracker = Tracker::new(1, config);
        let mut out = Vec::new();
        for (i, &s) in scores.iter().enumerate() {
            tracker.update(&[s], i as u64 * 100, i as u64, |t| {
                out.push((i, t.change, t.first_seq))
            });
        }
        out
    }

    #[test]
    fn appears_after_the_dwell_and_leaves_after_the_hold() {
        let scores = [0.0, 0.9, 0.9, 0.9, 0.9, 0.1, 0.1, 0.1, 0.1, 0.1];
        let events = run(config(), &scores);
        // Above enter from frame 1; 200 ms later (frame 3) it appears.
        // Below exit from frame 5; 300 ms later (frame 8) it leaves.
        assert_eq!(events, [(3, Change::Appeared, 1), (8, Change::Left, 1)]);
    }

    #[test]
    fn a_blip_shorter_than_the_dwell_is_no_event() {
        let scores = [0.9, 0.9, 0.1, 0.9, 0.1, 0.0, 0.0];
        assert!(run(config(), &scores).is_empty());
    }

    #[test]
    fn a_score_flickering_around_the_threshold_does_not_storm() {
        // Alternating 0.75 / 0.45 around enter 0.6: with smoothing the average
        // settles near 0.6 and stays above exit, so at most one appearance.
        let mut scores = vec![0.0; 4];
        scores.extend((0..200).map(|i| if i % 2 == 0 { 0.75 } else { 0.45 }));
        let smooth = TrackConfig {
            alpha: 0.3,
            ..config()
        };
        let events = run(smooth, &scores);
        assert!(events.len() <= 1, "{events:?}");
        // Without smoothing the raw score still never stays above enter for the
        // dwell, nor below exit for the hold: no events at all.
        assert!(run(config(), &scores).is_empty());
    }

    #[test]
    fn the_first_and_last_seen_frames_are_reported() {
        let mut tracker = Tracker::new(2, config());
        let mut seen = Vec::new();
        let frames = [
            [0.9, 0.0],
            [0.9, 0.0],
            [0.9, 0.0],
            [0.3, 0.0],
            [0.3, 0.0],
            [0.3, 0.0],
            [0.3, 0.0],
        ];
        for (i, s) in frames.iter().enumerate() {
            tracker.update(s, i as u64 * 100, 10 + i as u64, |t| seen.push(t));
        }
        assert_eq!(seen.len(), 2);
        assert_eq!((seen[0].label, seen[0].change), (0, Change::Appeared));
        assert_eq!((seen[0].first_seq, seen[0].last_seq), (10, 12));
        assert_eq!(
            (seen[1].change, seen[1].first_seq, seen[1].last_seq),
            (Change::Left, 10, 12)
        );
        assert_eq!(seen[1].last_seen_ms, 200);
        assert!(!tracker.is_present(0) && !tracker.is_present(1));
    }

    #[test]
    fn per_label_thresholds_keep_the_gap() {
        let mut tracker = Tracker::new(2, config()).with_enter_thresholds(&[Some(0.9), None]);
        let mut seen = Vec::new();
        for i in 0..5 {
            tracker.update(&[0.8, 0.8], i * 100, i, |t| seen.push(t.label));
        }
        assert_eq!(seen, [1], "label 0 needs 0.9");
    }

    #[test]
    fn nan_scores_count_as_zero() {
        let scores = [0.9, 0.9, 0.9, f32::NAN, f32::NAN, f32::NAN, f32::NAN];
        let events = run(config(), &scores);
        assert_eq!(events.last().map(|e| e.1), Some(Change::Left));
    }

    #[test]
    fn configs_are_checked() {
        assert!(config().validate().is_ok());
        let bad = TrackConfig {
            exit: 0.7,
            ..config()
        };
        assert!(bad.validate().unwrap_err().contains("hysteresis"));
        let bad = TrackConfig {
            alpha: 0.0,
            ..config()
        };
        assert!(bad.validate().unwrap_err().contains("alpha"));
    }
}
