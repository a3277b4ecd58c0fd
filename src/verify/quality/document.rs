//! Finding the document: on a small grayscale (about 250 px), split light from dark (Otsu), take the connected
//! regions of each polarity, fill their holes (text, photo), and keep the largest one that is shaped like a
//! rectangle. Its oriented rectangle (from the second moments) gives size, aspect, tilt and framing.

use image::GrayImage;
use serde::Serialize;

use super::measure::{RotatedRect, resize_area};
use super::thresholds::DocumentThresholds;

/// Long side of the image the document is looked for on.
const DETECT_LONG_SIDE: u32 = 250;
/// A region counts as a rectangle when its convex hull fills at least this share of its smallest enclosing
/// rectangle (a rectangle with rounded corners or seen at an angle: above 0.9; an ellipse: 0.785).
const MIN_RECTANGULARITY: f64 = 0.85;
/// ... and the region fills at least this share of its hull (dark print reaching the card's edge notches it).
const MIN_SOLIDITY: f64 = 0.5;

/// What was found, in the coordinates of the original photo.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DocumentMeasurements {
    pub found: bool,
    /// Document area over frame area, 0 to 1.
    pub fill_ratio: f64,
    /// Axis-aligned box around the document, `[x, y, width, height]` in original pixels.
    pub bbox: Option<[u32; 4]>,
    /// Long and short side of the document's oriented rectangle, in original pixels.
    pub long_side_px: u32,
    pub short_side_px: u32,
    /// How many corners of the oriented rectangle lie inside the frame, clear of its edge (0 to 4; a corner cut
    /// off by the frame is not counted).
    pub corners_in_frame: u8,
    /// Whether the document touches the frame edge.
    pub touches_edge: bool,
    /// Long side over short side (ID-1 card 1.586, passport page about 1.42).
    pub aspect: f64,
    /// Angle of the long side to the nearest image axis, in degrees (-45 to 45).
    pub tilt_deg: f64,
    /// Share of its smallest enclosing rectangle the document's convex outline fills (1 for a perfect rectangle).
    pub rectangularity: f64,
}

/// The found document, for the other measurements.
#[derive(Debug, Clone)]
pub struct Found {
    pub measurements: DocumentMeasurements,
    /// The oriented rectangle in working-image coordinates (`None` when not found).
    pub rect: Option<RotatedRect>,
}

struct Candidate {
    rect: RotatedRect,
    area: usize,
    rectangularity: f64,
    solidity: f64,
    bbox: [usize; 4],
    touches: [bool; 4],
}

