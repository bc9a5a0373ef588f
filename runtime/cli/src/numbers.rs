//! Numbers from the command line, checked into range as they are parsed, so a flag
//! like `--timeout 1e30` or `--fps 1e-30` is a usage error naming the flag (clap
//! adds the flag's name) instead of a panic where the value becomes a `Duration`,
//! or a frame loop that sleeps for a lifetime.

/// The longest span a flag in seconds may give: about 31 years, far below what
/// `Duration` and `Instant` arithmetic can hold.
pub const MAX_SECONDS: f64 = 1e9;
/// The shortest timeout or run time: below a millisecond nothing can be done.
pub const MIN_SECONDS: f64 = 1e-3;
/// Frame rates: from one frame in about 17 minutes to a fast industrial camera.
pub const FPS_RANGE: (f64, f64) = (1e-3, 1000.0);
/// The longest wait in milliseconds (dwell, hold, reconnect): a day.
pub const MAX_MS: u64 = 86_400_000;

fn finite(s: &str) -> Result<f64, String> {
    let value: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number"))?;
    if value.is_finite() {
        Ok(value)
    } else {
        Err(format!("`{s}` is not a finite number"))
    }
}

/// A span in seconds, from [`MIN_SECONDS`] to [`MAX_SECONDS`].
pub fn seconds(s: &str) -> Result<f64, String> {
    let value = finite(s)?;
    if (MIN_SECONDS..=MAX_SECONDS).contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "{value} s is out of range: give {MIN_SECONDS} to {MAX_SECONDS:e} seconds"
        ))
    }
}

/// An interval in seconds where 0 means "never": 0 to [`MAX_SECONDS`] (a tiny one
/// means "every time").
pub fn seconds_or_zero(s: &str) -> Result<f64, String> {
    let value = finite(s)?;
    if (0.0..=MAX_SECONDS).contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "{value} s is out of range: give 0 (never) to {MAX_SECONDS:e} seconds"
        ))
    }
}

/// A frame rate within [`FPS_RANGE`].
pub fn fps(s: &str) -> Result<f64, String> {
    let value = finite(s)?;
    let (low, high) = FPS_RANGE;
    if (low..=high).contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "{value} frames per second is out of range: give {low} to {high}"
        ))
    }
}

/// Milliseconds, up to [`MAX_MS`].
pub fn millis(s: &str) -> Result<u64, String> {
    let value: u64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a whole number of milliseconds"))?;
    if value <= MAX_MS {
        Ok(value)
    } else {
        Err(format!(
            "{value} ms is out of range: give 0 to {MAX_MS} (a day)"
        ))
    }
}

/// A score or weight: a finite number (each command checks its own range and
/// names the flag).
pub fn score(s: &str) -> Result<f32, String> {
    let value = finite(s)?;
    if value.abs() <= f64::from(f32::MAX) {
        Ok(value as f32)
    } else {
        Err(format!("`{s}` is out of range"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_rates_are_kept_in_range() {
        assert_eq!(seconds("10"), Ok(10.0));
        for bad in ["1e30", "1e-30", "0", "-1", "nan", "inf", "ten", ""] {
            assert!(seconds(bad).is_err(), "{bad}");
        }
        assert_eq!(seconds_or_zero("0"), Ok(0.0));
        assert!(seconds_or_zero("-0.5").is_err());
        assert_eq!(fps("30"), Ok(30.0));
        assert!(fps("1e-9").is_err() && fps("1e9").is_err() && fps("NaN").is_err());
        assert_eq!(millis("250"), Ok(250));
        assert!(millis("18446744073709551615").is_err() && millis("-1").is_err());
        assert!(score("-2.5").is_ok() && score("1e39").is_err() && score("nan").is_err());
    }
}
