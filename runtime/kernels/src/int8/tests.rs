use proptest::prelude::*;

use super::*;

/// Runs every kernel this CPU has on one problem and compares each with
/// [`reference`] bit for bit.
#[allow(clippy::too_many_arguments)]
fn all_kernels_equal_reference(
    a: &[u8],
    m: usize,
    za: u8,
    w: &[i8],
    k: usize,
    n: usize,
    zw: i8,
    scale: f32,
    bias: Option<&[f32]>,
) -> Result<(), TestCaseError> {
    let want = reference(a, m, za, w, k, n, zw, scale, bias);
    for isa in Isa::available() {
        let linear = Int8Linear::new(isa, w, k, n, zw, bias).unwrap();
        let mut got = vec![f32::NAN; m * n];
        linear.run(a, m, za, scale, &mut got).unwrap();
        for (i, (g, e)) in got.iter().zip(&want).enumerate() {
            prop_assert_eq!(
                g.to_bits(),
                e.to_bits(),
                "{} at row {} col {} (m {} k {} n {}): {} vs {}",
                isa.name(),
                i / n.max(1),
                i % n.max(1),
                m,
                k,
                n,
                g,
                e
            );
        }
    }
    Ok(())
}

/// Values drawn mostly from the extremes, where saturation and sign errors show.
fn byte() -> impl Strategy<Value = u8> {
    prop_oneof![Just(0u8), Just(255u8), Just(128u8), any::<u8>()]
}

fn signed() -> impl Strategy<Value = i8> {
    prop_oneof![Just(-128i8), Just(127i8), Just(0i8), any::<i8>()]
}

fn problem() -> impl Strategy<Value = (usize, usize, usize)> {
    // Shapes around every tile edge (mr up to 8, nr up to 32, ku 2 and 4).
    (1usize..20, 1usize..70, 1usize..40)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn every_kernel_is_exact(
        (m, k, n) in problem(),
        seed in any::<u64>(),
        za in byte(),
        zw in signed(),
        scale in prop_oneof![Just(1.0f32), 1e-4f32..1e-1],
        with_bias in any::<bool>(),
    ) {
        let mut rng = seed;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        // A quarter of the values at the extremes, the rest anywhere.
        let a: Vec<u8> = (0..m * k)
            .map(|_| match next() % 8 { 0 => 0, 1 => 255, _ => next() as u8 })
            .collect();
        let w: Vec<i8> = (0..k * n)
            .map(|_| match next() % 8 { 0 => -128, 1 => 127, _ => next() as i8 })
            .collect();
        let bias: Vec<f32> = (0..n).map(|j| j as f32 * 0.37 - 3.0).collect();
        all_kernels_equal_reference(&a, m, za, &w, k, n, zw, scale, with_bias.then_some(&bias[..]))?;
    }
}

#[test]
fn extremes_everywhere_do_not_saturate() {
    // 255 × -128 in every product: the pairwise sums vpmaddubsw would clip.
    for (m, k, n) in [(1, 1, 1), (7, 3072, 33), (9, 768, 17), (1, 64, 64)] {
        for (x, y) in [(255u8, -128i8), (255, 127), (0, -128)] {
            let a = vec![x; m * k];
            let w = vec![y; k * n];
            for (za, zw) in [(0u8, 0i8), (255, 0), (0, -128), (128, 127)] {
                all_kernels_equal_reference(&a, m, za, &w, k, n, zw, 1.0, None).unwrap();
            }
        }
    }
}

#[test]
fn the_doc_example_holds_for_every_kernel() {
    let w: [i8; 6] = [1, -1, 2, 0, -3, 4];
    let x: [u8; 6] = [129, 130, 128, 128, 128, 127];
    for isa in Isa::available() {
        let linear = Int8Linear::new(isa, &w, 3, 2, 0, None).unwrap();
        let mut y = [0f32; 4];
        linear.run(&x, 2, 128, 0.5, &mut y).unwrap();
        assert_eq!(y, [2.5, -0.5, 1.5, -2.0], "{}", isa.name());
    }
}

#[test]
fn wrong_lengths_are_errors_not_panics() {
    let linear = Int8Linear::new(Isa::Portable, &[1, 2, 3, 4], 2, 2, 0, None).unwrap();
    let mut out = [0f32; 4];
    let err = linear.run(&[1, 2, 3], 2, 0, 1.0, &mut out).unwrap_err();
    assert_eq!(
        err,
        Error::Shape {
            what: "activation",
            len: 3,
            expected: 4
        }
    );
    assert!(Int8Linear::new(Isa::Portable, &[1, 2, 3], 2, 2, 0, None).is_err());
    assert!(Int8Linear::new(Isa::Portable, &[1, 2, 3, 4], 2, 2, 0, Some(&[1.0])).is_err());
    assert_eq!(
        Isa::from_name("sse9").unwrap_err().to_string(),
        "unknown int8 kernel `sse9` (known: portable, avx2, avx-vnni, avx512-vnni, neon, dotprod, i8mm, or none)"
    );
}

#[test]
fn empty_products_write_nothing_and_k_zero_gives_the_bias() {
    let linear = Int8Linear::new(Isa::best(), &[], 0, 3, 0, Some(&[1.0, 2.0, 3.0])).unwrap();
    let mut out = [9f32; 6];
    linear.run(&[], 2, 7, 0.5, &mut out).unwrap();
    assert_eq!(out, [1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);
    linear.run(&[], 0, 7, 0.5, &mut []).unwrap();
}

/// Under an emulated CPU model (firmware-tools/cross/test-kernels.sh sets
/// `EDGECLIP_EXPECT_INT8_KERNELS`), exactly the expected kernels are detected;
/// the kernels of this CPU are printed either way.
#[test]
fn the_kernels_detected_are_the_cpus() {
    let found: Vec<&str> = Isa::available().into_iter().map(Isa::name).collect();
    println!("int8 kernels on this CPU: {}", found.join(", "));
    if let Ok(expected) = std::env::var("EDGECLIP_EXPECT_INT8_KERNELS") {
        assert_eq!(found.join(","), expected);
    }
}

#[test]
fn kinds_tell_a_bad_call_from_a_cpu_that_lacks_the_kernel() {
    let shape = Error::Shape {
        what: "bias",
        len: 1,
        expected: 2,
    };
    assert_eq!(shape.kind(), ErrorKind::InvalidInput);
    let unknown = Isa::from_name("sse9").unwrap_err();
    assert_eq!(unknown.kind().as_str(), "invalid_input");
    // Whichever kernel this CPU lacks (if any) is refused as unavailable, not as
    // the caller's mistake.
    for isa in Isa::ALL.into_iter().filter(|i| !i.is_available()) {
        let err = Int8Linear::new(isa, &[1, 2, 3, 4], 2, 2, 0, None).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::KernelUnavailable, "{err}");
    }
    assert_eq!(
        Error::Unsupported(Isa::Neon).kind().to_string(),
        "kernel_unavailable"
    );
}
