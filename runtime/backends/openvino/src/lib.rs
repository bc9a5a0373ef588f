//! OpenVINO: Intel CPUs, iGPUs and NPUs (and Arm CPUs), loaded at run time.
//!
//! The shared library is found and opened on first use ([`library`]), so a
//! binary built with this backend still starts where OpenVINO is absent; the
//! backend then reports itself unavailable with where it looked. A session reads
//! the ONNX file (or an IR `.xml` with its `.bin`) with OpenVINO's own frontend
//! and compiles it for the device in [`LoadOptions::device`] (`CPU` by default).
//!
//! Precision: OpenVINO's CPU plugin computes in bf16 on CPUs that have it unless
//! told otherwise, which moves embeddings away from onnxruntime's. With
//! [`PrecisionHint::Exact`] (the default) the session asks for f32; with
//! [`PrecisionHint::Fast`] it keeps the plugin's choice. Either way the choice is
//! read back from the compiled model and reported in [`SessionInfo`].
//!
//! Compiling takes 0.15–0.3 s for an fp32 CLIP tower and seconds for an int8 one;
//! with [`LoadOptions::cache_dir`] OpenVINO keeps the compiled blob there and the
//! next start loads it instead.
//!
//! Settings (`[backends.openvino]` in a board profile, or
//! `--backend-option openvino.KEY=VALUE`): `device` (`AUTO`, `CPU`, `GPU`, `NPU`),
//! the default when no `--device` is given, and `library`, OpenVINO's C library
//! or its directory.
#![deny(missing_docs)]

pub mod library;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use openvino::{
    Core, DeviceType, ElementType, InferRequest, PropertyKey, RwPropertyKey, Shape, Tensor,
};

use std::sync::Arc;

use edgeclip_backend::{
    Backend, BackendDetails, DType, DeclaredIo, Error, Factory, Input, LoadOptions, ModelSpec,
    Outputs, PrecisionHint, Result, Session, SessionInfo, Settings, TensorSpec,
};

const NAME: &str = "openvino";

/// The devices a profile or flag may name as the default.
const DEVICES: [&str; 4] = ["AUTO", "CPU", "GPU", "NPU"];

/// `[backends.openvino]`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenVinoSettings {
    /// The device models compile for when no `--device` is given.
    device: Option<String>,
    /// OpenVINO's C library, or its directory.
    library: Option<PathBuf>,
}

/// Builds [`OpenVinoBackend`] from its settings.
pub struct OpenVinoFactory;

/// The factory a registry is assembled from.
pub static FACTORY: OpenVinoFactory = OpenVinoFactory;

impl Factory for OpenVinoFactory {
    fn name(&self) -> &'static str {
        NAME
    }

    fn build(&self, settings: &Settings) -> Result<Arc<dyn Backend>> {
        let own: OpenVinoSettings = settings.read(NAME)?;
        if let Some(device) = own.device.as_deref().filter(|d| !DEVICES.contains(d)) {
            return Err(Error::Settings {
                backend: NAME,
                message: format!("device {device:?} is not one of {}", DEVICES.join(", ")),
            });
        }
        Ok(Arc::new(
            OpenVinoBackend::new(own.library).with_device(own.device),
        ))
    }
}

/// The OpenVINO backend; [`OpenVinoBackend::new`] names where the library is, or
/// leaves it to [`library::locate`]'s rules.
#[derive(Debug, Default)]
pub struct OpenVinoBackend {
    library: Option<PathBuf>,
    /// Where models compile when the load options name no device.
    device: Option<String>,
    /// The outcome of loading the library, once: the process can hold only one.
    loaded: Mutex<Option<std::result::Result<library::Located, String>>>,
}

impl OpenVinoBackend {
    /// A backend loading the library at `library` (a file or its directory), or
    /// where `$OPENVINO_LIB` and OpenVINO's search say when `None`.
    pub fn new(library: Option<PathBuf>) -> Self {
        Self {
            library,
            device: None,
            loaded: Mutex::new(None),
        }
    }

    /// Compiles for `device` when [`LoadOptions::device`] names none (`CPU` when
    /// neither does).
    pub fn with_device(mut self, device: Option<String>) -> Self {
        self.device = device;
        self
    }

