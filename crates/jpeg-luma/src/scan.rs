//! The scan: Huffman-decodes every block of every component in MCU order (the bit stream leaves no choice), keeps
//! only the luma coefficients that the chosen scale needs, and writes each luma block's cell means. Chroma blocks
//! are skipped: their symbols are read for their lengths, their values never computed.

use crate::bits::{Bits, extend};
use crate::header::Header;
use crate::huffman::{END_OF_BLOCK, Huffman};
use crate::reduce::{ODD_OR_DC, eighth, half_weights, quarter};
use crate::{Error, Luma, Scale};

/// The slot of the block buffer that takes the coefficients the scale does not need.
const DISCARD: u8 = 64;

/// What happens to the coefficient at each zig-zag position at scale 1/4. Tables of 128 (and a block buffer of
/// 128) so that an index masked with 127 needs no bounds check: positions past 63 only occur in corrupt data,
/// go to the discard slot, and the block is refused after its loop.
struct Layout {
    /// Natural-order index, or [`DISCARD`].
    slot: [u8; 128],
    /// Dequantisation factor (luma table).
    quant: [i32; 128],
    /// Bit `i` when the coefficient is in row `ODD_OR_DC[i]` of the block and needed; 0 when discarded.
    row: [u8; 128],
}

impl Layout {
    fn quarter(table: &[u16; 64]) -> Layout {
        let mut layout = Layout { slot: [DISCARD; 128], quant: [0; 128], row: [0; 128] };
        for (k, &natural) in ZIGZAG.iter().enumerate() {
            layout.quant[k] = i32::from(table[k]);
            let (v, u) = (natural / 8, natural % 8);
            if let (Some(row), true) = (ODD_OR_DC.iter().position(|&r| r == v), ODD_OR_DC.contains(&u)) {
                layout.slot[k] = natural as u8;
                layout.row[k] = 1 << row;
            }
        }
        layout
    }
}

/// Natural-order index of each zig-zag position.
const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21,
    28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54,
    47, 55, 62, 63,
];

/// How one scan component is read.
struct Plan<'h> {
    dc: &'h Huffman,
    ac: &'h Huffman,
    /// Blocks per MCU, across and down.
    h: u32,
    v: u32,
    luma: bool,
}

pub(crate) fn decode(header: &Header, scale: Scale) -> Result<Luma, Error> {
    let factor = scale.factor();
    let (width, height) = (header.width / factor, header.height / factor);
    if width == 0 || height == 0 {
        return Err(Error::Unsupported("an image smaller than one cell of the scale"));
    }
    let interleaved = header.scan.len() > 1;
    let hmax = header.components.iter().map(|c| c.h).max().unwrap_or(1);
    let vmax = header.components.iter().map(|c| c.v).max().unwrap_or(1);
    let (mcus_x, mcus_y) = if interleaved {
        (header.width.div_ceil(8 * hmax), header.height.div_ceil(8 * vmax))
    } else {
        // One component, one block per MCU, over the component's own size (here the luma's, the full size).
        (header.width.div_ceil(8), header.height.div_ceil(8))
    };

    let mut plans = Vec::with_capacity(header.scan.len());
    for s in &header.scan {
        let c = &header.components[s.index];
        let dc = header.dc[s.dc].as_ref().ok_or(Error::Corrupt("a scan uses a DC table that is not defined"))?;
        let ac = header.ac[s.ac].as_ref().ok_or(Error::Corrupt("a scan uses an AC table that is not defined"))?;
        let (h, v) = if interleaved { (c.h, c.v) } else { (1, 1) };
        plans.push(Plan { dc, ac, h, v, luma: s.index == 0 });
    }
    let luma = &header.components[0];
    let table = header.quant[luma.quant].ok_or(Error::Corrupt("the luma quantisation table is not defined"))?;
    let layout = Layout::quarter(&table);
    let weights = half_weights();

    let mut out = Luma { width, height, pixels: vec![0u8; width as usize * height as usize] };
    let mut block = [0i32; 128];
    let mut bits = Bits::new(header.entropy);
    let mut predictions = vec![0i32; plans.len()];
    let mut until_restart = header.restart_interval;
    for my in 0..mcus_y {
        for mx in 0..mcus_x {
            if header.restart_interval > 0 {
                if until_restart == 0 {
                    bits.restart()?;
                    predictions.iter_mut().for_each(|p| *p = 0);
                    until_restart = header.restart_interval;
                }
                until_restart -= 1;
            }
            for (plan, prediction) in plans.iter().zip(predictions.iter_mut()) {
                for by in 0..plan.v {
                    for bx in 0..plan.h {
                        if !plan.luma {
                            skip_dc(&mut bits, plan.dc)?;
                            skip_ac(&mut bits, plan.ac)?;
                            continue;
                        }
                        let (x, y) = (mx * plan.h + bx, my * plan.v + by);
                        match scale {
                            Scale::Eighth => {
                                let dc = read_dc(&mut bits, plan.dc, prediction)?.wrapping_mul(layout.quant[0]);
                                skip_ac(&mut bits, plan.ac)?;
                                out.set(x, y, eighth(dc));
                            }
                            Scale::Quarter => {
                                block[0] = read_dc(&mut bits, plan.dc, prediction)?.wrapping_mul(layout.quant[0]);
                                let rows = read_ac(&mut bits, plan.ac, &layout, &mut block)?;
                                let cells =
                                    if rows == 0 { [eighth(block[0]); 4] } else { quarter(&mut block, rows, &weights) };
                                out.set(2 * x, 2 * y, cells[0]);
                                out.set(2 * x + 1, 2 * y, cells[1]);
                                out.set(2 * x, 2 * y + 1, cells[2]);
                                out.set(2 * x + 1, 2 * y + 1, cells[3]);
                            }
                        }
                    }
                }
            }
        }
        // A cut-off file reads zeros from here on: stop at the first row that needed them.
        if bits.overran() {
            return Err(Error::Truncated);
        }
    }
    Ok(out)
}

