//! RKNN: the NPU of Rockchip RK3562/3566/3568/3576/3588, through `librknnrt`.
//!
//! The library is loaded at run time (`libloading`, through `rknpu2-sys`'s
//! bindings of `rknn_api.h`), so one aarch64 binary runs on boards with and
//! without the NPU: without it the backend is unavailable and says where it
//! looked. Models are `.rknn` files compiled for one SoC by
//! `firmware-tools/rknn/convert.py` and listed in the package per SoC; they take
//! the same input as the ONNX file they came from (normalized RGB), at batch 1.
//!
//! `.rknn` image files take 8-bit RGB pixels, NHWC, with the model's
//! normalization folded in (the NPU's native input; `convert.py` builds them so).
//! A session says so ([`Session::takes_pixels`]): the image encoder then hands it
//! the resized 8-bit pixels ([`Input::Pixels`]), which go to librknnrt as they
//! are; a caller with only normalized floats gets them turned back into the
//! pixels exactly (they were 8-bit). librknnrt converts uint8 NHWC to the model's
//! own input type (f16, or int8 with the quantization its converter calibrated). Text files take
//! the token ids as the model declares them (int64, or int32 where narrowed);
//! outputs come back as f32 written straight into the caller's buffers
//! (`is_prealloc`). Batches larger than the model's run item by item. The NPU
//! cores a model runs on come from [`LoadOptions::device`]: `auto`, `0`, `1`,
//! `2`, `0_1`, `0_1_2` or `all` (RK3588 has three cores, RK3576 two).
//!
//! Settings (`[backends.rknn]` in a board profile, or
//! `--backend-option rknn.KEY=VALUE`): `soc`, the chip the package's `.rknn`
//! files must be made for; `core_mask`, the default cores; `library`,
//! `librknnrt.so` or its directory.
#![deny(missing_docs)]

pub mod layout;

use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rknpu2_sys::{
    _rknn_core_mask as core, _rknn_query_cmd as query, _rknn_tensor_format as fmt,
    _rknn_tensor_type as ty, rknn, rknn_context, rknn_input, rknn_input_output_num, rknn_output,
    rknn_tensor_attr,
};

use self::layout::{ImageInput, TensorAttr};
use edgeclip_backend::{
    Backend, BackendDetails, DType, Error, Factory, Input, LoadOptions, ModelSpec, Outputs, Result,
    Session, SessionInfo, Settings, TensorSpec,
};

const NAME: &str = "rknn";

/// Rockchip SoCs librknnrt runs on, with their number of NPU cores.
pub const SOCS: [(&str, u8); 5] = [
    ("rk3588", 3),
    ("rk3576", 2),
    ("rk3568", 1),
    ("rk3566", 1),
    ("rk3562", 1),
];

/// `[backends.rknn]`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RknnSettings {
    /// The SoC the `.rknn` files are made for, one of [`SOCS`].
    soc: Option<String>,
    /// The NPU cores models run on when no `--device` is given.
    core_mask: Option<String>,
    /// `librknnrt.so` or its directory.
    library: Option<PathBuf>,
}

/// Builds [`RknnBackend`] from its settings, checking the SoC and that it has
/// the cores the mask names.
pub struct RknnFactory;

/// The factory a registry is assembled from.
pub static FACTORY: RknnFactory = RknnFactory;

