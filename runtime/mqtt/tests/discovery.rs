//! Home Assistant discovery payloads against the documented schema
//! (`fixtures/ha_discovery_schema.json`, key lists from Home Assistant's MQTT
//! integration docs): topic format, keys, required fields, the retained flag and
//! availability.

use std::collections::HashSet;

use edgeclip_mqtt::{discovery, MqttConfig, Topics};
use serde_json::Value;

fn schema() -> Value {
    let text = include_str!("fixtures/ha_discovery_schema.json");
    serde_json::from_str(text).unwrap()
}

fn strings(v: &Value) -> HashSet<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

fn config() -> MqttConfig {
    let mut c = MqttConfig::new("broker", 1883);
    c.camera = "Front Door".into();
    c.client_id = "edgeclip-front_door".into();
    c
}

fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[test]
fn every_config_follows_the_documented_schema() {
    let schema = schema();
    let config = config();
    let labels: Vec<String> = ["red mug", "person", "Dog/Cat"].map(String::from).to_vec();
    let messages = discovery::configs(&config, &labels);
    assert_eq!(
        messages.len(),
        labels.len() + 2,
        "one per label, fps, camera state"
    );
    let topics = Topics::new(&config.prefix, &config.camera);
    let mut unique_ids = HashSet::new();
    for m in &messages {
        assert!(m.retain, "{}: discovery configs are retained", m.topic);
        let parts: Vec<&str> = m.topic.split('/').collect();
        assert_eq!(parts.len(), 5, "{}", m.topic);
        assert_eq!(parts[0], "homeassistant");
        assert_eq!(parts[4], "config");
        assert!(is_id(parts[2]) && is_id(parts[3]), "{}", m.topic);
        let component = parts[1];
        let spec = &schema[component];
        assert!(
            spec.is_object(),
            "{component} is not a documented component"
        );
        let payload: Value = serde_json::from_slice(&m.payload).unwrap();
        let keys: HashSet<String> = payload.as_object().unwrap().keys().cloned().collect();
        let allowed = strings(&spec["keys"]);
        let unknown: Vec<&String> = keys.difference(&allowed).collect();
        assert!(
            unknown.is_empty(),
            "{}: undocumented keys {unknown:?}",
            m.topic
        );
        for required in strings(&spec["required"]) {
            assert!(keys.contains(&required), "{}: no {required}", m.topic);
        }
        assert_eq!(payload["availability_topic"], topics.available());
        assert_eq!(payload["payload_available"], "online");
        assert_eq!(payload["payload_not_available"], "offline");
        assert!(unique_ids.insert(payload["unique_id"].as_str().unwrap().to_owned()));
        let device = payload["device"].as_object().unwrap();
        let device_keys: HashSet<String> = device.keys().cloned().collect();
        assert!(device_keys.is_subset(&strings(&schema["device"]["keys"])));
        assert_eq!(
            device["identifiers"],
            serde_json::json!(["edgeclip-front_door"])
        );
        if let Some(class) = payload.get("device_class") {
            assert!(strings(&spec["device_classes"]).contains(class.as_str().unwrap()));
        }
        if let Some(class) = payload.get("state_class") {
            assert!(strings(&spec["state_classes"]).contains(class.as_str().unwrap()));
        }
    }
    let red_mug: Value = serde_json::from_slice(&messages[0].payload).unwrap();
    assert_eq!(
        messages[0].topic,
        "homeassistant/binary_sensor/edgeclip-front_door/red_mug/config"
    );
    assert_eq!(red_mug["name"], "red mug");
    assert_eq!(red_mug["state_topic"], topics.label("red mug"));
    assert_eq!(
        (
            red_mug["payload_on"].as_str(),
            red_mug["payload_off"].as_str()
        ),
        (Some("ON"), Some("OFF"))
    );
    let fps = messages
        .iter()
        .find(|m| m.topic.ends_with("/fps/config"))
        .unwrap();
    let fps: Value = serde_json::from_slice(&fps.payload).unwrap();
    assert_eq!(fps["state_topic"], topics.status());
    assert_eq!(fps["value_template"], "{{ value_json.fps_out }}");
}

#[test]
fn discovery_can_be_turned_off() {
    let mut c = config();
    c.discovery_prefix = None;
    assert!(discovery::configs(&c, &["x".into()]).is_empty());
}
