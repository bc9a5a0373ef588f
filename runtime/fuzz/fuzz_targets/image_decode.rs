//! Fuzzes the one decoder of untrusted images (`edgeclip::preprocess::decode_rgb`,
//! used by files, posted images and cameras' JPEG frames) with a small pixel limit,
//! then the CLIP preprocessing of whatever it accepts. An image must decode within
//! the limit or be refused by name, never panic; `-malloc_limit_mb` turns any
//! allocation sized by a claim in the file instead of the limit into a crash.
#![no_main]

use edgeclip::preprocess::{decode_rgb, PreprocessConfig, Preprocessor};
use libfuzzer_sys::fuzz_target;

/// 1 MP: well above the seeds, well below what `-malloc_limit_mb=64` allows
/// (3 bytes per pixel plus the decoder's own rows).
const MAX_PIXELS: u64 = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Ok(rgb) = decode_rgb(data, MAX_PIXELS) else {
        return;
    };
    let (width, height) = rgb.dimensions();
    assert!(u64::from(width) * u64::from(height) <= MAX_PIXELS);
    assert_eq!(rgb.as_raw().len(), width as usize * height as usize * 3);
    let mut pre = Preprocessor::new(PreprocessConfig::openai(32));
    let mut out = vec![0f32; 3 * 32 * 32];
    pre.run_into(rgb.as_raw(), width, height, &mut out)
        .expect("a decoded image preprocesses");
    assert!(out.iter().all(|v| v.is_finite()));
});