impl Factory for RknnFactory {
    fn name(&self) -> &'static str {
        NAME
    }

    fn build(&self, settings: &Settings) -> Result<Arc<dyn Backend>> {
        let own: RknnSettings = settings.read(NAME)?;
        let wrong = |message: String| Error::Settings {
            backend: NAME,
            message,
        };
        let mask = own.core_mask.as_deref();
        if let Some(mask) = mask {
            core_mask(Some(mask)).map_err(|_| {
                wrong(format!(
                    "core_mask {mask:?} is not one of auto, 0, 1, 2, 0_1, 0_1_2, all"
                ))
            })?;
        }
        if let Some(soc) = &own.soc {
            let Some((_, cores)) = SOCS.iter().find(|(name, _)| name == soc) else {
                return Err(wrong(format!(
                    "soc {soc:?} is not one of {}",
                    SOCS.map(|(soc, _)| soc).join(", ")
                )));
            };
            if cores_needed(mask) > *cores {
                return Err(wrong(format!(
                    "core_mask {:?} needs more than the {cores} NPU core(s) of {soc}",
                    mask.unwrap_or_default()
                )));
            }
        }
        let backend = RknnBackend::new(own.library).for_soc(own.soc, own.core_mask);
        Ok(Arc::new(backend))
    }
}

/// The number of NPU cores a SoC needs for `mask`.
fn cores_needed(mask: Option<&str>) -> u8 {
    match mask {
        Some("1" | "0_1") => 2,
        Some("2" | "0_1_2") => 3,
        _ => 1,
    }
}

/// The environment variable naming `librknnrt.so` or its directory.
pub const ENV: &str = "RKNN_LIB";

/// Where Rockchip's images and packages install the runtime.
const SEARCH: [&str; 3] = [
    "/usr/lib/librknnrt.so",
    "/usr/lib64/librknnrt.so",
    "/usr/local/lib/librknnrt.so",
];

/// Functions a model run needs; a library without one of them is refused at load
/// (`rknpu2-sys` would otherwise panic when calling it).
const REQUIRED: [&str; 7] = [
    "rknn_init",
    "rknn_destroy",
    "rknn_query",
    "rknn_inputs_set",
    "rknn_run",
    "rknn_outputs_get",
    "rknn_set_core_mask",
];

/// The RKNN backend.
#[derive(Default)]
pub struct RknnBackend {
    library: Option<PathBuf>,
    soc: Option<String>,
    core_mask: Option<String>,
    loaded: OnceLock<std::result::Result<(PathBuf, Arc<rknn>), String>>,
}

impl std::fmt::Debug for RknnBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RknnBackend")
            .field("library", &self.library)
            .finish()
    }
}

impl RknnBackend {
    /// A backend loading `librknnrt.so` from `library` (a file or its directory),
    /// else `$RKNN_LIB`, else the system's places.
    pub fn new(library: Option<PathBuf>) -> Self {
        Self {
            library,
            soc: None,
            core_mask: None,
            loaded: OnceLock::new(),
        }
    }

    /// Runs the package's files for `soc`, on the cores of `core_mask` when the
    /// load options name none.
    pub fn for_soc(mut self, soc: Option<String>, core_mask: Option<String>) -> Self {
        self.soc = soc;
        self.core_mask = core_mask;
        self
    }

    fn api(&self) -> Result<(PathBuf, Arc<rknn>)> {
        self.loaded
            .get_or_init(|| {
                let path = locate(self.library.as_deref())?;
                // SAFETY: loading librknnrt runs its initializers; it is Rockchip's
                // runtime library, found where the user or the system put it.
                let api = unsafe { rknn::new(&path) }
                    .map_err(|e| format!("{} could not be loaded: {e}", path.display()))?;
                let missing: Vec<&str> = REQUIRED
                    .iter()
                    .copied()
                    .filter(|name| !has_symbol(&api, name))
                    .collect();
                if !missing.is_empty() {
                    return Err(format!(
                        "{} lacks {} (too old a runtime?)",
                        path.display(),
                        missing.join(", ")
                    ));
                }
                Ok((path, Arc::new(api)))
            })
            .clone()
            .map_err(unavailable)
    }
}

fn has_symbol(api: &rknn, name: &str) -> bool {
    match name {
        "rknn_init" => api.rknn_init.is_ok(),
        "rknn_destroy" => api.rknn_destroy.is_ok(),
        "rknn_query" => api.rknn_query.is_ok(),
        "rknn_inputs_set" => api.rknn_inputs_set.is_ok(),
        "rknn_run" => api.rknn_run.is_ok(),
        "rknn_outputs_get" => api.rknn_outputs_get.is_ok(),
        "rknn_set_core_mask" => api.rknn_set_core_mask.is_ok(),
        _ => false,
    }
}

