//! The image check: are these bytes really the image type the client declared?
//!
//! Avatars are stored as uploaded and served to other users, so Switchboard never decodes them but refuses
//! anything that is not, end to end, a well-formed file of the declared type. [`check`] applies, in order:
//!
//! 1. **Size**: 1 byte up to the caller's limit (callers read at most `limit + 1` bytes, so a longer body is
//!    refused here rather than cut).
//! 2. **Declared type**: one of [`ImageType::ALL`] (`image/jpeg`, `image/png`, `image/gif`, `image/webp`,
//!    `image/avif`, `image/heic`, `image/heif`); SVG and anything else is refused: SVG is a script vector.
//! 3. **Magic number** (detected by `imagesize`) matches the declared type.
//! 4. **Container walked to its end**, with nothing after it (trailing bytes are how polyglot files hide):
//!    PNG: `IHDR` first, every chunk's length and CRC-32, at least one `IDAT`, ending at `IEND`.
//!    JPEG: every marker segment's length, a frame (`SOFn`) before the first scan, the entropy-coded data of each
//!    scan, ending at `EOI`. GIF: the colour tables, every extension and image block with its sub-blocks, at
//!    least one image, ending at the trailer `0x3B`. WebP: the RIFF length equals the file's, every chunk fits,
//!    the first chunk is `VP8 `/`VP8L`/`VP8X` with its bitstream signature, and an extended file holds image
//!    data. AVIF/HEIC/HEIF: top-level ISO-BMFF boxes whose lengths tile the file exactly, `ftyp` first, a
//!    `meta` (still image) or `moov` (sequence) box, and the brands: AVIF lists `avif`/`avis`; HEIC lists an
//!    HEVC brand (`heic`, `heix`, `heim`, `heis`, `hevc`, `hevx`, …); HEIF lists `mif1`/`msf1`. A file declared
//!    `image/heif` may be HEIC (HEIC is HEIF coded with HEVC, and clients label it either way); not AVIF.
//! 5. **Dimensions** (the header parsed by `imagesize`): each side 1..=[`MAX_SIDE`] and at most [`MAX_PIXELS`]
//!    in all; every JPEG frame header (`SOFn`), GIF frame and animated WebP frame obeys the same bound, and an
//!    animation has at most [`MAX_FRAMES`] frames of at most [`MAX_ANIMATION_PIXELS`] together. This refuses
//!    dimension and frame bombs aimed at whoever decodes it.
//!
//! The result carries the verified type, the dimensions and the SHA-256 of the bytes (for deduplication).

use sha2::{Digest, Sha256};

/// The longest side accepted, in pixels.
pub const MAX_SIDE: u32 = 8192;
/// The most pixels accepted (width × height): a 48-megapixel phone photo fits, a decompression bomb does not.
pub const MAX_PIXELS: u64 = 50_000_000;
/// The most frames an animation (GIF, animated WebP) may have.
pub const MAX_FRAMES: u64 = 1000;
/// The most pixels all of an animation's frames may decode to together: LZW and VP8L compress flat frames
/// so well that a 5 MB file could otherwise decode to gigapixels.
pub const MAX_ANIMATION_PIXELS: u64 = 2 * MAX_PIXELS;

/// The image types Switchboard accepts for avatars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageType {
    Jpeg,
    Png,
    Gif,
    Webp,
    Avif,
    Heic,
    Heif,
}

impl ImageType {
    pub const ALL: [ImageType; 7] = [
        Self::Jpeg,
        Self::Png,
        Self::Gif,
        Self::Webp,
        Self::Avif,
        Self::Heic,
        Self::Heif,
    ];

    /// The type for a declared `Content-Type`, ignoring case and parameters (`image/png; q=1`).
    pub fn from_content_type(value: &str) -> Option<Self> {
        let essence = value.split(';').next().unwrap_or_default().trim();
        Self::ALL
            .into_iter()
            .find(|kind| kind.content_type().eq_ignore_ascii_case(essence))
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Gif => "image/gif",
            Self::Webp => "image/webp",
            Self::Avif => "image/avif",
            Self::Heic => "image/heic",
            Self::Heif => "image/heif",
        }
    }
}

impl std::fmt::Display for ImageType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.content_type())
    }
}

/// An image that passed [`check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedImage {
    pub image_type: ImageType,
    pub width: u32,
    pub height: u32,
    pub sha256: [u8; 32],
}

