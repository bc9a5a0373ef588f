//! Image and text encoders: a backend session plus the model's preprocessing.

use image::RgbImage;

use crate::backend::{Backend, DType, Dim, Input, ModelSpec, Session, TensorSpec};
use crate::embedding::Embeddings;
use crate::model::{ModelPackage, Precision, TowerKind};
use crate::preprocess::Preprocessor;
use crate::tokenizer::Tokenizer;
use std::path::PathBuf;

use crate::{Error, Result};

/// Images per backend run when embedding many.
const IMAGE_BATCH: usize = 8;
/// Texts per backend run when embedding many (label sets).
const TEXT_BATCH: usize = 32;

/// A loaded tower: its session, the file it came from and the embedding width.
struct Tower {
    session: Box<dyn Session>,
    path: PathBuf,
    dim: usize,
}

fn open_tower(
    package: &ModelPackage,
    backend: &dyn Backend,
    kind: TowerKind,
    precision: Precision,
    input: TensorSpec,
) -> Result<Tower> {
    let path = package.verified_path(kind, precision)?;
    let tower = package.tower(kind);
    let spec = ModelSpec {
        input,
        outputs: vec![tower.embedding.clone()],
    };
    log::info!(
        "loading {} ({}) with {}",
        path.display(),
        precision,
        backend.name()
    );
    let session = backend.load(&path, &spec)?;
    Ok(Tower {
        session,
        path,
        dim: package.manifest().embed_dim,
    })
}

impl Tower {
    /// Runs one batch; checks the embedding output is `[batch, dim]` and normalizes it.
    fn embed(&mut self, input: Input<'_>, batch: usize) -> Result<Embeddings> {
        let dim = self.dim;
        let out = self
            .session
            .run(input, batch)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::Model {
                path: self.path.clone(),
                message: "the run returned no output".into(),
            })?;
        if out.shape != [batch, dim] {
            return Err(Error::Model {
                path: self.path.clone(),
                message: format!(
                    "output `{}` has shape {:?}, the manifest promises [{batch}, {dim}]",
                    out.name, out.shape
                ),
            });
        }
        Embeddings::from_raw(dim, out.data)
    }
}

/// Turns images into L2-normalized embeddings.
pub struct ImageEncoder {
    tower: Tower,
    preprocessor: Preprocessor,
    batch_buf: Vec<f32>,
}

impl ImageEncoder {
    /// Loads the package's image tower at `precision` on `backend`.
    pub fn open(
        package: &ModelPackage,
        backend: &dyn Backend,
        precision: Precision,
    ) -> Result<Self> {
        let config = package.manifest().preprocess.clone();
        let s = config.image_size as usize;
        let input = TensorSpec {
            name: package.manifest().image.input.clone(),
            dtype: DType::F32,
            shape: vec![Dim::Batch, Dim::Fixed(3), Dim::Fixed(s), Dim::Fixed(s)],
        };
        let tower = open_tower(package, backend, TowerKind::Image, precision, input)?;
        Ok(Self {
            tower,
            preprocessor: Preprocessor::new(config),
            batch_buf: Vec::new(),
        })
    }

    /// Values in one preprocessed image (3 × size × size).
    pub fn input_len(&self) -> usize {
        let s = self.preprocessor.config().image_size as usize;
        3 * s * s
    }

    /// Embeds already preprocessed CHW images laid end to end (`batch` of them).
    pub fn embed_preprocessed(&mut self, chw: &[f32], batch: usize) -> Result<Embeddings> {
        self.tower.embed(Input::F32(chw), batch)
    }

    /// Preprocesses and embeds RGB images, in batches.
    pub fn embed_images(&mut self, images: &[RgbImage]) -> Result<Embeddings> {
        let dim = self.tower.dim;
        let mut all = Embeddings::from_raw(dim, Vec::new())?;
        let len = self.input_len();
        for chunk in images.chunks(IMAGE_BATCH) {
            let mut buf = std::mem::take(&mut self.batch_buf);
            buf.resize(len * chunk.len(), 0.0);
            for (img, dst) in chunk.iter().zip(buf.chunks_exact_mut(len)) {
                self.preprocessor
                    .run_into(img.as_raw(), img.width(), img.height(), dst)?;
            }
            let result = self.embed_preprocessed(&buf, chunk.len());
            self.batch_buf = buf;
            all.extend(&result?)?;
        }
        Ok(all)
    }
}

/// Turns text into L2-normalized embeddings.
pub struct TextEncoder {
    tower: Tower,
    tokenizer: Tokenizer,
    context_length: usize,
    ids: Vec<i64>,
}

impl TextEncoder {
    /// Loads the package's text tower at `precision` on `backend`.
    pub fn open(
        package: &ModelPackage,
        backend: &dyn Backend,
        precision: Precision,
    ) -> Result<Self> {
        let context_length = package.manifest().tokenizer.context_length;
        let input = TensorSpec {
            name: package.manifest().text.input.clone(),
            dtype: DType::I64,
            shape: vec![Dim::Batch, Dim::Fixed(context_length)],
        };
        let tower = open_tower(package, backend, TowerKind::Text, precision, input)?;
        Ok(Self {
            tower,
            tokenizer: Tokenizer::openai(),
            context_length,
            ids: Vec::new(),
        })
    }

    /// The tokenizer this encoder uses.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Embeds texts, in batches.
    pub fn embed<S: AsRef<str>>(&mut self, texts: &[S]) -> Result<Embeddings> {
        let dim = self.tower.dim;
        let mut all = Embeddings::from_raw(dim, Vec::new())?;
        for chunk in texts.chunks(TEXT_BATCH) {
            self.ids.resize(chunk.len() * self.context_length, 0);
            for (text, dst) in chunk
                .iter()
                .zip(self.ids.chunks_exact_mut(self.context_length))
            {
                self.tokenizer.tokenize_into(text.as_ref(), dst)?;
            }
            all.extend(&self.tower.embed(Input::I64(&self.ids), chunk.len())?)?;
        }
        Ok(all)
    }

    /// One embedding per label: the label in every template (`{}` marks where),
    /// averaged and renormalized (prompt ensembling, as in the CLIP paper).
    pub fn embed_labels<S: AsRef<str>>(
        &mut self,
        labels: &[S],
        templates: &[String],
    ) -> Result<Embeddings> {
        if labels.is_empty() {
            return Err(Error::InvalidInput("the label list is empty".into()));
        }
        if let Some(i) = labels.iter().position(|l| l.as_ref().trim().is_empty()) {
            return Err(Error::InvalidInput(format!("label {} is empty", i + 1)));
        }
        if templates.is_empty() {
            return Err(Error::InvalidInput("no prompt template".into()));
        }
        for t in templates {
            crate::prompts::check(t).map_err(Error::InvalidInput)?;
        }
        let prompts: Vec<String> = labels
            .iter()
            .flat_map(|l| {
                templates
                    .iter()
                    .map(move |t| t.replace("{}", l.as_ref().trim()))
            })
            .collect();
        self.embed(&prompts)?.group_means(templates.len())
    }
}
