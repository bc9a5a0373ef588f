//! Image and text encoders: a backend session plus the model's preprocessing.
//!
//! Each encoder loads the file of its tower that suits the engine's backend
//! ([`ModelPackage::select_file`]) and owns every buffer a run needs: the
//! preprocessed input, the session's outputs and, for
//! [`ImageEncoder::encode_frame`], the caller's [`ImageFeatures`]. A camera loop
//! therefore allocates nothing of its own per frame once the first frame has run
//! (`tests/allocations.rs` counts).

use std::path::PathBuf;

use image::RgbImage;

use crate::backend::{Engine, Input, Outputs, Session};
use crate::embedding::{self, Embeddings};
use crate::model::{FileTarget, ModelPackage, Precision, TowerKind};
use crate::preprocess::Preprocessor;
use crate::tokenizer::Tokenizer;

use crate::{Error, Result};

/// Images per backend run when embedding many.
const IMAGE_BATCH: usize = 8;
/// Texts per backend run when embedding many (label sets).
const TEXT_BATCH: usize = 32;

/// A loaded tower: its session and output buffers, and the file it came from.
struct TowerSession {
    session: Box<dyn Session>,
    outputs: Outputs,
    path: PathBuf,
    dim: usize,
}

fn open_tower(
    package: &ModelPackage,
    engine: &Engine,
    kind: TowerKind,
    precision: Precision,
    dense: bool,
) -> Result<TowerSession> {
    let target = FileTarget {
        backend: engine.name(),
        soc: engine.backend().soc(),
    };
    let entry = package.select_file(kind, precision, target)?;
    let spec = package.tower_spec(kind, dense)?;
    let path = package.check_for_load(entry)?;
    log::info!(
        "loading {} ({}, {}) with {}",
        path.display(),
        entry.describe(),
        entry.form,
        engine.name()
    );
    let session = engine.load(&path, &spec)?;
    Ok(TowerSession {
        session,
        outputs: Outputs::new(),
        path,
        dim: package.manifest().embed_dim,
    })
}

impl TowerSession {
    /// Runs one batch and checks the pooled embedding is `[batch, dim]`.
    fn run(&mut self, input: Input<'_>, batch: usize) -> Result<()> {
        self.session.run(input, batch, &mut self.outputs)?;
        let out = self.outputs.get(0).ok_or_else(|| Error::Model {
            path: self.path.to_path_buf(),
            message: "the run returned no output".into(),
        })?;
        if out.shape != [batch, self.dim] {
            return Err(Error::Model {
                path: self.path.to_path_buf(),
                message: format!(
                    "output `{}` has shape {:?}, the manifest promises [{batch}, {}]",
                    out.name, out.shape, self.dim
                ),
            });
        }
        Ok(())
    }

    /// Runs one batch and returns its normalized embeddings.
    fn embed(&mut self, input: Input<'_>, batch: usize) -> Result<Embeddings> {
        self.run(input, batch)?;
        let pooled = self
            .outputs
            .get(0)
            .map_or_else(Vec::new, |o| o.data.clone());
        Embeddings::from_raw(self.dim, pooled)
    }
}

/// Projected patch tokens of one image laid out on the patch grid, each row
/// L2-normalized (a zero row is left at zero): the dense features DepthCLIP and
/// where-answers score against text embeddings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PatchGrid {
    rows: usize,
    cols: usize,
    dim: usize,
    data: Vec<f32>,
}

impl PatchGrid {
    /// Patch rows (top to bottom).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Patch columns (left to right).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Width of each patch's feature.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The feature of the patch at (`row`, `col`).
    pub fn patch(&self, row: usize, col: usize) -> &[f32] {
        let i = row * self.cols + col;
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// All features, row-major over the grid (`rows × cols × dim`).
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// Fills the grid from one image's `[patches, dim]` tokens.
    fn fill(&mut self, tokens: &[f32], dim: usize, path: &std::path::Path) -> Result<()> {
        let patches = tokens.len() / dim.max(1);
        let side = patches.isqrt();
        if side * side != patches || patches == 0 {
            return Err(Error::Model {
                path: path.to_path_buf(),
                message: format!("{patches} patch tokens do not form a square grid"),
            });
        }
        (self.rows, self.cols, self.dim) = (side, side, dim);
        self.data.clear();
        self.data.extend_from_slice(tokens);
        for row in self.data.chunks_exact_mut(dim) {
            // A patch with no direction scores 0 against everything.
            let _ = embedding::normalize(row);
        }
        Ok(())
    }
}

/// What the image tower gives for one image, in caller-owned buffers reused
/// from frame to frame.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageFeatures {
    embedding: Vec<f32>,
    patches: Option<PatchGrid>,
    values: Option<PatchGrid>,
}

