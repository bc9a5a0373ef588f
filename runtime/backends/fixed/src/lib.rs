//! A backend for tests: no engine, no file format, a known answer.
//!
//! Every output of a run is `[batch, width]` with row `b` equal to
//! `s_b * (1, 2, ..., width)`, where `s_b` is the sum of item `b`'s input
//! values: a tensor a test can predict for any input, so the layers above a
//! backend (registry, encoders, commands) can be checked without an engine. It
//! is also the smallest complete backend: a [`Factory`] reading its own
//! settings (`width`, and `pixels`: take raw 8-bit pixels for images, summed as
//! they are), a [`Backend`] and a [`Session`].
#![deny(missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use edgeclip_backend::{
    Backend, Error, Factory, Input, LoadOptions, ModelSpec, Outputs, Result, Session, Settings,
    TensorSpec,
};

const NAME: &str = "fixed";

/// Its settings table.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FixedSettings {
    /// Elements per output row (default 4).
    width: Option<usize>,
    /// Sessions take [`Input::Pixels`] (default false).
    pixels: Option<bool>,
}

/// Builds [`FixedBackend`] from `width = N` and `pixels = true|false`.
pub struct FixedFactory;

/// The factory a registry is assembled from.
pub static FACTORY: FixedFactory = FixedFactory;

impl Factory for FixedFactory {
    fn name(&self) -> &'static str {
        NAME
    }

    fn build(&self, settings: &Settings) -> Result<Arc<dyn Backend>> {
        let read = settings.read::<FixedSettings>(NAME)?;
        let width = read.width.unwrap_or(4);
        if width == 0 {
            return Err(Error::Settings {
                backend: NAME,
                message: "width must be at least 1".into(),
            });
        }
        Ok(Arc::new(FixedBackend {
            width,
            pixels: read.pixels.unwrap_or(false),
        }))
    }
}

/// The backend: loads any existing file, computes the known tensor.
#[derive(Debug, Clone, Copy)]
pub struct FixedBackend {
    width: usize,
    pixels: bool,
}

impl FixedBackend {
    /// Rows of `width` elements; sessions take floats only.
    pub fn new(width: usize) -> Self {
        Self {
            width,
            pixels: false,
        }
    }
}

impl Backend for FixedBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn check(&self) -> Result<()> {
        Ok(())
    }

    fn load(&self, path: &Path, spec: &ModelSpec, _: &LoadOptions) -> Result<Box<dyn Session>> {
        std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        Ok(Box::new(FixedSession {
            path: path.to_owned(),
            spec: spec.clone(),
            width: self.width,
            pixels: self.pixels,
        }))
    }
}

/// A loaded "model": the spec it promised, the row width, whether it takes pixels.
struct FixedSession {
    path: PathBuf,
    spec: ModelSpec,
    width: usize,
    pixels: bool,
}

impl Session for FixedSession {
    fn input(&self) -> &TensorSpec {
        &self.spec.input
    }

    fn outputs(&self) -> &[String] {
        &self.spec.outputs
    }

    fn takes_pixels(&self) -> bool {
        self.pixels
    }

    fn run(&mut self, input: Input<'_>, batch: usize, outputs: &mut Outputs) -> Result<()> {
        self.spec.input.check_input(&self.path, &input, batch)?;
        if matches!(input, Input::Pixels(_)) && !self.pixels {
            return Err(Error::pixels_not_taken(NAME, &self.path));
        }
        let per_item = input.len() / batch;
        let sum = |b: usize| -> f32 {
            let items = b * per_item..(b + 1) * per_item;
            match input {
                Input::F32(d) => d[items].iter().sum(),
                Input::I64(d) => d[items].iter().map(|&v| v as f32).sum(),
                Input::Pixels(d) => d[items].iter().map(|&v| f32::from(v)).sum(),
            }
        };
        outputs.begin(self.spec.outputs.len());
        for (i, name) in self.spec.outputs.iter().enumerate() {
            let data = outputs.slot(i, name, &[batch, self.width]);
            for (b, row) in data.chunks_exact_mut(self.width).enumerate() {
                let s = sum(b);
                for (j, v) in row.iter_mut().enumerate() {
                    *v = s * (j + 1) as f32;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgeclip_backend::DType;

    #[test]
    fn rows_are_the_input_sum_times_the_ramp() {
        let file = std::env::current_exe().unwrap();
        let spec = ModelSpec::batched("x", DType::F32, &[2], &["y"]);
        let backend = FACTORY.build(&Settings::default()).unwrap();
        let mut session = backend.load(&file, &spec, &LoadOptions::default()).unwrap();
        let mut outputs = Outputs::new();
        session
            .run(Input::F32(&[1.0, 2.0, -1.0, 0.5]), 2, &mut outputs)
            .unwrap();
        let y = outputs.get(0).unwrap();
        assert_eq!(y.shape, [2, 4]);
        assert_eq!(y.data, [3.0, 6.0, 9.0, 12.0, -0.5, -1.0, -1.5, -2.0]);
        let err = session
            .run(Input::F32(&[1.0]), 2, &mut outputs)
            .unwrap_err();
        assert!(err.to_string().contains("needs 4"), "{err}");
    }

    #[test]
    fn pixels_are_taken_only_when_the_settings_say_so() {
        let file = std::env::current_exe().unwrap();
        let spec = ModelSpec::batched("x", DType::F32, &[2], &["y"]);
        let floats = FACTORY.build(&Settings::default()).unwrap();
        let mut session = floats.load(&file, &spec, &LoadOptions::default()).unwrap();
        assert!(!session.takes_pixels());
        let mut outputs = Outputs::new();
        let err = session
            .run(Input::Pixels(&[1, 2]), 1, &mut outputs)
            .unwrap_err();
        assert_eq!(err.kind(), edgeclip_backend::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("not raw pixels"), "{err}");
        let mut settings = Settings::default();
        settings.set("pixels", true.into());
        let pixels = FACTORY.build(&settings).unwrap();
        let mut session = pixels.load(&file, &spec, &LoadOptions::default()).unwrap();
        assert!(session.takes_pixels());
        session
            .run(Input::Pixels(&[200, 55]), 1, &mut outputs)
            .unwrap();
        assert_eq!(outputs.get(0).unwrap().data, [255.0, 510.0, 765.0, 1020.0]);
    }

    #[test]
    fn its_settings_are_checked() {
        let mut zero = Settings::default();
        zero.set("width", 0.into());
        assert!(FACTORY.build(&zero).is_err());
        let missing = FACTORY.build(&Settings::default()).unwrap();
        let spec = ModelSpec::batched("x", DType::F32, &[2], &["y"]);
        let err = missing
            .load(
                Path::new("/nonexistent/model.onnx"),
                &spec,
                &LoadOptions::default(),
            )
            .err()
            .unwrap();
        assert!(err.to_string().contains("/nonexistent/model.onnx"), "{err}");
    }
}