/// Looks for the document on the working grayscale. `scale` is working pixels per original pixel.
pub fn find(work: &GrayImage, scale: f64, t: &DocumentThresholds) -> Found {
    let not_found = Found { measurements: DocumentMeasurements::default(), rect: None };
    let long = work.width().max(work.height());
    if long < 16 || work.width().min(work.height()) < 8 {
        return not_found;
    }
    let k = f64::from(DETECT_LONG_SIDE.min(long)) / f64::from(long);
    let (dw, dh) =
        (((f64::from(work.width()) * k).round() as u32).max(1), ((f64::from(work.height()) * k).round() as u32).max(1));
    let small = box_blur3(&resize_area(work, dw, dh));
    let threshold = otsu(&small);
    let (w, h) = (dw as usize, dh as usize);
    let margin = ((t.edge_margin_ratio * w.max(h) as f64).ceil() as usize).max(1);
    let min_area = (t.min_fill_ratio * (w * h) as f64) as usize;

    // Print, bands and photos narrower than the closing window merge into the document around them, so that one
    // reaching near the document's edge does not cut the edge off (closing for a light document, opening for a
    // dark one).
    let r = CLOSING_RADIUS.min(w.min(h) / 8);
    let closed = min_filter(&max_filter(&small, r), r);
    let opened = max_filter(&min_filter(&small, r), r);
    let mut best: Option<Candidate> = None;
    for bright in [true, false] {
        let source = if bright { &closed } else { &opened };
        let mask: Vec<bool> = source.as_raw().iter().map(|&p| (p > threshold) == bright).collect();
        let mask = erode(&mask, w, h);
        for component in components(&mask, w, h, min_area / 2) {
            let Some(c) = describe(&component, w, h, margin) else { continue };
            if c.area < min_area || c.rectangularity < MIN_RECTANGULARITY || c.solidity < MIN_SOLIDITY {
                continue;
            }
            let [left, top, right, bottom] = c.touches;
            if (left && right) || (top && bottom) {
                continue; // the background, or a stripe across the frame
            }
            let aspect = c.rect.half_u.max(c.rect.half_v) / c.rect.half_u.min(c.rect.half_v).max(1e-9);
            let inside = !c.touches.iter().any(|&t| t);
            if inside && !(t.min_aspect..=t.max_aspect).contains(&aspect) {
                continue;
            }
            let score = c.area as f64 * c.rectangularity;
            if best.as_ref().is_none_or(|b| score > b.area as f64 * b.rectangularity) {
                best = Some(c);
            }
        }
    }
    let Some(c) = best else { return not_found };

    // Back to working and original coordinates.
    let to_work = 1.0 / k;
    let to_original = to_work / scale;
    let rect = c.rect.scaled(to_work);
    let (long_side, short_side) = (2.0 * rect.half_u.max(rect.half_v), 2.0 * rect.half_u.min(rect.half_v));
    let (fw, fh) = (f64::from(work.width()), f64::from(work.height()));
    let slack = margin as f64 * to_work;
    let corners_in_frame =
        rect.corners().iter().filter(|(x, y)| *x > slack && *y > slack && *x < fw - slack && *y < fh - slack).count()
            as u8;
    let mut angle =
        if rect.half_u >= rect.half_v { rect.uy.atan2(rect.ux) } else { rect.ux.atan2(-rect.uy) }.to_degrees();
    angle = (angle + 45.0).rem_euclid(90.0) - 45.0;
    let [bx0, by0, bx1, by1] = c.bbox;
    let px = |v: usize| (v as f64 * to_original).round() as u32;
    Found {
        measurements: DocumentMeasurements {
            found: true,
            fill_ratio: c.area as f64 / (w * h) as f64,
            bbox: Some([px(bx0), px(by0), px(bx1 - bx0 + 1), px(by1 - by0 + 1)]),
            long_side_px: (long_side / scale).round() as u32,
            short_side_px: (short_side / scale).round() as u32,
            corners_in_frame,
            touches_edge: c.touches.iter().any(|&t| t),
            aspect: long_side / short_side.max(1e-9),
            tilt_deg: angle,
            rectangularity: c.rectangularity,
        },
        rect: Some(rect),
    }
}

/// Half-width of the closing window on the 250 px image, in pixels (a band up to 2r+1 px wide is bridged).
const CLOSING_RADIUS: usize = 5;

/// Maximum (dilation) over a (2r+1) x (2r+1) square, separable.
fn max_filter(image: &GrayImage, r: usize) -> GrayImage {
    rank_filter(image, r, u8::max)
}

/// Minimum (erosion) over a (2r+1) x (2r+1) square, separable.
fn min_filter(image: &GrayImage, r: usize) -> GrayImage {
    rank_filter(image, r, u8::min)
}

fn rank_filter(image: &GrayImage, r: usize, pick: impl Fn(u8, u8) -> u8 + Copy) -> GrayImage {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let src = image.as_raw();
    let mut tmp = vec![0u8; w * h];
    for y in 0..h {
        let row = &src[y * w..(y + 1) * w];
        for x in 0..w {
            tmp[y * w + x] = row[x.saturating_sub(r)..(x + r + 1).min(w)].iter().copied().reduce(pick).unwrap_or(0);
        }
    }
    // Vertical pass row by row, so that the inner loop runs along contiguous rows.
    let mut out = vec![0u8; w * h];
    for y in 0..h {
        let out_row = &mut out[y * w..(y + 1) * w];
        out_row.copy_from_slice(&tmp[y.saturating_sub(r) * w..(y.saturating_sub(r) + 1) * w]);
        for yy in y.saturating_sub(r) + 1..(y + r + 1).min(h) {
            for (o, &t) in out_row.iter_mut().zip(&tmp[yy * w..(yy + 1) * w]) {
                *o = pick(*o, t);
            }
        }
    }
    GrayImage::from_raw(image.width(), image.height(), out).expect("buffer of the right size")
}

