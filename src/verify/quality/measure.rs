//! Pixel statistics on the working grayscale: Laplacian variance (blur), saturated share (glare), mean luma
//! (exposure), each over a region; and the area-averaging downscale they are measured after.

use image::GrayImage;

/// Luma at or above which a pixel counts as saturated (glare).
pub const SATURATED: u8 = 245;

/// Where to measure: a box, optionally narrowed to a rotated rectangle inside it.
#[derive(Debug, Clone, Copy)]
pub struct Region {
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
    pub rect: Option<RotatedRect>,
}

/// A rectangle of centre `(cx, cy)`, unit axis `(ux, uy)` (the other axis is its normal) and half sides.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RotatedRect {
    pub cx: f64,
    pub cy: f64,
    pub ux: f64,
    pub uy: f64,
    pub half_u: f64,
    pub half_v: f64,
}

impl RotatedRect {
    pub fn contains(&self, x: f64, y: f64) -> bool {
        let (dx, dy) = (x - self.cx, y - self.cy);
        let u = dx * self.ux + dy * self.uy;
        let v = -dx * self.uy + dy * self.ux;
        u.abs() <= self.half_u && v.abs() <= self.half_v
    }

    pub fn corners(&self) -> [(f64, f64); 4] {
        let (ax, ay) = (self.ux * self.half_u, self.uy * self.half_u);
        let (bx, by) = (-self.uy * self.half_v, self.ux * self.half_v);
        [
            (self.cx - ax - bx, self.cy - ay - by),
            (self.cx + ax - bx, self.cy + ay - by),
            (self.cx + ax + bx, self.cy + ay + by),
            (self.cx - ax + bx, self.cy - ay + by),
        ]
    }

    pub fn scaled(&self, k: f64) -> RotatedRect {
        RotatedRect { cx: self.cx * k, cy: self.cy * k, half_u: self.half_u * k, half_v: self.half_v * k, ..*self }
    }

    pub fn inset(&self, share: f64) -> RotatedRect {
        RotatedRect { half_u: self.half_u * (1.0 - share), half_v: self.half_v * (1.0 - share), ..*self }
    }
}

impl Region {
    pub fn whole(image: &GrayImage) -> Region {
        Region { x0: 0, y0: 0, x1: image.width(), y1: image.height(), rect: None }
    }

