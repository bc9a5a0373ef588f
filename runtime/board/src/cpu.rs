//! CPU features and core types, read from `/proc/cpuinfo` text or asked of the running CPU.
//!
//! Feature names are rustc's `target_feature` names (`neon`, `dotprod`, `avx2`,
//! `avx512vnni`, ...), so a profile's `cpu_features` reads like the `-C target-feature`
//! list it stands for. The kernel spells them differently in `/proc/cpuinfo` (`asimddp`,
//! `avx512_vnni`); [`CpuFeatures::from_cpuinfo`] translates.

use std::collections::BTreeSet;
use std::fmt;

use serde::Deserialize;

/// One CPU feature a kernel or a backend may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub enum Feature {
    /// Advanced SIMD (ARMv8 `asimd`, or `neon` on 32-bit kernels).
    #[serde(rename = "neon")]
    Neon,
    /// Half-precision arithmetic, scalar and vector (`fphp` and `asimdhp`).
    #[serde(rename = "fp16")]
    Fp16,
    /// SDOT/UDOT int8 dot products (`asimddp`): Cortex-A55, A76 and later.
    #[serde(rename = "dotprod")]
    Dotprod,
    /// Int8 matrix multiply (`i8mm`): ARMv8.6, Cortex-A710/X2 and later.
    #[serde(rename = "i8mm")]
    I8mm,
    /// Scalable vectors (`sve`).
    #[serde(rename = "sve")]
    Sve,
    /// SSE4.2 (`sse4_2`), part of the x86-64-v2 baseline.
    #[serde(rename = "sse4.2")]
    Sse42,
    /// AVX (`avx`).
    #[serde(rename = "avx")]
    Avx,
    /// AVX2 (`avx2`).
    #[serde(rename = "avx2")]
    Avx2,
    /// Fused multiply-add (`fma`).
    #[serde(rename = "fma")]
    Fma,
    /// Half-precision conversions (`f16c`).
    #[serde(rename = "f16c")]
    F16c,
    /// VEX-encoded int8 dot products (`avx_vnni`): Alder Lake and Gracemont.
    #[serde(rename = "avxvnni")]
    AvxVnni,
    /// AVX-512 foundation (`avx512f`).
    #[serde(rename = "avx512f")]
    Avx512f,
    /// AVX-512 byte and word instructions (`avx512bw`).
    #[serde(rename = "avx512bw")]
    Avx512bw,
    /// AVX-512 int8 dot products (`avx512_vnni`): Cascade Lake, Ice Lake, Zen 4 and later.
    #[serde(rename = "avx512vnni")]
    Avx512Vnni,
}

/// Which `/proc/cpuinfo` flags make a feature present: any one row, all flags of that row.
const CPUINFO_FLAGS: &[(Feature, &[&str])] = &[
    (Feature::Neon, &["asimd"]),
    (Feature::Neon, &["neon"]),
    // fp16 needs both the scalar and the vector half-precision extension.
    (Feature::Fp16, &["fphp", "asimdhp"]),
    (Feature::Dotprod, &["asimddp"]),
    (Feature::I8mm, &["i8mm"]),
    (Feature::Sve, &["sve"]),
    (Feature::Sse42, &["sse4_2"]),
    (Feature::Avx, &["avx"]),
    (Feature::Avx2, &["avx2"]),
    (Feature::Fma, &["fma"]),
    (Feature::F16c, &["f16c"]),
    (Feature::AvxVnni, &["avx_vnni"]),
    (Feature::Avx512f, &["avx512f"]),
    (Feature::Avx512bw, &["avx512bw"]),
    (Feature::Avx512Vnni, &["avx512_vnni"]),
];

impl Feature {
    /// Every feature, ARM first, in the order [`CpuFeatures::names`] lists them.
    pub const ALL: [Feature; 14] = [
        Self::Neon,
        Self::Fp16,
        Self::Dotprod,
        Self::I8mm,
        Self::Sve,
        Self::Sse42,
        Self::Avx,
        Self::Avx2,
        Self::Fma,
        Self::F16c,
        Self::AvxVnni,
        Self::Avx512f,
        Self::Avx512bw,
        Self::Avx512Vnni,
    ];

