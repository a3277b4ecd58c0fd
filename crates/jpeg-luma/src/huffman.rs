//! Huffman tables (JPEG Annex C) with a 10-bit lookup: most codes resolve in one table read. AC tables also
//! get a table that gives, for those codes, everything the block loop needs at once: the zero run, the size of
//! the value and the total bit length of code and value.

use crate::Error;
use crate::bits::Bits;

pub(crate) const LOOKUP_BITS: u32 = 10;
const LOOKUP_SIZE: usize = 1 << LOOKUP_BITS;

/// The [`AcEntry::advance`] of an end-of-block symbol.
pub(crate) const END_OF_BLOCK: u32 = 0xFF;

/// An AC symbol of up to [`LOOKUP_BITS`] bits, unpacked: see [`Huffman::ac_entry`]. Everything the block loop
/// derives from the symbol is precomputed, down to the masks that turn its extra bits into a signed value.
#[derive(Clone, Copy)]
pub(crate) struct AcEntry(u64);

impl AcEntry {
    fn new(len: u32, run: u32, size: u32) -> Option<AcEntry> {
        let advance = match (run, size) {
            (0, 0) => END_OF_BLOCK,
            (15, 0) => 16,
            // Any other run with no value is not valid baseline data: leave it to the checked path.
            (_, 0) => return None,
            _ => run + 1,
        };
        let total = len + size;
        let (mask, half) = if size == 0 { (0, 0) } else { ((1u64 << size) - 1, 1u64 << (size - 1)) };
        Some(AcEntry(
            u64::from(total)
                | u64::from(64 - total) << 8
                | u64::from(advance) << 16
                | u64::from(size) << 24
                | mask << 32
                | half << 48,
        ))
    }

    /// Bits taken by the code and the value together.
    #[inline(always)]
    pub(crate) fn total(self) -> u32 {
        (self.0 & 0xFF) as u32
    }
    /// Whether the symbol carries a value (not end-of-block or a run of sixteen zeros).
    #[inline(always)]
    pub(crate) fn has_value(self) -> bool {
        self.0 & 0xFF00_0000 != 0
    }
    /// Positions to move on: the zero run plus one, 16 for a run of sixteen zeros, [`END_OF_BLOCK`] at the end.
    #[inline(always)]
    pub(crate) fn advance(self) -> u32 {
        ((self.0 >> 16) & 0xFF) as u32
    }
    /// Whether the code was in the lookup (longer codes take [`Huffman::decode`]).
    #[inline(always)]
    pub(crate) fn found(self) -> bool {
        self.0 != 0
    }
    /// The signed value of the symbol's extra bits, from the bit reader's buffer before the symbol is consumed
    /// (JPEG's EXTEND: a clear top bit means negative, `raw - (2^size - 1)`).
    #[inline(always)]
    pub(crate) fn value(self, acc: u64) -> i32 {
        let mask = (self.0 >> 32) & 0xFFFF;
        let half = self.0 >> 48;
        let raw = (acc >> ((self.0 >> 8) & 0xFF)) & mask;
        (raw as i64 - if raw < half { mask as i64 } else { 0 }) as i32
    }
}

pub(crate) struct Huffman {
    /// `(code length << 8) | symbol` for codes of up to [`LOOKUP_BITS`] bits, indexed by the next bits; 0 when
    /// the code is longer.
    fast: Box<[u16; LOOKUP_SIZE]>,
    /// For AC tables: [`AcEntry`] values for codes of up to [`LOOKUP_BITS`] bits; 0 for longer codes and for
    /// symbols that are not valid AC symbols.
    ac: Box<[u64; LOOKUP_SIZE]>,
    /// Largest code of each length (index 1 to 16), -1 when there is none.
    maxcode: [i32; 17],
    /// Added to a code of each length to give the index of its symbol in `symbols`.
    offset: [i32; 17],
    symbols: [u8; 256],
}

impl Huffman {
    /// Builds a table from a DHT segment's 16 counts and its symbols.
    pub(crate) fn new(counts: &[u8; 16], symbols: &[u8]) -> Result<Huffman, Error> {
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        if total > 256 || symbols.len() != total {
            return Err(Error::Corrupt("a Huffman table has more than 256 symbols"));
        }
        let mut table = Huffman {
            fast: Box::new([0; LOOKUP_SIZE]),
            ac: Box::new([0; LOOKUP_SIZE]),
            maxcode: [-1; 17],
            offset: [0; 17],
            symbols: [0; 256],
        };
        table.symbols[..total].copy_from_slice(symbols);
        let mut code: u32 = 0;
        let mut index: usize = 0;
        for len in 1..=16u32 {
            let count = u32::from(counts[len as usize - 1]);
            table.offset[len as usize] = index as i32 - code as i32;
            for _ in 0..count {
                if code >= (1 << len) {
                    return Err(Error::Corrupt("a Huffman table has more codes than fit"));
                }
                if len <= LOOKUP_BITS {
                    let shift = LOOKUP_BITS - len;
                    let first = (code << shift) as usize;
                    let entry = ((len as u16) << 8) | u16::from(symbols[index]);
                    table.fast[first..first + (1 << shift)].fill(entry);
                }
                code += 1;
                index += 1;
            }
            if count > 0 {
                table.maxcode[len as usize] = code as i32 - 1;
            }
            code <<= 1;
        }
        Ok(table)
    }

