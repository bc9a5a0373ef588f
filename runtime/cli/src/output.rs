//! What the commands print: JSON Lines records in a `{"type", "data"}` envelope,
//! or plain text.

use serde::Serialize;

/// One JSON Lines record.
#[derive(Debug, Serialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum Record<'a> {
    /// Top-k labels of one image.
    Classification {
        path: &'a str,
        top: Vec<LabelScore<'a>>,
    },
    /// Labels of one image that passed their thresholds (`classify --tags`).
    Tags {
        path: &'a str,
        tags: Vec<TagScore<'a>>,
        /// How many passed; more than `tags` holds when truncated.
        passed: usize,
    },
    /// One label of a store (`labels list`).
    Label {
        index: usize,
        label: &'a str,
        group: Option<&'a str>,
        threshold: Option<f32>,
    },
    /// One input's embedding.
    Embedding {
        input: &'a str,
        embedding: &'a [f32],
    },
    /// One text's token ids.
    Tokens { text: &'a str, ids: &'a [i64] },
    /// One output of `edgeclip check` against its reference.
    Check {
        output: &'a str,
        rows: usize,
        min_cosine: f64,
        mean_cosine: f64,
        floor: f64,
        passed: bool,
    },
    /// An input that failed; the run went on.
    Error { input: &'a str, message: String },
}

/// One scored label.
#[derive(Debug, Serialize)]
pub struct LabelScore<'a> {
    pub label: &'a str,
    pub probability: f32,
    pub logit: f32,
}

/// One label that passed its threshold.
#[derive(Debug, Serialize)]
pub struct TagScore<'a> {
    pub label: &'a str,
    pub score: f32,
    pub logit: f32,
}

/// Prints one record as a JSON line.
pub fn json_line(record: &Record<'_>) {
    // Serializing these plain structs cannot fail.
    println!(
        "{}",
        serde_json::to_string(record).expect("serializable record")
    );
}