/// `given` (a file or a directory), else `$RKNN_LIB`, else the system's places.
fn locate(given: Option<&Path>) -> std::result::Result<PathBuf, String> {
    let env = std::env::var_os(ENV).map(PathBuf::from);
    let candidates: Vec<PathBuf> = match given.map(Path::to_owned).or(env) {
        Some(p) if p.is_dir() => vec![p.join("librknnrt.so")],
        Some(p) => vec![p],
        None => SEARCH.iter().map(PathBuf::from).collect(),
    };
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| {
            let tried: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
            format!(
                "librknnrt.so not found (looked at {}); install Rockchip's runtime or set {ENV}",
                tried.join(", ")
            )
        })
}

/// The `rknn_core_mask` for a device name.
pub fn core_mask(device: Option<&str>) -> Result<u32> {
    Ok(match device.unwrap_or("auto") {
        "auto" => core::RKNN_NPU_CORE_AUTO,
        "0" => core::RKNN_NPU_CORE_0,
        "1" => core::RKNN_NPU_CORE_1,
        "2" => core::RKNN_NPU_CORE_2,
        "0_1" => core::RKNN_NPU_CORE_0_1,
        "0_1_2" => core::RKNN_NPU_CORE_0_1_2,
        "all" => core::RKNN_NPU_CORE_ALL,
        other => {
            return Err(Error::InvalidInput(format!(
                "RKNN device `{other}` is not a core mask (auto, 0, 1, 2, 0_1, 0_1_2, all)"
            )))
        }
    })
}

impl Backend for RknnBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn check(&self) -> Result<()> {
        self.api().map(drop)
    }

    fn details(&self) -> Result<BackendDetails> {
        let (path, _) = self.api()?;
        Ok(BackendDetails {
            library: Some(path),
            devices: vec!["NPU".to_owned()],
        })
    }

    fn needs_own_files(&self) -> bool {
        true
    }

    fn soc(&self) -> Option<&str> {
        self.soc.as_deref()
    }

    fn load(
        &self,
        path: &Path,
        spec: &ModelSpec,
        options: &LoadOptions,
    ) -> Result<Box<dyn Session>> {
        let (_, api) = self.api()?;
        if path.extension().is_none_or(|e| e != "rknn") {
            return Err(unavailable(format!(
                "{} is not a .rknn file: the package has no RKNN file for this SoC \
                 (firmware-tools/rknn/convert.py makes one)",
                path.display()
            )));
        }
        let device = options.device.as_deref().or(self.core_mask.as_deref());
        let mask = core_mask(device)?;
        let started = std::time::Instant::now();
        let mut data = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let size = u32::try_from(data.len()).map_err(|_| Error::Model {
            path: path.to_owned(),
            message: "larger than 4 GiB".into(),
        })?;
        let mut ctx: rknn_context = 0;
        // SAFETY: `data` is the whole model file and outlives the call (librknnrt
        // copies what it keeps); `ctx` is written by the call.
        let ret = unsafe {
            api.rknn_init(
                &mut ctx,
                data.as_mut_ptr().cast::<c_void>(),
                size,
                0,
                std::ptr::null_mut(),
            )
        };
        if ret != 0 {
            return Err(Error::Model {
                path: path.to_owned(),
                message: format!("librknnrt could not load it (rknn_init returned {ret}; a file for another SoC or runtime version?)"),
            });
        }
        let mut session = RknnSession {
            api,
            ctx,
            path: path.to_owned(),
            spec: spec.clone(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            output_index: Vec::new(),
            staging: Vec::new(),
            pixels: Vec::new(),
            ids: Vec::new(),
            info: SessionInfo {
                backend: NAME,
                device: format!("NPU (cores {})", device.unwrap_or("auto")),
                precision: String::new(),
                prepare_ms: 0.0,
                cache_dir: None,
            },
        };
        session.describe()?;
        if mask != core::RKNN_NPU_CORE_AUTO {
            // SAFETY: `ctx` is a live context of this library.
            let ret = unsafe { session.api.rknn_set_core_mask(session.ctx, mask) };
            if ret != 0 {
                return Err(Error::failed(
                    NAME,
                    format!("rknn_set_core_mask({mask:#x}) returned {ret}: this SoC has fewer NPU cores"),
                ));
            }
        }
        session.info.prepare_ms = started.elapsed().as_secs_f64() * 1e3;
        Ok(Box::new(session))
    }
}