impl ImageFeatures {
    /// Empty buffers; the first [`ImageEncoder::encode_frame`] sizes them.
    pub fn new() -> Self {
        Self::default()
    }

    /// The L2-normalized pooled embedding.
    pub fn embedding(&self) -> &[f32] {
        &self.embedding
    }

    /// The patch grid, when the encoder was opened with
    /// [`ImageEncoder::open_dense`].
    pub fn patches(&self) -> Option<&PatchGrid> {
        self.patches.as_ref()
    }

    /// The value-path grid (MaskCLIP dense features), when the encoder was opened
    /// with [`ImageEncoder::open_dense`] and the package exports it.
    pub fn values(&self) -> Option<&PatchGrid> {
        self.values.as_ref()
    }
}

/// Turns images into L2-normalized embeddings (and, opened dense, patch grids).
pub struct ImageEncoder {
    tower: TowerSession,
    preprocessor: Preprocessor,
    dense: bool,
    batch_buf: Vec<f32>,
    /// A batch of resized pixels, for a session that takes them.
    pixel_buf: Vec<u8>,
}

impl ImageEncoder {
    /// Loads the package's image tower at `precision` on `engine` (pooled
    /// embeddings only).
    pub fn open(package: &ModelPackage, engine: &Engine, precision: Precision) -> Result<Self> {
        Self::open_with(package, engine, precision, false)
    }

    /// Loads the image tower to give the projected patch tokens as well, in the
    /// same run (an error if the package exports none).
    pub fn open_dense(
        package: &ModelPackage,
        engine: &Engine,
        precision: Precision,
    ) -> Result<Self> {
        Self::open_with(package, engine, precision, true)
    }

    fn open_with(
        package: &ModelPackage,
        engine: &Engine,
        precision: Precision,
        dense: bool,
    ) -> Result<Self> {
        let tower = open_tower(package, engine, TowerKind::Image, precision, dense)?;
        Ok(Self {
            tower,
            preprocessor: Preprocessor::new(package.manifest().preprocess.clone()),
            dense,
            batch_buf: Vec::new(),
            pixel_buf: Vec::new(),
        })
    }

    /// What the image tower's session runs on, where its backend says
    /// ([`crate::backend::Session::info`]).
    pub fn session_info(&self) -> Option<crate::backend::SessionInfo> {
        self.tower.session.info()
    }

    /// Values in one preprocessed image (3 × size × size).
    pub fn input_len(&self) -> usize {
        let s = self.preprocessor.config().image_size as usize;
        3 * s * s
    }

    /// Whether the tower's session takes the resized 8-bit pixels itself
    /// ([`crate::backend::Session::takes_pixels`]; RKNN with the normalisation
    /// folded in): then [`ImageEncoder::encode_frame`] and
    /// [`ImageEncoder::embed_images`] skip normalising, and a caller that
    /// preprocesses itself calls [`ImageEncoder::encode_pixels`] with
    /// [`Preprocessor::resize_crop`]'s square.
    pub fn takes_pixels(&self) -> bool {
        self.tower.session.takes_pixels()
    }

    /// The hot path: one RGB8 frame (row-major, `width * height * 3` bytes)
    /// preprocessed and encoded into `out`. Nothing is allocated once the first
    /// frame has sized the buffers.
    pub fn encode_frame(
        &mut self,
        rgb: &[u8],
        width: u32,
        height: u32,
        out: &mut ImageFeatures,
    ) -> Result<()> {
        if self.takes_pixels() {
            let square = self.preprocessor.resize_crop(rgb, width, height)?;
            self.tower.run(Input::Pixels(square), 1)?;
            return self.read_features(out);
        }
        let mut buf = std::mem::take(&mut self.batch_buf);
        buf.resize(self.input_len(), 0.0);
        let result = self
            .preprocessor
            .run_into(rgb, width, height, &mut buf)
            .and_then(|()| self.encode_preprocessed(&buf, out));
        self.batch_buf = buf;
        result
    }