impl Luma {
    #[inline(always)]
    fn set(&mut self, x: u32, y: u32, value: u8) {
        if x < self.width && y < self.height {
            self.pixels[(y * self.width + x) as usize] = value;
        }
    }
}

/// The DC difference, added to the component's running prediction; returns the new DC value.
#[inline(always)]
fn read_dc(bits: &mut Bits, table: &Huffman, prediction: &mut i32) -> Result<i32, Error> {
    bits.ensure();
    let size = table.decode(bits)?;
    if size > 15 {
        return Err(Error::Corrupt("a DC difference is too large"));
    }
    *prediction = prediction.wrapping_add(extend(bits.take(size), size));
    Ok(*prediction)
}

#[inline(always)]
fn skip_dc(bits: &mut Bits, table: &Huffman) -> Result<(), Error> {
    bits.ensure();
    let size = table.decode(bits)?;
    if size > 15 {
        return Err(Error::Corrupt("a DC difference is too large"));
    }
    bits.consume(size);
    Ok(())
}

/// An AC symbol whose code is longer than the lookup, decoded the checked way.
enum LongAc {
    EndOfBlock,
    SixteenZeros,
    /// A run of zeros, then a value of `size` bits (still to be read).
    Value {
        run: usize,
        size: u32,
    },
}

#[inline(always)]
fn long_ac(bits: &mut Bits, table: &Huffman) -> Result<LongAc, Error> {
    let rs = table.decode(bits)?;
    let (run, size) = ((rs >> 4) as usize, rs & 15);
    Ok(match (run, size) {
        (15, 0) => LongAc::SixteenZeros,
        // Runs other than 0 and 15 with no value are not valid; like libjpeg, end the block there.
        (_, 0) => LongAc::EndOfBlock,
        _ => LongAc::Value { run, size },
    })
}

/// Reads the 63 AC coefficients, storing the dequantised ones that the layout needs into `block` (natural order;
/// the others into the discard slot); returns the rows that received one, as [`Layout::row`] bits.
#[inline(always)]
fn read_ac(bits: &mut Bits, table: &Huffman, layout: &Layout, block: &mut [i32; 128]) -> Result<u8, Error> {
    let mut rows = 0u8;
    let mut k = 1usize;
    while k < 64 {
        bits.ensure();
        let entry = table.ac_entry(bits);
        let value;
        if entry.found() {
            if !entry.has_value() {
                bits.consume(entry.total());
                if entry.advance() == END_OF_BLOCK {
                    break;
                }
                k += 16;
                continue;
            }
            value = entry.value(bits.buffer());
            bits.consume(entry.total());
            k += entry.advance() as usize - 1;
        } else {
            match long_ac(bits, table)? {
                LongAc::EndOfBlock => break,
                LongAc::SixteenZeros => {
                    k += 16;
                    continue;
                }
                LongAc::Value { run, size } => {
                    k += run;
                    value = extend(bits.take(size), size);
                }
            }
        }
        // k is at most 63 + 16 here; the masks let the compiler drop the bounds checks.
        let i = k & 127;
        block[usize::from(layout.slot[i]) & 127] = value.wrapping_mul(layout.quant[i]);
        rows |= layout.row[i];
        k += 1;
    }
    if k > 64 {
        return Err(Error::Corrupt("a block has more than 64 coefficients"));
    }
    Ok(rows)
}

/// Reads past the 63 AC coefficients of a block without computing them.
#[inline(always)]
fn skip_ac(bits: &mut Bits, table: &Huffman) -> Result<(), Error> {
    let mut k = 1usize;
    while k < 64 {
        bits.ensure();
        let entry = table.ac_entry(bits);
        if entry.found() {
            bits.consume(entry.total());
            if entry.advance() == END_OF_BLOCK {
                return Ok(());
            }
            k += entry.advance() as usize;
            continue;
        }
        match long_ac(bits, table)? {
            LongAc::EndOfBlock => break,
            LongAc::SixteenZeros => k += 16,
            LongAc::Value { run, size } => {
                k += run + 1;
                bits.consume(size);
            }
        }
    }
    if k > 64 {
        return Err(Error::Corrupt("a block has more than 64 coefficients"));
    }
    Ok(())
}