    /// The rustc `target_feature` name, as profiles write it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Neon => "neon",
            Self::Fp16 => "fp16",
            Self::Dotprod => "dotprod",
            Self::I8mm => "i8mm",
            Self::Sve => "sve",
            Self::Sse42 => "sse4.2",
            Self::Avx => "avx",
            Self::Avx2 => "avx2",
            Self::Fma => "fma",
            Self::F16c => "f16c",
            Self::AvxVnni => "avxvnni",
            Self::Avx512f => "avx512f",
            Self::Avx512bw => "avx512bw",
            Self::Avx512Vnni => "avx512vnni",
        }
    }

    /// Whether CPUs of `arch` (a `std::env::consts::ARCH` value) can have this feature.
    pub fn is_for_arch(self, arch: &str) -> bool {
        let arm = matches!(
            self,
            Self::Neon | Self::Fp16 | Self::Dotprod | Self::I8mm | Self::Sve
        );
        if arm {
            matches!(arch, "aarch64" | "arm")
        } else {
            matches!(arch, "x86_64" | "x86")
        }
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The set of [`Feature`]s a CPU has.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuFeatures {
    present: BTreeSet<Feature>,
}

impl CpuFeatures {
    /// The features of the CPU this process runs on.
    ///
    /// On x86_64 and aarch64 the standard library asks the CPU (and the kernel's
    /// hardware capabilities), which also covers kernels that hide a flag from
    /// `/proc/cpuinfo`; elsewhere `/proc/cpuinfo` is read, and an unreadable one gives
    /// no features.
    pub fn probe() -> Self {
        detected()
    }

    /// The features every processor in `cpuinfo` (the text of `/proc/cpuinfo`) lists on
    /// its `flags` (x86) or `Features` (ARM) line.
    ///
    /// A feature only some processors have counts as absent: threads move between cores.
    pub fn from_cpuinfo(cpuinfo: &str) -> Self {
        let mut common: Option<BTreeSet<&str>> = None;
        for (key, value) in fields(cpuinfo) {
            if key != "flags" && key != "Features" {
                continue;
            }
            let flags: BTreeSet<&str> = value.split_whitespace().collect();
            common = Some(match common {
                None => flags,
                Some(all) => all.intersection(&flags).copied().collect(),
            });
        }
        let flags = common.unwrap_or_default();
        let present = CPUINFO_FLAGS
            .iter()
            .filter(|(_, needed)| needed.iter().all(|flag| flags.contains(flag)))
            .map(|(feature, _)| *feature)
            .collect();
        Self { present }
    }

    /// A set of exactly these features.
    pub fn from_features(features: &[Feature]) -> Self {
        Self {
            present: features.iter().copied().collect(),
        }
    }

    /// Whether `feature` is present.
    pub fn has(&self, feature: Feature) -> bool {
        self.present.contains(&feature)
    }

    /// Names of the present features, in [`Feature::ALL`] order.
    pub fn names(&self) -> Vec<&'static str> {
        self.present.iter().map(|f| f.name()).collect()
    }

    /// Those of `wanted` that are absent: what a profile expects and this CPU lacks
    /// (a profile forced onto the wrong board, a VM hiding flags).
    pub fn missing(&self, wanted: &[Feature]) -> Vec<Feature> {
        wanted.iter().copied().filter(|f| !self.has(*f)).collect()
    }
}

#[cfg(target_arch = "x86_64")]
fn detected() -> CpuFeatures {
    use std::arch::is_x86_feature_detected as has;
    let checks = [
        (Feature::Sse42, has!("sse4.2")),
        (Feature::Avx, has!("avx")),
        (Feature::Avx2, has!("avx2")),
        (Feature::Fma, has!("fma")),
        (Feature::F16c, has!("f16c")),
        (Feature::AvxVnni, has!("avxvnni")),
        (Feature::Avx512f, has!("avx512f")),
        (Feature::Avx512bw, has!("avx512bw")),
        (Feature::Avx512Vnni, has!("avx512vnni")),
    ];
    from_checks(&checks)
}