    /// Encodes one resized and cropped RGB8 square (`image_size² × 3` bytes, as
    /// [`Preprocessor::resize_crop`] gives it) into `out`: handed to the session
    /// as it is where the session takes pixels, else normalised here first.
    pub fn encode_pixels(&mut self, square: &[u8], out: &mut ImageFeatures) -> Result<()> {
        if self.takes_pixels() {
            self.tower.run(Input::Pixels(square), 1)?;
            return self.read_features(out);
        }
        let mut buf = std::mem::take(&mut self.batch_buf);
        buf.resize(self.input_len(), 0.0);
        let config = self.preprocessor.config();
        let result = crate::preprocess::normalize_to_chw(square, config.mean, config.std, &mut buf)
            .and_then(|()| self.encode_preprocessed(&buf, out));
        self.batch_buf = buf;
        result
    }

    /// Encodes one already preprocessed CHW image into `out`.
    pub fn encode_preprocessed(&mut self, chw: &[f32], out: &mut ImageFeatures) -> Result<()> {
        self.tower.run(Input::F32(chw), 1)?;
        self.read_features(out)
    }

    /// The last run's embedding (normalised) and, opened dense, its patch grids,
    /// into `out`.
    fn read_features(&self, out: &mut ImageFeatures) -> Result<()> {
        let (dim, path, outputs) = (self.tower.dim, &self.tower.path, &self.tower.outputs);
        let pooled = outputs.get(0).map_or(&[][..], |o| o.data.as_slice());
        out.embedding.clear();
        out.embedding.extend_from_slice(pooled);
        embedding::normalize(&mut out.embedding).map_err(|norm| Error::Model {
            path: path.to_path_buf(),
            message: format!("the embedding has norm {norm}: the model produced no usable vector"),
        })?;
        if !self.dense {
            out.patches = None;
            out.values = None;
            return Ok(());
        }
        let tokens = outputs.get(1).ok_or_else(|| Error::Model {
            path: path.to_path_buf(),
            message: "the run returned no patch tokens".into(),
        })?;
        fill_grid(&mut out.patches, tokens, dim, path)?;
        match outputs.get(2) {
            Some(values) => fill_grid(&mut out.values, values, dim, path),
            None => {
                out.values = None;
                Ok(())
            }
        }
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
            if self.takes_pixels() {
                self.pixel_buf.clear();
                for img in chunk {
                    let square =
                        self.preprocessor
                            .resize_crop(img.as_raw(), img.width(), img.height())?;
                    self.pixel_buf.extend_from_slice(square);
                }
                all.extend(
                    &self
                        .tower
                        .embed(Input::Pixels(&self.pixel_buf), chunk.len())?,
                )?;
                continue;
            }
            let mut buf = std::mem::take(&mut self.batch_buf);
            buf.resize(len * chunk.len(), 0.0);
            let mut result = Ok(());
            for (img, dst) in chunk.iter().zip(buf.chunks_exact_mut(len)) {
                result = self
                    .preprocessor
                    .run_into(img.as_raw(), img.width(), img.height(), dst);
                if result.is_err() {
                    break;
                }
            }
            let result = result.and_then(|()| self.embed_preprocessed(&buf, chunk.len()));
            self.batch_buf = buf;
            all.extend(&result?)?;
        }
        Ok(all)
    }
}

/// Checks one image's dense output is `[1, patches, dim]` and fills `grid` from it.
fn fill_grid(
    grid: &mut Option<PatchGrid>,
    tokens: &crate::backend::Output,
    dim: usize,
    path: &std::path::Path,
) -> Result<()> {
    if tokens.shape.len() != 3 || tokens.shape[0] != 1 || tokens.shape[2] != dim {
        return Err(Error::Model {
            path: path.to_path_buf(),
            message: format!(
                "dense output `{}` has shape {:?}, expected [1, patches, {dim}]",
                tokens.name, tokens.shape
            ),
        });
    }
    grid.get_or_insert_with(PatchGrid::default)
        .fill(&tokens.data, dim, path)
}

/// Turns text into L2-normalized embeddings.
pub struct TextEncoder {
    tower: TowerSession,
    tokenizer: Tokenizer,
    context_length: usize,
    ids: Vec<i64>,
}

impl TextEncoder {
    /// Loads the package's text tower at `precision` on `engine`.
    pub fn open(package: &ModelPackage, engine: &Engine, precision: Precision) -> Result<Self> {
        let tower = open_tower(package, engine, TowerKind::Text, precision, false)?;
        Ok(Self {
            tower,
            tokenizer: Tokenizer::openai(),
            context_length: package.manifest().tokenizer.context_length,
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
