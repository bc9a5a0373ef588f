//! The camera rotations both projections share.

/// `(Rx(x) · Ry(y) · Rz(z))ᵀ` for Euler angles `(x, y, z)`, as the official
/// `euler2mat(angle).transpose(1, 2)` (`trainers/mv_utils_zs.py` in both repositories),
/// so that a row vector times it, `p · M`, is the camera-space point.
///
/// Computed in f64 and rounded to f32 like the project's numpy ports, so that
/// cos(π/2) is the same tiny non-zero number on both sides.
pub(super) fn view_matrix([x, y, z]: [f64; 3]) -> [[f32; 3]; 3] {
    let (sx, cx) = x.sin_cos();
    let (sy, cy) = y.sin_cos();
    let (sz, cz) = z.sin_cos();
    let rx = [[1.0, 0.0, 0.0], [0.0, cx, -sx], [0.0, sx, cx]];
    let ry = [[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]];
    let rz = [[cz, -sz, 0.0], [sz, cz, 0.0], [0.0, 0.0, 1.0]];
    let m = matmul(&matmul(&rx, &ry), &rz);
    [0, 1, 2].map(|i| [0, 1, 2].map(|j| m[j][i] as f32))
}

fn matmul(a: &[[f64; 3]; 3], b: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    [0, 1, 2].map(|i| [0, 1, 2].map(|j| (0..3).map(|k| a[i][k] * b[k][j]).sum()))
}

/// `p · m` for a row vector `p`, summed in index order (as a plain matmul does).
#[inline(always)]
pub(super) fn rotate(p: [f32; 3], m: &[[f32; 3]; 3]) -> [f32; 3] {
    [0, 1, 2].map(|j| p[0] * m[0][j] + p[1] * m[1][j] + p[2] * m[2][j])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_matrices_are_rotations() {
        let m = view_matrix([0.3, -1.1, 2.0]);
        for i in 0..3 {
            for j in 0..3 {
                let dot: f32 = (0..3).map(|k| m[i][k] * m[j][k]).sum();
                assert!((dot - if i == j { 1.0 } else { 0.0 }).abs() < 1e-6);
            }
        }
        // V1's first view, angles (0, 0, π/2): Rz(π/2)·p, so x' = -y and y' = x.
        let r = rotate(
            [1.0, 2.0, 3.0],
            &view_matrix([0.0, 0.0, std::f64::consts::FRAC_PI_2]),
        );
        assert!(
            (r[0] + 2.0).abs() < 1e-6 && (r[1] - 1.0).abs() < 1e-6 && (r[2] - 3.0).abs() < 1e-6
        );
    }
}
