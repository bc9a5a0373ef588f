//! What one journal record becomes on the broker.

use edgeclip_events::Event;

use crate::topics::Topics;

/// One publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Topic.
    pub topic: String,
    /// Payload bytes.
    pub payload: Vec<u8>,
    /// Whether the broker keeps it as the topic's last value.
    pub retain: bool,
}

impl Message {
    /// A message with a text payload.
    pub fn text(topic: String, payload: &str, retain: bool) -> Self {
        Self {
            topic,
            payload: payload.as_bytes().to_vec(),
            retain,
        }
    }
}

/// The publishes for one journaled event, in the order they go out; `journaled` is
/// the record's payload (the event's JSON envelope), sent on the event stream as is
/// so that subscribers see the bytes the device keeps.
pub fn for_event(topics: &Topics, event: &Event, journaled: &[u8]) -> Vec<Message> {
    let stream = || Message {
        topic: topics.events(),
        payload: journaled.to_vec(),
        retain: false,
    };
    match event {
        Event::Appeared(p) => vec![stream(), Message::text(topics.label(&p.label), "ON", true)],
        Event::Left(p) => vec![stream(), Message::text(topics.label(&p.label), "OFF", true)],
        Event::Camera(c) => vec![
            stream(),
            Message::text(topics.camera_state(), &c.state, true),
        ],
        Event::Status(s) => vec![Message {
            topic: topics.status(),
            // Serializing our own struct cannot fail.
            payload: serde_json::to_vec(s).unwrap_or_default(),
            retain: true,
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgeclip_events::{Meta, Presence};

    #[test]
    fn presence_goes_to_the_stream_then_the_retained_state() {
        let topics = Topics::new("ec", "cam");
        let event = Event::Appeared(Presence {
            meta: Meta {
                id: "r-1".into(),
                seq: 1,
                time_ms: 5,
            },
            label: "red mug".into(),
            group: None,
            score: 0.9,
            first_seen_ms: 0,
            last_seen_ms: 0,
            first_frame: 0,
            last_frame: 0,
        });
        let journaled = serde_json::to_vec(&event).unwrap();
        let m = for_event(&topics, &event, &journaled);
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].topic.as_str(), m[0].retain), ("ec/events", false));
        assert_eq!(m[0].payload, journaled);
        assert_eq!(m[1], Message::text("ec/cam/red_mug".into(), "ON", true));
    }
}