    /// Loads the library on first call; later calls return the first outcome.
    pub fn library(&self) -> Result<library::Located> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        let outcome = loaded.get_or_insert_with(|| {
            let found = library::locate(self.library.as_deref())?;
            openvino_sys::library::load_from(found.path.clone())
                .map_err(|e| format!("{} could not be loaded: {e}", found.path.display()))?;
            log::debug!("openvino: loaded {} ({})", found.path.display(), found.how);
            Ok(found)
        });
        outcome.clone().map_err(unavailable)
    }
}

impl Backend for OpenVinoBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn check(&self) -> Result<()> {
        self.library()?;
        Core::new().map_err(|e| unavailable(format!("the runtime did not start: {e}")))?;
        Ok(())
    }

    fn details(&self) -> Result<BackendDetails> {
        let library = self.library()?;
        let core = Core::new().map_err(|e| unavailable(format!("{e}")))?;
        let devices = core.available_devices().map_err(backend_error)?;
        Ok(BackendDetails {
            library: Some(library.path),
            devices: devices.iter().map(|d| d.as_ref().to_owned()).collect(),
        })
    }

    fn load(
        &self,
        path: &Path,
        spec: &ModelSpec,
        options: &LoadOptions,
    ) -> Result<Box<dyn Session>> {
        Ok(Box::new(self.open(path, spec, options)?))
    }
}

impl OpenVinoBackend {
    /// [`Backend::load`] without the box.
    pub fn open(
        &self,
        path: &Path,
        spec: &ModelSpec,
        options: &LoadOptions,
    ) -> Result<OpenVinoSession> {
        self.library()?;
        let mut core = Core::new().map_err(|e| unavailable(format!("{e}")))?;
        let device_name = options
            .device
            .clone()
            .or_else(|| self.device.clone())
            .unwrap_or_else(|| "CPU".to_owned());
        let plugins = plugins_for(&core, &device_name)?;
        for (target, key, value) in &core_settings(&device_name, &plugins, options)? {
            core.set_property(&device_type(target), key, value)
                .map_err(|e| {
                    backend_error_in(format!("setting {} = {value} on {target}", key.as_ref()), e)
                })?;
        }

        let started = Instant::now();
        let model = read_model(&mut core, path)?;
        check_io(path, &model, spec)?;
        let mut compiled = core
            .compile_model(&model, device_type(&device_name))
            .map_err(|e| {
                Error::model(
                    path,
                    format!("OpenVINO could not compile it for {device_name}: {e}"),
                )
            })?;
        let compile_ms = started.elapsed().as_secs_f64() * 1e3;
        let precision = compiled
            .get_property(&PropertyKey::Rw(RwPropertyKey::HintInferencePrecision))
            .map(|p| p.into_owned())
            .unwrap_or_else(|_| "device default".to_owned());
        let request = compiled.create_infer_request().map_err(backend_error)?;
        let info = SessionInfo {
            backend: NAME,
            device: device_name,
            precision,
            prepare_ms: compile_ms,
            cache_dir: options.cache_dir.clone(),
        };
        log::info!(
            "openvino: {} on {} in {} precision, ready in {:.0} ms{}",
            path.display(),
            info.device,
            info.precision,
            compile_ms,
            if options.cache_dir.is_some() {
                " (model cache on)"
            } else {
                ""
            }
        );
        Ok(OpenVinoSession {
            path: path.to_owned(),
            spec: spec.clone(),
            info,
            request,
            input: None,
            _compiled: compiled,
            _core: core,
        })
    }
}

/// The plugins `device_name` compiles on: itself when present here, the CPU and
/// GPU plugins present for a virtual device (AUTO, MULTI, HETERO). A device
/// OpenVINO does not see makes the backend unavailable for this model.
fn plugins_for(core: &Core, device_name: &str) -> Result<Vec<String>> {
    let available = core.available_devices().map_err(backend_error)?;
    let available: Vec<String> = available.iter().map(|d| d.as_ref().to_owned()).collect();
    let base = |d: &str| d.split('.').next().unwrap_or_default().to_owned();
    let virtual_device = ["AUTO", "MULTI", "HETERO"]
        .iter()
        .any(|v| device_name.starts_with(v));
    if virtual_device {
        // A virtual device takes only scheduling hints; the arithmetic and
        // threads are settings of the plugins it runs on, which the core keeps
        // per device and the virtual device's compile then uses.
        return Ok(["CPU", "GPU"]
            .iter()
            .filter(|p| available.iter().any(|d| base(d) == **p))
            .map(|p| (*p).to_owned())
            .collect());
    }
    if !available
        .iter()
        .any(|d| d == device_name || base(d) == base(device_name))
    {
        return Err(unavailable(format!(
            "no device {device_name} here (OpenVINO sees: {})",
            available.join(", ")
        )));
    }
    Ok(vec![device_name.to_owned()])
}

