//! What a `.rknn` model declares about its tensors, and the conversions between
//! the runtime's tensors (NCHW, f32 or i64) and what librknnrt is handed.
//!
//! Everything here is plain data and arithmetic, so it is tested without an NPU;
//! [`TensorAttr::from_raw`] is the one place the C struct is read.

use rknpu2_sys::{
    _rknn_tensor_format as fmt, _rknn_tensor_qnt_type as qnt, _rknn_tensor_type as ty,
    rknn_tensor_attr,
};

/// How a tensor's elements are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Batch, channels, height, width (ONNX's layout).
    Nchw,
    /// Batch, height, width, channels (the NPU's preferred input layout).
    Nhwc,
    /// The NPU's native blocked layout; never requested here.
    Nc1hwc2,
    /// Not an image tensor (embeddings, token ids).
    Undefined,
}

/// An element type librknnrt names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorType {
    /// 32-bit float.
    F32,
    /// 16-bit float.
    F16,
    /// Signed 8-bit integer.
    I8,
    /// Unsigned 8-bit integer.
    U8,
    /// Signed 32-bit integer.
    I32,
    /// Signed 64-bit integer.
    I64,
    /// Anything else, by its code.
    Other(u32),
}

/// How a quantized tensor maps to real values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Quant {
    /// Not quantized.
    None,
    /// `real = (q - zero_point) * scale`.
    Affine {
        /// The step.
        scale: f32,
        /// The integer that means 0.0.
        zero_point: i32,
    },
    /// Dynamic fixed point: `real = q / 2^fl`.
    FixedPoint {
        /// Fraction bits.
        fl: i8,
    },
}

/// One input or output of a loaded `.rknn` model.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorAttr {
    /// Position among the model's inputs or outputs.
    pub index: u32,
    /// The tensor's name (the ONNX name it was converted from).
    pub name: String,
    /// Dimensions, in `format`'s order.
    pub dims: Vec<usize>,
    /// Layout.
    pub format: Format,
    /// Element type.
    pub dtype: TensorType,
    /// Quantization.
    pub quant: Quant,
}

impl TensorAttr {
    /// Reads the C struct librknnrt filled; an error names what is malformed.
    pub fn from_raw(raw: &rknn_tensor_attr) -> Result<Self, String> {
        let n_dims = raw.n_dims as usize;
        if n_dims > raw.dims.len() {
            return Err(format!(
                "tensor {} has {n_dims} dimensions (at most {})",
                raw.index,
                raw.dims.len()
            ));
        }
        let name_bytes: Vec<u8> = raw
            .name
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        if name_bytes.len() == raw.name.len() {
            return Err(format!("tensor {}'s name is not NUL-terminated", raw.index));
        }
        let format = match raw.fmt {
            fmt::RKNN_TENSOR_NCHW => Format::Nchw,
            fmt::RKNN_TENSOR_NHWC => Format::Nhwc,
            fmt::RKNN_TENSOR_NC1HWC2 => Format::Nc1hwc2,
            _ => Format::Undefined,
        };
        let dtype = match raw.type_ {
            ty::RKNN_TENSOR_FLOAT32 => TensorType::F32,
            ty::RKNN_TENSOR_FLOAT16 => TensorType::F16,
            ty::RKNN_TENSOR_INT8 => TensorType::I8,
            ty::RKNN_TENSOR_UINT8 => TensorType::U8,
            ty::RKNN_TENSOR_INT32 => TensorType::I32,
            ty::RKNN_TENSOR_INT64 => TensorType::I64,
            other => TensorType::Other(other),
        };
        let quant = match raw.qnt_type {
            qnt::RKNN_TENSOR_QNT_AFFINE_ASYMMETRIC => Quant::Affine {
                scale: raw.scale,
                zero_point: raw.zp,
            },
            qnt::RKNN_TENSOR_QNT_DFP => Quant::FixedPoint { fl: raw.fl },
            _ => Quant::None,
        };
        Ok(Self {
            index: raw.index,
            name: String::from_utf8_lossy(&name_bytes).into_owned(),
            dims: raw.dims[..n_dims].iter().map(|&d| d as usize).collect(),
            format,
            dtype,
            quant,
        })
    }

    /// Number of elements.
    pub fn elements(&self) -> usize {
        self.dims.iter().product()
    }

    /// The batch the model was compiled for (its first dimension; 1 for a scalar).
    pub fn batch(&self) -> usize {
        self.dims.first().copied().unwrap_or(1).max(1)
    }
}

/// The layout an image input is handed to librknnrt in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageInput {
    /// As the NCHW buffer is.
    Nchw,
    /// Transposed to NHWC.
    Nhwc,
}

