//! The server's settings and the one rule checked before it binds: an address other
//! than loopback needs a token.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use crate::listener::ConnectionLimits;
use crate::tls::TlsFiles;

/// Where the server listens by default: loopback only.
pub const DEFAULT_BIND: &str = "127.0.0.1:7878";

/// Settings of one server.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Address and port to listen on.
    pub bind: SocketAddr,
    /// The bearer token every request must carry; required off loopback.
    pub token: Option<String>,
    /// Largest request body, in bytes (a base64 image is 4/3 of its file).
    pub body_limit: usize,
    /// Sustained requests per second allowed to one client address.
    pub rate_per_second: NonZeroU32,
    /// Requests one client may send at once above the sustained rate.
    pub burst: NonZeroU32,
    /// Longest time a request may take, reading its body included.
    pub request_timeout: Duration,
    /// Largest posted image, in pixels, checked before it is decoded.
    /// [`ServeConfig::image_pixels_for_budget`] sizes it to a board's memory.
    pub max_image_pixels: u64,
    /// Posted images decoded at once; more wait their turn, so that the decoders'
    /// memory is at most this many images at the pixel limit.
    pub max_decodes: usize,
    /// Text embeddings kept in the LRU cache.
    pub text_cache: usize,
    /// Where-answers score each patch by its cosine with the query minus its cosine
    /// with this neutral text, so that what every image has (background, texture)
    /// cancels out and what the query names stands out. It should describe the
    /// model's images in general, naming no object: the default suits the default
    /// model's drawn shapes; for photo-trained CLIP models, e.g. "a photo.".
    pub where_background: String,
    /// Connection caps and the request-head timeout.
    pub connections: ConnectionLimits,
    /// Serve HTTPS with this certificate and key instead of plain HTTP.
    pub tls: Option<TlsFiles>,
    /// A streaming source whose newest frame is older than this (or that has given
    /// none this long after the start) makes `/v1/health` say `degraded`.
    pub stale_after: Duration,
}

/// [`ServeConfig::where_background`]'s default.
pub const DEFAULT_WHERE_BACKGROUND: &str = "a photo of a shape.";

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            bind: DEFAULT_BIND.parse().expect("a valid literal address"),
            token: None,
            body_limit: 16 << 20,
            rate_per_second: NonZeroU32::new(50).expect("non-zero"),
            burst: NonZeroU32::new(100).expect("non-zero"),
            request_timeout: Duration::from_secs(10),
            max_image_pixels: 40_000_000,
            max_decodes: 2,
            text_cache: 4096,
            where_background: DEFAULT_WHERE_BACKGROUND.to_owned(),
            connections: ConnectionLimits::default(),
            tls: None,
            stale_after: Duration::from_secs(10),
        }
    }
}

impl ServeConfig {
    /// The pixel limit that keeps [`ServeConfig::max_decodes`] posted images being
    /// decoded at once within a quarter of a board's memory budget of `budget_bytes`
    /// (the models, label store, frames and request bodies share the rest).
    pub fn image_pixels_for_budget(&self, budget_bytes: u64) -> u64 {
        edgeclip::preprocess::pixels_within(budget_bytes / 4, self.max_decodes as u64)
    }

    /// Refuses settings the server must not start with: a non-loopback address
    /// without a token (TLS or not: TLS hides the token on the wire, it does not
    /// replace it), an empty token, zero limits.
    pub fn validate(&self) -> Result<(), String> {
        match &self.token {
            Some(t) if t.trim().is_empty() => return Err("the token is empty".into()),
            Some(t) if t.len() < 16 => {
                return Err(format!(
                    "the token has {} characters; use at least 16 (e.g. `openssl rand -hex 24`)",
                    t.len()
                ))
            }
            None if !self.bind.ip().is_loopback() => {
                return Err(format!(
                    "binding to {} exposes the API beyond this device: give a token \
                     (--token-file or EDGECLIP_TOKEN), or bind to 127.0.0.1",
                    self.bind
                ))
            }
            _ => {}
        }
        if self.body_limit == 0
            || self.max_image_pixels == 0
            || self.max_decodes == 0
            || self.text_cache == 0
        {
            return Err(
                "body limit, image pixel limit, decodes at once and text cache must be above 0"
                    .into(),
            );
        }
        if self.where_background.trim().is_empty() {
            return Err("the where-answer background text is empty".into());
        }
        if self.request_timeout.is_zero() || self.stale_after.is_zero() {
            return Err("the request timeout and the stale-frame age must be above 0".into());
        }
        self.connections.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_needs_no_token_but_other_addresses_do() {
        let mut c = ServeConfig::default();
        assert!(c.validate().is_ok());
        c.bind = "0.0.0.0:7878".parse().unwrap();
        assert!(c.validate().unwrap_err().contains("give a token"));
        c.token = Some("short".into());
        assert!(c.validate().unwrap_err().contains("at least 16"));
        c.token = Some("0123456789abcdef0123".into());
        assert!(c.validate().is_ok());
        c.bind = "[::1]:7878".parse().unwrap();
        c.token = None;
        assert!(c.validate().is_ok());
    }
}