/// A loaded `.rknn` model.
pub struct RknnSession {
    api: Arc<rknn>,
    ctx: rknn_context,
    path: PathBuf,
    spec: ModelSpec,
    inputs: Vec<TensorAttr>,
    outputs: Vec<TensorAttr>,
    /// For each of `spec.outputs`, its index among the model's outputs.
    output_index: Vec<u32>,
    staging: Vec<f32>,
    pixels: Vec<u8>,
    ids: Vec<i32>,
    info: SessionInfo,
}

// SAFETY: the context is used from one thread at a time (`run` takes `&mut self`),
// which is what librknnrt requires of a context.
unsafe impl Send for RknnSession {}

impl RknnSession {
    fn query_attr(&self, cmd: u32, index: u32) -> Result<TensorAttr> {
        // SAFETY: an all-zero rknn_tensor_attr is valid (integers, floats, arrays).
        let mut raw: rknn_tensor_attr = unsafe { std::mem::zeroed() };
        raw.index = index;
        // SAFETY: `raw` is a writable rknn_tensor_attr of the size passed.
        let ret = unsafe {
            self.api.rknn_query(
                self.ctx,
                cmd,
                (&mut raw as *mut rknn_tensor_attr).cast(),
                size_of::<rknn_tensor_attr>() as u32,
            )
        };
        if ret != 0 {
            return Err(self.bad(format!("rknn_query({cmd}, {index}) returned {ret}")));
        }
        TensorAttr::from_raw(&raw).map_err(|e| self.bad(e))
    }

    /// Reads the model's inputs and outputs and checks them against the spec.
    fn describe(&mut self) -> Result<()> {
        let mut num = rknn_input_output_num {
            n_input: 0,
            n_output: 0,
        };
        // SAFETY: `num` is a writable rknn_input_output_num of the size passed.
        let ret = unsafe {
            self.api.rknn_query(
                self.ctx,
                query::RKNN_QUERY_IN_OUT_NUM,
                (&mut num as *mut rknn_input_output_num).cast(),
                size_of::<rknn_input_output_num>() as u32,
            )
        };
        if ret != 0 {
            return Err(self.bad(format!("rknn_query(IN_OUT_NUM) returned {ret}")));
        }
        if num.n_input != 1 {
            return Err(self.bad(format!("expected 1 input, the model has {}", num.n_input)));
        }
        self.inputs = vec![self.query_attr(query::RKNN_QUERY_INPUT_ATTR, 0)?];
        self.outputs = (0..num.n_output)
            .map(|i| self.query_attr(query::RKNN_QUERY_OUTPUT_ATTR, i))
            .collect::<Result<_>>()?;
        self.output_index =
            select_outputs(&self.spec.outputs, &self.outputs).map_err(|e| self.bad(e))?;
        if let DType::F32 = self.spec.input.dtype {
            let (channels, side) = image_geometry(&self.spec.input)
                .ok_or_else(|| self.bad("the model spec is not an image input".into()))?;
            layout::image_input(&self.inputs[0], channels, side).map_err(|e| self.bad(e))?;
        }
        self.info.precision = format!("{:?} input", self.inputs[0].dtype).to_lowercase();
        Ok(())
    }

