//! The int8 matrix product of quantized linear layers: `y = ((a - za) · (w - zw)) as f32 * scale (+ bias)`.
//!
//! `a` is an `m × k` u8 activation with zero point `za` (per call: the dynamic
//! quantization of each input picks its own), `w` a constant `k × n` i8 weight
//! with zero point `zw`. The product is exact in i32, as ONNX's
//! `MatMulInteger` defines it; the epilogue then casts, multiplies and adds in
//! that order with no fused multiply-add, so the f32 result is bit for bit what
//! `MatMulInteger → Cast → Mul → Add` gives.
//!
//! The micro-kernels accumulate the raw products `Σ a·w` and the zero points are
//! folded in afterwards from sums computed once: `Σ (a - za)(w - zw) = Σ a·w -
//! za·Σw - zw·Σa + k·za·zw`, with the weights' column sums packed beside them
//! at load and the activations' row sums taken while packing them. No
//! instruction on the hot path saturates: the AVX2 kernel multiplies 16-bit
//! values pairwise into 32 bits (`vpmaddwd`), never `vpmaddubsw`.

#[cfg(target_arch = "aarch64")]
mod dotprod;
#[cfg(target_arch = "aarch64")]
mod i8mm;
#[cfg(target_arch = "aarch64")]
mod neon;
mod pack;
mod portable;
#[cfg(target_arch = "x86_64")]
mod x86;

use std::cell::RefCell;
use std::fmt;

pub use pack::PackedWeights;

/// An instruction set an int8 micro-kernel is written for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// Plain Rust, on every target: the reference the others are tested against.
    Portable,
    /// x86-64 AVX2: u8 and i8 widened to 16 bits, `vpmaddwd` (exact).
    Avx2,
    /// x86-64 AVX-VNNI (256-bit `vpdpbusd`), as on Alder Lake and the N100 family.
    AvxVnni,
    /// x86-64 AVX-512 VNNI (512-bit `vpdpbusd`).
    Avx512Vnni,
    /// aarch64 NEON without the dot-product extension: 16-bit products
    /// widened to 32 (`smlal` by lane), as on the Cortex-A72 (Raspberry Pi 4).
    Neon,
    /// aarch64 with the dot-product extension (`udot`, weights offset to u8),
    /// as on the Cortex-A55 and A76 (Raspberry Pi 5, RK3588, RK3566).
    Dotprod,
    /// aarch64 with the int8 matrix-multiply extension (`usmmla`: u8 × i8 in
    /// 2×2 tiles, 8 deep), as on the Cortex-A78, X1 and Neoverse N2 and V1.
    I8mm,
}

/// Environment variable that forces one kernel (its [`Isa::name`]), so one
/// machine can test and benchmark every path it can run; `none` leaves int8
/// products to the engine's own kernels.
pub const ISA_ENV: &str = "EDGECLIP_INT8_ISA";

/// Why an int8 product cannot be set up or run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A buffer's length does not match the shape it is used with.
    Shape {
        /// Which buffer.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The length the shape asks for.
        expected: usize,
    },
    /// The kernel asked for cannot run on this CPU.
    Unsupported(Isa),
    /// A kernel name that is not one of [`Isa::ALL`]'s.
    UnknownIsa(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Shape {
                what,
                len,
                expected,
            } => write!(f, "{what} has {len} values, expected {expected}"),
            Error::Unsupported(isa) => {
                write!(f, "the {} int8 kernel cannot run on this CPU", isa.name())
            }
            Error::UnknownIsa(name) => write!(
                f,
                "unknown int8 kernel `{name}` (known: {}, or none)",
                Isa::ALL.map(Isa::name).join(", ")
            ),
        }
    }
}

impl std::error::Error for Error {}

/// The class of an [`Error`]: what a caller can do about it, independent of
/// the message. [`ErrorKind::as_str`] gives the word JSON records carry.
///
/// Non-exhaustive: new kinds may be added; match with a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A buffer of the wrong length, or a kernel name that names no kernel.
    InvalidInput,
    /// The kernel asked for exists but this CPU cannot run it; another kernel
    /// (or none, leaving the products to the engine) can.
    KernelUnavailable,
}

