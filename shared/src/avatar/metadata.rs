//! Avatars are served without the metadata cameras and editors embed: a phone photo's EXIF block carries
//! where it was taken (GPS), when, and on what device. [`strip`] removes it before an image is checked and
//! stored: JPEG's APP1 (EXIF, XMP) and APP13 (IPTC) segments and comments, PNG's `eXIf` and text chunks,
//! WebP's `EXIF` and `XMP ` chunks, and the data of AVIF/HEIC/HEIF `Exif` items (zeroed where it lies, so
//! the boxes and every offset stay as they are; these formats orient by `irot`/`imir`, not by EXIF). A JPEG
//! keeps only its EXIF orientation, rewritten alone, so a portrait photo is not shown on its side. Bytes it
//! cannot walk are returned unchanged: the check refuses them.

use super::image::ImageType;

/// `bytes` without their metadata (see the module's list); other types as they are.
pub fn strip(kind: ImageType, bytes: &[u8]) -> Vec<u8> {
    let stripped = match kind {
        ImageType::Jpeg => jpeg(bytes),
        ImageType::Png => png(bytes),
        ImageType::Webp => webp(bytes),
        ImageType::Avif | ImageType::Heic | ImageType::Heif => heif(bytes),
        ImageType::Gif => None,
    };
    stripped.unwrap_or_else(|| bytes.to_vec())
}

fn jpeg(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = bytes.get(..2)?.to_vec(); // SOI
    let mut at = 2;
    // The orientation, and where in the output the EXIF segment stood.
    let mut orientation: Option<(u16, usize)> = None;
    loop {
        let marker = *bytes.get(at + 1)?;
        if *bytes.get(at)? != 0xFF {
            return None;
        }
        // From the first scan on, the rest is image data (and the markers among it): kept whole.
        if marker == 0xDA || marker == 0xD9 {
            out.extend_from_slice(&bytes[at..]);
            if let Some((value, position)) = orientation.filter(|&(o, _)| o != 1) {
                out.splice(position..position, orientation_segment(value));
            }
            return Some(out);
        }
        let length = usize::from(u16::from_be_bytes([
            *bytes.get(at + 2)?,
            *bytes.get(at + 3)?,
        ]));
        if length < 2 {
            return None;
        }
        let segment = bytes.get(at..at + 2 + length)?;
        match marker {
            // APP1 (EXIF, XMP), APP13 (IPTC), COM: dropped; the EXIF orientation is kept.
            0xE1 => {
                if orientation.is_none() {
                    orientation = exif_orientation(&segment[4..]).map(|o| (o, out.len()));
                }
            }
            0xED | 0xFE => {}
            _ => out.extend_from_slice(segment),
        }
        at += 2 + length;
    }
}

/// The EXIF orientation (tag 0x0112 of IFD0) of an APP1 segment's data, if it is EXIF and has one.
fn exif_orientation(data: &[u8]) -> Option<u16> {
    let tiff = data.strip_prefix(b"Exif\0\0")?;
    let big = match tiff.get(..2)? {
        b"MM" => true,
        b"II" => false,
        _ => return None,
    };
    let u16_at = |at: usize| {
        let b = [*tiff.get(at)?, *tiff.get(at + 1)?];
        Some(if big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    };
    let u32_at = |at: usize| {
        let b: [u8; 4] = tiff.get(at..at + 4)?.try_into().ok()?;
        Some(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let ifd = usize::try_from(u32_at(4)?).ok()?;
    let entries = usize::from(u16_at(ifd)?);
    (0..entries)
        .map(|i| ifd + 2 + i * 12)
        .find(|&entry| u16_at(entry) == Some(0x0112) && u16_at(entry + 2) == Some(3))
        .and_then(|entry| u16_at(entry + 8))
        .filter(|value| (1..=8).contains(value))
}

/// An APP1 EXIF segment holding the orientation alone: a big-endian TIFF with one IFD of one entry.
fn orientation_segment(value: u16) -> Vec<u8> {
    let mut tiff = b"MM\0\x2a\0\0\0\x08\0\x01".to_vec();
    tiff.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01]);
    tiff.extend_from_slice(&value.to_be_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // value padding, then no next IFD
    let data = [&b"Exif\0\0"[..], &tiff].concat();
    let length = u16::try_from(data.len() + 2).unwrap_or(u16::MAX);
    [&[0xFF, 0xE1][..], &length.to_be_bytes(), &data].concat()
}

fn png(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = bytes.get(..8)?.to_vec(); // signature
    let mut at = 8;
    while at < bytes.len() {
        let length =
            usize::try_from(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?)).ok()?;
        let chunk = bytes.get(at..at.checked_add(12 + length)?)?;
        if !matches!(&chunk[4..8], b"eXIf" | b"tEXt" | b"iTXt" | b"zTXt") {
            out.extend_from_slice(chunk);
        }
        at += 12 + length;
    }
    Some(out)
}

fn webp(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut body = bytes.get(8..12)?.to_vec(); // WEBP
    let mut at = 12;
    while at < bytes.len() {
        let fourcc = bytes.get(at..at + 4)?;
        let size = usize::try_from(u32::from_le_bytes(
            bytes.get(at + 4..at + 8)?.try_into().ok()?,
        ))
        .ok()?;
        let padded = size + size % 2;
        let chunk = bytes.get(at..at.checked_add(8 + padded)?)?;
        match fourcc {
            b"EXIF" | b"XMP " => {}
            b"VP8X" => {
                let mut header = chunk.to_vec();
                // The canvas flags no longer announce EXIF (0x08) or XMP (0x04).
                *header.get_mut(8)? &= !(0x08 | 0x04);
                body.extend_from_slice(&header);
            }
            _ => body.extend_from_slice(chunk),
        }
        at += 8 + padded;
    }
    let size = u32::try_from(body.len()).ok()?;
    Some([&b"RIFF"[..], &size.to_le_bytes(), &body].concat())
}

/// A big-endian cursor over box contents.
struct Boxes<'a>(&'a [u8]);

