//! The crate against the numpy reference (`firmware-tools/fixtures/depthclip_reference.py`)
//! on the default model's own features: onnxruntime's patch tokens, pooled embeddings
//! and bin-prompt text embeddings for three held-out distance scenes and their mirror
//! images, made by `firmware-tools/fixtures/make_depth_fixtures.py` (see
//! `tests/fixtures/fixtures.json`).

use std::path::{Path, PathBuf};

use edgeclip_depth::{grid, DepthConfig, DepthHead};
use serde_json::Value;

const TOLERANCE: f32 = 1e-4;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn meta() -> Value {
    let text = std::fs::read_to_string(dir().join("fixtures.json")).expect("fixtures.json");
    serde_json::from_str(&text).expect("fixtures.json is JSON")
}

/// A raw little-endian f32 file described by `{"file": ..., "shape": [...]}`.
fn array(entry: &Value) -> (Vec<f32>, Vec<usize>) {
    let file = entry["file"].as_str().expect("file name");
    let shape: Vec<usize> = entry["shape"]
        .as_array()
        .expect("shape")
        .iter()
        .map(|d| d.as_u64().expect("dimension") as usize)
        .collect();
    let bytes = std::fs::read(dir().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert_eq!(
        bytes.len(),
        4 * shape.iter().product::<usize>(),
        "{file}: size vs shape"
    );
    let values = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    (values, shape)
}

fn assert_close(what: &str, got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let mut worst = 0f32;
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let d = (g - w).abs();
        assert!(
            d <= TOLERANCE,
            "{what}[{i}]: {g} vs reference {w} (|Δ| = {d})"
        );
        worst = worst.max(d);
    }
    worst
}

struct Fixture {
    meta: Value,
    text: Vec<f32>,
    tokens: Vec<f32>,
    mirrored: Vec<f32>,
    pooled: Vec<f32>,
    scenes: usize,
    grid: (usize, usize),
    dim: usize,
}

fn fixture() -> Fixture {
    let meta = meta();
    let (text, _) = array(&meta["inputs"]["text_emb"]);
    let (tokens, shape) = array(&meta["inputs"]["patch_tokens"]);
    let (mirrored, _) = array(&meta["inputs"]["flip_patch_tokens"]);
    let (pooled, _) = array(&meta["inputs"]["pooled"]);
    let g = &meta["grid"];
    let grid = (
        g[0].as_u64().unwrap() as usize,
        g[1].as_u64().unwrap() as usize,
    );
    let dim = meta["dim"].as_u64().unwrap() as usize;
    assert_eq!(shape, [shape[0], grid.0 * grid.1, dim]);
    Fixture {
        scenes: shape[0],
        meta,
        text,
        tokens,
        mirrored,
        pooled,
        grid,
        dim,
    }
}

fn head(f: &Fixture, scale: f32) -> DepthHead {
    DepthHead::new(
        DepthConfig {
            scale,
            ..DepthConfig::default()
        },
        &f.text,
    )
    .unwrap()
}

fn results(f: &Fixture) -> Vec<Value> {
    let r = f.meta["results"].as_array().expect("results").clone();
    assert!(
        r.len() >= 2,
        "fixtures for the official and the measured scale"
    );
    r
}