    fn bad(&self, message: String) -> Error {
        Error::Model {
            path: self.path.clone(),
            message,
        }
    }

    fn failed(&self, call: &str, ret: i32) -> Error {
        Error::failed(
            NAME,
            format!("{}: {call} returned {ret}", self.path.display()),
        )
    }

    /// One item: sets the input, runs, reads every wanted output into `outputs`
    /// at row `item` of `batch`.
    fn run_one(
        &mut self,
        input: Input<'_>,
        item: usize,
        batch: usize,
        outputs: &mut Outputs,
    ) -> Result<()> {
        let per_item = self.spec.input.len(1);
        let items = item * per_item..(item + 1) * per_item;
        let staged = match input {
            Input::F32(data) => self.stage_image(&data[items])?,
            Input::I64(data) => self.stage_ids(&data[items])?,
            // Checked in `run` to be a model that takes pixels: HWC is its NHWC
            // item, and librknnrt only reads the buffer.
            Input::Pixels(data) => Staged {
                buf: data[items].as_ptr().cast_mut().cast(),
                bytes: per_item,
                type_: ty::RKNN_TENSOR_UINT8,
                fmt: fmt::RKNN_TENSOR_NHWC,
            },
        };
        let mut raw_input = rknn_input {
            index: 0,
            buf: staged.buf,
            size: staged.bytes as u32,
            pass_through: 0,
            type_: staged.type_,
            fmt: staged.fmt,
        };
        // SAFETY: `raw_input.buf` points at `bytes` bytes owned by `self` (or by
        // the caller's input), alive until `rknn_run` returns.
        let ret = unsafe { self.api.rknn_inputs_set(self.ctx, 1, &mut raw_input) };
        if ret != 0 {
            return Err(self.failed("rknn_inputs_set", ret));
        }
        // SAFETY: a live context with its input set.
        let ret = unsafe { self.api.rknn_run(self.ctx, std::ptr::null_mut()) };
        if ret != 0 {
            return Err(self.failed("rknn_run", ret));
        }
        self.read_outputs(item, batch, outputs)
    }

    /// One normalised f32 image as the model takes it: turned back into 8-bit
    /// HWC pixels where the package declares the normalisation folded in (a
    /// caller with the pixels at hand passes [`Input::Pixels`] instead), else
    /// f32 in the input's own layout.
    fn stage_image(&mut self, src: &[f32]) -> Result<Staged> {
        if let Some(n) = self.spec.normalization {
            layout::denormalize_to_hwc(src, n.mean, n.std, &mut self.pixels)
                .map_err(|e| Error::InvalidInput(format!("{}: {e}", self.path.display())))?;
            return Ok(Staged {
                buf: self.pixels.as_mut_ptr().cast(),
                bytes: self.pixels.len(),
                type_: ty::RKNN_TENSOR_UINT8,
                fmt: fmt::RKNN_TENSOR_NHWC,
            });
        }
        // A float input without pixels behind it (checked at load to be a model
        // that takes floats): f32, in its layout.
        let (channels, side) = image_geometry(&self.spec.input).expect("checked at load");
        let nhwc = layout::image_input(&self.inputs[0], channels, side).map_err(|e| self.bad(e))?
            == ImageInput::Nhwc;
        self.staging.resize(src.len(), 0.0);
        if nhwc {
            layout::nchw_to_nhwc(src, channels, side, side, &mut self.staging);
        } else {
            self.staging.copy_from_slice(src);
        }
        Ok(Staged {
            buf: self.staging.as_mut_ptr().cast(),
            bytes: self.staging.len() * 4,
            type_: ty::RKNN_TENSOR_FLOAT32,
            fmt: if nhwc {
                fmt::RKNN_TENSOR_NHWC
            } else {
                fmt::RKNN_TENSOR_NCHW
            },
        })
    }