impl CheckedImage {
    pub fn sha256_hex(&self) -> String {
        self.sha256.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Why bytes were refused. Every case is the uploader's fault: a 400 with this text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error(
        "The image type {0:?} is not accepted; use image/jpeg, image/png, image/gif, image/webp, image/avif, image/heic or image/heif"
    )]
    UnsupportedType(String),
    #[error("The image is empty")]
    Empty,
    #[error("The image is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("The file is not of the declared type {declared}")]
    Mismatch { declared: ImageType },
    #[error("The {kind} image is damaged: {reason}")]
    Malformed {
        kind: ImageType,
        reason: &'static str,
    },
    #[error(
        "The image is {width}x{height} pixels; at most {MAX_SIDE} per side and {MAX_PIXELS} pixels are accepted"
    )]
    Dimensions { width: u64, height: u64 },
}

impl From<ImageError> for crate::Error {
    fn from(e: ImageError) -> Self {
        Self::bad_request(e.to_string())
    }
}

/// Checks that `bytes` are a well-formed image of the `declared` content type, at most `limit` bytes long.
pub fn check(declared: &str, bytes: &[u8], limit: usize) -> Result<CheckedImage, ImageError> {
    let kind = ImageType::from_content_type(declared)
        .ok_or_else(|| ImageError::UnsupportedType(declared.to_owned()))?;
    if bytes.is_empty() {
        return Err(ImageError::Empty);
    }
    if bytes.len() > limit {
        return Err(ImageError::TooLarge { limit });
    }
    let detected =
        imagesize::image_type(bytes).map_err(|_| ImageError::Mismatch { declared: kind })?;
    let magic_matches = matches!(
        (kind, detected),
        (ImageType::Jpeg, imagesize::ImageType::Jpeg)
            | (ImageType::Png, imagesize::ImageType::Png)
            | (ImageType::Gif, imagesize::ImageType::Gif)
            | (ImageType::Webp, imagesize::ImageType::Webp)
            | (
                ImageType::Avif | ImageType::Heic | ImageType::Heif,
                imagesize::ImageType::Heif(_)
            )
    );
    if !magic_matches {
        return Err(ImageError::Mismatch { declared: kind });
    }
    let malformed = |reason| ImageError::Malformed { kind, reason };
    match kind {
        ImageType::Png => walk_png(bytes).map_err(malformed)?,
        ImageType::Jpeg => walk_jpeg(bytes).map_err(malformed)?,
        ImageType::Gif => walk_gif(bytes).map_err(malformed)?,
        ImageType::Webp => walk_webp(bytes).map_err(malformed)?,
        ImageType::Avif | ImageType::Heic | ImageType::Heif => {
            let family = walk_bmff(bytes).map_err(malformed)?;
            if !(family == kind || (kind == ImageType::Heif && family == ImageType::Heic)) {
                return Err(ImageError::Mismatch { declared: kind });
            }
        }
    }
    let size = imagesize::blob_size(bytes).map_err(|_| malformed("no readable dimensions"))?;
    let (width, height) = (size.width as u64, size.height as u64);
    if width == 0 || height == 0 {
        return Err(malformed("a side of zero pixels"));
    }
    if width > u64::from(MAX_SIDE) || height > u64::from(MAX_SIDE) || width * height > MAX_PIXELS {
        return Err(ImageError::Dimensions { width, height });
    }
    Ok(CheckedImage {
        image_type: kind,
        // Both sides are at most MAX_SIDE here.
        width: width as u32,
        height: height as u32,
        sha256: Sha256::digest(bytes).into(),
    })
}

type Walk<T = ()> = Result<T, &'static str>;

const TRUNCATED: &str = "the file ends early";
const TRAILING: &str = "data follows the end of the image";

/// A cursor over the bytes; every read past the end is [`TRUNCATED`].
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Walk<&'a [u8]> {
        if n > self.bytes.len() {
            return Err(TRUNCATED);
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Walk<[u8; N]> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Walk<u8> {
        Ok(self.array::<1>()?[0])
    }

    fn u16_be(&mut self) -> Walk<u16> {
        self.array().map(u16::from_be_bytes)
    }

    fn u16_le(&mut self) -> Walk<u16> {
        self.array().map(u16::from_le_bytes)
    }

    fn u32_be(&mut self) -> Walk<u32> {
        self.array().map(u32::from_be_bytes)
    }

    fn u32_le(&mut self) -> Walk<u32> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64_be(&mut self) -> Walk<u64> {
        self.array().map(u64::from_be_bytes)
    }

    fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The container ended: nothing may follow it.
    fn finish(&self) -> Walk {
        if self.is_empty() {
            Ok(())
        } else {
            Err(TRAILING)
        }
    }
}

/// Counts an image's frames and the pixels they decode to, refusing what passes the bounds.
#[derive(Default)]
struct Frames {
    count: u64,
    pixels: u64,
}