/// Otsu's threshold: the level that best separates the histogram into two classes.
fn otsu(image: &GrayImage) -> u8 {
    let mut hist = [0u64; 256];
    for &p in image.as_raw() {
        hist[p as usize] += 1;
    }
    let total: u64 = hist.iter().sum();
    let sum_all: f64 = hist.iter().enumerate().map(|(i, &c)| i as f64 * c as f64).sum();
    let (mut w0, mut sum0, mut best, mut best_t) = (0f64, 0f64, -1f64, 127u8);
    for (t, &c) in hist.iter().enumerate() {
        w0 += c as f64;
        sum0 += t as f64 * c as f64;
        let w1 = total as f64 - w0;
        if w0 == 0.0 || w1 == 0.0 {
            continue;
        }
        let (m0, m1) = (sum0 / w0, (sum_all - sum0) / w1);
        let between = w0 * w1 * (m0 - m1) * (m0 - m1);
        if between > best {
            (best, best_t) = (between, t as u8);
        }
    }
    best_t
}

fn box_blur3(image: &GrayImage) -> GrayImage {
    let (w, h) = (image.width() as i64, image.height() as i64);
    GrayImage::from_fn(image.width(), image.height(), |x, y| {
        let (mut sum, mut n) = (0u32, 0u32);
        for dy in -1..=1 {
            for dx in -1..=1 {
                let (xx, yy) = (x as i64 + dx, y as i64 + dy);
                if (0..w).contains(&xx) && (0..h).contains(&yy) {
                    sum += u32::from(image.get_pixel(xx as u32, yy as u32).0[0]);
                    n += 1;
                }
            }
        }
        image::Luma([(sum / n) as u8])
    })
}

/// 3x3 erosion, cutting thin bridges between the document and bright or dark bits of the background. Pixels on
/// the image border keep their value, so a region touching the border still touches it.
fn erode(mask: &[bool], w: usize, h: usize) -> Vec<bool> {
    let mut out = mask.to_vec();
    for y in 1..h.saturating_sub(1) {
        for x in 1..w.saturating_sub(1) {
            let i = y * w + x;
            out[i] = mask[i]
                && mask[i - 1]
                && mask[i + 1]
                && mask[i - w]
                && mask[i + w]
                && mask[i - w - 1]
                && mask[i - w + 1]
                && mask[i + w - 1]
                && mask[i + w + 1];
        }
    }
    out
}

