//! Detection on what real boards' kernels say.
//!
//! Each `fixtures/<host>/` holds `/proc/device-tree/model` (NUL-terminated),
//! `/proc/device-tree/compatible` (NUL-separated) and `/proc/cpuinfo` as they read on
//! that host; hosts without a device tree (x86, ACPI servers) have only `cpuinfo`.
//! Serial numbers are made up; x86 and cloud cpuinfo keep 2-4 of their processors.
//!
//! | fixture | host | kernel |
//! |---|---|---|
//! | `rpi4` | Raspberry Pi 4 Model B 4 GB (Cortex-A72) | Raspberry Pi OS arm64 |
//! | `rpi5` | Raspberry Pi 5 Model B 8 GB (Cortex-A76) | Raspberry Pi OS arm64 |
//! | `rock-5b` | Radxa ROCK 5B (RK3588) | mainline |
//! | `orangepi-5` | Orange Pi 5 (RK3588S) | Orange Pi vendor 5.10 |
//! | `orangepi-5-mainline` | Orange Pi 5 (RK3588S) | mainline |
//! | `rock-3c` | Radxa ROCK 3C (RK3566) | mainline |
//! | `intel-n100` | N100 mini PC (Alder Lake-N) | Debian 12 |
//! | `xeon-8259cl` | AWS m5 (Xeon Platinum 8259CL, Cascade Lake) | Ubuntu 24.04 |
//! | `graviton2` | AWS m6g (Graviton2, Neoverse N1) | Ubuntu 24.04 |
//! | `visionfive2` | StarFive VisionFive 2 (JH7110, riscv64) | Debian |

use std::path::PathBuf;

use edgeclip_board::{
    builtin, cores_by_speed, detect, BoardError, CpuFeatures, Detection, Feature, HostFacts,
};

/// What detection should make of one fixture.
struct Case {
    fixture: &'static str,
    arch: &'static str,
    profile: &'static str,
    /// Text the reason must contain: the evidence detection went by.
    evidence: &'static str,
    features: &'static [&'static str],
    cores: &'static [usize],
}

const V82: &[&str] = &["neon", "fp16", "dotprod"];

const CASES: &[Case] = &[
    Case {
        fixture: "rpi4",
        arch: "aarch64",
        profile: "rpi4",
        evidence: r#"compatible lists "brcm,bcm2711" (model "Raspberry Pi 4 Model B Rev 1.4")"#,
        features: &["neon"],
        cores: &[0, 1, 2, 3],
    },
    Case {
        fixture: "rpi5",
        arch: "aarch64",
        profile: "rpi5",
        evidence: r#"compatible lists "brcm,bcm2712" (model "Raspberry Pi 5 Model B Rev 1.0")"#,
        features: V82,
        cores: &[0, 1, 2, 3],
    },
    Case {
        fixture: "rock-5b",
        arch: "aarch64",
        profile: "rk3588",
        evidence: r#"compatible lists "rockchip,rk3588" (model "Radxa ROCK 5B")"#,
        features: V82,
        cores: &[4, 5, 6, 7, 0, 1, 2, 3],
    },
    Case {
        fixture: "orangepi-5",
        arch: "aarch64",
        profile: "rk3588",
        evidence: r#"compatible lists "rockchip,rk3588" (model "Orange Pi 5")"#,
        features: V82,
        cores: &[4, 5, 6, 7, 0, 1, 2, 3],
    },
    Case {
        fixture: "orangepi-5-mainline",
        arch: "aarch64",
        profile: "rk3588",
        evidence: r#"compatible lists "rockchip,rk3588s" (model "Xunlong Orange Pi 5")"#,
        features: V82,
        cores: &[4, 5, 6, 7, 0, 1, 2, 3],
    },
    Case {
        fixture: "rock-3c",
        arch: "aarch64",
        profile: "rk3566",
        evidence: r#"compatible lists "rockchip,rk3566" (model "Radxa ROCK 3C")"#,
        features: V82,
        cores: &[0, 1, 2, 3],
    },
    Case {
        fixture: "intel-n100",
        arch: "x86_64",
        profile: "intel-n100",
        evidence: r#"/proc/cpuinfo model name is "Intel(R) N100""#,
        features: &["sse4.2", "avx", "avx2", "fma", "f16c", "avxvnni"],
        cores: &[0, 1, 2, 3],
    },
    Case {
        fixture: "xeon-8259cl",
        arch: "x86_64",
        profile: "generic-x86_64",
        evidence: "no board matched; generic-x86_64 by architecture",
        features: &[
            "sse4.2",
            "avx",
            "avx2",
            "fma",
            "f16c",
            "avx512f",
            "avx512bw",
            "avx512vnni",
        ],
        cores: &[0, 1],
    },
    Case {
        fixture: "graviton2",
        arch: "aarch64",
        profile: "generic-aarch64",
        evidence: "no board matched; generic-aarch64 by architecture",
        features: V82,
        cores: &[0, 1],
    },
];

fn fixture_facts(fixture: &str, arch: &str) -> HostFacts {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(fixture);
    let read = |name: &str| std::fs::read(dir.join(name)).ok();
    let cpuinfo = read("cpuinfo").unwrap_or_else(|| panic!("{fixture}/cpuinfo is missing"));
    HostFacts::from_proc(
        arch,
        read("model").as_deref(),
        read("compatible").as_deref(),
        &String::from_utf8_lossy(&cpuinfo),
    )
}

