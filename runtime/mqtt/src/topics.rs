//! Where each message goes: a layout close to Frigate's, under one prefix.
//!
//! | topic | retained | payload |
//! |---|---|---|
//! | `<prefix>/available` | yes | `online` / `offline` (the last will) |
//! | `<prefix>/events` | no | every `appeared`, `left` and `camera` event, as journaled |
//! | `<prefix>/status` | yes | the latest status event's `data` |
//! | `<prefix>/<camera>/<label>` | yes | `ON` while the label is present, else `OFF` |
//! | `<prefix>/<camera>/camera` | yes | the camera's state (`opened`, `lost`, ...) |

/// The topics of one device and camera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    prefix: String,
    camera: String,
}

impl Topics {
    /// Topics under `prefix` for `camera` (both made topic-safe with [`slug`]).
    pub fn new(prefix: &str, camera: &str) -> Self {
        Self {
            prefix: prefix.trim_matches('/').to_owned(),
            camera: slug(camera),
        }
    }

    /// Availability: `online` retained on connect, `offline` as the last will and on
    /// a clean stop.
    pub fn available(&self) -> String {
        format!("{}/available", self.prefix)
    }

    /// The event stream.
    pub fn events(&self) -> String {
        format!("{}/events", self.prefix)
    }

    /// The latest status, retained.
    pub fn status(&self) -> String {
        format!("{}/status", self.prefix)
    }

    /// A label's retained presence state.
    pub fn label(&self, label: &str) -> String {
        format!("{}/{}/{}", self.prefix, self.camera, slug(label))
    }

    /// The camera's retained state.
    pub fn camera_state(&self) -> String {
        format!("{}/{}/camera", self.prefix, self.camera)
    }
}

/// A label or name as one topic level and a Home Assistant object id: lowercase ASCII
/// letters, digits, `_` and `-`; anything else (spaces, `/`, the wildcards `+` and
/// `#`) becomes `_`. Two labels that differ only there share a topic.
pub fn slug(name: &str) -> String {
    let slug: String = name
        .trim()
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '_' | '-' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '_',
        })
        .collect();
    if slug.is_empty() {
        "_".to_owned()
    } else {
        slug
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_the_documented_table() {
        let t = Topics::new("edgeclip/", "Front Door");
        assert_eq!(t.available(), "edgeclip/available");
        assert_eq!(t.events(), "edgeclip/events");
        assert_eq!(t.status(), "edgeclip/status");
        assert_eq!(t.label("red mug"), "edgeclip/front_door/red_mug");
        assert_eq!(t.camera_state(), "edgeclip/front_door/camera");
    }

    #[test]
    fn slugs_never_carry_wildcards_or_levels() {
        for name in ["a/b", "x+y", "#", "Ünïcode", "", "  "] {
            let s = slug(name);
            assert!(!s.is_empty(), "{name:?}");
            assert!(
                s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-".contains(c)),
                "{name:?} -> {s:?}"
            );
        }
    }
}
