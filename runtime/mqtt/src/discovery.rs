//! Home Assistant MQTT discovery: one device with a `binary_sensor` per label
//! (present / absent) and sensors for the frame rate and the camera's state.
//!
//! Configs go to `<discovery prefix>/<component>/<node id>/<object id>/config`,
//! retained, and are sent again whenever Home Assistant announces itself on
//! `<discovery prefix>/status` with `online` (it forgets non-retained state on
//! restart, and a broker without persistence forgets retained configs too).
//! Every entity uses the device's availability topic, so the last will marks all of
//! them unavailable at once.

use serde_json::{json, Value};

use crate::config::MqttConfig;
use crate::message::Message;
use crate::topics::{slug, Topics};

/// Home Assistant's birth-message topic under `discovery_prefix`.
pub fn status_topic(discovery_prefix: &str) -> String {
    format!("{discovery_prefix}/status")
}

/// The retained discovery configs for `labels`, or none when discovery is off.
pub fn configs(config: &MqttConfig, labels: &[String]) -> Vec<Message> {
    let Some(prefix) = &config.discovery_prefix else {
        return Vec::new();
    };
    let topics = Topics::new(&config.prefix, &config.camera);
    let node = slug(&config.client_id);
    let device = json!({
        "identifiers": [node],
        "name": config.device_name,
        "manufacturer": "edgeclip",
        "model": "edgeclip watch",
        "sw_version": env!("CARGO_PKG_VERSION"),
    });
    let common = |name: &str, object: &str| {
        json!({
            "name": name,
            "unique_id": format!("{node}_{object}"),
            "availability_topic": topics.available(),
            "payload_available": "online",
            "payload_not_available": "offline",
            "qos": 1,
            "device": device,
        })
    };
    let mut out = Vec::with_capacity(labels.len() + 2);
    for label in labels {
        let object = slug(label);
        let mut payload = common(label, &object);
        extend(
            &mut payload,
            json!({
                "state_topic": topics.label(label),
                "payload_on": "ON",
                "payload_off": "OFF",
                "device_class": "occupancy",
            }),
        );
        out.push(config_message(
            prefix,
            "binary_sensor",
            &node,
            &object,
            &payload,
        ));
    }
    let mut fps = common("Frames per second", "fps");
    extend(
        &mut fps,
        json!({
            "state_topic": topics.status(),
            "value_template": "{{ value_json.fps_out }}",
            "unit_of_measurement": "fps",
            "state_class": "measurement",
            "icon": "mdi:speedometer",
        }),
    );
    out.push(config_message(prefix, "sensor", &node, "fps", &fps));
    let mut camera = common("Camera state", "camera_state");
    extend(
        &mut camera,
        json!({ "state_topic": topics.camera_state(), "icon": "mdi:cctv" }),
    );
    out.push(config_message(
        prefix,
        "sensor",
        &node,
        "camera_state",
        &camera,
    ));
    out
}

fn extend(base: &mut Value, more: Value) {
    if let (Value::Object(base), Value::Object(more)) = (base, more) {
        base.extend(more);
    }
}

fn config_message(
    prefix: &str,
    component: &str,
    node: &str,
    object: &str,
    payload: &Value,
) -> Message {
    Message {
        topic: format!("{prefix}/{component}/{node}/{object}/config"),
        payload: payload.to_string().into_bytes(),
        retain: true,
    }
}
