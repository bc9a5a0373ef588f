//! Raw views → the image tower's input.

use super::{ProjectError, Views};

/// Resizes every view to `size × size` and repeats it over 3 channels into `out`
/// (`[views, 3, size, size]`, the batch the image tower takes), with no mean/std
/// normalisation: both PointCLIP papers feed the depth values as they are.
///
/// Bilinear with `align_corners=True` (`torch.nn.functional.interpolate` as PointCLIP's
/// `mv_proj` and V2's `real_proj` call it): output pixel `i` samples the source at
/// `i · (in − 1) / (out − 1)`, so the corner pixels map onto each other.
pub fn to_encoder_input(views: &Views, size: usize, out: &mut [f32]) -> Result<(), ProjectError> {
    if views.count() == 0 {
        return Err(ProjectError::NoViews);
    }
    if size == 0 {
        return Err(ProjectError::ZeroSize);
    }
    let expected = views.encoder_input_len(size);
    if out.len() != expected {
        return Err(ProjectError::OutputLength {
            expected,
            actual: out.len(),
        });
    }
    let axis = Axis::new(views.size(), size);
    let plane = size * size;
    for (v, batch) in out.chunks_exact_mut(3 * plane).enumerate() {
        let (first, rest) = batch.split_at_mut(plane);
        resize(views.view(v), views.size(), axis, first);
        for channel in rest.chunks_exact_mut(plane) {
            channel.copy_from_slice(first);
        }
    }
    Ok(())
}

/// Where output index `i` samples the source, the same for rows and columns since
/// views are square; computed per pixel rather than tabulated, so resizing allocates
/// nothing.
#[derive(Clone, Copy)]
struct Axis {
    input: usize,
    output: usize,
    scale: f64,
}

impl Axis {
    fn new(input: usize, output: usize) -> Self {
        let scale = if output > 1 {
            (input - 1) as f64 / (output - 1) as f64
        } else {
            0.0
        };
        Axis {
            input,
            output,
            scale,
        }
    }

    /// The two source indices around output index `i` and the weight of the second.
    #[inline]
    fn tap(&self, i: usize) -> (usize, usize, f32) {
        let src = i as f64 * self.scale;
        // `src` is never negative, so truncating is flooring.
        let lo = (src as usize).min(self.input - 1);
        let hi = (lo + 1).min(self.input - 1);
        (lo, hi, (src - lo as f64) as f32)
    }
}

fn resize(view: &[f32], side: usize, axis: Axis, out: &mut [f32]) {
    for (i, row) in out.chunks_exact_mut(axis.output).enumerate() {
        let (r0, r1, fy) = axis.tap(i);
        let top = &view[r0 * side..(r0 + 1) * side];
        let bottom = &view[r1 * side..(r1 + 1) * side];
        for (j, o) in row.iter_mut().enumerate() {
            let (c0, c1, fx) = axis.tap(j);
            let t = top[c0] * (1.0 - fx) + top[c1] * fx;
            let b = bottom[c0] * (1.0 - fx) + bottom[c1] * fx;
            *o = t * (1.0 - fy) + b * fy;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Projection;
    use super::*;
    use crate::PointCloud;

    fn some_views() -> Views {
        let cloud =
            PointCloud::new(vec![[0.1, 0.2, 0.3], [-0.4, 0.1, 0.2], [0.3, -0.3, -0.1]]).unwrap();
        let mut views = Views::new();
        Projection::V2.project(&cloud, &mut views);
        views
    }

    #[test]
    fn corners_map_onto_corners_and_channels_repeat() {
        let views = some_views();
        let size = 37;
        let mut out = vec![0.0; views.encoder_input_len(size)];
        to_encoder_input(&views, size, &mut out).unwrap();
        let n = views.size();
        for v in 0..views.count() {
            let src = views.view(v);
            let dst = &out[v * 3 * size * size..(v + 1) * 3 * size * size];
            assert_eq!(dst[0], src[0]);
            assert_eq!(dst[size * size - 1], src[n * n - 1]);
            assert_eq!(dst[..size * size], dst[size * size..2 * size * size]);
            assert_eq!(dst[..size * size], dst[2 * size * size..]);
        }
    }

    #[test]
    fn the_same_size_is_a_copy() {
        let views = some_views();
        let mut out = vec![0.0; views.encoder_input_len(views.size())];
        to_encoder_input(&views, views.size(), &mut out).unwrap();
        let plane = views.size() * views.size();
        assert_eq!(&out[..plane], views.view(0));
    }

    #[test]
    fn bad_requests_are_errors() {
        let views = some_views();
        assert_eq!(
            to_encoder_input(&Views::new(), 4, &mut []),
            Err(ProjectError::NoViews)
        );
        assert_eq!(
            to_encoder_input(&views, 0, &mut []),
            Err(ProjectError::ZeroSize)
        );
        assert_eq!(
            to_encoder_input(&views, 2, &mut [0.0; 3]),
            Err(ProjectError::OutputLength {
                expected: 10 * 3 * 4,
                actual: 3
            })
        );
        let mut one = vec![0.0; views.encoder_input_len(1)];
        to_encoder_input(&views, 1, &mut one).unwrap();
        assert_eq!(one[0], views.view(0)[0]);
    }
}
