//! The project's int8 kernels inside tract's plans, on the shipped default
//! model: every kernel this CPU can run gives the very outputs tract's own
//! int8 products give (bit for bit, every output of both towers, batches of 1
//! and 3, one and two threads), and the plan holds no tract int8 product
//! where a kernel is chosen.

use std::path::PathBuf;

use edgeclip::backend::{Input, LoadOptions, Outputs, Session};
use edgeclip::model::{ModelPackage, Precision, TowerKind};
use edgeclip_backend_tract::{TractBackend, TractSession};
use edgeclip_kernels::int8::Isa;

fn package() -> ModelPackage {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/edgeclip-tiny");
    ModelPackage::open(dir).unwrap()
}

fn session(kind: TowerKind, threads: usize, isa: Option<Isa>) -> TractSession {
    let package = package();
    let spec = package.tower_spec(kind, kind == TowerKind::Image).unwrap();
    let path = package.verified_path(kind, Precision::Int8).unwrap();
    let options = LoadOptions::with_threads(threads);
    TractBackend
        .open(&path, &spec, &options)
        .unwrap()
        .with_int8_kernel(isa)
        .unwrap()
}

/// A deterministic input of `batch` items for the tower.
fn input(kind: TowerKind, batch: usize) -> (Vec<f32>, Vec<i64>) {
    match kind {
        TowerKind::Image => {
            let len = batch * 3 * 64 * 64;
            let x = (0..len).map(|i| ((i as f32) * 0.0137).sin() * 1.8);
            (x.collect(), Vec::new())
        }
        TowerKind::Text => {
            let mut ids = vec![0i64; batch * 77];
            for (b, item) in ids.chunks_exact_mut(77).enumerate() {
                let words = [320, 1125 + b as i64, 539, 320, 736, 7117];
                item[0] = 49406;
                item[1..7].copy_from_slice(&words);
                item[7] = 49407;
            }
            (Vec::new(), ids)
        }
    }
}

fn run(session: &mut TractSession, kind: TowerKind, batch: usize) -> Vec<Vec<u32>> {
    let (images, tokens) = input(kind, batch);
    let input = match kind {
        TowerKind::Image => Input::F32(&images),
        TowerKind::Text => Input::I64(&tokens),
    };
    let mut out = Outputs::new();
    session.run(input, batch, &mut out).unwrap();
    out.iter()
        .map(|o| o.data.iter().map(|v| v.to_bits()).collect())
        .collect()
}

fn plan_ops(session: &mut TractSession, batch: usize) -> Vec<String> {
    let plan = session.plan(batch).unwrap();
    let ops = plan.model().nodes.iter();
    ops.map(|n| {
        format!(
            "{} {}",
            n.op.name(),
            n.op.info().unwrap_or_default().join(" ")
        )
    })
    .collect()
}

#[test]
fn every_kernel_gives_tracts_own_outputs_bit_for_bit() {
    let kernels = Isa::available();
    println!(
        "int8 kernels on this CPU: {:?}",
        kernels.iter().map(|i| i.name()).collect::<Vec<_>>()
    );
    for kind in [TowerKind::Image, TowerKind::Text] {
        for threads in [1, 2] {
            for batch in [1, 3] {
                let mut tracts = session(kind, threads, None);
                let want = run(&mut tracts, kind, batch);
                let tract_ops = plan_ops(&mut tracts, batch);
                let tract_products = tract_ops
                    .iter()
                    .filter(|o| o.starts_with("OptMatMul") && o.contains("_i32_"))
                    .count();
                assert!(tract_products > 0, "{kind:?}: {tract_ops:#?}");
                for &isa in &kernels {
                    let mut ours = session(kind, threads, Some(isa));
                    assert_eq!(ours.int8_kernel(), Some(isa));
                    let got = run(&mut ours, kind, batch);
                    assert_eq!(got.len(), want.len());
                    for (o, (g, w)) in got.iter().zip(&want).enumerate() {
                        let differ = g.iter().zip(w).filter(|(a, b)| a != b).count();
                        assert_eq!(
                            differ,
                            0,
                            "{kind:?} output {o}, {} kernel, {threads} thread(s), batch {batch}: \
                             {differ} of {} values differ from tract's",
                            isa.name(),
                            w.len()
                        );
                    }
                    let ops = plan_ops(&mut ours, batch);
                    let products = ops.iter().filter(|o| o.starts_with("EdgeclipInt8MatMul"));
                    assert!(products.clone().all(|o| o.contains(isa.name())), "{ops:#?}");
                    assert!(products.count() > 0, "{ops:#?}");
                    assert!(
                        !ops.iter()
                            .any(|o| o.starts_with("OptMatMul") && o.contains("_i32_")),
                        "no int8 product left to tract: {ops:#?}"
                    );
                }
            }
        }
    }
}

#[test]
fn an_unknown_or_missing_kernel_is_refused_by_name() {
    let package = package();
    let spec = package.tower_spec(TowerKind::Text, false).unwrap();
    let path = package
        .verified_path(TowerKind::Text, Precision::Int8)
        .unwrap();
    let session = TractBackend
        .open(&path, &spec, &LoadOptions::default())
        .unwrap();
    if let Some(missing) = Isa::ALL.into_iter().find(|i| !i.is_available()) {
        let err = session.with_int8_kernel(Some(missing)).err().unwrap();
        assert!(err.to_string().contains(missing.name()), "{err}");
    }
}