impl Frames {
    fn add(&mut self, width: u64, height: u64) -> Walk {
        if width == 0 || height == 0 {
            return Err("a frame has a side of zero pixels");
        }
        if width > u64::from(MAX_SIDE)
            || height > u64::from(MAX_SIDE)
            || width * height > MAX_PIXELS
        {
            return Err("a frame is larger than the size limit");
        }
        self.count += 1;
        self.pixels += width * height;
        if self.count > MAX_FRAMES {
            return Err("the animation has too many frames");
        }
        if self.pixels > MAX_ANIMATION_PIXELS {
            return Err("the animation's frames hold too many pixels together");
        }
        Ok(())
    }
}

fn len(n: impl TryInto<usize>) -> Walk<usize> {
    n.try_into().map_err(|_| TRUNCATED)
}

fn walk_png(bytes: &[u8]) -> Walk {
    let mut r = Reader { bytes };
    r.take(8)?; // signature, matched by the magic check
    let mut first = true;
    let mut has_data = false;
    loop {
        let length = r.u32_be()?;
        if length > 0x7fff_ffff {
            return Err("a chunk length is out of range");
        }
        let kind = r.array::<4>()?;
        let data = r.take(len(length)?)?;
        let crc = r.u32_be()?;
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&kind);
        hasher.update(data);
        if hasher.finalize() != crc {
            return Err("a chunk checksum does not match");
        }
        if !kind.iter().all(u8::is_ascii_alphabetic) {
            return Err("a chunk type is not a name");
        }
        if first && (&kind != b"IHDR" || length != 13) {
            return Err("the header chunk IHDR is not first");
        }
        first = false;
        match &kind {
            b"IDAT" => has_data = true,
            b"IEND" if !has_data => return Err("there is no image data (IDAT)"),
            b"IEND" => return r.finish(),
            _ => {}
        }
    }
}

fn walk_jpeg(bytes: &[u8]) -> Walk {
    let mut r = Reader { bytes };
    r.take(2)?; // SOI, matched by the magic check
    let mut later_frames = Frames::default();
    let mut frame = false;
    let mut scanned = false;
    loop {
        if r.u8()? != 0xFF {
            return Err("a segment does not start with a marker");
        }
        let mut marker = r.u8()?;
        while marker == 0xFF {
            marker = r.u8()?; // fill bytes
        }
        match marker {
            0xD9 if !scanned => return Err("there is no scan before the end"),
            0xD9 => return r.finish(),
            // Markers without a length: TEM and restart markers.
            0x01 | 0xD0..=0xD7 => {}
            0x00 | 0xD8 => return Err("an unexpected marker"),
            _ => {
                let length = r.u16_be()?;
                if length < 2 {
                    return Err("a segment length is out of range");
                }
                let segment = r.take(usize::from(length) - 2)?;
                // SOF0..SOF15, except DHT (C4), JPG (C8) and DAC (CC). The first frame header is the
                // image's size (bounded below, with the other types'); every later one (hierarchical
                // files carry several) is bounded here, not only the first.
                if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
                    if frame {
                        let mut header = Reader { bytes: segment };
                        header.u8()?; // sample precision
                        let height = u64::from(header.u16_be()?);
                        let width = u64::from(header.u16_be()?);
                        later_frames.add(width, height)?;
                    }
                    frame = true;
                }
                if marker == 0xDA {
                    if !frame {
                        return Err("a scan comes before the frame header");
                    }
                    skip_entropy_coded(&mut r)?;
                    scanned = true;
                }
            }
        }
    }
}

/// Skips a scan's entropy-coded data up to the next marker: `FF 00` is a stuffed byte, `FF D0`..`FF D7` a
/// restart marker, repeated `FF` fill; any other `FF xx` ends the scan (the reader is left on its `FF`).
fn skip_entropy_coded(r: &mut Reader) -> Walk {
    loop {
        let at = r.bytes.iter().position(|&b| b == 0xFF).ok_or(TRUNCATED)?;
        r.take(at)?;
        match r.bytes.get(1) {
            None => return Err(TRUNCATED),
            Some(0x00 | 0xD0..=0xD7) => {
                r.take(2)?;
            }
            Some(0xFF) => {
                r.take(1)?;
            }
            Some(_) => return Ok(()),
        }
    }
}

fn walk_gif(bytes: &[u8]) -> Walk {
    let mut r = Reader { bytes };
    let signature = r.take(6)?;
    if signature != b"GIF87a" && signature != b"GIF89a" {
        return Err("an unknown GIF version");
    }
    r.take(4)?; // logical screen width and height, read by imagesize
    let flags = r.u8()?;
    r.take(2)?; // background colour index, pixel aspect ratio
    skip_colour_table(&mut r, flags)?;
    let mut frames = Frames::default();
    loop {
        match r.u8()? {
            0x21 => {
                r.u8()?; // extension label
                skip_sub_blocks(&mut r)?;
            }
            0x2C => {
                r.take(4)?; // frame position
                let (width, height) = (r.u16_le()?, r.u16_le()?);
                frames.add(u64::from(width), u64::from(height))?;
                let flags = r.u8()?;
                skip_colour_table(&mut r, flags)?;
                if !(2..=8).contains(&r.u8()?) {
                    return Err("a frame's LZW code size is out of range");
                }
                skip_sub_blocks(&mut r)?;
            }
            0x3B if frames.count == 0 => return Err("there is no image before the trailer"),
            0x3B => return r.finish(),
            _ => return Err("an unknown block"),
        }
    }
}