impl ErrorKind {
    /// The kind as written in JSON records: `invalid_input`, `kernel_unavailable`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::KernelUnavailable => "kernel_unavailable",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Error {
    /// What class of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Shape { .. } | Error::UnknownIsa(_) => ErrorKind::InvalidInput,
            Error::Unsupported(_) => ErrorKind::KernelUnavailable,
        }
    }
}

/// Tile shape of a micro-kernel: `mr` rows by `nr` columns per call, `ku`
/// consecutive k values per packed group.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Layout {
    pub mr: usize,
    pub nr: usize,
    pub ku: usize,
}

impl Layout {
    /// 32-bit words one packed activation group takes: one for `ku` up to 4,
    /// two for the 8-byte groups of the matrix-multiply kernel.
    pub fn words(self) -> usize {
        self.ku.div_ceil(4)
    }
}

impl Isa {
    /// Every kernel, portable first.
    pub const ALL: [Isa; 7] = [
        Isa::Portable,
        Isa::Avx2,
        Isa::AvxVnni,
        Isa::Avx512Vnni,
        Isa::Neon,
        Isa::Dotprod,
        Isa::I8mm,
    ];

    /// The name used by [`ISA_ENV`] and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Portable => "portable",
            Isa::Avx2 => "avx2",
            Isa::AvxVnni => "avx-vnni",
            Isa::Avx512Vnni => "avx512-vnni",
            Isa::Neon => "neon",
            Isa::Dotprod => "dotprod",
            Isa::I8mm => "i8mm",
        }
    }

    /// The kernel called `name` ([`Isa::name`]).
    pub fn from_name(name: &str) -> Result<Isa, Error> {
        Isa::ALL
            .into_iter()
            .find(|isa| isa.name() == name)
            .ok_or_else(|| Error::UnknownIsa(name.to_owned()))
    }

    /// Whether this CPU can run the kernel.
    pub fn is_available(self) -> bool {
        match self {
            Isa::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            Isa::AvxVnni => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("avxvnni")
            }
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512Vnni => {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512vnni")
            }
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => std::arch::is_aarch64_feature_detected!("neon"),
            #[cfg(target_arch = "aarch64")]
            Isa::Dotprod => {
                std::arch::is_aarch64_feature_detected!("neon")
                    && std::arch::is_aarch64_feature_detected!("dotprod")
            }
            #[cfg(target_arch = "aarch64")]
            Isa::I8mm => {
                std::arch::is_aarch64_feature_detected!("neon")
                    && std::arch::is_aarch64_feature_detected!("i8mm")
            }
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// The kernels this CPU can run, portable first.
    pub fn available() -> Vec<Isa> {
        Isa::ALL.into_iter().filter(|i| i.is_available()).collect()
    }

    /// The fastest kernel this CPU runs, whatever [`ISA_ENV`] says.
    pub fn best() -> Isa {
        [
            Isa::Avx512Vnni,
            Isa::AvxVnni,
            Isa::Avx2,
            Isa::I8mm,
            Isa::Dotprod,
            Isa::Neon,
        ]
        .into_iter()
        .find(|i| i.is_available())
        .unwrap_or(Isa::Portable)
    }

    /// The kernel to use here: the one [`ISA_ENV`] names, else the best one
    /// written for this CPU and chosen by default; `Ok(None)` when it says
    /// `none`, or when no kernel is the default here, so callers keep their
    /// engine's own product. On aarch64 that is today's default: the NEON,
    /// dot-product and matrix-multiply kernels are correct (tested under
    /// emulation) but have not been timed on a board against tract's SMLAL and
    /// SDOT kernels, so they run only when named.
    pub fn selected() -> Result<Option<Isa>, Error> {
        match std::env::var(ISA_ENV) {
            Ok(name) if name == "none" => Ok(None),
            Ok(name) if !name.is_empty() => {
                let isa = Isa::from_name(&name)?;
                if !isa.is_available() {
                    return Err(Error::Unsupported(isa));
                }
                Ok(Some(isa))
            }
            _ => Ok(Some(Isa::best())
                .filter(|i| !matches!(i, Isa::Portable | Isa::Neon | Isa::Dotprod | Isa::I8mm))),
        }
    }

    pub(crate) fn layout(self) -> Layout {
        match self {
            Isa::Portable => Layout {
                mr: 4,
                nr: 16,
                ku: 4,
            },
            Isa::Avx2 => Layout {
                mr: 6,
                nr: 16,
                ku: 2,
            },
            Isa::AvxVnni => Layout {
                mr: 6,
                nr: 16,
                ku: 4,
            },
            Isa::Avx512Vnni => Layout {
                mr: 8,
                nr: 32,
                ku: 4,
            },
            Isa::Neon | Isa::Dotprod => Layout {
                mr: 8,
                nr: 8,
                ku: 4,
            },
            Isa::I8mm => Layout {
                mr: 8,
                nr: 8,
                ku: 8,
            },
        }
    }
}