#[test]
fn the_fixtures_use_the_default_config() {
    let f = fixture();
    let c = DepthConfig::default();
    let prompts: Vec<String> = f.meta["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(prompts, c.prompts());
    let bins: Vec<f32> = f.meta["config"]["bins_m"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(bins, c.bins_m);
    assert_eq!(f.meta["config"]["template"], c.template.as_str());
    assert_eq!(results(&f)[0]["scale"].as_f64(), Some(c.scale as f64));
}

#[test]
fn patch_and_scene_depths_match_the_reference() {
    let f = fixture();
    let patches = f.grid.0 * f.grid.1;
    for r in results(&f) {
        let scale = r["scale"].as_f64().unwrap() as f32;
        let head = head(&f, scale);
        let (want, _) = array(&r["patch_depths"]);
        let (want_scene, _) = array(&r["scene_depth"]);
        let mut got = vec![0.0; f.scenes * patches];
        for s in 0..f.scenes {
            let tokens = &f.tokens[s * patches * f.dim..][..patches * f.dim];
            head.patch_depths(tokens, f.grid, &mut got[s * patches..][..patches])
                .unwrap();
        }
        let worst = assert_close(&format!("patch depths at scale {scale}"), &got, &want);
        eprintln!("scale {scale}: patch depths within {worst:e}");
        let scene: Vec<f32> = f
            .pooled
            .chunks_exact(f.dim)
            .map(|e| head.scene_depth(e).unwrap())
            .collect();
        let worst = assert_close(
            &format!("scene depths at scale {scale}"),
            &scene,
            &want_scene,
        );
        eprintln!("scale {scale}: scene depths within {worst:e}");
    }
}

#[test]
fn flip_averaged_and_upsampled_maps_match_the_reference() {
    let f = fixture();
    let patches = f.grid.0 * f.grid.1;
    for r in results(&f) {
        let scale = r["scale"].as_f64().unwrap() as f32;
        let head = head(&f, scale);
        let (want_avg, _) = array(&r["flip_averaged"]);
        let (want_square, square) = array(&r["flip_averaged_up_64x64"]);
        let (want_wide, wide) = array(&r["patch_depths_up_24x40"]);
        let (square, wide) = ((square[1], square[2]), (wide[1], wide[2]));
        let mut worst = [0f32; 5];
        for s in 0..f.scenes {
            let tokens = &f.tokens[s * patches * f.dim..][..patches * f.dim];
            let mirrored = &f.mirrored[s * patches * f.dim..][..patches * f.dim];
            let what = |name: &str| format!("scene {s}, scale {scale}: {name}");

            // Step by step, into caller-owned buffers.
            let mut plain = vec![0.0; patches];
            let mut flipped = vec![0.0; patches];
            head.patch_depths(tokens, f.grid, &mut plain).unwrap();
            head.patch_depths(mirrored, f.grid, &mut flipped).unwrap();
            let mut avg = plain.clone();
            grid::flip_average(&mut avg, &flipped, f.grid).unwrap();
            let want = &want_avg[s * patches..][..patches];
            worst[0] = worst[0].max(assert_close(&what("flip-averaged"), &avg, want));

            let mut up = vec![0.0; square.0 * square.1];
            grid::upsample(&avg, f.grid, square, &mut up).unwrap();
            let want = &want_square[s * up.len()..][..up.len()];
            worst[1] = worst[1].max(assert_close(&what("64x64"), &up, want));

            let mut up = vec![0.0; wide.0 * wide.1];
            grid::upsample(&plain, f.grid, wide, &mut up).unwrap();
            let want = &want_wide[s * up.len()..][..up.len()];
            worst[2] = worst[2].max(assert_close(&what("24x40"), &up, want));

            // And the one-call pipeline gives the same maps.
            let map = head
                .depth_map(tokens, Some(mirrored), f.grid, square)
                .unwrap();
            assert_eq!((map.height(), map.width()), square);
            let want = &want_square[s * map.metres().len()..][..map.metres().len()];
            worst[3] = worst[3].max(assert_close(&what("depth_map 64x64"), map.metres(), want));
            let map = head.depth_map(tokens, None, f.grid, wide).unwrap();
            assert_eq!((map.height(), map.width()), wide);
            let want = &want_wide[s * map.metres().len()..][..map.metres().len()];
            worst[4] = worst[4].max(assert_close(&what("depth_map 24x40"), map.metres(), want));
        }
        eprintln!(
            "scale {scale}: flip-averaged within {:e}, 64x64 {:e}, 24x40 {:e}, depth_map {:e} / {:e}",
            worst[0], worst[1], worst[2], worst[3], worst[4]
        );
    }
}