fn skip_colour_table(r: &mut Reader, flags: u8) -> Walk {
    if flags & 0x80 != 0 {
        r.take(3 << ((flags & 0x07) + 1))?;
    }
    Ok(())
}

fn skip_sub_blocks(r: &mut Reader) -> Walk {
    loop {
        match r.u8()? {
            0 => return Ok(()),
            n => r.take(usize::from(n))?,
        };
    }
}

fn walk_webp(bytes: &[u8]) -> Walk {
    let mut r = Reader { bytes };
    r.take(4)?; // RIFF
    let riff_size = len(r.u32_le()?)?;
    r.take(4)?; // WEBP
    match riff_size.saturating_add(8).cmp(&bytes.len()) {
        std::cmp::Ordering::Greater => return Err(TRUNCATED),
        std::cmp::Ordering::Less => return Err(TRAILING),
        std::cmp::Ordering::Equal => {}
    }
    let mut chunks = Vec::new();
    let mut frames = Frames::default();
    while !r.is_empty() {
        let fourcc = r.array::<4>()?;
        let size = len(r.u32_le()?)?;
        let data = r.take(size)?;
        if &fourcc == b"ANMF" {
            // X, Y (24 bits each), then the frame's width and height, each minus one (24 bits LE).
            let field = |at: usize| {
                data.get(at..at + 3)
                    .map(|b| u64::from(b[0]) | u64::from(b[1]) << 8 | u64::from(b[2]) << 16)
                    .ok_or(TRUNCATED)
            };
            frames.add(field(6)? + 1, field(9)? + 1)?;
        }
        if size % 2 == 1 {
            r.take(1)?; // chunks are padded to an even length
        }
        if chunks.is_empty() {
            match &fourcc {
                b"VP8 " if data.get(3..6) == Some(&[0x9D, 0x01, 0x2A]) => {}
                b"VP8L" if data.first() == Some(&0x2F) => {}
                b"VP8X" if size >= 10 => {}
                _ => return Err("the first chunk is not a VP8, VP8L or VP8X image header"),
            }
        }
        chunks.push(fourcc);
    }
    let has = |name: &[u8; 4]| chunks.contains(name);
    if chunks.first() == Some(b"VP8X") && !(has(b"VP8 ") || has(b"VP8L") || has(b"ANMF")) {
        return Err("there is no image data");
    }
    Ok(())
}

/// Walks the top-level ISO-BMFF boxes and answers which member of the HEIF family the brands name.
fn walk_bmff(bytes: &[u8]) -> Walk<ImageType> {
    let mut r = Reader { bytes };
    let mut brands: Vec<[u8; 4]> = Vec::new();
    let mut has_items = false;
    let mut first = true;
    while !r.is_empty() {
        let size32 = r.u32_be()?;
        let kind = r.array::<4>()?;
        let (size, header) = match size32 {
            0 => (r.bytes.len() as u64 + 8, 8), // the last box runs to the end of the file
            1 => (r.u64_be()?, 16),
            n => (u64::from(n), 8),
        };
        if size < header {
            return Err("a box length is out of range");
        }
        let body = r.take(len(size - header)?)?;
        if first {
            if &kind != b"ftyp" || body.len() < 8 || body.len() % 4 != 0 {
                return Err("the file type box ftyp is not first");
            }
            // Major brand, minor version, then the compatible brands.
            brands = std::iter::once(&body[..4])
                .chain(body[8..].chunks_exact(4))
                .filter_map(|b| b.try_into().ok())
                .collect();
            first = false;
        }
        has_items |= &kind == b"meta" || &kind == b"moov";
    }
    if !has_items {
        return Err("there is no meta or moov box");
    }
    let listed = |names: &[&[u8; 4]]| brands.iter().any(|b| names.contains(&b));
    if listed(&[b"avif", b"avis"]) {
        Ok(ImageType::Avif)
    } else if listed(&[
        b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs",
    ]) {
        Ok(ImageType::Heic)
    } else if listed(&[b"mif1", b"msf1"]) {
        Ok(ImageType::Heif)
    } else {
        Err("the brands name no HEIF image")
    }
}
