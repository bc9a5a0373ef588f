//! The tokenizer against open_clip's own ids on a seeded corpus of captions,
//! contractions, entities, emoji, scripts, control characters and long texts
//! (made by firmware-tools/fixtures/make_tokenizer_fixture.py).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use edgeclip::tokenizer::Tokenizer;
use flate2::read::GzDecoder;
use serde_json::Value;

const FIXTURE: &str = "fixtures/tokenizer/open_clip_ids.jsonl.gz";
const DEFAULT_CONTEXT: usize = 77;
const SHOWN_MISMATCHES: usize = 10;

struct Case {
    text: String,
    context_length: usize,
    ids: Vec<i64>,
}

/// Overrides the fixture, e.g. with a larger corpus made by the same script
/// with another seed, without committing it.
const FIXTURE_ENV: &str = "EDGECLIP_TOKENIZER_FIXTURE";

fn load() -> (Value, Vec<Case>) {
    let path = std::env::var_os(FIXTURE_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE));
    let file = File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = BufReader::new(GzDecoder::new(file)).lines();
    let header: Value = serde_json::from_str(&lines.next().expect("fixture has a header").unwrap())
        .expect("header is JSON");
    let meta = header["meta"].clone();
    let cases = lines
        .map(|line| {
            let row: Value = serde_json::from_str(&line.unwrap()).expect("row is JSON");
            Case {
                text: row["text"].as_str().expect("text").to_owned(),
                context_length: row["context_length"]
                    .as_u64()
                    .map_or(DEFAULT_CONTEXT, |n| n as usize),
                ids: row["ids"]
                    .as_array()
                    .expect("ids")
                    .iter()
                    .map(|id| id.as_i64().expect("integer id"))
                    .collect(),
            }
        })
        .collect();
    (meta, cases)
}

#[test]
fn ids_match_open_clip() {
    let (meta, cases) = load();
    assert_eq!(
        meta["texts"].as_u64(),
        Some(cases.len() as u64),
        "fixture is complete"
    );
    assert!(
        cases.len() >= 5000,
        "only {} texts in the fixture",
        cases.len()
    );

    let tokenizer = Tokenizer::openai();
    let mut mismatches = Vec::new();
    for case in &cases {
        let mut expected = case.ids.clone();
        expected.resize(case.context_length, 0);
        let got = tokenizer.tokenize(&case.text, case.context_length).unwrap();
        if got != expected {
            mismatches.push((case, got));
        }
    }

    for (case, got) in mismatches.iter().take(SHOWN_MISMATCHES) {
        let trim = |ids: &[i64]| {
            let end = ids.iter().rposition(|&id| id != 0).map_or(0, |i| i + 1);
            ids[..end].to_vec()
        };
        eprintln!(
            "text {:?} (context {})\n  cleaned  {:?}\n  expected {:?}\n  got      {:?}",
            case.text,
            case.context_length,
            edgeclip::tokenizer::clean(&case.text),
            case.ids,
            trim(got),
        );
    }
    println!(
        "compared {} texts with open_clip {} (ftfy {}): {} mismatches",
        cases.len(),
        meta["open_clip"].as_str().unwrap_or("?"),
        meta["ftfy"].as_str().unwrap_or("?"),
        mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} of {} texts differ from open_clip",
        mismatches.len(),
        cases.len()
    );
}
