//! The entropy-coded segment as a stream of bits: MSB first, byte stuffing (`FF 00`) removed, stopping at the
//! first marker. Past a marker or the end of the data it reads zeros and counts them, so that a scan that needed
//! more data than the file holds is reported as truncated instead of decoded from nothing.

// `Copy`, and never handed by reference to a function that is not inlined: that keeps `acc` and `n` in registers
// in the block loops (an escaping `&mut` would pin them to the stack, a store and a reload per symbol).
#[derive(Clone, Copy)]
pub(crate) struct Bits<'a> {
    data: &'a [u8],
    /// Next byte of `data` to load.
    pos: usize,
    /// Loaded bits, left-aligned: the next bit to read is bit 63.
    acc: u64,
    /// Number of valid bits in `acc`.
    n: u32,
    /// Zero bits appended past a marker or the end of the data (the last `pad` bits of `acc`, and any before
    /// them that were already read).
    pad: u64,
}

/// True when one of the eight bytes of `w` is `0xFF` (a stuffed byte or a marker: the slow path's business).
#[inline(always)]
fn has_ff(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let inv = !w;
    (inv.wrapping_sub(ONES) & w & HIGH) != 0
}

impl<'a> Bits<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Bits { data, pos: 0, acc: 0, n: 0, pad: 0 }
    }

    /// Makes at least 32 bits available: enough for one Huffman code (16) and its extra bits (at most 16).
    #[inline(always)]
    pub(crate) fn ensure(&mut self) {
        if self.n < 32 {
            self.refill();
        }
    }

    #[inline(always)]
    fn refill(&mut self) {
        if let Some(chunk) = self.data.get(self.pos..self.pos + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            let w = u64::from_be_bytes(word);
            if !has_ff(w) {
                // Whole bytes that fit (n < 32, so 4 to 7 of them).
                let take = (63 - self.n) / 8;
                self.acc |= (w >> (64 - 8 * take)) << (64 - self.n - 8 * take);
                self.n += 8 * take;
                self.pos += take as usize;
                return;
            }
        }
        *self = self.refill_slow();
    }

    #[cold]
    #[inline(never)]
    fn refill_slow(mut self) -> Self {
        while self.n <= 56 {
            let byte = match self.data.get(self.pos) {
                Some(&0xFF) => match self.data.get(self.pos + 1) {
                    Some(0x00) => {
                        self.pos += 2;
                        0xFF
                    }
                    // A marker (or the end): stay in front of it and feed zeros.
                    _ => {
                        self.pad += 8;
                        0
                    }
                },
                Some(&b) => {
                    self.pos += 1;
                    b
                }
                None => {
                    self.pad += 8;
                    0
                }
            };
            self.acc |= u64::from(byte) << (56 - self.n);
            self.n += 8;
        }
        self
    }

    /// The next `count` bits (1 to 16) without consuming them.
    #[inline(always)]
    pub(crate) fn peek(&self, count: u32) -> u32 {
        (self.acc >> (64 - count)) as u32
    }

    #[inline(always)]
    pub(crate) fn consume(&mut self, count: u32) {
        self.acc <<= count;
        self.n -= count;
    }

    /// `count` bits (0 to 16) as an unsigned number.
    #[inline(always)]
    pub(crate) fn take(&mut self, count: u32) -> u32 {
        if count == 0 {
            return 0;
        }
        let v = self.peek(count);
        self.consume(count);
        v
    }

    /// The loaded bits, left-aligned (for [`crate::huffman::AcEntry::value`]).
    #[inline(always)]
    pub(crate) fn buffer(&self) -> u64 {
        self.acc
    }

    /// Whether more bits were read than the data holds.
    pub(crate) fn overran(&self) -> bool {
        self.pad > u64::from(self.n)
    }

    /// At a restart interval's end: drops the bits left of the current byte, checks that the next thing in the
    /// data is a restart marker (`FF D0` to `FF D7`, maybe after `FF` fill bytes) and moves past it.
    #[inline(always)]
    pub(crate) fn restart(&mut self) -> Result<(), crate::Error> {
        if self.overran() {
            return Err(crate::Error::Truncated);
        }
        self.acc = 0;
        self.n = 0;
        self.pad = 0;
        let mut pos = self.pos;
        while self.data.get(pos) == Some(&0xFF) && self.data.get(pos + 1) == Some(&0xFF) {
            pos += 1;
        }
        match (self.data.get(pos), self.data.get(pos + 1)) {
            (Some(0xFF), Some(0xD0..=0xD7)) => {
                self.pos = pos + 2;
                Ok(())
            }
            (None, _) | (Some(0xFF), None) => Err(crate::Error::Truncated),
            _ => Err(crate::Error::Corrupt("a restart marker is missing")),
        }
    }
}

/// A coefficient's `size`-bit magnitude field as a signed value (JPEG's EXTEND procedure, F.2.2.1).
#[inline(always)]
pub(crate) fn extend(raw: u32, size: u32) -> i32 {
    if size == 0 {
        return 0;
    }
    let raw = raw as i32;
    if raw < (1 << (size - 1)) { raw - (1 << size) + 1 } else { raw }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stuffed_bytes_are_unstuffed_and_markers_stop_the_stream() {
        let data = [0xAB, 0xFF, 0x00, 0x12, 0xFF, 0xD9, 0x55];
        let mut bits = Bits::new(&data);
        bits.ensure();
        assert_eq!(bits.take(8), 0xAB);
        assert_eq!(bits.take(8), 0xFF);
        assert_eq!(bits.take(8), 0x12);
        assert!(!bits.overran());
        assert_eq!(bits.take(8), 0, "zeros past the marker");
        assert!(bits.overran());
    }

    #[test]
    fn the_fast_path_keeps_bit_order() {
        let data: Vec<u8> = (1..=40).collect();
        let mut bits = Bits::new(&data);
        for expected in 1..=40u32 {
            bits.ensure();
            assert_eq!(bits.take(4), expected >> 4);
            assert_eq!(bits.take(4), expected & 15);
        }
        assert!(!bits.overran());
    }

    #[test]
    fn extend_gives_signed_values() {
        assert_eq!(extend(0, 1), -1);
        assert_eq!(extend(1, 1), 1);
        assert_eq!(extend(0b00, 2), -3);
        assert_eq!(extend(0b01, 2), -2);
        assert_eq!(extend(0b10, 2), 2);
        assert_eq!(extend(0b11, 2), 3);
        assert_eq!(extend(0, 11), -2047);
    }

    #[test]
    fn ff_detection() {
        assert!(has_ff(0x00FF_0000_0000_0000));
        assert!(has_ff(0x0000_0000_0000_00FF));
        assert!(!has_ff(0xFEFE_FEFE_FEFE_FEFE));
        assert!(!has_ff(0x0102_0304_0506_0708));
        assert!(has_ff(0x7FFF_0000_0000_0000));
    }
}
