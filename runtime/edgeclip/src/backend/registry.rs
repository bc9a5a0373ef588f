//! Backends by name: which are built in, which can run here, and which to use.

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

/// The backends built into this binary, in their default order of preference.
///
/// tract comes last: it runs everywhere, so it is the fallback of every order.
pub struct Registry {
    backends: Vec<Arc<dyn Backend>>,
}

impl Registry {
    /// The backends this build was compiled with (delegates come from cargo features).
    pub fn builtin() -> Self {
        Self::with(vec![Arc::new(TractBackend)])
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

    /// The backend to use for `choice`: a name must be available (its
    /// [`Backend::check`] error otherwise); [`AUTO`] takes the first available
    /// backend in order, logging why each one before it was passed over.
    pub fn select(&self, choice: &str) -> Result<Arc<dyn Backend>> {
        if choice != AUTO {
            let backend = self.get(choice)?;
            backend.check()?;
            return Ok(backend);
        }
        let mut reasons = Vec::new();
        for backend in &self.backends {
            match backend.check() {
                Ok(()) => return Ok(backend.clone()),
                Err(e) => {
                    log::info!("skipping backend {}: {e}", backend.name());
                    reasons.push(e.to_string());
                }
            }
        }
        Err(Error::BackendUnavailable {
            backend: AUTO,
            reason: format!("no backend can run here ({})", reasons.join("; ")),
        })
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
        assert_eq!(Registry::builtin().select(AUTO).unwrap().name(), "tract");
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