/// The properties set before compiling: latency mode on the device; threads,
/// one stream and (when exact) f32 arithmetic on its CPU and GPU plugins; the
/// model cache.
fn core_settings(
    device_name: &str,
    plugins: &[String],
    options: &LoadOptions,
) -> Result<Vec<(String, RwPropertyKey, String)>> {
    let mut settings = vec![(
        device_name.to_owned(),
        RwPropertyKey::HintPerformanceMode,
        "LATENCY".to_owned(),
    )];
    for plugin in plugins {
        let base = plugin.split('.').next().unwrap_or_default();
        if base == "CPU" {
            let threads = options.threads.max(1).to_string();
            settings.push((plugin.clone(), RwPropertyKey::InferenceNumThreads, threads));
        }
        if base == "CPU" || base == "GPU" {
            settings.push((plugin.clone(), RwPropertyKey::NumStreams, "1".into()));
            if options.precision_hint == PrecisionHint::Exact {
                let f32 = "f32".to_owned();
                settings.push((plugin.clone(), RwPropertyKey::HintInferencePrecision, f32));
            }
        }
    }
    if let Some(dir) = &options.cache_dir {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let dir = dir.display().to_string();
        settings.push((device_name.to_owned(), RwPropertyKey::CacheDir, dir));
    }
    Ok(settings)
}

/// Reads an ONNX file, or an IR `.xml` with the `.bin` beside it.
fn read_model(core: &mut Core, path: &Path) -> Result<openvino::Model> {
    let text = |p: &Path| {
        p.to_str().map(str::to_owned).ok_or_else(|| {
            Error::model(
                path,
                "the path is not valid UTF-8, which OpenVINO's C API needs",
            )
        })
    };
    let weights = if path.extension().is_some_and(|e| e == "xml") {
        text(&path.with_extension("bin"))?
    } else {
        String::new()
    };
    core.read_model_from_file(&text(path)?, &weights)
        .map_err(|e| Error::Model {
            path: path.to_owned(),
            message: format!("OpenVINO could not read it: {e}"),
        })
}

/// Verifies the model has one input of the promised name and the outputs the
/// package promises.
fn check_io(path: &Path, model: &openvino::Model, spec: &ModelSpec) -> Result<()> {
    let names =
        |count: usize,
         name: &dyn Fn(usize) -> std::result::Result<String, openvino::InferenceError>| {
            (0..count)
                .map(name)
                .collect::<std::result::Result<Vec<_>, _>>()
        };
    let inputs = model.get_inputs_len().map_err(backend_error)?;
    let outputs = model.get_outputs_len().map_err(backend_error)?;
    let declared = DeclaredIo {
        inputs: names(inputs, &|i| {
            model.get_input_by_index(i).and_then(|n| n.get_name())
        })
        .map_err(backend_error)?,
        input_shape: None,
        outputs: names(outputs, &|i| {
            model.get_output_by_index(i).and_then(|n| n.get_name())
        })
        .map_err(backend_error)?,
    };
    spec.check_declared(path, &declared)
}

fn device_type(name: &str) -> DeviceType<'static> {
    match name {
        "CPU" => DeviceType::CPU,
        "GPU" => DeviceType::GPU,
        "NPU" => DeviceType::NPU,
        other => DeviceType::Other(other.to_owned().into()),
    }
}

fn unavailable(reason: String) -> Error {
    Error::Unavailable {
        backend: NAME,
        reason,
    }
}

/// OpenVINO failed; its message (made one line) is the context, as its error
/// value carries no more than the message.
fn backend_error(e: impl std::fmt::Display) -> Error {
    Error::failed(NAME, one_line(&e.to_string()))
}

