//! The backends of this build, assembled in one place.
//!
//! Each engine is a crate exporting a [`Factory`]; this crate lists the
//! factories the build's features enable, in the default order of preference,
//! and builds a [`Registry`] from them and their settings. Adding a backend is a
//! new crate and one line in [`factories`].
#![deny(missing_docs)]

use edgeclip_backend::{Factory, Registry, Result, SettingsByBackend};

pub use edgeclip_backend_tract::engine as tract;

/// The factories of this build, delegates first: each is tried before tract
/// where it can run, and tract, which runs everywhere, closes every order.
pub fn factories() -> Vec<&'static dyn Factory> {
    vec![
        #[cfg(feature = "openvino")]
        &edgeclip_backend_openvino::FACTORY,
        #[cfg(feature = "rknn")]
        &edgeclip_backend_rknn::FACTORY,
        &edgeclip_backend_tract::FACTORY,
    ]
}

/// This build's backends configured by `settings` (a board profile's tables
/// with the flags over them); the error names the backend and the key.
pub fn registry(settings: &SettingsByBackend) -> Result<Registry> {
    Registry::from_factories(factories(), settings)
}

/// This build's backends with no settings: delegate libraries looked for in
/// their default places.
pub fn builtin() -> Registry {
    registry(&SettingsByBackend::new()).expect("every backend builds from empty settings")
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgeclip_backend::{ErrorKind, Settings, AUTO};

    #[test]
    fn tract_closes_the_order_and_is_always_there() {
        let registry = builtin();
        assert!(registry.names().ends_with(&["tract"]));
        assert_eq!(registry.select("tract").unwrap().name(), "tract");
        assert!(registry.select(AUTO).is_ok());
    }

    #[test]
    fn a_wrong_key_names_the_backend_and_the_key() {
        let mut tract = Settings::default();
        tract.set("threads", 4.into());
        let settings = SettingsByBackend::from([("tract".to_owned(), tract)]);
        let err = registry(&settings).err().unwrap();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let message = err.to_string();
        assert!(
            message.contains("tract") && message.contains("threads"),
            "{message}"
        );
    }

    /// Every shipped board profile's backend tables are accepted by the
    /// backends they configure (those this build has).
    #[test]
    fn shipped_profiles_configure_their_backends() {
        for profile in edgeclip_board::builtin() {
            let settings: SettingsByBackend = profile
                .backends
                .settings
                .iter()
                .map(|(name, table)| (name.clone(), Settings::new(table.clone())))
                .collect();
            if let Err(e) = registry(&settings) {
                panic!("board {}: {e}", profile.name);
            }
        }
    }

    /// A new backend is one crate and one entry in the list of factories: here
    /// the test-only `fixed` backend joins this build's list.
    #[test]
    fn one_more_factory_is_one_more_backend() {
        let mut all = factories();
        all.insert(0, &edgeclip_backend_fixed::FACTORY);
        let registry = Registry::from_factories(all, &SettingsByBackend::new()).unwrap();
        assert_eq!(registry.names()[0], "fixed");
        assert_eq!(registry.select(AUTO).unwrap().name(), "fixed");
        assert!(registry.names().ends_with(&["tract"]));
    }
}