#[cfg(target_arch = "aarch64")]
fn detected() -> CpuFeatures {
    use std::arch::is_aarch64_feature_detected as has;
    let checks = [
        (Feature::Neon, has!("neon")),
        (Feature::Fp16, has!("fp16")),
        (Feature::Dotprod, has!("dotprod")),
        (Feature::I8mm, has!("i8mm")),
        (Feature::Sve, has!("sve")),
    ];
    from_checks(&checks)
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn detected() -> CpuFeatures {
    // No standard-library detection here: the kernel's list is all there is.
    std::fs::read_to_string("/proc/cpuinfo")
        .map(|text| CpuFeatures::from_cpuinfo(&text))
        .unwrap_or_default()
}

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn from_checks(checks: &[(Feature, bool)]) -> CpuFeatures {
    CpuFeatures {
        present: checks
            .iter()
            .filter(|(_, on)| *on)
            .map(|(f, _)| *f)
            .collect(),
    }
}

/// How fast a core type is, for ordering: prime above big above little.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum CoreClass {
    Little,
    Big,
    Prime,
}

/// The class of an Arm Ltd. core by its `CPU part` number. Unknown parts (and other
/// implementers' cores) count as big: only cores known to be slow go last.
fn core_class(implementer: Option<u32>, part: Option<u32>) -> CoreClass {
    const ARM_LTD: u32 = 0x41;
    if implementer.is_some_and(|i| i != ARM_LTD) {
        return CoreClass::Big;
    }
    match part {
        // Cortex-A35, A53, A55, A510, A520.
        Some(0xd04 | 0xd03 | 0xd05 | 0xd46 | 0xd80) => CoreClass::Little,
        // Cortex-X1, X1C, X2, X3, X4, X925.
        Some(0xd44 | 0xd4c | 0xd48 | 0xd4e | 0xd82 | 0xd85) => CoreClass::Prime,
        // A72 (0xd08), A76 (0xd0b), Neoverse-N1 (0xd0c) and every other part.
        _ => CoreClass::Big,
    }
}

/// The processor numbers of `cpuinfo`, fastest cores first: on big.LITTLE the big cores
/// (Cortex-A76 `0xd0b`, A72 `0xd08`, ...) before the little ones (A55 `0xd05`, A53 ...),
/// each group in processor order. Without `CPU part` lines (x86) the order is unchanged.
///
/// An RK3588 lists its A55s as processors 0-3 and its A76s as 4-7, so this gives
/// `[4, 5, 6, 7, 0, 1, 2, 3]`.
pub fn cores_by_speed(cpuinfo: &str) -> Vec<usize> {
    // (processor, implementer, part) per processor block, in file order.
    let mut cores: Vec<(usize, Option<u32>, Option<u32>)> = Vec::new();
    for (key, value) in fields(cpuinfo) {
        match key {
            "processor" => {
                if let Ok(n) = value.parse() {
                    cores.push((n, None, None));
                }
            }
            "CPU implementer" => {
                if let Some(core) = cores.last_mut() {
                    core.1 = parse_hex(value);
                }
            }
            "CPU part" => {
                if let Some(core) = cores.last_mut() {
                    core.2 = parse_hex(value);
                }
            }
            _ => {}
        }
    }
    // A stable sort keeps processor order within a class.
    cores.sort_by_key(|&(_, implementer, part)| std::cmp::Reverse(core_class(implementer, part)));
    cores.into_iter().map(|(n, _, _)| n).collect()
}

/// `key: value` lines of cpuinfo text, both trimmed (keys are padded with tabs).
pub(crate) fn fields(cpuinfo: &str) -> impl Iterator<Item = (&str, &str)> {
    cpuinfo.lines().filter_map(|line| {
        let (key, value) = line.split_once(':')?;
        Some((key.trim(), value.trim()))
    })
}

