//! The markers before the image data: frame (SOF), quantisation (DQT) and Huffman (DHT) tables, restart interval
//! (DRI), Exif (APP1), Adobe's colour transform flag (APP14), and the scan header (SOS) after which the
//! entropy-coded data starts.

use crate::Error;
use crate::huffman::Huffman;

pub(crate) struct Component {
    pub id: u8,
    pub h: u32,
    pub v: u32,
    pub quant: usize,
}

pub(crate) struct ScanComponent {
    /// Index into the frame's components.
    pub index: usize,
    pub dc: usize,
    pub ac: usize,
}

pub(crate) struct Header<'a> {
    pub width: u32,
    pub height: u32,
    pub components: Vec<Component>,
    /// Quantisation tables, in zig-zag order as stored.
    pub quant: [Option<[u16; 64]>; 4],
    pub dc: [Option<Huffman>; 4],
    pub ac: [Option<Huffman>; 4],
    pub restart_interval: u32,
    pub scan: Vec<ScanComponent>,
    /// The entropy-coded data of the first scan, up to the end of the file.
    pub entropy: &'a [u8],
    /// The Exif payload of an APP1 segment (after `Exif\0\0`): TIFF header first.
    pub exif: Option<&'a [u8]>,
    /// Adobe APP14's transform flag: 0 means the three components are RGB, not YCbCr.
    pub adobe_transform: Option<u8>,
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, Error> {
        let b = *self.data.get(self.pos).ok_or(Error::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    fn u16(&mut self) -> Result<u16, Error> {
        Ok(u16::from(self.byte()?) << 8 | u16::from(self.byte()?))
    }

    fn bytes(&mut self, len: usize) -> Result<&'a [u8], Error> {
        let end = self.pos.checked_add(len).ok_or(Error::Truncated)?;
        let out = self.data.get(self.pos..end).ok_or(Error::Truncated)?;
        self.pos = end;
        Ok(out)
    }
}

pub(crate) fn parse(data: &[u8]) -> Result<Header<'_>, Error> {
    if !data.starts_with(&[0xFF, 0xD8]) {
        return Err(Error::Corrupt("not a JPEG file"));
    }
    let mut r = Reader { data, pos: 2 };
    let mut frame: Option<(u32, u32, Vec<Component>)> = None;
    let mut quant: [Option<[u16; 64]>; 4] = [None; 4];
    let mut dc: [Option<Huffman>; 4] = [None, None, None, None];
    let mut ac: [Option<Huffman>; 4] = [None, None, None, None];
    let mut restart_interval = 0;
    let mut exif = None;
    let mut adobe_transform = None;
    loop {
        // Markers start with FF; any number of FF fill bytes may precede the code.
        if r.byte()? != 0xFF {
            return Err(Error::Corrupt("expected a marker"));
        }
        let mut code = r.byte()?;
        while code == 0xFF {
            code = r.byte()?;
        }
        match code {
            0xD8 | 0xD0..=0xD7 | 0x01 => continue,
            0xD9 => return Err(Error::Corrupt("the file ends before any image data")),
            _ => {}
        }
        let len = usize::from(r.u16()?);
        let segment = r.bytes(len.checked_sub(2).ok_or(Error::Corrupt("a marker segment is too short"))?)?;
        match code {
            0xC0 | 0xC1 => frame = Some(parse_frame(segment)?),
            0xC2 | 0xC6 | 0xCA | 0xCE => return Err(Error::Unsupported("progressive JPEG")),
            0xC3 | 0xC5 | 0xC7 | 0xCB | 0xCF => return Err(Error::Unsupported("lossless or hierarchical JPEG")),
            0xC9 | 0xCD => return Err(Error::Unsupported("arithmetic-coded JPEG")),
            0xC4 => parse_huffman(segment, &mut dc, &mut ac)?,
            0xDB => parse_quant(segment, &mut quant)?,
            0xDD => {
                let b = segment.get(..2).ok_or(Error::Corrupt("a DRI segment is too short"))?;
                restart_interval = u32::from(u16::from(b[0]) << 8 | u16::from(b[1]));
            }
            0xE1 if segment.starts_with(b"Exif\0\0") && exif.is_none() => exif = Some(&segment[6..]),
            0xEE if segment.starts_with(b"Adobe") && segment.len() >= 12 => adobe_transform = Some(segment[11]),
            0xDA => {
                let (width, height, components) = frame.ok_or(Error::Corrupt("image data before the frame header"))?;
                let scan = parse_scan(segment, &components)?;
                return Ok(Header {
                    width,
                    height,
                    components,
                    quant,
                    dc,
                    ac,
                    restart_interval,
                    scan,
                    entropy: &data[r.pos..],
                    exif,
                    adobe_transform,
                });
            }
            _ => {}
        }
    }
}