/// One micro-kernel call: `mr × nr` outputs from `kg` packed groups.
///
/// `a` holds `mr` rows of `kg` groups (row-major), `b` one weight panel
/// (`kg · nr · ku` bytes), `col_corr` and `bias` `nr` values, `row_corr` `mr`.
/// The first `rows × cols` outputs are written to `out` with row stride
/// `out_stride`.
pub(crate) struct Tile<'a> {
    pub kg: usize,
    pub a: &'a [u32],
    pub b: &'a [i8],
    pub col_corr: &'a [i32],
    pub row_corr: &'a [i32],
    pub bias: Option<&'a [f32]>,
    pub scale: f32,
    pub out: &'a mut [f32],
    pub out_stride: usize,
    pub rows: usize,
    pub cols: usize,
}

impl Tile<'_> {
    /// Writes row `r`'s first `cols` epilogue values from the raw sums `acc`
    /// (`nr` of them): the partial-tile path and the portable kernel's store.
    pub fn store_row(&mut self, r: usize, acc: &[i32]) {
        let out = &mut self.out[r * self.out_stride..][..self.cols];
        let corr = self.row_corr[r];
        for (j, o) in out.iter_mut().enumerate() {
            let v = acc[j].wrapping_add(self.col_corr[j]).wrapping_add(corr) as f32 * self.scale;
            *o = match self.bias {
                Some(bias) => v + bias[j],
                None => v,
            };
        }
    }
}

/// A quantized linear layer's weights, ready for [`Int8Linear::run`]: packed for
/// one kernel, with their zero point, column sums and optional bias.
#[derive(Debug, Clone)]
pub struct Int8Linear {
    weights: PackedWeights,
    bias: Option<Vec<f32>>,
}

/// Per-thread buffers of [`Int8Linear::run`], kept between calls.
#[derive(Default)]
struct Scratch {
    a: Vec<u32>,
    row_corr: Vec<i32>,
    col_corr: Vec<i32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

impl Int8Linear {
    /// Packs the row-major `k × n` weight `w` (zero point `zero_point`) and its
    /// optional `bias` (`n` values) for `isa`'s kernel.
    pub fn new(
        isa: Isa,
        w: &[i8],
        k: usize,
        n: usize,
        zero_point: i8,
        bias: Option<&[f32]>,
    ) -> Result<Self, Error> {
        if !isa.is_available() {
            return Err(Error::Unsupported(isa));
        }
        let weights = PackedWeights::new(isa, w, k, n, zero_point)?;
        let bias = match bias {
            Some(b) if b.len() != n => {
                return Err(Error::Shape {
                    what: "bias",
                    len: b.len(),
                    expected: n,
                })
            }
            Some(b) => {
                let mut padded = b.to_vec();
                padded.resize(weights.padded_n(), 0.0);
                Some(padded)
            }
            None => None,
        };
        Ok(Self { weights, bias })
    }

    /// The kernel the weights are packed for.
    pub fn isa(&self) -> Isa {
        self.weights.isa()
    }

    /// Input width (`k`).
    pub fn k(&self) -> usize {
        self.weights.k()
    }

    /// Output width (`n`).
    pub fn n(&self) -> usize {
        self.weights.n()
    }

    /// Bytes held by the packed weights, sums and bias.
    pub fn bytes(&self) -> usize {
        self.weights.bytes() + self.bias.as_ref().map_or(0, |b| b.len() * 4)
    }

