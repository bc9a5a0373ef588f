//! Backends by name: which are built in, which can run here, and which to use.

use std::path::PathBuf;
use std::sync::Arc;

use super::tract::TractBackend;
use super::Backend;
use crate::{Error, Result};

/// The name that asks for the first available backend of the default order.
pub const AUTO: &str = "auto";

/// Whether one registered backend can run on this machine.
#[derive(Debug)]
pub struct BackendStatus {
    /// The backend's name.
    pub name: &'static str,
    /// `Ok` when it can run here; otherwise why not.
    pub available: Result<()>,
}

/// Where delegate libraries are, when not where their own rules look
/// (a flag or a board profile names them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Libraries {
    /// OpenVINO's C library or its directory (else `$OPENVINO_LIB`, then
    /// OpenVINO's search).
    pub openvino: Option<PathBuf>,
    /// RKNN's `librknnrt.so` or its directory (else `$RKNN_LIB`, then the
    /// system's library directories).
    pub rknn: Option<PathBuf>,
}

/// The backends built into this binary, in their default order of preference.
///
/// tract comes last: it runs everywhere, so it is the fallback of every order.
pub struct Registry {
    backends: Vec<Arc<dyn Backend>>,
}

impl Registry {
    /// The backends this build was compiled with (delegates come from cargo
    /// features), delegates first: each is tried before tract where it can run.
    /// Delegate libraries are looked for in their default places.
    pub fn builtin() -> Self {
        Self::builtin_with(&Libraries::default())
    }

    /// [`Registry::builtin`] with delegate libraries at `libraries`.
    pub fn builtin_with(libraries: &Libraries) -> Self {
        #[allow(unused_mut)] // without delegate features only tract is pushed
        let mut backends: Vec<Arc<dyn Backend>> = Vec::new();
        #[cfg(feature = "openvino")]
        backends.push(Arc::new(super::openvino::OpenVinoBackend::new(
            libraries.openvino.clone(),
        )));
        #[cfg(feature = "rknn")]
        backends.push(Arc::new(super::rknn::RknnBackend::new(
            libraries.rknn.clone(),
        )));
        let _ = libraries;
        backends.push(Arc::new(TractBackend));
        Self::with(backends)
    }

    /// A registry of exactly `backends`, in this order of preference.
    pub fn with(backends: Vec<Arc<dyn Backend>>) -> Self {
        Self { backends }
    }

    /// Names of the registered backends, in order of preference.
    pub fn names(&self) -> Vec<&'static str> {
        self.backends.iter().map(|b| b.name()).collect()
    }

    /// The backend called `name`, whether or not it can run here.
    pub fn get(&self, name: &str) -> Result<Arc<dyn Backend>> {
        self.backends
            .iter()
            .find(|b| b.name() == name)
            .cloned()
            .ok_or_else(|| Error::UnknownBackend {
                name: name.to_owned(),
                known: self.names(),
            })
    }

    /// Each backend with whether it can run here.
    pub fn statuses(&self) -> Vec<BackendStatus> {
        self.backends
            .iter()
            .map(|b| BackendStatus {
                name: b.name(),
                available: b.check(),
            })
            .collect()
    }

    /// The first backend of `order` that can run here (names this build does not
    /// have are skipped), logging why each one before it was passed over. tract
    /// is tried last when `order` does not name it: it runs everywhere.
    pub fn select_in_order(&self, order: &[&str]) -> Result<Arc<dyn Backend>> {
        let mut reasons = Vec::new();
        let mut names: Vec<&str> = order.to_vec();
        if !names.contains(&"tract") {
            names.push("tract");
        }
        for name in names {
            let Ok(backend) = self.get(name) else {
                log::info!("skipping backend {name}: not built into this binary");
                reasons.push(format!("{name}: not built into this binary"));
                continue;
            };
            match backend.check() {
                Ok(()) => return Ok(backend),
                Err(e) => {
                    log::info!("skipping backend {name}: {e}");
                    reasons.push(e.to_string());
                }
            }
        }
        Err(Error::BackendUnavailable {
            backend: AUTO,
            reason: format!("no backend can run here ({})", reasons.join("; ")),
        })
    }

    /// The backend to use for `choice`: a name must be available (its
    /// [`Backend::check`] error otherwise); [`AUTO`] takes the first available
    /// backend in order, logging why each one before it was passed over.
    pub fn select(&self, choice: &str) -> Result<Arc<dyn Backend>> {
        if choice != AUTO {
            let backend = self.get(choice)?;
            backend.check()?;
            return Ok(backend);
        }
        self.select_in_order(&self.names())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::backend::{LoadOptions, ModelSpec, Session};
    use crate::ErrorKind;

    /// A backend whose library is never present: what a delegate looks like on a
    /// machine without its SDK.
    struct Missing;

    impl Backend for Missing {
        fn name(&self) -> &'static str {
            "missing"
        }
        fn check(&self) -> Result<()> {
            Err(Error::BackendUnavailable {
                backend: "missing",
                reason: "libmissing.so not found".into(),
            })
        }
        fn load(&self, _: &Path, _: &ModelSpec, _: &LoadOptions) -> Result<Box<dyn Session>> {
            self.check().map(|()| unreachable!("check always fails"))
        }
    }

    fn registry() -> Registry {
        Registry::with(vec![Arc::new(Missing), Arc::new(TractBackend)])
    }

    #[test]
    fn auto_falls_back_past_unavailable_backends() {
        assert_eq!(registry().select(AUTO).unwrap().name(), "tract");
        // Whatever delegates this build has, tract is always there to fall back to.
        assert!(Registry::builtin().select(AUTO).is_ok());
        assert!(Registry::builtin().names().ends_with(&["tract"]));
    }

    #[test]
    fn a_named_backend_must_be_available() {
        let err = registry().select("missing").err().unwrap();
        assert_eq!(err.kind(), ErrorKind::BackendUnavailable);
        assert!(err.to_string().contains("libmissing.so"), "{err}");
        assert_eq!(registry().select("tract").unwrap().name(), "tract");
    }

    #[test]
    fn an_unknown_name_lists_the_known_ones() {
        let err = registry().select("cuda").err().unwrap();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("missing, tract"), "{err}");
    }

    #[test]
    fn an_order_is_tried_in_turn_and_tract_closes_it() {
        let registry = registry();
        assert_eq!(
            registry
                .select_in_order(&["missing", "tract"])
                .unwrap()
                .name(),
            "tract"
        );
        assert_eq!(
            registry
                .select_in_order(&["rknn", "missing"])
                .unwrap()
                .name(),
            "tract"
        );
        assert_eq!(registry.select_in_order(&[]).unwrap().name(), "tract");
    }

    #[test]
    fn nothing_available_says_why() {
        let only_missing = Registry::with(vec![Arc::new(Missing)]);
        let err = only_missing.select(AUTO).err().unwrap();
        assert_eq!(err.kind(), ErrorKind::BackendUnavailable);
        assert!(err.to_string().contains("libmissing.so"), "{err}");
        let statuses = only_missing.statuses();
        assert_eq!(statuses.len(), 1);
        assert!(statuses[0].available.is_err());
    }
}