fn backend_error_in(context: String, e: impl std::fmt::Display) -> Error {
    Error::failed(NAME, format!("{context}: {}", one_line(&e.to_string())))
}

/// OpenVINO's messages span lines (one per C++ frame, blank lines between):
/// joined into one, so logs and JSON error records stay one line each.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" / ")
}

/// A compiled model and its inference request. The input tensor is kept and
/// reused while the batch size stays the same.
pub struct OpenVinoSession {
    path: PathBuf,
    spec: ModelSpec,
    info: SessionInfo,
    request: InferRequest,
    input: Option<(usize, Tensor)>,
    // Kept alive for the request's sake, and dropped after it (field order).
    _compiled: openvino::CompiledModel,
    _core: Core,
}

impl Session for OpenVinoSession {
    fn input(&self) -> &TensorSpec {
        &self.spec.input
    }

    fn outputs(&self) -> &[String] {
        &self.spec.outputs
    }

    fn info(&self) -> Option<SessionInfo> {
        Some(self.info.clone())
    }

    fn run(&mut self, input: Input<'_>, batch: usize, outputs: &mut Outputs) -> Result<()> {
        self.spec.input.check_input(&self.path, &input, batch)?;
        if let Input::Pixels(_) = input {
            return Err(Error::pixels_not_taken(NAME, &self.path));
        }
        if self.input.as_ref().map(|(b, _)| *b) != Some(batch) {
            let dims: Vec<i64> = self
                .spec
                .input
                .concrete(batch)
                .iter()
                .map(|&d| d as i64)
                .collect();
            let element = match self.spec.input.dtype {
                DType::F32 => ElementType::F32,
                DType::I64 => ElementType::I64,
            };
            let shape = Shape::new(&dims).map_err(backend_error)?;
            let tensor = Tensor::new(element, &shape).map_err(backend_error)?;
            self.input = Some((batch, tensor));
        }
        let (_, tensor) = self.input.as_mut().expect("set above");
        match input {
            Input::F32(data) => tensor
                .get_data_mut::<f32>()
                .map_err(backend_error)?
                .copy_from_slice(data),
            Input::I64(data) => tensor
                .get_data_mut::<i64>()
                .map_err(backend_error)?
                .copy_from_slice(data),
            Input::Pixels(_) => return Err(Error::pixels_not_taken(NAME, &self.path)),
        }
        self.request
            .set_input_tensor_by_index(0, tensor)
            .map_err(backend_error)?;
        self.request
            .infer()
            .map_err(|e| backend_error_in(format!("running {}", self.path.display()), e))?;
        outputs.begin(self.spec.outputs.len());
        for (i, name) in self.spec.outputs.iter().enumerate() {
            let tensor = self.request.get_tensor(name).map_err(backend_error)?;
            let element = tensor.get_element_type().map_err(backend_error)?;
            if element != ElementType::F32 {
                return Err(backend_error(format!(
                    "output `{name}` is {element:?}, expected f32"
                )));
            }
            let shape: Vec<usize> = tensor
                .get_shape()
                .map_err(backend_error)?
                .get_dimensions()
                .iter()
                .map(|&d| d as usize)
                .collect();
            let data = tensor.get_data::<f32>().map_err(backend_error)?;
            outputs.slot(i, name, &shape).copy_from_slice(data);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(text: &str) -> Result<Arc<dyn Backend>> {
        FACTORY.build(&Settings::new(text.parse().unwrap()))
    }

    #[test]
    fn openvino_devices_are_uppercase_names() {
        assert!(build("device = \"NPU\"").is_ok());
        let err = build("device = \"npu\"").err().unwrap().to_string();
        assert!(
            err.contains("\"npu\" is not one of AUTO, CPU, GPU, NPU"),
            "{err}"
        );
        let err = build("devices = \"CPU\"").err().unwrap().to_string();
        assert!(err.contains("devices"), "{err}");
    }

    #[test]
    fn a_library_setting_is_where_the_backend_looks() {
        let backend = build("library = \"/nonexistent/openvino\"").unwrap();
        let err = backend.check().unwrap_err();
        assert_eq!(err.kind(), edgeclip_backend::ErrorKind::Unavailable);
        assert!(err.to_string().contains("/nonexistent/openvino"), "{err}");
    }
}