    /// `out (m × n) = ((a - a_zero_point) · (w - zw)) as f32 * scale (+ bias)`
    /// for the row-major `m × k` activation `a`. Rows are independent: callers
    /// split `m` over threads by calling this on row ranges.
    pub fn run(
        &self,
        a: &[u8],
        m: usize,
        a_zero_point: u8,
        scale: f32,
        out: &mut [f32],
    ) -> Result<(), Error> {
        let (k, n) = (self.k(), self.n());
        check_len("activation", a.len(), m * k)?;
        check_len("output", out.len(), m * n)?;
        if m == 0 || n == 0 {
            return Ok(());
        }
        SCRATCH.with(|scratch| {
            let scratch = &mut *scratch.borrow_mut();
            self.run_with(scratch, a, m, a_zero_point, scale, out);
        });
        Ok(())
    }

    fn run_with(
        &self,
        scratch: &mut Scratch,
        a: &[u8],
        m: usize,
        za: u8,
        scale: f32,
        out: &mut [f32],
    ) {
        let w = &self.weights;
        let layout = w.isa().layout();
        let (k, n, kg) = (w.k(), w.n(), w.groups());
        let za = i32::from(za);
        let zw = w.zero_point();
        pack::pack_activation(layout, a, m, k, &mut scratch.a, &mut scratch.row_corr);
        // Zero points folded into per-row and per-column corrections (module docs).
        let k_term = (k as i32).wrapping_mul(za).wrapping_mul(zw);
        for s in scratch.row_corr.iter_mut() {
            *s = k_term.wrapping_sub(zw.wrapping_mul(*s));
        }
        scratch.col_corr.clear();
        scratch.col_corr.extend(
            w.col_sums()
                .iter()
                .map(|&s| 0i32.wrapping_sub(za.wrapping_mul(s))),
        );
        let (mr, nr, words) = (layout.mr, layout.nr, layout.words());
        let row_blocks = m.div_ceil(mr);
        for p in 0..w.panels() {
            let col0 = p * nr;
            let cols = nr.min(n - col0);
            for rb in 0..row_blocks {
                let row0 = rb * mr;
                let rows = mr.min(m - row0);
                let mut tile = Tile {
                    kg,
                    a: &scratch.a[row0 * kg * words..(row0 + mr) * kg * words],
                    b: w.panel(p),
                    col_corr: &scratch.col_corr[col0..col0 + nr],
                    row_corr: &scratch.row_corr[row0..row0 + mr],
                    bias: self.bias.as_deref().map(|b| &b[col0..col0 + nr]),
                    scale,
                    out: &mut out[row0 * n + col0..],
                    out_stride: n,
                    rows,
                    cols,
                };
                run_tile(w.isa(), &mut tile);
            }
        }
    }
}

fn run_tile(isa: Isa, tile: &mut Tile<'_>) {
    match isa {
        Isa::Portable => portable::tile(tile),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => x86::tile_avx2(tile),
        #[cfg(target_arch = "x86_64")]
        Isa::AvxVnni => x86::tile_avx_vnni(tile),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512Vnni => x86::tile_avx512_vnni(tile),
        #[cfg(target_arch = "aarch64")]
        Isa::Neon => neon::tile(tile),
        #[cfg(target_arch = "aarch64")]
        Isa::Dotprod => dotprod::tile(tile),
        #[cfg(target_arch = "aarch64")]
        Isa::I8mm => i8mm::tile(tile),
        #[allow(unreachable_patterns)]
        _ => unreachable!("weights are packed only for kernels this CPU runs"),
    }
}

fn check_len(what: &'static str, len: usize, expected: usize) -> Result<(), Error> {
    if len == expected {
        Ok(())
    } else {
        Err(Error::Shape {
            what,
            len,
            expected,
        })
    }
}

/// The product computed the obvious way (i32 sums of zero-point-corrected
/// values, then the epilogue): what every kernel must equal bit for bit.
#[allow(clippy::too_many_arguments)]
pub fn reference(
    a: &[u8],
    m: usize,
    za: u8,
    w: &[i8],
    k: usize,
    n: usize,
    zw: i8,
    scale: f32,
    bias: Option<&[f32]>,
) -> Vec<f32> {
    let mut out = vec![0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut acc = 0i32;
            for l in 0..k {
                let x = i32::from(a[i * k + l]) - i32::from(za);
                let y = i32::from(w[l * n + j]) - i32::from(zw);
                acc = acc.wrapping_add(x * y);
            }
            let v = acc as f32 * scale;
            out[i * n + j] = match bias {
                Some(b) => v + b[j],
                None => v,
            };
        }
    }
    out
}

#[cfg(test)]
mod tests;
