//! Asks a running `edgeclip serve` where some texts are in an image.
//!
//! ```sh
//! cargo run -p edgeclip-serve --example client -- photo.jpg "a red mug" "a blue car"
//! cargo run -p edgeclip-serve --example client -- latest "a person"   # the newest camera frame
//! ```
//!
//! `EDGECLIP_URL` overrides the address (default `http://127.0.0.1:7878`) and
//! `EDGECLIP_TOKEN`, when set, is sent as the bearer token.

use anyhow::{bail, Context, Result};
use base64::Engine;
use serde_json::{json, Value};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (image, texts) = match args.as_slice() {
        [image, texts @ ..] if !texts.is_empty() => (image, texts),
        _ => bail!("usage: client IMAGE.jpg|IMAGE.png|latest TEXT..."),
    };
    let image = if image == "latest" {
        image.clone()
    } else {
        let bytes = std::fs::read(image).with_context(|| format!("reading {image}"))?;
        base64::engine::general_purpose::STANDARD.encode(bytes)
    };
    let url = std::env::var("EDGECLIP_URL").unwrap_or_else(|_| "http://127.0.0.1:7878".into());

    // Error statuses carry a JSON body that says what was wrong: read it rather than
    // letting ureq turn the status into a bare error.
    let config = ureq::Agent::config_builder().http_status_as_error(false);
    let agent: ureq::Agent = config.build().into();
    let mut request = agent.post(format!("{}/v1/query", url.trim_end_matches('/')));
    if let Ok(token) = std::env::var("EDGECLIP_TOKEN") {
        request = request.header("Authorization", format!("Bearer {}", token.trim()));
    }
    let mut response = request
        .send_json(json!({ "texts": texts, "image": image, "where": true }))
        .with_context(|| format!("posting to {url}"))?;
    let status = response.status();
    let body: Value = response.body_mut().read_json()?;
    if !status.is_success() {
        let text = |key: &str| body["error"][key].as_str().unwrap_or("?").to_owned();
        bail!("{status} {}: {}", text("code"), text("message"));
    }

    let img = &body["image"];
    let source = img["source"].as_str().unwrap_or("?");
    println!("{source} image {}x{}", img["width"], img["height"]);
    for result in body["results"].as_array().into_iter().flatten() {
        println!(
            "{:<30} score {:.3}  probability {:.3}  box {}",
            result["text"].as_str().unwrap_or_default(),
            result["score"].as_f64().unwrap_or(f64::NAN),
            result["probability"].as_f64().unwrap_or(f64::NAN),
            result["where"]["box"],
        );
    }
    Ok(())
}