    /// Fills the AC lookup; call once for tables used as AC tables.
    pub(crate) fn with_ac_lookup(mut self) -> Huffman {
        for peek in 0..LOOKUP_SIZE {
            let entry = self.fast[peek];
            if entry == 0 {
                continue;
            }
            let len = u32::from(entry >> 8);
            let rs = u32::from(entry & 0xFF);
            let (run, size) = (rs >> 4, rs & 15);
            if let Some(e) = AcEntry::new(len, run, size) {
                self.ac[peek] = e.0;
            }
        }
        self
    }

    /// The AC entry for the next bits; `bits` must hold at least 10 bits.
    #[inline(always)]
    pub(crate) fn ac_entry(&self, bits: &Bits) -> AcEntry {
        AcEntry(self.ac[bits.peek(LOOKUP_BITS) as usize & (LOOKUP_SIZE - 1)])
    }

    /// Decodes one symbol; `bits` must hold at least 16 bits.
    #[inline(always)]
    pub(crate) fn decode(&self, bits: &mut Bits) -> Result<u32, Error> {
        let entry = self.fast[bits.peek(LOOKUP_BITS) as usize & (LOOKUP_SIZE - 1)];
        if entry != 0 {
            bits.consume(u32::from(entry >> 8));
            return Ok(u32::from(entry & 0xFF));
        }
        let (len, symbol) = self.decode_long(bits.peek(16))?;
        bits.consume(len);
        Ok(symbol)
    }

    /// A code longer than the lookup, from the next 16 bits: its length and symbol. Takes the bits by value (see
    /// `Bits`: no reference to it may escape the loops).
    #[cold]
    #[inline(never)]
    fn decode_long(&self, next: u32) -> Result<(u32, u32), Error> {
        let next = next as i32;
        for len in LOOKUP_BITS + 1..=16 {
            let code = next >> (16 - len);
            if code <= self.maxcode[len as usize] {
                let index = code + self.offset[len as usize];
                return self
                    .symbols
                    .get(index as usize)
                    .map(|&s| (len, u32::from(s)))
                    .ok_or(Error::Corrupt("a Huffman code points past its table"));
            }
        }
        Err(Error::Corrupt("an invalid Huffman code"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The standard luminance DC table (JPEG Annex K.3).
    fn dc_luma() -> Huffman {
        let counts = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
        Huffman::new(&counts, &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]).unwrap()
    }

    #[test]
    fn decodes_the_standard_dc_table() {
        // Codes: 0 -> 00, 1 -> 010, 2 -> 011, 3 -> 100, 4 -> 101, 5 -> 110, 6 -> 1110, ..., 11 -> 111111110.
        let table = dc_luma();
        // 00 010 011 1110 111111110 then padding ones.
        let data = [0b0001_0011, 0b1110_1111, 0b1111_0111, 0xFF, 0x00, 0x00];
        let mut bits = Bits::new(&data);
        let mut got = Vec::new();
        for _ in 0..5 {
            bits.ensure();
            got.push(table.decode(&mut bits).unwrap());
        }
        assert_eq!(got, vec![0, 1, 2, 6, 11]);
    }

    #[test]
    fn long_codes_take_the_slow_path() {
        // One code of each length 1..=15, then two of length 16: symbol i has length i + 1.
        let mut counts = [1u8; 16];
        counts[15] = 2;
        let symbols: Vec<u8> = (0..17).collect();
        let table = Huffman::new(&counts, &symbols).unwrap();
        // Length-12 code: eleven ones then a zero.
        let data = [0xFF, 0x00, 0b1110_0000, 0, 0, 0, 0, 0];
        let mut bits = Bits::new(&data);
        bits.ensure();
        assert_eq!(table.decode(&mut bits).unwrap(), 11);
    }

    #[test]
    fn overfull_tables_are_refused() {
        let counts = [3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(Huffman::new(&counts, &[0, 1, 2]).is_err());
        assert!(Huffman::new(&[0; 16], &[1]).is_err());
    }

    #[test]
    fn the_ac_entry_holds_run_size_and_length() {
        // Two symbols of length 1: 0x00 (end of block) -> "0", 0x12 (run 1, size 2) -> "1".
        let mut counts = [0u8; 16];
        counts[0] = 2;
        let table = Huffman::new(&counts, &[0x00, 0x12]).unwrap().with_ac_lookup();
        // "1" then "10" (value +2).
        let data = [0b1100_0000, 0, 0, 0, 0, 0, 0, 0];
        let mut bits = Bits::new(&data);
        bits.ensure();
        let entry = table.ac_entry(&bits);
        assert!(entry.found() && entry.has_value());
        assert_eq!((entry.advance(), entry.total()), (2, 3));
        assert_eq!(entry.value(bits.buffer()), 2);
        let eob = [0u8; 8];
        let mut bits = Bits::new(&eob);
        bits.ensure();
        let entry = table.ac_entry(&bits);
        assert!(!entry.has_value());
        assert_eq!((entry.advance(), entry.total()), (END_OF_BLOCK, 1));
    }
}
