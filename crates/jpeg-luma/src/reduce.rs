//! From a block's DCT coefficients straight to the mean of each 4x4 (scale 1/4) or the whole 8x8 (scale 1/8)
//! cell of its pixels: the exact box average of the full inverse DCT, without computing the 64 pixels.
//!
//! A pixel is `f(x, y) = 1/4 sum_u sum_v C(u) C(v) F(v, u) cos((2x+1)u pi/16) cos((2y+1)v pi/16) + 128`. Its mean
//! over the left half `x = 0..4` weighs frequency `u` by `A(u) = C(u)/4 sum_{x<4} cos((2x+1)u pi/16)`, and the
//! right half by `(-1)^u A(u)`. For even `u > 0` the cosines cancel out (`A(u) = 0`), so a 4x4 cell depends on
//! the 25 coefficients with `u, v` in {0, 1, 3, 5, 7} only.

/// Natural-order positions (row `v`, column `u`) that matter at scale 1/4.
pub(crate) const ODD_OR_DC: [usize; 5] = [0, 1, 3, 5, 7];

/// `A(u)` for u = 0..8 (zero for even u > 0).
pub(crate) fn half_weights() -> [f32; 8] {
    let mut a = [0f32; 8];
    for (u, w) in a.iter_mut().enumerate() {
        let c = if u == 0 { std::f64::consts::FRAC_1_SQRT_2 } else { 1.0 };
        let sum: f64 = (0..4).map(|x| ((2 * x + 1) as f64 * u as f64 * std::f64::consts::PI / 16.0).cos()).sum::<f64>();
        let value = c * sum / 4.0;
        *w = if value.abs() < 1e-9 { 0.0 } else { value as f32 };
    }
    a
}

/// Rounds half up and clamps to 0..=255 (`f32::round` is a library call on baseline x86-64; this is not).
#[inline(always)]
fn to_u8(v: f32) -> u8 {
    (v + 0.5).clamp(0.0, 255.0) as u8
}

/// The four 4x4 cell means of a block, `[top-left, top-right, bottom-left, bottom-right]`, from its dequantised
/// coefficients in natural order. Only the [`ODD_OR_DC`] rows flagged in `rows` (bit `i` for `ODD_OR_DC[i]`; the
/// DC row is always read) and their [`ODD_OR_DC`] columns are read, and those are cleared for the next block.
#[inline(always)]
pub(crate) fn quarter(block: &mut [i32; 128], rows: u8, a: &[f32; 8]) -> [u8; 4] {
    // Rows first: for each needed row v, the left and right half sums over u.
    let mut halves = [[0f32; 2]; 5];
    for (i, (h, &v)) in halves.iter_mut().zip(ODD_OR_DC.iter()).enumerate() {
        if i > 0 && rows & (1 << i) == 0 {
            continue;
        }
        let row = &mut block[v * 8..v * 8 + 8];
        let even = row[0] as f32 * a[0];
        let odd = row[1] as f32 * a[1] + row[3] as f32 * a[3] + row[5] as f32 * a[5] + row[7] as f32 * a[7];
        *h = [even + odd, even - odd];
        for u in ODD_OR_DC {
            row[u] = 0;
        }
    }
    let mut out = [0u8; 4];
    for x in 0..2 {
        let even = halves[0][x] * a[0];
        let odd = halves[1][x] * a[1] + halves[2][x] * a[3] + halves[3][x] * a[5] + halves[4][x] * a[7];
        out[x] = to_u8((even + odd) * 0.25 + 128.0);
        out[2 + x] = to_u8((even - odd) * 0.25 + 128.0);
    }
    out
}

/// The mean of a whole block: its DC coefficient over 8, level-shifted.
#[inline(always)]
pub(crate) fn eighth(dc: i32) -> u8 {
    to_u8(dc as f32 / 8.0 + 128.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook inverse DCT, in f64.
    fn idct(block: &[i32; 128]) -> [f64; 64] {
        let c = |k: usize| if k == 0 { std::f64::consts::FRAC_1_SQRT_2 } else { 1.0 };
        let mut out = [0f64; 64];
        for y in 0..8 {
            for x in 0..8 {
                let mut s = 0.0;
                for v in 0..8 {
                    for u in 0..8 {
                        s += c(u)
                            * c(v)
                            * block[v * 8 + u] as f64
                            * ((2 * x + 1) as f64 * u as f64 * std::f64::consts::PI / 16.0).cos()
                            * ((2 * y + 1) as f64 * v as f64 * std::f64::consts::PI / 16.0).cos();
                    }
                }
                out[y * 8 + x] = s / 4.0 + 128.0;
            }
        }
        out
    }

    #[test]
    fn cell_means_equal_the_box_average_of_the_full_inverse_dct() {
        let a = half_weights();
        let mut seed = 7u32;
        for _ in 0..200 {
            let mut block = [0i32; 128];
            for c in block[..64].iter_mut() {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                *c = ((seed >> 16) % 41) as i32 - 20;
            }
            block[0] = ((seed >> 8) % 400) as i32 - 200;
            let pixels = idct(&block);
            let got = quarter(&mut block.clone(), 0b11111, &a);
            for (cell, &value) in got.iter().enumerate() {
                let (cy, cx) = (cell / 2, cell % 2);
                let mean: f64 = (0..4)
                    .flat_map(|y| (0..4).map(move |x| (y, x)))
                    .map(|(y, x)| pixels[(cy * 4 + y) * 8 + cx * 4 + x])
                    .sum::<f64>()
                    / 16.0;
                let expected = mean.round().clamp(0.0, 255.0);
                assert!((f64::from(value) - expected).abs() <= 1.0, "cell {cell}: {value} against {expected}");
            }
            let mut cleared = block;
            quarter(&mut cleared, 0b11111, &a);
            for (n, &c) in cleared[..64].iter().enumerate() {
                let needed = ODD_OR_DC.contains(&(n / 8)) && ODD_OR_DC.contains(&(n % 8));
                assert_eq!(c == 0, needed || block[n] == 0, "coefficient {n}: cleared only where it was read");
            }
            let whole: f64 = pixels.iter().sum::<f64>() / 64.0;
            assert!((f64::from(eighth(block[0])) - whole.round().clamp(0.0, 255.0)).abs() <= 1.0);
        }
    }

    #[test]
    fn even_frequencies_do_not_move_a_half_mean() {
        let a = half_weights();
        assert_eq!([a[2], a[4], a[6]], [0.0, 0.0, 0.0]);
        assert!((a[0] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
    }
}
