//! Prometheus metrics (OpenMetrics text): frames, queries, errors by code, the text
//! cache, encoder latency per tower and requests per route and status.

use std::sync::Mutex;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// The `Content-Type` of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

type Labels = Vec<(&'static str, String)>;

/// Every metric the server keeps.
pub struct Metrics {
    registry: Registry,
    frames: Counter,
    queries: Counter,
    query_errors: Family<Labels, Counter>,
    cache_hits: Counter,
    cache_misses: Counter,
    encoder: Family<Labels, Histogram>,
    requests: Family<Labels, Counter>,
    /// Frames already added to `frames` (the slot counts them itself).
    frames_seen: Mutex<u64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// All metrics at zero.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let frames = Counter::default();
        let queries = Counter::default();
        let query_errors = Family::<Labels, Counter>::default();
        let cache_hits = Counter::default();
        let cache_misses = Counter::default();
        // 0.5 ms to ~4 s: a tiny model's text run to a ViT-B/16 frame on a Pi.
        let encoder = Family::<Labels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 14))
        });
        let requests = Family::<Labels, Counter>::default();
        registry.register("edgeclip_frames", "Frames captured", frames.clone());
        registry.register("edgeclip_queries", "Queries answered", queries.clone());
        registry.register(
            "edgeclip_query_errors",
            "Requests answered with an error, by code",
            query_errors.clone(),
        );
        registry.register(
            "edgeclip_text_cache_hits",
            "Query texts answered from the embedding cache",
            cache_hits.clone(),
        );
        registry.register(
            "edgeclip_text_cache_misses",
            "Query texts that ran the text encoder",
            cache_misses.clone(),
        );
        registry.register(
            "edgeclip_encoder_seconds",
            "Encoder run time, by tower",
            encoder.clone(),
        );
        registry.register(
            "edgeclip_http_requests",
            "HTTP requests, by route and status",
            requests.clone(),
        );
        Self {
            registry,
            frames,
            queries,
            query_errors,
            cache_hits,
            cache_misses,
            encoder,
            requests,
            frames_seen: Mutex::new(0),
        }
    }

    /// Counts one answered query.
    pub fn query(&self) {
        self.queries.inc();
    }

    /// Counts texts found in and missing from the cache.
    pub fn text_cache(&self, hits: usize, misses: usize) {
        self.cache_hits.inc_by(hits as u64);
        self.cache_misses.inc_by(misses as u64);
    }

    /// Records one encoder run of `tower`.
    pub fn encoder_seconds(&self, tower: &'static str, seconds: f64) {
        self.encoder
            .get_or_create(&vec![("tower", tower.to_owned())])
            .observe(seconds);
    }

    /// Counts one HTTP request by its route pattern and status, and errors by code.
    pub fn request(&self, route: &str, status: u16, error_code: Option<&str>) {
        self.requests
            .get_or_create(&vec![
                ("route", route.to_owned()),
                ("status", status.to_string()),
            ])
            .inc();
        if let Some(code) = error_code {
            self.query_errors
                .get_or_create(&vec![("code", code.to_owned())])
                .inc();
        }
    }

    /// The metrics as OpenMetrics text; `frames` is the capture side's own count.
    pub fn render(&self, frames: u64) -> String {
        {
            let mut seen = self
                .frames_seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if frames > *seen {
                self.frames.inc_by(frames - *seen);
                *seen = frames;
            }
        }
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_labels() {
        let m = Metrics::new();
        m.query();
        m.text_cache(2, 1);
        m.encoder_seconds("text", 0.002);
        m.request("/v1/query", 400, Some("invalid_request"));
        let text = m.render(5);
        for line in [
            "edgeclip_frames_total 5",
            "edgeclip_queries_total 1",
            "edgeclip_text_cache_hits_total 2",
            "edgeclip_text_cache_misses_total 1",
            "edgeclip_encoder_seconds_count{tower=\"text\"} 1",
            "edgeclip_query_errors_total{code=\"invalid_request\"} 1",
            "edgeclip_http_requests_total{route=\"/v1/query\",status=\"400\"} 1",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        // Frames are counted from the slot's total, not added twice.
        assert!(m.render(5).contains("edgeclip_frames_total 5"));
    }
}