impl<'a> Boxes<'a> {
    fn uint(&mut self, size: usize) -> Option<u64> {
        let (head, rest) = (self.0.get(..size)?, self.0.get(size..)?);
        self.0 = rest;
        Some(head.iter().fold(0, |n, b| n << 8 | u64::from(*b)))
    }

    /// The next box: its type, and its body with the body's offset from `base`.
    fn next_box(&mut self, base: usize) -> Option<BoxAt<'a>> {
        let whole = self.0;
        let size = usize::try_from(self.uint(4)?).ok()?;
        let kind: [u8; 4] = self.0.get(..4)?.try_into().ok()?;
        let (header, size) = match size {
            1 => (
                16,
                usize::try_from(u64::from_be_bytes(whole.get(8..16)?.try_into().ok()?)).ok()?,
            ),
            0 => (8, whole.len()),
            n => (8, n),
        };
        let body = whole.get(header..size)?;
        self.0 = whole.get(size..)?;
        Some((kind, body, base + header))
    }
}

/// A box: its type, its body, and the body's offset in the file.
type BoxAt<'a> = ([u8; 4], &'a [u8], usize);

/// The top-level boxes of `bytes` with their bodies' offsets.
fn children(bytes: &[u8], base: usize) -> Option<Vec<BoxAt<'_>>> {
    let mut boxes = Boxes(bytes);
    let mut found = Vec::new();
    let mut at = base;
    while !boxes.0.is_empty() {
        let before = boxes.0.len();
        let (kind, body, offset) = boxes.next_box(at)?;
        found.push((kind, body, offset));
        at += before - boxes.0.len();
    }
    Some(found)
}

fn heif(bytes: &[u8]) -> Option<Vec<u8>> {
    let top = children(bytes, 0)?;
    let (_, meta, meta_at) = *top.iter().find(|(kind, ..)| kind == b"meta")?;
    // `meta` is a full box: version and flags, then its children.
    let inner = children(meta.get(4..)?, meta_at + 4)?;
    let find = |name: &[u8; 4]| inner.iter().find(|(kind, ..)| kind == name).copied();
    let exif_items = match find(b"iinf") {
        Some((_, iinf, _)) => exif_item_ids(iinf)?,
        None => Vec::new(),
    };
    if exif_items.is_empty() {
        return None; // nothing to remove
    }
    let idat_at = find(b"idat").map(|(_, _, at)| at);
    let mut out = bytes.to_vec();
    let (_, iloc, _) = find(b"iloc")?;
    for (offset, length) in item_extents(iloc, &exif_items, idat_at)? {
        out.get_mut(offset..offset.checked_add(length)?)?.fill(0);
    }
    Some(out)
}

/// The ids of the items of type `Exif` (item info entries of version 2 and 3).
fn exif_item_ids(iinf: &[u8]) -> Option<Vec<u64>> {
    let mut r = Boxes(iinf);
    let version = r.uint(1)?;
    r.uint(3)?;
    r.uint(if version == 0 { 2 } else { 4 })?; // entry count
    let mut ids = Vec::new();
    for (kind, infe, _) in children(r.0, 0)? {
        let mut e = Boxes(infe);
        let infe_version = e.uint(1)?;
        e.uint(3)?;
        if &kind != b"infe" || infe_version < 2 {
            continue;
        }
        let id = e.uint(if infe_version == 2 { 2 } else { 4 })?;
        e.uint(2)?; // protection index
        if e.0.get(..4)? == b"Exif" {
            ids.push(id);
        }
    }
    Some(ids)
}

/// The file ranges `(offset, length)` of the extents of `items`, from the item location box.
fn item_extents(iloc: &[u8], items: &[u64], idat_at: Option<usize>) -> Option<Vec<(usize, usize)>> {
    let mut r = Boxes(iloc);
    let version = r.uint(1)?;
    r.uint(3)?;
    let sizes = r.uint(2)?;
    let (offset_size, length_size) = (
        ((sizes >> 12) & 0xF) as usize,
        ((sizes >> 8) & 0xF) as usize,
    );
    let base_size = ((sizes >> 4) & 0xF) as usize;
    let index_size = if version >= 1 {
        (sizes & 0xF) as usize
    } else {
        0
    };
    let count = r.uint(if version < 2 { 2 } else { 4 })?;
    let mut ranges = Vec::new();
    for _ in 0..count {
        let id = r.uint(if version < 2 { 2 } else { 4 })?;
        let method = if version >= 1 { r.uint(2)? & 0xF } else { 0 };
        r.uint(2)?; // data reference index
        let base = r.uint(base_size)?;
        let extents = r.uint(2)?;
        for _ in 0..extents {
            r.uint(index_size)?;
            let offset = base.checked_add(r.uint(offset_size)?)?;
            let length = r.uint(length_size)?;
            if items.contains(&id) {
                if length == 0 {
                    return None; // "to the end": not told apart from the image's data here
                }
                let start = match method {
                    0 => usize::try_from(offset).ok()?,
                    1 => idat_at?.checked_add(usize::try_from(offset).ok()?)?,
                    _ => return None,
                };
                ranges.push((start, usize::try_from(length).ok()?));
            }
        }
    }
    Some(ranges)
}