fn parse_hex(text: &str) -> Option<u32> {
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))?;
    u32::from_str_radix(digits, 16).ok()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn arm_features_map_from_kernel_names() {
        let text = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp\n";
        let features = CpuFeatures::from_cpuinfo(text);
        assert_eq!(features.names(), ["neon", "fp16", "dotprod"]);
    }

    #[test]
    fn fp16_needs_scalar_and_vector_halves() {
        let features = CpuFeatures::from_cpuinfo("Features\t: fp asimd fphp\n");
        assert_eq!(features.names(), ["neon"]);
    }

    #[test]
    fn x86_flags_map_and_vmx_flags_are_ignored() {
        let text = "flags\t\t: fpu sse4_2 avx f16c avx2 fma avx512f avx512bw avx512_vnni\nvmx flags\t: avx_vnni\n";
        let features = CpuFeatures::from_cpuinfo(text);
        assert_eq!(
            features.names(),
            [
                "sse4.2",
                "avx",
                "avx2",
                "fma",
                "f16c",
                "avx512f",
                "avx512bw",
                "avx512vnni"
            ]
        );
        assert!(!features.has(Feature::AvxVnni));
    }

    #[test]
    fn a_feature_some_cores_lack_is_absent() {
        let text =
            "processor\t: 0\nFeatures\t: asimd asimddp\n\nprocessor\t: 1\nFeatures\t: asimd\n";
        assert_eq!(CpuFeatures::from_cpuinfo(text).names(), ["neon"]);
    }

    #[test]
    fn no_feature_lines_means_no_features() {
        assert!(CpuFeatures::from_cpuinfo("").names().is_empty());
        assert!(
            CpuFeatures::from_cpuinfo("processor : 0\nisa : rv64imafdc\n")
                .names()
                .is_empty()
        );
    }

    #[test]
    fn missing_lists_what_a_profile_wants_and_the_cpu_lacks() {
        let pi4 = CpuFeatures::from_features(&[Feature::Neon]);
        let wanted = [Feature::Neon, Feature::Fp16, Feature::Dotprod];
        assert_eq!(pi4.missing(&wanted), [Feature::Fp16, Feature::Dotprod]);
    }

    #[test]
    fn probe_agrees_with_the_build_target() {
        let features = CpuFeatures::probe();
        // Every x86_64 CPU has SSE2, not in the list; what is listed must be for this arch.
        for name in features.names() {
            let feature = Feature::ALL.iter().find(|f| f.name() == name);
            assert!(feature.is_some_and(|f| f.is_for_arch(std::env::consts::ARCH)));
        }
        #[cfg(target_feature = "avx2")]
        assert!(features.has(Feature::Avx2));
        #[cfg(target_arch = "aarch64")]
        assert!(features.has(Feature::Neon));
    }

    #[test]
    fn all_is_in_declaration_order_and_names_round_trip() {
        let mut sorted = Feature::ALL;
        sorted.sort();
        assert_eq!(sorted, Feature::ALL);
        for feature in Feature::ALL {
            let parsed: Feature = toml::Value::String(feature.name().into())
                .try_into()
                .expect("every name deserializes");
            assert_eq!(parsed, feature);
        }
    }

    #[test]
    fn big_cores_go_first_in_processor_order() {
        let text = "processor\t: 0\nCPU implementer\t: 0x41\nCPU part\t: 0xd05\n\n\
                    processor\t: 1\nCPU implementer\t: 0x41\nCPU part\t: 0xd0b\n\n\
                    processor\t: 2\nCPU implementer\t: 0x41\nCPU part\t: 0xd05\n\n\
                    processor\t: 3\nCPU implementer\t: 0x41\nCPU part\t: 0xd44\n";
        assert_eq!(cores_by_speed(text), [3, 1, 0, 2]);
    }

    #[test]
    fn other_implementers_and_x86_keep_their_order() {
        let qualcomm = "processor : 0\nCPU implementer : 0x51\nCPU part : 0xd05\n\nprocessor : 1\nCPU implementer : 0x41\nCPU part : 0xd05\n";
        assert_eq!(cores_by_speed(qualcomm), [0, 1]);
        let x86 = "processor\t: 0\nmodel name\t: Intel(R) N100\n\nprocessor\t: 1\nmodel name\t: Intel(R) N100\n";
        assert_eq!(cores_by_speed(x86), [0, 1]);
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_text_never_panics(text in "\\PC*") {
            let _ = CpuFeatures::from_cpuinfo(&text);
            let _ = cores_by_speed(&text);
        }

        #[test]
        fn cores_by_speed_is_a_permutation(parts in proptest::collection::vec(0u32..0x1000, 0..16)) {
            let text: String = parts
                .iter()
                .enumerate()
                .map(|(i, part)| format!("processor\t: {i}\nCPU part\t: {part:#x}\n\n"))
                .collect();
            let mut order = cores_by_speed(&text);
            order.sort_unstable();
            prop_assert_eq!(order, (0..parts.len()).collect::<Vec<_>>());
        }
    }
}