    /// One row of token ids: i32 where the model takes them so (RKNN's usual
    /// conversion), else the caller's i64 as they are.
    fn stage_ids(&mut self, src: &[i64]) -> Result<Staged> {
        if self.inputs[0].dtype == layout::TensorType::I32 {
            layout::ids_to_i32(src, &mut self.ids).map_err(|e| self.bad(e))?;
            return Ok(Staged {
                buf: self.ids.as_mut_ptr().cast(),
                bytes: self.ids.len() * 4,
                type_: ty::RKNN_TENSOR_INT32,
                fmt: fmt::RKNN_TENSOR_UNDEFINED,
            });
        }
        // librknnrt only reads the buffer.
        Ok(Staged {
            buf: src.as_ptr().cast_mut().cast(),
            bytes: src.len() * 8,
            type_: ty::RKNN_TENSOR_INT64,
            fmt: fmt::RKNN_TENSOR_UNDEFINED,
        })
    }

    /// Reads every wanted output of the last run, as f32, into row `item` of
    /// `batch` in `outputs` (the slots are shaped on the first item).
    fn read_outputs(&mut self, item: usize, batch: usize, outputs: &mut Outputs) -> Result<()> {
        for (slot, &index) in self.output_index.iter().enumerate() {
            let attr = &self.outputs[index as usize];
            let per = attr.elements() / attr.batch();
            let mut shape = attr.dims.clone();
            if let Some(first) = shape.first_mut() {
                *first = batch;
            }
            let name = &self.spec.outputs[slot];
            let data = if item == 0 {
                outputs.slot(slot, name, &shape)
            } else {
                outputs.slot_mut(slot)
            };
            let dst = &mut data[item * per..(item + 1) * per];
            let mut raw_output = rknn_output {
                want_float: 1,
                is_prealloc: 1,
                index,
                buf: dst.as_mut_ptr().cast(),
                size: (dst.len() * 4) as u32,
            };
            // SAFETY: `raw_output.buf` is `size` writable bytes of the caller's
            // buffer; with `is_prealloc` librknnrt writes there and keeps nothing.
            let ret = unsafe {
                self.api
                    .rknn_outputs_get(self.ctx, 1, &mut raw_output, std::ptr::null_mut())
            };
            if ret != 0 {
                return Err(self.failed("rknn_outputs_get", ret));
            }
        }
        Ok(())
    }
}

/// An input buffer ready for `rknn_inputs_set`: where it is, its size in bytes,
/// its element type and layout.
struct Staged {
    buf: *mut c_void,
    bytes: usize,
    type_: u32,
    fmt: u32,
}

/// The model output index of each wanted output name.
fn select_outputs(
    wanted: &[String],
    outputs: &[TensorAttr],
) -> std::result::Result<Vec<u32>, String> {
    wanted
        .iter()
        .map(|name| {
            outputs
                .iter()
                .find(|o| &o.name == name)
                .map(|o| o.index)
                .ok_or_else(|| {
                    let names: Vec<&str> = outputs.iter().map(|o| o.name.as_str()).collect();
                    format!("no output `{name}` (the model has {names:?})")
                })
        })
        .collect()
}

/// Channels and side of an image spec `[batch, c, side, side]`.
fn image_geometry(spec: &TensorSpec) -> Option<(usize, usize)> {
    use edgeclip_backend::Dim::Fixed;
    match spec.shape.as_slice() {
        [_, Fixed(c), Fixed(h), Fixed(w)] if h == w => Some((*c, *h)),
        _ => None,
    }
}

impl Session for RknnSession {
    fn input(&self) -> &TensorSpec {
        &self.spec.input
    }

    fn outputs(&self) -> &[String] {
        &self.spec.outputs
    }

    fn info(&self) -> Option<SessionInfo> {
        Some(self.info.clone())
    }

    /// A model built with the normalisation folded in takes 8-bit NHWC pixels:
    /// given them, they go to librknnrt as they are.
    fn takes_pixels(&self) -> bool {
        self.spec.normalization.is_some()
    }