/// 4-connected regions of `true` pixels with at least `min_size` pixels, each as its list of pixel indices.
fn components(mask: &[bool], w: usize, h: usize, min_size: usize) -> Vec<Vec<usize>> {
    let mut seen = vec![false; mask.len()];
    let mut out = Vec::new();
    let mut stack = Vec::new();
    for start in 0..mask.len() {
        if !mask[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let mut pixels = Vec::new();
        while let Some(i) = stack.pop() {
            pixels.push(i);
            let (x, y) = (i % w, i / w);
            let mut visit = |j: usize| {
                if mask[j] && !seen[j] {
                    seen[j] = true;
                    stack.push(j);
                }
            };
            if x > 0 {
                visit(i - 1);
            }
            if x + 1 < w {
                visit(i + 1);
            }
            if y > 0 {
                visit(i - w);
            }
            if y + 1 < h {
                visit(i + w);
            }
        }
        if pixels.len() >= min_size {
            out.push(pixels);
        }
    }
    out
}

/// Fills the holes of a region, then measures its oriented rectangle.
fn describe(pixels: &[usize], w: usize, h: usize, margin: usize) -> Option<Candidate> {
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for &i in pixels {
        let (x, y) = (i % w, i / w);
        (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
    }
    // Local mask with a one-pixel frame, flood the outside from the frame: what is not reached is the filled
    // region.
    let (bw, bh) = (x1 - x0 + 3, y1 - y0 + 3);
    let mut local = vec![0u8; bw * bh]; // 0 empty, 1 region, 2 outside, 3 beyond the image
    for &i in pixels {
        local[(i / w - y0 + 1) * bw + (i % w - x0 + 1)] = 1;
    }
    // The frame cells beyond the image border are walls (3): a region cut by the border (a card running off the
    // frame, its text lines with it) still has its holes filled. The flood starts from the other frame cells.
    let mut stack = Vec::new();
    for ly in 0..bh {
        for lx in 0..bw {
            if lx != 0 && ly != 0 && lx != bw - 1 && ly != bh - 1 {
                continue;
            }
            let (ix, iy) = ((x0 + lx) as isize - 1, (y0 + ly) as isize - 1);
            let i = ly * bw + lx;
            if ix < 0 || iy < 0 || ix >= w as isize || iy >= h as isize {
                local[i] = 3;
            } else if local[i] == 0 {
                local[i] = 2;
                stack.push(i);
            }
        }
    }
    while let Some(i) = stack.pop() {
        let (x, y) = (i % bw, i / bw);
        let neighbours = [
            (x > 0).then(|| i - 1),
            (x + 1 < bw).then(|| i + 1),
            (y > 0).then(|| i - bw),
            (y + 1 < bh).then(|| i + bw),
        ];
        for j in neighbours.into_iter().flatten() {
            if local[j] == 0 {
                local[j] = 2;
                stack.push(j);
            }
        }
    }
    // The outline: on each row, the outer corners of the first and last pixel of the filled region.
    let mut points = Vec::new();
    let mut filled = 0usize;
    for ly in 0..bh {
        let row = &local[ly * bw..(ly + 1) * bw];
        filled += row.iter().filter(|&&v| v < 2).count();
        if let (Some(a), Some(b)) = (row.iter().position(|&v| v < 2), row.iter().rposition(|&v| v < 2)) {
            for (x, y) in [(a, ly), (a, ly + 1), (b + 1, ly), (b + 1, ly + 1)] {
                points.push((x as f64, y as f64));
            }
        }
    }
    let hull = convex_hull(points);
    if filled < 4 || hull.len() < 3 {
        return None;
    }
    let hull_area = polygon_area(&hull);
    // The smallest rectangle around a convex polygon has a side along one of its edges (rotating calipers). The
    // hull rather than the pixels: a dark photo or text line reaching the card's edge leaves a notch in the
    // region, not in its hull.
    let mut best: Option<[f64; 7]> = None; // area, ux, uy, umin, umax, vmin, vmax
    for (i, &(px, py)) in hull.iter().enumerate() {
        let (qx, qy) = hull[(i + 1) % hull.len()];
        let len = (qx - px).hypot(qy - py);
        if len < 1e-9 {
            continue;
        }
        let (ux, uy) = ((qx - px) / len, (qy - py) / len);
        let (mut umin, mut umax, mut vmin, mut vmax) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for &(x, y) in &hull {
            let (u, v) = (x * ux + y * uy, -x * uy + y * ux);
            (umin, umax, vmin, vmax) = (umin.min(u), umax.max(u), vmin.min(v), vmax.max(v));
        }
        let area = (umax - umin) * (vmax - vmin);
        if best.is_none_or(|b| area < b[0]) {
            best = Some([area, ux, uy, umin, umax, vmin, vmax]);
        }
    }
    let [rect_area, ux, uy, umin, umax, vmin, vmax] = best?;
    let rectangularity = (hull_area / rect_area).min(1.0);
    let solidity = (filled as f64 / hull_area).min(1.0);
    // The erosion took one pixel off every side: give it back.
    let (lu, lv) = (umax - umin + 2.0, vmax - vmin + 2.0);
    let area = hull_area * lu * lv / rect_area;
    let (cu, cv) = ((umin + umax) / 2.0, (vmin + vmax) / 2.0);
    let cx = cu * ux - cv * uy + x0 as f64 - 1.0;
    let cy = cu * uy + cv * ux + y0 as f64 - 1.0;
    let touches = [x0 < margin + 1, y0 < margin + 1, x1 + margin + 1 >= w, y1 + margin + 1 >= h];
    Some(Candidate {
        rect: RotatedRect { cx, cy, ux, uy, half_u: lu / 2.0, half_v: lv / 2.0 },
        area: area as usize,
        rectangularity,
        solidity,
        bbox: [x0.saturating_sub(1), y0.saturating_sub(1), (x1 + 1).min(w - 1), (y1 + 1).min(h - 1)],
        touches,
    })
}

/// Convex hull (Andrew's monotone chain), counter-clockwise in image coordinates, without repeated points.
fn convex_hull(mut points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    points.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    points.dedup();
    if points.len() < 3 {
        return points;
    }
    let cross = |o: (f64, f64), a: (f64, f64), b: (f64, f64)| (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0);
    let mut hull: Vec<(f64, f64)> = Vec::with_capacity(2 * points.len());
    for pass in 0..2 {
        let start = hull.len();
        let iter: Box<dyn Iterator<Item = &(f64, f64)>> =
            if pass == 0 { Box::new(points.iter()) } else { Box::new(points.iter().rev()) };
        for &p in iter {
            while hull.len() >= start + 2 && cross(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0.0 {
                hull.pop();
            }
            hull.push(p);
        }
        hull.pop(); // the last point of each half is the first of the other
    }
    hull
}

/// Area of a simple polygon (shoelace formula).
fn polygon_area(polygon: &[(f64, f64)]) -> f64 {
    let n = polygon.len();
    (0..n)
        .map(|i| {
            let (a, b) = (polygon[i], polygon[(i + 1) % n]);
            a.0 * b.1 - b.0 * a.1
        })
        .sum::<f64>()
        .abs()
        / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(w: u32, h: u32, cx: f64, cy: f64, cw: f64, ch: f64, deg: f64) -> GrayImage {
        let (c, s) = (deg.to_radians().cos(), deg.to_radians().sin());
        GrayImage::from_fn(w, h, |x, y| {
            let (dx, dy) = (x as f64 - cx, y as f64 - cy);
            let (u, v) = (dx * c + dy * s, -dx * s + dy * c);
            let inside = u.abs() <= cw / 2.0 && v.abs() <= ch / 2.0;
            let text = inside
                && (v / 8.0).floor() as i64 % 3 == 0
                && v.abs() < ch / 2.0 - 40.0
                && (-cw / 2.0 + 60.0..cw / 4.0).contains(&u);
            image::Luma([if text {
                40
            } else if inside {
                220
            } else {
                90 + ((x * 7 + y * 13) % 23) as u8
            }])
        })
    }

    #[test]
    fn finds_a_tilted_card_and_its_geometry() {
        let image = card(1000, 750, 500.0, 380.0, 600.0, 600.0 / 1.586, 6.0);
        let found = find(&image, 0.25, &DocumentThresholds::default());
        let m = found.measurements;
        assert!(m.found, "{m:?}");
        assert!((m.aspect - 1.586).abs() < 0.1, "{m:?}");
        assert!((m.tilt_deg - 6.0).abs() < 1.5, "{m:?}");
        assert_eq!(m.corners_in_frame, 4);
        assert!(!m.touches_edge);
        assert!((m.long_side_px as f64 - 2400.0).abs() < 100.0, "{m:?}");
        assert!((m.fill_ratio - 0.30).abs() < 0.04, "{m:?}");
    }

    #[test]
    fn a_card_off_the_edge_touches_it_a_dark_card_is_found_and_a_plain_texture_has_no_card() {
        let image = card(1000, 750, 850.0, 380.0, 600.0, 600.0 / 1.586, 0.0);
        let m = find(&image, 0.25, &DocumentThresholds::default()).measurements;
        assert!(m.found && m.touches_edge, "{m:?}");
        let mut dark_card = card(1000, 750, 480.0, 360.0, 640.0, 640.0 / 1.586, -4.0);
        dark_card.pixels_mut().for_each(|p| p.0[0] = 255 - p.0[0]);
        let m = find(&dark_card, 0.25, &DocumentThresholds::default()).measurements;
        assert!(m.found && !m.touches_edge && (m.tilt_deg + 4.0).abs() < 1.5, "a dark card on a light table: {m:?}");
        let texture = GrayImage::from_fn(1000, 750, |x, y| image::Luma([90 + ((x * 7 + y * 13) % 23) as u8]));
        assert!(!find(&texture, 0.25, &DocumentThresholds::default()).measurements.found);
    }
}
