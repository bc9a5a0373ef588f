//! Backends by name: which are built in, which can run here, and which to use.

use std::sync::Arc;

use crate::{Backend, Error, Factory, Result, Settings, SettingsByBackend};

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

/// The backends of this binary, in their default order of preference.
///
/// The last one is the fallback of every order: the backend that runs
/// everywhere (tract, in the registry the binaries assemble).
pub struct Registry {
    backends: Vec<Arc<dyn Backend>>,
}

impl Registry {
    /// The backends `factories` build from their settings (a backend without
    /// an entry in `settings` gets empty settings), in the factories' order.
    /// Settings for a backend no factory builds are logged and ignored: a board
    /// profile may configure a backend this build leaves out.
    pub fn from_factories<'a>(
        factories: impl IntoIterator<Item = &'a dyn Factory>,
        settings: &SettingsByBackend,
    ) -> Result<Self> {
        let empty = Settings::default();
        let mut backends = Vec::new();
        let mut built = Vec::new();
        for factory in factories {
            let name = factory.name();
            backends.push(factory.build(settings.get(name).unwrap_or(&empty))?);
            built.push(name);
        }
        for name in settings.keys() {
            if !built.contains(&name.as_str()) {
                log::info!("settings for backend {name} ignored: not built into this binary");
            }
        }
        Ok(Self::with(backends))
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
            .ok_or_else(|| Error::Unknown {
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
    /// have are skipped), logging why each one before it was passed over. The
    /// fallback (the last registered backend) is tried last when `order` does
    /// not name it.
    pub fn select_in_order(&self, order: &[&str]) -> Result<Arc<dyn Backend>> {
        let mut reasons = Vec::new();
        let mut names: Vec<&str> = order.to_vec();
        if let Some(fallback) = self.backends.last().map(|b| b.name()) {
            if !names.contains(&fallback) {
                names.push(fallback);
            }
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
        Err(Error::Unavailable {
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
    use crate::{ErrorKind, LoadOptions, ModelSpec, Session};

    /// A backend whose library is never present: what a delegate looks like on a
    /// machine without its SDK.
    struct Missing;

    impl Backend for Missing {
        fn name(&self) -> &'static str {
            "missing"
        }
        fn check(&self) -> Result<()> {
            Err(Error::Unavailable {
                backend: "missing",
                reason: "libmissing.so not found".into(),
            })
        }
        fn load(&self, _: &Path, _: &ModelSpec, _: &LoadOptions) -> Result<Box<dyn Session>> {
            self.check().map(|()| unreachable!("check always fails"))
        }
    }

    /// Runs everywhere, as the binaries' fallback does (named like it).
    struct Everywhere;

    impl Backend for Everywhere {
        fn name(&self) -> &'static str {
            "tract"
        }
        fn check(&self) -> Result<()> {
            Ok(())
        }
        fn load(&self, path: &Path, _: &ModelSpec, _: &LoadOptions) -> Result<Box<dyn Session>> {
            Err(Error::model(path, "this test backend loads nothing"))
        }
    }

    /// Builds [`Missing`], refusing any setting but `reason`.
    struct MissingFactory;

    impl Factory for MissingFactory {
        fn name(&self) -> &'static str {
            "missing"
        }
        fn build(&self, settings: &Settings) -> Result<Arc<dyn Backend>> {
            #[derive(serde::Deserialize)]
            #[serde(deny_unknown_fields)]
            #[allow(dead_code)] // read only to be validated
            struct Own {
                reason: Option<String>,
            }
            settings.read::<Own>("missing")?;
            Ok(Arc::new(Missing))
        }
    }

    fn registry() -> Registry {
        Registry::with(vec![Arc::new(Missing), Arc::new(Everywhere)])
    }

    #[test]
    fn factories_build_from_their_own_settings() {
        let mut settings = SettingsByBackend::new();
        let registry = Registry::from_factories([&MissingFactory as &dyn Factory], &settings);
        assert_eq!(registry.unwrap().names(), ["missing"]);
        let mut bad = Settings::default();
        bad.set("library", "/x".into());
        settings.insert("missing".into(), bad);
        let err = Registry::from_factories([&MissingFactory as &dyn Factory], &settings)
            .err()
            .unwrap();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("library"), "{err}");
        // A backend this build lacks may have settings (a board's profile).
        let mut other = SettingsByBackend::new();
        other.insert("rknn".into(), Settings::default());
        assert!(Registry::from_factories([&MissingFactory as &dyn Factory], &other).is_ok());
    }

    #[test]
    fn auto_falls_back_past_unavailable_backends() {
        assert_eq!(registry().select(AUTO).unwrap().name(), "tract");
    }

    #[test]
    fn a_named_backend_must_be_available() {
        let err = registry().select("missing").err().unwrap();
        assert_eq!(err.kind(), ErrorKind::Unavailable);
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
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        assert!(err.to_string().contains("libmissing.so"), "{err}");
        let statuses = only_missing.statuses();
        assert_eq!(statuses.len(), 1);
        assert!(statuses[0].available.is_err());
    }
}