fn parse_frame(s: &[u8]) -> Result<(u32, u32, Vec<Component>), Error> {
    let short = Error::Corrupt("a frame header is too short");
    let head = s.get(..6).ok_or(short)?;
    if head[0] != 8 {
        return Err(Error::Unsupported("12-bit JPEG"));
    }
    let height = u32::from(head[1]) << 8 | u32::from(head[2]);
    let width = u32::from(head[3]) << 8 | u32::from(head[4]);
    if height == 0 {
        return Err(Error::Unsupported("height given after the scan (DNL)"));
    }
    if width == 0 {
        return Err(Error::Corrupt("the image has no width"));
    }
    let count = usize::from(head[5]);
    if !(1..=4).contains(&count) {
        return Err(Error::Corrupt("a frame must have 1 to 4 components"));
    }
    let specs = s.get(6..6 + 3 * count).ok_or(Error::Corrupt("a frame header is too short"))?;
    let mut components = Vec::with_capacity(count);
    for c in specs.chunks_exact(3) {
        let (h, v) = (u32::from(c[1] >> 4), u32::from(c[1] & 15));
        if !(1..=4).contains(&h) || !(1..=4).contains(&v) {
            return Err(Error::Corrupt("a sampling factor is outside 1 to 4"));
        }
        if c[2] > 3 {
            return Err(Error::Corrupt("a quantisation table number is outside 0 to 3"));
        }
        components.push(Component { id: c[0], h, v, quant: usize::from(c[2]) });
    }
    Ok((width, height, components))
}

fn parse_quant(mut s: &[u8], quant: &mut [Option<[u16; 64]>; 4]) -> Result<(), Error> {
    while let Some((&pq_tq, rest)) = s.split_first() {
        let (precision, id) = (pq_tq >> 4, usize::from(pq_tq & 15));
        if id > 3 {
            return Err(Error::Corrupt("a quantisation table number is outside 0 to 3"));
        }
        let mut table = [0u16; 64];
        let size = if precision == 0 { 64 } else { 128 };
        let values = rest.get(..size).ok_or(Error::Corrupt("a quantisation table is cut short"))?;
        for (i, q) in table.iter_mut().enumerate() {
            *q = if precision == 0 {
                u16::from(values[i])
            } else {
                u16::from(values[2 * i]) << 8 | u16::from(values[2 * i + 1])
            };
        }
        quant[id] = Some(table);
        s = &rest[size..];
    }
    Ok(())
}

fn parse_huffman(mut s: &[u8], dc: &mut [Option<Huffman>; 4], ac: &mut [Option<Huffman>; 4]) -> Result<(), Error> {
    while let Some((&tc_th, rest)) = s.split_first() {
        let (class, id) = (tc_th >> 4, usize::from(tc_th & 15));
        if class > 1 || id > 3 {
            return Err(Error::Corrupt("a Huffman table has a bad class or number"));
        }
        let counts: [u8; 16] =
            rest.get(..16).and_then(|c| c.try_into().ok()).ok_or(Error::Corrupt("a Huffman table is cut short"))?;
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        let symbols = rest.get(16..16 + total).ok_or(Error::Corrupt("a Huffman table is cut short"))?;
        let table = Huffman::new(&counts, symbols)?;
        if class == 0 {
            dc[id] = Some(table);
        } else {
            ac[id] = Some(table.with_ac_lookup());
        }
        s = &rest[16 + total..];
    }
    Ok(())
}

fn parse_scan(s: &[u8], components: &[Component]) -> Result<Vec<ScanComponent>, Error> {
    let short = || Error::Corrupt("a scan header is too short");
    let count = usize::from(*s.first().ok_or_else(short)?);
    let specs = s.get(1..1 + 2 * count).ok_or_else(short)?;
    let tail = s.get(1 + 2 * count..4 + 2 * count).ok_or_else(short)?;
    if tail != [0, 63, 0] {
        return Err(Error::Corrupt("a baseline scan must cover coefficients 0 to 63 with no approximation"));
    }
    let mut scan = Vec::with_capacity(count);
    for c in specs.chunks_exact(2) {
        let index = components
            .iter()
            .position(|f| f.id == c[0])
            .ok_or(Error::Corrupt("a scan names a component the frame does not have"))?;
        let (dc, ac) = (usize::from(c[1] >> 4), usize::from(c[1] & 15));
        if dc > 3 || ac > 3 {
            return Err(Error::Corrupt("a Huffman table number is outside 0 to 3"));
        }
        scan.push(ScanComponent { index, dc, ac });
    }
    Ok(scan)
}