    fn run(&mut self, input: Input<'_>, batch: usize, outputs: &mut Outputs) -> Result<()> {
        self.spec.input.check_input(&self.path, &input, batch)?;
        if matches!(input, Input::Pixels(_)) && !self.takes_pixels() {
            return Err(Error::pixels_not_taken(NAME, &self.path));
        }
        outputs.begin(self.spec.outputs.len());
        for item in 0..batch {
            self.run_one(input, item, batch, outputs)?;
        }
        Ok(())
    }
}

impl Drop for RknnSession {
    fn drop(&mut self) {
        // SAFETY: the context was created by rknn_init and is destroyed once.
        let ret = unsafe { self.api.rknn_destroy(self.ctx) };
        if ret != 0 {
            log::warn!("{}: rknn_destroy returned {ret}", self.path.display());
        }
    }
}

fn unavailable(reason: String) -> Error {
    Error::Unavailable {
        backend: NAME,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgeclip_backend::ErrorKind;

    fn settings(text: &str) -> Settings {
        Settings::new(text.parse().unwrap())
    }

    fn error_with(text: &str) -> String {
        FACTORY.build(&settings(text)).err().unwrap().to_string()
    }

    #[test]
    fn rknn_rules() {
        let ok = FACTORY.build(&settings("soc = \"rk3588\"\ncore_mask = \"0_1_2\""));
        assert_eq!(ok.unwrap().soc(), Some("rk3588"));
        assert!(error_with("soc = \"rk3399\"").contains("is not one of rk3588"));
        assert!(error_with("soc = \"rk3566\"\ncore_mask = \"0_1_2\"")
            .contains("core_mask \"0_1_2\" needs more than the 1 NPU core(s) of rk3566"));
        assert!(error_with("core_mask = \"GPU\"").contains("core_mask \"GPU\""));
        assert!(error_with("cores = 3").contains("cores"));
    }

    #[test]
    fn without_the_library_the_backend_says_where_it_looked() {
        let backend = RknnBackend::new(Some(PathBuf::from("/nonexistent/librknnrt.so")));
        let err = backend.check().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        assert!(
            err.to_string().contains("/nonexistent/librknnrt.so"),
            "{err}"
        );
        assert!(err.to_string().contains(ENV), "{err}");
    }

    #[test]
    fn a_file_that_is_not_the_runtime_is_refused_not_loaded_blindly() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("librknnrt.so");
        std::fs::write(&fake, b"not an ELF file").unwrap();
        let err = RknnBackend::new(Some(dir.path().to_owned()))
            .check()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        assert!(err.to_string().contains("could not be loaded"), "{err}");
    }

    #[test]
    fn core_masks_follow_rknn_api_h() {
        assert_eq!(core_mask(None).unwrap(), 0);
        assert_eq!(core_mask(Some("0")).unwrap(), 1);
        assert_eq!(core_mask(Some("2")).unwrap(), 4);
        assert_eq!(core_mask(Some("0_1")).unwrap(), 3);
        assert_eq!(core_mask(Some("0_1_2")).unwrap(), 7);
        assert_eq!(core_mask(Some("all")).unwrap(), 0xffff);
        let err = core_mask(Some("GPU")).unwrap_err();
        assert!(err.to_string().contains("GPU"), "{err}");
    }

    #[test]
    fn wanted_outputs_are_found_by_name() {
        let attr = |index, name: &str| TensorAttr {
            index,
            name: name.into(),
            dims: vec![1, 512],
            format: layout::Format::Undefined,
            dtype: layout::TensorType::F32,
            quant: layout::Quant::None,
        };
        let outputs = [attr(0, "patch_tokens"), attr(1, "embedding")];
        assert_eq!(
            select_outputs(&["embedding".into()], &outputs).unwrap(),
            [1]
        );
        let err = select_outputs(&["value_tokens".into()], &outputs).unwrap_err();
        assert!(
            err.contains("value_tokens") && err.contains("patch_tokens"),
            "{err}"
        );
    }
}