/// Undoes `(p / 255 - mean[c]) / std[c]` on a planar (CHW) f32 image and writes
/// the 8-bit pixels interleaved (HWC), as `.rknn` files with the normalization
/// folded in take them. The preprocessing normalizes 8-bit pixels, so this is
/// exact; a value that is no such pixel (an input made another way) is an error
/// naming it, never a clamped, silently different image.
pub fn denormalize_to_hwc(
    chw: &[f32],
    mean: [f32; 3],
    std: [f32; 3],
    dst: &mut Vec<u8>,
) -> Result<(), String> {
    let plane = chw.len() / 3;
    if plane * 3 != chw.len() {
        return Err(format!("{} values are not 3 planes", chw.len()));
    }
    dst.resize(chw.len(), 0);
    for (c, (&m, &s)) in mean.iter().zip(&std).enumerate() {
        for (i, &v) in chw[c * plane..(c + 1) * plane].iter().enumerate() {
            let p = (v * s + m) * 255.0;
            if !(-0.5..255.5).contains(&p) {
                return Err(format!(
                    "input value {v} (channel {c}) is not a normalized 8-bit pixel ({p:.1});                      this .rknn takes 8-bit RGB"
                ));
            }
            dst[i * 3 + c] = p.round() as u8;
        }
    }
    Ok(())
}

/// The plan for an image input of `[batch, 3, h, w]` NCHW f32 against `attr`;
/// an error says why the model cannot take it.
pub fn image_input(attr: &TensorAttr, channels: usize, side: usize) -> Result<ImageInput, String> {
    let dims = &attr.dims;
    let fits = |c: usize, h: usize, w: usize| c == channels && h == side && w == side;
    match (attr.format, dims.as_slice()) {
        (Format::Nhwc, [_, h, w, c]) if fits(*c, *h, *w) => Ok(ImageInput::Nhwc),
        (Format::Nchw | Format::Undefined, [_, c, h, w]) if fits(*c, *h, *w) => {
            Ok(ImageInput::Nchw)
        }
        _ => Err(format!(
            "input `{}` is {:?} {dims:?}; expected {channels} x {side} x {side} in NCHW or NHWC",
            attr.name, attr.format
        )),
    }
}

/// Transposes one `c` × `h` × `w` image from NCHW to NHWC into `dst`.
pub fn nchw_to_nhwc<T: Copy>(src: &[T], c: usize, h: usize, w: usize, dst: &mut [T]) {
    assert_eq!(src.len(), c * h * w, "source is c*h*w");
    assert_eq!(dst.len(), src.len(), "destination matches the source");
    let plane = h * w;
    for (p, pixel) in dst.chunks_exact_mut(c).enumerate() {
        for (ch, value) in pixel.iter_mut().enumerate() {
            *value = src[ch * plane + p];
        }
    }
}