fn detected(case: &Case) -> Detection {
    let facts = fixture_facts(case.fixture, case.arch);
    detect(&facts, &builtin()).unwrap_or_else(|e| panic!("{}: {e}", case.fixture))
}

#[test]
fn every_fixture_detects_its_profile_and_names_the_evidence() {
    for case in CASES {
        let found = detected(case);
        assert_eq!(found.profile.name, case.profile, "{}", case.fixture);
        assert!(
            found.reason.contains(case.evidence),
            "{}: reason {:?} does not contain {:?}",
            case.fixture,
            found.reason,
            case.evidence
        );
    }
}

#[test]
fn features_parse_from_each_fixture() {
    for case in CASES {
        let features = CpuFeatures::from_cpuinfo(&fixture_facts(case.fixture, case.arch).cpuinfo);
        assert_eq!(features.names(), case.features, "{}", case.fixture);
    }
}

#[test]
fn no_fixture_lacks_a_feature_its_profile_promises() {
    for case in CASES {
        let found = detected(case);
        let features = CpuFeatures::from_cpuinfo(&fixture_facts(case.fixture, case.arch).cpuinfo);
        let missing = features.missing(&found.profile.cpu_features);
        assert!(
            missing.is_empty(),
            "{}: {} lacks {missing:?}",
            case.fixture,
            case.profile
        );
    }
}

#[test]
fn cores_come_big_first() {
    for case in CASES {
        let cpuinfo = fixture_facts(case.fixture, case.arch).cpuinfo;
        assert_eq!(cores_by_speed(&cpuinfo), case.cores, "{}", case.fixture);
    }
}

#[test]
fn rk3588_pins_its_threads_to_the_a76_cluster() {
    let rock5b = detected(&CASES[2]);
    let big_first = cores_by_speed(&fixture_facts("rock-5b", "aarch64").cpuinfo);
    assert_eq!(rock5b.profile.threads.cores, big_first[..4]);
    assert_eq!(rock5b.profile.threads.count, Some(4));
    assert_eq!(rock5b.profile.backends.order, ["rknn", "tract"]);
}

#[test]
fn pi4_has_no_dot_product_and_pi5_has() {
    let pi4 = CpuFeatures::from_cpuinfo(&fixture_facts("rpi4", "aarch64").cpuinfo);
    let pi5 = CpuFeatures::from_cpuinfo(&fixture_facts("rpi5", "aarch64").cpuinfo);
    assert!(!pi4.has(Feature::Dotprod) && pi5.has(Feature::Dotprod));
    assert!(!pi5.has(Feature::I8mm));
}

#[test]
fn n100_has_avx_vnni_but_no_avx512() {
    let n100 = CpuFeatures::from_cpuinfo(&fixture_facts("intel-n100", "x86_64").cpuinfo);
    assert!(n100.has(Feature::AvxVnni));
    assert!(!n100.has(Feature::Avx512f) && !n100.has(Feature::Avx512Vnni));
}

#[test]
fn other_n_series_names_match_the_n100_profile() {
    for name in [
        "Intel(R) N97",
        "Intel(R) N200",
        "Intel(R) Core(TM) i3-N305",
        "Intel(R) N150",
    ] {
        let facts = HostFacts::from_proc("x86_64", None, None, &format!("model name\t: {name}\n"));
        let found = detect(&facts, &builtin()).expect("detected");
        assert_eq!(found.profile.name, "intel-n100", "{name}");
    }
    // A 2015 Braswell Celeron: "N300" is in "N3000", but not as a word.
    let braswell = HostFacts::from_proc(
        "x86_64",
        None,
        None,
        "model name\t: Intel(R) Celeron(R) CPU  N3000  @ 1.04GHz\n",
    );
    let found = detect(&braswell, &builtin()).expect("detected");
    assert_eq!(found.profile.name, "generic-x86_64");
}

#[test]
fn an_unknown_device_tree_board_falls_back_by_arch() {
    let facts = HostFacts::from_proc(
        "aarch64",
        Some(b"Hardkernel ODROID-M1\0"),
        Some(b"rockchip,rk3568-odroid-m1\0rockchip,rk3568\0"),
        "",
    );
    let found = detect(&facts, &builtin()).expect("detected");
    assert_eq!(found.profile.name, "generic-aarch64");
    assert_eq!(
        found.reason,
        "no board matched; generic-aarch64 by architecture"
    );
}

#[test]
fn riscv64_has_no_profile_and_says_so() {
    let facts = fixture_facts("visionfive2", "riscv64");
    assert_eq!(
        facts.device_tree_compatible,
        ["starfive,visionfive-2-v1.3b", "starfive,jh7110"]
    );
    match detect(&facts, &builtin()) {
        Err(e @ BoardError::NoProfile { .. }) => assert_eq!(
            e.to_string(),
            "no board profile for this host (arch riscv64, device-tree model \
             \"StarFive VisionFive 2 v1.3B\"); choose one with --board NAME or --board FILE.toml"
        ),
        other => panic!("expected NoProfile, got {other:?}"),
    }
    assert!(CpuFeatures::from_cpuinfo(&facts.cpuinfo).names().is_empty());
}