    /// The part of `rect` that lies inside the image.
    pub fn of_rect(image: &GrayImage, rect: RotatedRect) -> Region {
        let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for (x, y) in rect.corners() {
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
        let clamp = |v: f64, max: u32| v.clamp(0.0, f64::from(max)) as u32;
        Region {
            x0: clamp(x0.floor(), image.width()),
            y0: clamp(y0.floor(), image.height()),
            x1: clamp(x1.ceil(), image.width()),
            y1: clamp(y1.ceil(), image.height()),
            rect: Some(rect),
        }
    }

    /// A box, clamped to the image.
    pub fn of_box(image: &GrayImage, x: i64, y: i64, w: i64, h: i64) -> Region {
        let cx = |v: i64| v.clamp(0, i64::from(image.width())) as u32;
        let cy = |v: i64| v.clamp(0, i64::from(image.height())) as u32;
        Region { x0: cx(x), y0: cy(y), x1: cx(x + w), y1: cy(y + h), rect: None }
    }

    fn for_each_row(&self, mut f: impl FnMut(u32, u32, u32)) {
        for y in self.y0..self.y1 {
            match self.rect {
                None => f(y, self.x0, self.x1),
                Some(rect) => {
                    // The rectangle is convex: the pixels of a row inside it form one run.
                    let yc = f64::from(y) + 0.5;
                    let mut start = None;
                    let mut end = self.x0;
                    for x in self.x0..self.x1 {
                        if rect.contains(f64::from(x) + 0.5, yc) {
                            start.get_or_insert(x);
                            end = x + 1;
                        } else if start.is_some() {
                            break;
                        }
                    }
                    if let Some(start) = start {
                        f(y, start, end);
                    }
                }
            }
        }
    }
}

/// Mean luma (0 to 255) over the region; 0 for an empty region.
pub fn mean_luma(image: &GrayImage, region: &Region) -> f64 {
    let (mut sum, mut n) = (0u64, 0u64);
    let raw = image.as_raw();
    let w = image.width() as usize;
    region.for_each_row(|y, x0, x1| {
        let row = &raw[y as usize * w + x0 as usize..y as usize * w + x1 as usize];
        sum += row.iter().map(|&p| u64::from(p)).sum::<u64>();
        n += row.len() as u64;
    });
    if n == 0 { 0.0 } else { sum as f64 / n as f64 }
}

/// Share (0 to 1) of pixels at or above [`SATURATED`] in the region.
pub fn saturated_ratio(image: &GrayImage, region: &Region) -> f64 {
    let (mut hits, mut n) = (0u64, 0u64);
    let raw = image.as_raw();
    let w = image.width() as usize;
    region.for_each_row(|y, x0, x1| {
        let row = &raw[y as usize * w + x0 as usize..y as usize * w + x1 as usize];
        hits += row.iter().filter(|&&p| p >= SATURATED).count() as u64;
        n += row.len() as u64;
    });
    if n == 0 { 0.0 } else { hits as f64 / n as f64 }
}

/// Variance of the Laplacian (4-neighbour kernel, as OpenCV's `Laplacian` with `ksize=1`) over the region,
/// border pixels of the image excluded. Low means blurry.
pub fn laplacian_variance(image: &GrayImage, region: &Region) -> f64 {
    let (w, h) = (image.width(), image.height());
    if w < 3 || h < 3 {
        return 0.0;
    }
    let raw = image.as_raw();
    let stride = w as usize;
    let (mut sum, mut sum_sq, mut n) = (0i64, 0i64, 0i64);
    region.for_each_row(|y, x0, x1| {
        if y == 0 || y + 1 >= h {
            return;
        }
        let (x0, x1) = (x0.max(1) as usize, x1.min(w - 1) as usize);
        let base = y as usize * stride;
        for x in x0..x1 {
            let i = base + x;
            let lap = i64::from(raw[i - 1]) + i64::from(raw[i + 1]) + i64::from(raw[i - stride])
                - 4 * i64::from(raw[i])
                + i64::from(raw[i + stride]);
            sum += lap;
            sum_sq += lap * lap;
        }
        n += x1.saturating_sub(x0) as i64;
    });
    if n == 0 {
        return 0.0;
    }
    let mean = sum as f64 / n as f64;
    (sum_sq as f64 / n as f64 - mean * mean).max(0.0)
}

/// Scales down by averaging, each output pixel the exact area-weighted mean of the source pixels it covers
/// (what OpenCV calls `INTER_AREA`). Scaling up is not supported: the size is returned unchanged.
pub fn resize_area(src: &GrayImage, width: u32, height: u32) -> GrayImage {
    let (sw, sh) = (src.width(), src.height());
    if width == 0 || height == 0 || width >= sw && height >= sh {
        return src.clone();
    }
    let (width, height) = (width.min(sw), height.min(sh));
    let xs = weights(sw, width);
    let ys = weights(sh, height);
    // Horizontal pass into f32 rows, then vertical.
    let raw = src.as_raw();
    let mut tmp = vec![0f32; width as usize * sh as usize];
    for y in 0..sh as usize {
        let row = &raw[y * sw as usize..(y + 1) * sw as usize];
        let out = &mut tmp[y * width as usize..(y + 1) * width as usize];
        for (o, (start, ws)) in out.iter_mut().zip(&xs) {
            *o = ws.iter().enumerate().map(|(k, &wgt)| f32::from(row[start + k]) * wgt).sum();
        }
    }
    let mut out = vec![0u8; width as usize * height as usize];
    let mut acc = vec![0f32; width as usize];
    for (oy, (start, ws)) in ys.iter().enumerate() {
        acc.iter_mut().for_each(|a| *a = 0.0);
        for (k, &wgt) in ws.iter().enumerate() {
            let row = &tmp[(start + k) * width as usize..(start + k + 1) * width as usize];
            for (a, &v) in acc.iter_mut().zip(row) {
                *a += v * wgt;
            }
        }
        for (o, &a) in out[oy * width as usize..(oy + 1) * width as usize].iter_mut().zip(&acc) {
            // Round half up: `f32::round` is a library call per pixel on baseline x86-64.
            *o = (a + 0.5).clamp(0.0, 255.0) as u8;
        }
    }
    GrayImage::from_raw(width, height, out).expect("buffer of the right size")
}

/// For each output index: the first source index and the weights of the source pixels it covers (summing to 1).
fn weights(src: u32, dst: u32) -> Vec<(usize, Vec<f32>)> {
    let step = f64::from(src) / f64::from(dst);
    (0..dst)
        .map(|i| {
            let (a, b) = (f64::from(i) * step, (f64::from(i) + 1.0) * step);
            let first = a.floor() as usize;
            let last = (b.ceil() as usize).min(src as usize);
            let ws = (first..last)
                .map(|j| {
                    let lo = a.max(j as f64);
                    let hi = b.min(j as f64 + 1.0);
                    ((hi - lo) / step) as f32
                })
                .collect();
            (first, ws)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_image_has_no_laplacian_and_a_checkerboard_has_a_lot() {
        let flat = GrayImage::from_pixel(50, 40, image::Luma([120]));
        assert_eq!(laplacian_variance(&flat, &Region::whole(&flat)), 0.0);
        assert_eq!(mean_luma(&flat, &Region::whole(&flat)), 120.0);
        assert_eq!(saturated_ratio(&flat, &Region::whole(&flat)), 0.0);
        let checker = GrayImage::from_fn(50, 40, |x, y| image::Luma([if (x + y) % 2 == 0 { 0 } else { 255 }]));
        assert!(laplacian_variance(&checker, &Region::whole(&checker)) > 100_000.0);
        assert!((saturated_ratio(&checker, &Region::whole(&checker)) - 0.5).abs() < 0.01);
    }

    #[test]
    fn rotated_region_counts_only_inside_pixels() {
        let image = GrayImage::from_fn(100, 100, |x, _| image::Luma([if x < 50 { 0 } else { 250 }]));
        let rect = RotatedRect { cx: 75.0, cy: 50.0, ux: 1.0, uy: 0.0, half_u: 20.0, half_v: 20.0 };
        assert_eq!(saturated_ratio(&image, &Region::of_rect(&image, rect)), 1.0);
        let rect = RotatedRect { cx: 50.0, cy: 50.0, ..rect };
        assert!((saturated_ratio(&image, &Region::of_rect(&image, rect)) - 0.5).abs() < 0.03);
    }

    #[test]
    fn area_resize_averages() {
        let image = GrayImage::from_fn(40, 20, |x, _| image::Luma([if x % 2 == 0 { 0 } else { 200 }]));
        let small = resize_area(&image, 10, 5);
        assert_eq!(small.dimensions(), (10, 5));
        assert!(small.pixels().all(|p| p.0[0] == 100));
        let odd = resize_area(&image, 13, 7);
        assert_eq!(odd.dimensions(), (13, 7));
        assert!(odd.pixels().all(|p| (50..=150).contains(&p.0[0])));
    }
}