/// Token ids for a model that takes i32 (the converter narrows i64 inputs):
/// an error names an id that does not fit.
pub fn ids_to_i32(src: &[i64], dst: &mut Vec<i32>) -> Result<(), String> {
    dst.clear();
    for &id in src {
        dst.push(i32::try_from(id).map_err(|_| format!("token id {id} does not fit in i32"))?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn raw(name: &str, dims: &[u32], fmt_: u32, type_: u32) -> rknn_tensor_attr {
        // SAFETY: rknn_tensor_attr is a plain C struct of integers, floats and
        // arrays of them; all zeroes is a valid value of each field.
        let mut attr: rknn_tensor_attr = unsafe { std::mem::zeroed() };
        attr.n_dims = dims.len() as u32;
        attr.dims[..dims.len()].copy_from_slice(dims);
        for (dst, b) in attr.name.iter_mut().zip(name.bytes()) {
            *dst = b as _;
        }
        attr.fmt = fmt_;
        attr.type_ = type_;
        attr
    }

    #[test]
    fn a_quantized_nhwc_input_reads_back() {
        let mut r = raw(
            "image",
            &[1, 224, 224, 3],
            fmt::RKNN_TENSOR_NHWC,
            ty::RKNN_TENSOR_INT8,
        );
        r.qnt_type = qnt::RKNN_TENSOR_QNT_AFFINE_ASYMMETRIC;
        r.scale = 0.0187;
        r.zp = -14;
        let attr = TensorAttr::from_raw(&r).unwrap();
        assert_eq!(attr.name, "image");
        assert_eq!(attr.dims, [1, 224, 224, 3]);
        assert_eq!(attr.format, Format::Nhwc);
        assert_eq!(attr.dtype, TensorType::I8);
        assert_eq!(
            attr.quant,
            Quant::Affine {
                scale: 0.0187,
                zero_point: -14
            }
        );
        assert_eq!(attr.batch(), 1);
        assert_eq!(image_input(&attr, 3, 224), Ok(ImageInput::Nhwc));
        assert!(
            image_input(&attr, 3, 256).is_err(),
            "another size is refused"
        );
    }

    #[test]
    fn nchw_and_undefined_inputs_take_the_buffer_as_it_is() {
        let r = raw(
            "image",
            &[1, 3, 224, 224],
            fmt::RKNN_TENSOR_NCHW,
            ty::RKNN_TENSOR_FLOAT16,
        );
        let attr = TensorAttr::from_raw(&r).unwrap();
        assert_eq!(image_input(&attr, 3, 224), Ok(ImageInput::Nchw));
        let r = raw(
            "image",
            &[1, 3, 224, 224],
            fmt::RKNN_TENSOR_UNDEFINED,
            ty::RKNN_TENSOR_FLOAT32,
        );
        assert_eq!(
            image_input(&TensorAttr::from_raw(&r).unwrap(), 3, 224),
            Ok(ImageInput::Nchw)
        );
    }

    #[test]
    fn malformed_attributes_are_errors() {
        let mut r = raw("x", &[1], fmt::RKNN_TENSOR_NCHW, ty::RKNN_TENSOR_FLOAT32);
        r.n_dims = 17;
        assert!(TensorAttr::from_raw(&r)
            .unwrap_err()
            .contains("17 dimensions"));
        let mut r = raw("x", &[1], fmt::RKNN_TENSOR_NCHW, ty::RKNN_TENSOR_FLOAT32);
        r.name = [b'a' as _; 256];
        assert!(TensorAttr::from_raw(&r).unwrap_err().contains("NUL"));
    }

    #[test]
    fn transposing_puts_each_pixels_channels_together() {
        // 3 channels of a 2 x 2 image: channel c, pixel p holds 10c + p.
        let src: Vec<u32> = (0..3)
            .flat_map(|c| (0..4).map(move |p| 10 * c + p))
            .collect();
        let mut dst = vec![0; 12];
        nchw_to_nhwc(&src, 3, 2, 2, &mut dst);
        assert_eq!(dst, [0, 10, 20, 1, 11, 21, 2, 12, 22, 3, 13, 23]);
    }

    #[test]
    fn normalized_pixels_come_back_exactly() {
        // OpenAI CLIP's normalization, as the runtime's preprocessing applies it.
        let (mean, std) = (
            [0.481_454_66, 0.457_827_5, 0.408_210_73],
            [0.268_629_5, 0.261_302_6, 0.275_777_1],
        );
        // A 2 x 2 image, pixels chosen to cover both ends.
        let hwc: [u8; 12] = [0, 255, 7, 128, 64, 200, 255, 0, 1, 33, 99, 254];
        let mut chw = vec![0.0f32; 12];
        for i in 0..4 {
            for c in 0..3 {
                chw[c * 4 + i] = (f32::from(hwc[i * 3 + c]) / 255.0 - mean[c]) / std[c];
            }
        }
        let mut back = Vec::new();
        denormalize_to_hwc(&chw, mean, std, &mut back).unwrap();
        assert_eq!(back, hwc);
        chw[5] = 9.0;
        let err = denormalize_to_hwc(&chw, mean, std, &mut back).unwrap_err();
        assert!(err.contains("channel 1") && err.contains("8-bit"), "{err}");
    }

    #[test]
    fn ids_that_do_not_fit_are_named() {
        let mut out = Vec::new();
        ids_to_i32(&[49406, 320, 49407], &mut out).unwrap();
        assert_eq!(out, [49406, 320, 49407]);
        assert!(ids_to_i32(&[1 << 40], &mut out)
            .unwrap_err()
            .contains("1099511627776"));
    }

    proptest! {
        #[test]
        fn transposing_keeps_every_value_once(c in 1usize..5, h in 1usize..9, w in 1usize..9) {
            let src: Vec<usize> = (0..c * h * w).collect();
            let mut dst = vec![0; src.len()];
            nchw_to_nhwc(&src, c, h, w, &mut dst);
            let mut sorted = dst.clone();
            sorted.sort_unstable();
            prop_assert_eq!(sorted, src.clone());
            // Pixel (y, x), channel k.
            for y in 0..h {
                for x in 0..w {
                    for k in 0..c {
                        prop_assert_eq!(dst[(y * w + x) * c + k], src[k * h * w + y * w + x]);
                    }
                }
            }
        }
    }
}
