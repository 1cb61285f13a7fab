//! The avatar image check on tiny images of every accepted type, built here byte by byte, and on the ways
//! bytes can lie about being one.

use sha2::{Digest, Sha256};
use switchboard::avatar::image::{CheckedImage, ImageError, ImageType, MAX_SIDE, check};

const LIMIT: usize = 5 * 1024 * 1024;

fn be32(n: u32) -> [u8; 4] {
    n.to_be_bytes()
}

// ---- PNG ----

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    [
        &be32(data.len() as u32)[..],
        kind,
        data,
        &be32(crc.finalize()),
    ]
    .concat()
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

fn png_header(width: u32, height: u32) -> Vec<u8> {
    // 8-bit greyscale, deflate, adaptive filtering, no interlace.
    let ihdr = [&be32(width)[..], &be32(height), &[8, 0, 0, 0, 0]].concat();
    [PNG_SIGNATURE, &png_chunk(b"IHDR", &ihdr)].concat()
}

fn png(width: u32, height: u32) -> Vec<u8> {
    // zlib stream of one scanline: filter byte 0, one black pixel.
    let idat = [0x78, 0x9c, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01];
    [
        png_header(width, height),
        png_chunk(b"tEXt", b"Comment\0made in a test"),
        png_chunk(b"IDAT", &idat),
        png_chunk(b"IEND", &[]),
    ]
    .concat()
}

// ---- JPEG ----

fn jpeg_segment(marker: u8, body: &[u8]) -> Vec<u8> {
    [
        &[0xFF, marker][..],
        &((body.len() + 2) as u16).to_be_bytes(),
        body,
    ]
    .concat()
}

fn jpeg(width: u16, height: u16) -> Vec<u8> {
    let huffman = |class: u8| [&[class][..], &[1; 1], &[0; 15], &[0]].concat();
    let frame = [
        &[8][..],
        &height.to_be_bytes(),
        &width.to_be_bytes(),
        &[1, 1, 0x11, 0],
    ]
    .concat();
    [
        vec![0xFF, 0xD8],
        jpeg_segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"),
        jpeg_segment(0xDB, &[[0u8].as_slice(), &[1; 64]].concat()),
        jpeg_segment(0xC0, &frame),
        jpeg_segment(0xC4, &huffman(0x00)),
        jpeg_segment(0xC4, &huffman(0x10)),
        jpeg_segment(0xDA, &[1, 1, 0x00, 0, 63, 0]),
        // Entropy-coded data with a stuffed 0xFF and a restart marker.
        vec![0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56],
        vec![0xFF, 0xD9],
    ]
    .concat()
}

// ---- GIF ----

fn gif_screen(width: u16, height: u16) -> Vec<u8> {
    [
        &b"GIF89a"[..],
        &width.to_le_bytes(),
        &height.to_le_bytes(),
        // A global colour table of two entries: black and white.
        &[0x80, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF],
    ]
    .concat()
}

fn gif_frame(width: u16, height: u16) -> Vec<u8> {
    [
        &[0x21, 0xF9, 4, 0, 0, 0, 0, 0][..], // graphic control extension
        &[0x2C, 0, 0, 0, 0],
        &width.to_le_bytes(),
        &height.to_le_bytes(),
        &[0, 2, 2, 0x44, 0x01, 0],
    ]
    .concat()
}

fn gif(width: u16, height: u16) -> Vec<u8> {
    [
        gif_screen(width, height),
        gif_frame(width, height),
        vec![0x3B],
    ]
    .concat()
}

// ---- WebP ----

fn riff_chunk(fourcc: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut chunk = [fourcc, &(data.len() as u32).to_le_bytes()[..], data].concat();
    if data.len() % 2 == 1 {
        chunk.push(0);
    }
    chunk
}

fn webp(chunks: &[Vec<u8>]) -> Vec<u8> {
    let body = chunks.concat();
    [
        &b"RIFF"[..],
        &((body.len() + 4) as u32).to_le_bytes(),
        b"WEBP",
        &body,
    ]
    .concat()
}

/// A lossless 1x1 bitstream: signature 0x2F, 14-bit width-1 and height-1, then the coded pixel.
const VP8L_1X1: [u8; 13] = [
    0x2F, 0x00, 0x00, 0x00, 0x10, 0x07, 0x10, 0x11, 0x11, 0x88, 0x88, 0xFE, 0x07,
];

fn webp_lossless() -> Vec<u8> {
    webp(&[riff_chunk(b"VP8L", &VP8L_1X1)])
}

fn webp_lossy(width: u16, height: u16) -> Vec<u8> {
    let frame = [
        &[0x50, 0x02, 0x00, 0x9D, 0x01, 0x2A][..], // key frame tag, start code
        &width.to_le_bytes(),
        &height.to_le_bytes(),
        &[
            0x02, 0x00, 0x34, 0x25, 0xA4, 0x00, 0x03, 0x70, 0x00, 0xFE, 0xFB, 0x94, 0x00, 0x00,
        ],
    ]
    .concat();
    webp(&[riff_chunk(b"VP8 ", &frame)])
}

fn webp_extended(width: u32, height: u32) -> Vec<u8> {
    let canvas = [
        &[0u8; 4][..],
        &(width - 1).to_le_bytes()[..3],
        &(height - 1).to_le_bytes()[..3],
    ]
    .concat();
    webp(&[riff_chunk(b"VP8X", &canvas), riff_chunk(b"VP8L", &VP8L_1X1)])
}

// ---- AVIF / HEIC / HEIF ----

fn bmff_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    [&be32(body.len() as u32 + 8)[..], kind, body].concat()
}

fn heif_with(major: &[u8; 4], compatible: &[&[u8; 4]], width: u32, height: u32) -> Vec<u8> {
    let mut ftyp = [&major[..], &[0; 4]].concat();
    compatible
        .iter()
        .for_each(|brand| ftyp.extend_from_slice(&brand[..]));
    let ispe = bmff_box(
        b"ispe",
        &[&[0; 4][..], &be32(width), &be32(height)].concat(),
    );
    let ipma = bmff_box(b"ipma", &[0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 0x81]);
    let meta = [
        &[0u8; 4][..], // version and flags
        &bmff_box(b"hdlr", &[&[0; 8][..], b"pict", &[0; 13]].concat()),
        &bmff_box(b"pitm", &[0, 0, 0, 0, 0, 1]),
        &bmff_box(b"iprp", &[bmff_box(b"ipco", &ispe), ipma].concat()),
    ]
    .concat();
    [
        bmff_box(b"ftyp", &ftyp),
        bmff_box(b"meta", &meta),
        bmff_box(b"mdat", &[0x12, 0x00, 0x0A, 0x0A]),
    ]
    .concat()
}

fn avif(width: u32, height: u32) -> Vec<u8> {
    heif_with(b"avif", &[b"avif", b"mif1", b"miaf"], width, height)
}

fn heic(width: u32, height: u32) -> Vec<u8> {
    heif_with(b"heic", &[b"mif1", b"heic"], width, height)
}

fn heif(width: u32, height: u32) -> Vec<u8> {
    heif_with(b"mif1", &[b"mif1"], width, height)
}

// ---- the tests ----

fn accepted(declared: &str, bytes: &[u8]) -> CheckedImage {
    check(declared, bytes, LIMIT)
        .unwrap_or_else(|e| panic!("{declared} of {} bytes refused: {e}", bytes.len()))
}

fn refused(declared: &str, bytes: &[u8]) -> ImageError {
    check(declared, bytes, LIMIT).expect_err("the check accepted bad bytes")
}

fn malformed_because(declared: &str, bytes: &[u8]) -> &'static str {
    match refused(declared, bytes) {
        ImageError::Malformed { reason, .. } => reason,
        other => panic!("expected a malformed image, got {other:?}"),
    }
}

#[test]
fn tiny_images_of_every_accepted_type_pass_with_their_size_and_hash() {
    let cases = [
        ("image/png", png(3, 2), ImageType::Png, (3, 2)),
        ("image/jpeg", jpeg(5, 4), ImageType::Jpeg, (5, 4)),
        ("image/gif", gif(1, 1), ImageType::Gif, (1, 1)),
        ("image/webp", webp_lossless(), ImageType::Webp, (1, 1)),
        ("image/webp", webp_lossy(7, 6), ImageType::Webp, (7, 6)),
        ("image/webp", webp_extended(9, 8), ImageType::Webp, (9, 8)),
        ("image/avif", avif(64, 48), ImageType::Avif, (64, 48)),
        ("image/heic", heic(40, 30), ImageType::Heic, (40, 30)),
        ("image/heif", heif(20, 10), ImageType::Heif, (20, 10)),
    ];
    for (declared, bytes, kind, (width, height)) in cases {
        let image = accepted(declared, &bytes);
        assert_eq!(image.image_type, kind, "{declared}");
        assert_eq!((image.width, image.height), (width, height), "{declared}");
        let digest: [u8; 32] = Sha256::digest(&bytes).into();
        assert_eq!(image.sha256, digest);
        assert_eq!(image.sha256_hex().len(), 64);
    }
}

#[test]
fn the_declared_type_is_read_without_case_or_parameters() {
    let image = accepted("IMAGE/PNG; charset=binary", &png(1, 1));
    assert_eq!(image.image_type, ImageType::Png);
    assert_eq!(image.image_type.content_type(), "image/png");
}

#[test]
fn svg_and_other_types_are_refused_whatever_the_bytes() {
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
    for declared in ["image/svg+xml", "text/html", "image/bmp", "image/jpg", ""] {
        assert_eq!(
            refused(declared, svg),
            ImageError::UnsupportedType(declared.into())
        );
    }
    assert!(matches!(
        refused("image/svg+xml", &png(1, 1)),
        ImageError::UnsupportedType(_)
    ));
}

#[test]
fn a_text_file_declared_png_is_refused() {
    let text = b"hello, this is not a picture\n";
    assert_eq!(
        refused("image/png", text),
        ImageError::Mismatch {
            declared: ImageType::Png
        }
    );
}

#[test]
fn a_declared_type_that_the_bytes_contradict_is_refused() {
    let cases: [(&str, Vec<u8>); 8] = [
        ("image/jpeg", png(1, 1)),
        ("image/png", jpeg(1, 1)),
        ("image/gif", webp_lossless()),
        ("image/webp", gif(1, 1)),
        ("image/avif", heic(1, 1)),
        ("image/heic", avif(1, 1)),
        ("image/heic", heif(1, 1)),
        ("image/heif", avif(1, 1)),
    ];
    for (declared, bytes) in cases {
        let kind = ImageType::from_content_type(declared).unwrap();
        assert_eq!(
            refused(declared, &bytes),
            ImageError::Mismatch { declared: kind },
            "{declared}"
        );
    }
    // HEIC is HEIF coded with HEVC: clients label it either way.
    assert_eq!(
        accepted("image/heif", &heic(2, 2)).image_type,
        ImageType::Heif
    );
}

#[test]
fn a_png_header_followed_by_junk_is_refused() {
    let junk = [png_header(1, 1), b"<?php system($_GET['c']); ?>".to_vec()].concat();
    assert!(matches!(
        refused("image/png", &junk),
        ImageError::Malformed {
            kind: ImageType::Png,
            ..
        }
    ));
    let after_iend = [png(1, 1), b"PK\x03\x04 a zip file".to_vec()].concat();
    assert_eq!(
        malformed_because("image/png", &after_iend),
        "data follows the end of the image"
    );
}

#[test]
fn a_png_with_a_damaged_or_missing_part_is_refused() {
    let mut flipped = png(1, 1);
    let last = flipped.len() - 20; // inside IDAT's data
    flipped[last] ^= 0x01;
    assert_eq!(
        malformed_because("image/png", &flipped),
        "a chunk checksum does not match"
    );
    let no_data = [png_header(1, 1), png_chunk(b"IEND", &[])].concat();
    assert_eq!(
        malformed_because("image/png", &no_data),
        "there is no image data (IDAT)"
    );
    let no_end = png(1, 1)[..png(1, 1).len() - 12].to_vec();
    assert_eq!(
        malformed_because("image/png", &no_end),
        "the file ends early"
    );
    let header_late = [
        PNG_SIGNATURE.to_vec(),
        png_chunk(b"tEXt", b"a\0b"),
        png(1, 1)[8..].to_vec(),
    ]
    .concat();
    assert_eq!(
        malformed_because("image/png", &header_late),
        "the header chunk IHDR is not first"
    );
}

#[test]
fn a_truncated_jpeg_is_refused() {
    let whole = jpeg(2, 2);
    for cut in [30, whole.len() - 5, whole.len() - 2, whole.len() - 1] {
        assert_eq!(
            malformed_because("image/jpeg", &whole[..cut]),
            "the file ends early",
            "cut at {cut}"
        );
    }
    let trailing = [whole.clone(), b"<html>".to_vec()].concat();
    assert_eq!(
        malformed_because("image/jpeg", &trailing),
        "data follows the end of the image"
    );
}

#[test]
fn a_jpeg_without_a_frame_or_scan_is_refused() {
    let no_scan = [
        vec![0xFF, 0xD8],
        jpeg_segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"),
        jpeg_segment(0xC0, &[8, 0, 1, 0, 1, 1, 1, 0x11, 0]),
        vec![0xFF, 0xD9],
    ]
    .concat();
    assert_eq!(
        malformed_because("image/jpeg", &no_scan),
        "there is no scan before the end"
    );
    let scan_first = [
        vec![0xFF, 0xD8],
        jpeg_segment(0xDA, &[1, 1, 0x00, 0, 63, 0]),
        vec![0x12, 0xFF, 0xD9],
    ]
    .concat();
    assert_eq!(
        malformed_because("image/jpeg", &scan_first),
        "a scan comes before the frame header"
    );
}

#[test]
fn a_gif_must_reach_its_trailer_with_an_image() {
    let whole = gif(1, 1);
    assert_eq!(
        malformed_because("image/gif", &whole[..whole.len() - 1]),
        "the file ends early"
    );
    let no_image = [gif_screen(1, 1), vec![0x3B]].concat();
    assert_eq!(
        malformed_because("image/gif", &no_image),
        "there is no image before the trailer"
    );
    let trailing = [whole, b"junk".to_vec()].concat();
    assert_eq!(
        malformed_because("image/gif", &trailing),
        "data follows the end of the image"
    );
}

#[test]
fn a_webp_riff_length_must_match_the_file() {
    let whole = webp_lossless();
    let longer = [whole.clone(), vec![0, 0]].concat();
    assert_eq!(
        malformed_because("image/webp", &longer),
        "data follows the end of the image"
    );
    assert_eq!(
        malformed_because("image/webp", &whole[..whole.len() - 2]),
        "the file ends early"
    );
    // A chunk that claims more than the RIFF holds.
    let mut overlong = whole.clone();
    overlong[16] = 0x40;
    assert_eq!(
        malformed_because("image/webp", &overlong),
        "the file ends early"
    );
    let not_an_image = webp(&[riff_chunk(b"EXIF", b"abcd")]);
    assert_eq!(
        malformed_because("image/webp", &not_an_image),
        "the first chunk is not a VP8, VP8L or VP8X image header"
    );
    let header_only = webp(&[riff_chunk(b"VP8X", &[0; 10])]);
    assert_eq!(
        malformed_because("image/webp", &header_only),
        "there is no image data"
    );
}

#[test]
fn heif_boxes_must_tile_the_file_after_a_first_ftyp() {
    let whole = avif(2, 2);
    assert_eq!(
        malformed_because("image/avif", &whole[..whole.len() - 1]),
        "the file ends early"
    );
    let trailing = [whole.clone(), vec![0, 0, 0]].concat();
    assert_eq!(
        malformed_because("image/avif", &trailing),
        "the file ends early"
    );
    let no_meta = [
        bmff_box(b"ftyp", b"avif\0\0\0\0avifmif1"),
        bmff_box(b"mdat", &[1, 2, 3]),
    ]
    .concat();
    assert_eq!(
        malformed_because("image/avif", &no_meta),
        "there is no meta or moov box"
    );
    let video = heif_with(b"mp42", &[b"isom", b"mp42"], 2, 2);
    assert_eq!(
        malformed_because("image/heif", &video),
        "the brands name no HEIF image"
    );
    let mut short_box = whole.clone();
    short_box[28..32].copy_from_slice(&be32(4)); // the meta box claims less than its own header
    assert_eq!(
        malformed_because("image/avif", &short_box),
        "a box length is out of range"
    );
}

#[test]
fn dimension_bombs_are_refused() {
    let bombs: [(&str, Vec<u8>, (u64, u64)); 8] = [
        ("image/png", png(100_000, 100_000), (100_000, 100_000)),
        (
            "image/png",
            png(MAX_SIDE + 1, 1),
            (u64::from(MAX_SIDE) + 1, 1),
        ),
        ("image/png", png(8000, 8000), (8000, 8000)), // each side fits, the area does not
        ("image/jpeg", jpeg(65_000, 65_000), (65_000, 65_000)),
        (
            "image/gif",
            [gif_screen(65_535, 65_535), gif_frame(1, 1), vec![0x3B]].concat(),
            (65_535, 65_535),
        ),
        (
            "image/webp",
            webp_extended(16_384, 16_384),
            (16_384, 16_384),
        ),
        ("image/avif", avif(100_000, 100_000), (100_000, 100_000)),
        ("image/heic", heic(1, 1_000_000), (1, 1_000_000)),
    ];
    for (declared, bytes, (width, height)) in bombs {
        assert_eq!(
            refused(declared, &bytes),
            ImageError::Dimensions { width, height },
            "{declared} {width}x{height}"
        );
    }
    // The largest accepted side.
    let edge = accepted("image/png", &png(MAX_SIDE, 1));
    assert_eq!(edge.width, MAX_SIDE);
    // A GIF frame far larger than its 1x1 screen.
    let frame_bomb = [gif_screen(1, 1), gif_frame(60_000, 60_000), vec![0x3B]].concat();
    assert_eq!(
        malformed_because("image/gif", &frame_bomb),
        "a frame is larger than the size limit"
    );
    // Zero is no size.
    assert_eq!(
        malformed_because("image/png", &png(0, 1)),
        "a side of zero pixels"
    );
}

#[test]
fn animations_are_bounded_by_frames_and_total_pixels() {
    use switchboard::avatar::image::{MAX_ANIMATION_PIXELS, MAX_FRAMES};
    let animation = |frames: usize, side: u16| {
        let body: Vec<u8> = (0..frames).flat_map(|_| gif_frame(side, side)).collect();
        [gif_screen(side, side), body, vec![0x3B]].concat()
    };
    // A small animation passes; a thousand and one frames do not, however small.
    accepted("image/gif", &animation(10, 64));
    accepted("image/gif", &animation(MAX_FRAMES as usize, 1));
    assert_eq!(
        malformed_because("image/gif", &animation(MAX_FRAMES as usize + 1, 1)),
        "the animation has too many frames"
    );
    // Frames each within the still bound, together past the animation's (a few KB decoding to gigapixels).
    let side: u16 = 7000;
    let frames = (MAX_ANIMATION_PIXELS / (u64::from(side) * u64::from(side))) as usize + 1;
    let bomb = animation(frames, side);
    assert!(bomb.len() < 5_000, "{} bytes", bomb.len());
    assert_eq!(
        malformed_because("image/gif", &bomb),
        "the animation's frames hold too many pixels together"
    );
    // Animated WebP: every ANMF frame counts.
    let anmf = |side: u32| {
        let header = [
            &[0u8; 6][..],
            &(side - 1).to_le_bytes()[..3],
            &(side - 1).to_le_bytes()[..3],
            &[0u8; 4],
        ]
        .concat();
        riff_chunk(b"ANMF", &[header, riff_chunk(b"VP8L", &VP8L_1X1)].concat())
    };
    // The VP8X canvas: the animation flag, then 7000x7000 (each side minus one, 24 bits LE).
    let edge = (u32::from(side) - 1).to_le_bytes();
    let canvas = [&[0x02u8, 0, 0, 0][..], &edge[..3], &edge[..3]].concat();
    let animated = |frames: usize, side: u32| {
        let mut chunks = vec![riff_chunk(b"VP8X", &canvas)];
        chunks.extend((0..frames).map(|_| anmf(side)));
        webp(&chunks)
    };
    accepted("image/webp", &animated(3, 64));
    assert_eq!(
        malformed_because("image/webp", &animated(frames, u32::from(side))),
        "the animation's frames hold too many pixels together"
    );
    assert_eq!(
        malformed_because("image/webp", &animated(1, MAX_SIDE + 1)),
        "a frame is larger than the size limit"
    );
}

#[test]
fn every_jpeg_frame_header_is_bounded_not_only_the_first() {
    let small = jpeg(16, 16);
    let frame = |side: u16| {
        jpeg_segment(
            0xC0,
            &[
                &[8][..],
                &side.to_be_bytes(),
                &side.to_be_bytes(),
                &[1, 1, 0x11, 0],
            ]
            .concat(),
        )
    };
    // A second frame header after the first scan (as hierarchical JPEGs have), far past the bound.
    let end = small.len() - 2;
    let with_second = |side| [&small[..end], &frame(side), &small[end..]].concat();
    accepted("image/jpeg", &with_second(16));
    assert_eq!(
        malformed_because("image/jpeg", &with_second(60_000)),
        "a frame is larger than the size limit"
    );
}

#[test]
fn empty_and_oversized_bytes_are_refused() {
    assert_eq!(refused("image/png", &[]), ImageError::Empty);
    let image = png(1, 1);
    assert_eq!(
        check("image/png", &image, image.len() - 1),
        Err(ImageError::TooLarge {
            limit: image.len() - 1
        })
    );
    assert!(check("image/png", &image, image.len()).is_ok());
}

#[test]
fn every_refusal_is_a_400_that_names_the_problem() {
    let error: switchboard::Error = refused("image/png", b"text").into();
    assert_eq!(error.status(), 400);
    assert_eq!(
        error.to_string(),
        "The file is not of the declared type image/png"
    );
    let error: switchboard::Error = refused("image/gif", &png(1, 1)[..20]).into();
    assert_eq!(error.status(), 400);
}

// ---- metadata ----

/// An EXIF APP1 segment: big-endian TIFF, IFD0 with the orientation and an ASCII tag standing in for the
/// GPS block (a phone's position).
fn exif_segment(orientation: u16) -> Vec<u8> {
    let secret = b"GPS 52.5200N 13.4050E\0";
    let mut tiff = b"MM\0\x2a\0\0\0\x08\0\x02".to_vec();
    tiff.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01]);
    tiff.extend_from_slice(&[(orientation >> 8) as u8, orientation as u8, 0, 0]);
    // Tag 0x8825 (GPS IFD) stood in for by ASCII data at offset 38.
    tiff.extend_from_slice(&[0x88, 0x25, 0x00, 0x02, 0x00, 0x00, 0x00, secret.len() as u8]);
    tiff.extend_from_slice(&38u32.to_be_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 0]);
    tiff.extend_from_slice(secret);
    jpeg_segment(0xE1, &[&b"Exif\0\0"[..], &tiff].concat())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_jpeg_loses_its_exif_xmp_and_comments_but_keeps_its_orientation() {
    use switchboard::avatar::metadata::strip;
    let plain = jpeg(16, 16);
    let xmp = jpeg_segment(
        0xE1,
        b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>GPS</x:xmpmeta>",
    );
    let comment = jpeg_segment(0xFE, b"taken at home");
    let photo = [&plain[..2], &exif_segment(6), &xmp, &comment, &plain[2..]].concat();
    accepted("image/jpeg", &photo);
    let served = strip(ImageType::Jpeg, &photo);
    accepted("image/jpeg", &served);
    for secret in [&b"52.5200N"[..], b"xmpmeta", b"taken at home"] {
        assert!(contains(&photo, secret) && !contains(&served, secret));
    }
    // The orientation alone stays, right after SOI where the EXIF stood.
    let kept = [
        &[0xFF, 0xE1, 0x00, 0x22][..],
        b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x06",
    ]
    .concat();
    assert_eq!(&served[2..2 + kept.len()], &kept[..]);
    // Upright photos need no EXIF at all; a file without metadata is left as it is.
    assert_eq!(
        strip(
            ImageType::Jpeg,
            &[&plain[..2], &exif_segment(1), &plain[2..]].concat()
        ),
        plain
    );
    assert_eq!(strip(ImageType::Jpeg, &plain), plain);
}

#[test]
fn png_and_webp_lose_their_metadata_chunks() {
    use switchboard::avatar::metadata::strip;
    let plain = png(2, 2);
    let end = plain.len() - 12; // before IEND
    let text = png_chunk(b"tEXt", b"Location\0Berlin");
    let exif = png_chunk(b"eXIf", b"MM\0\x2aGPS");
    let tagged = [&plain[..33], &text, &exif, &plain[33..end], &plain[end..]].concat();
    accepted("image/png", &tagged);
    let served = strip(ImageType::Png, &tagged);
    accepted("image/png", &served);
    for chunk in [&b"tEXt"[..], b"eXIf", b"Berlin"] {
        assert!(contains(&tagged, chunk) && !contains(&served, chunk));
    }
    // Only the metadata chunks went: the image chunks are the same bytes.
    assert_eq!(served.len(), plain.len() - (12 + 22));

    let canvas = [&[0x08u8 | 0x04, 0, 0, 0][..], &[0, 0, 0], &[0, 0, 0]].concat();
    let tagged = webp(&[
        riff_chunk(b"VP8X", &canvas),
        riff_chunk(b"VP8L", &VP8L_1X1),
        riff_chunk(b"EXIF", b"MM\0\x2aGPS Berlin"),
        riff_chunk(b"XMP ", b"<x:xmpmeta/>"),
    ]);
    accepted("image/webp", &tagged);
    let served = strip(ImageType::Webp, &tagged);
    accepted("image/webp", &served);
    assert!(!contains(&served, b"Berlin") && !contains(&served, b"xmpmeta"));
    let cleared = [&[0u8, 0, 0, 0][..], &[0, 0, 0], &[0, 0, 0]].concat();
    assert_eq!(
        served,
        webp(&[
            riff_chunk(b"VP8X", &cleared),
            riff_chunk(b"VP8L", &VP8L_1X1)
        ])
    );
}

/// A HEIC whose item 2 is `Exif`, its payload (with a stand-in GPS value) in `mdat` at a file offset.
fn heic_with_exif() -> Vec<u8> {
    let exif = [
        &[0u8, 0, 0, 6][..],
        b"Exif\0\0MM\0\x2a GPS 52.5200N 13.4050E",
    ]
    .concat();
    let build = |exif_at: u32| {
        let ftyp = bmff_box(b"ftyp", &[&b"heic"[..], &[0; 4], b"mif1", b"heic"].concat());
        let ispe = bmff_box(b"ispe", &[&[0; 4][..], &be32(16), &be32(16)].concat());
        let ipma = bmff_box(b"ipma", &[0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 0x81]);
        let infe = |id: u8, kind: &[u8; 4]| {
            bmff_box(
                b"infe",
                &[&[2u8, 0, 0, 0, 0, id, 0, 0][..], kind, b"\0"].concat(),
            )
        };
        let iinf = bmff_box(
            b"iinf",
            &[
                &[0u8, 0, 0, 0, 0, 2][..],
                &infe(1, b"hvc1"),
                &infe(2, b"Exif"),
            ]
            .concat(),
        );
        // Version 0, offsets and lengths of 4 bytes, no base offset; item 2 has one extent.
        let iloc = bmff_box(
            b"iloc",
            &[
                &[0u8, 0, 0, 0, 0x44, 0x00, 0, 1, 0, 2, 0, 0, 0, 1][..],
                &be32(exif_at),
                &be32(exif.len() as u32),
            ]
            .concat(),
        );
        let meta = [
            &[0u8; 4][..],
            &bmff_box(b"hdlr", &[&[0; 8][..], b"pict", &[0; 13]].concat()),
            &bmff_box(b"pitm", &[0, 0, 0, 0, 0, 1]),
            &iinf,
            &iloc,
            &bmff_box(b"iprp", &[bmff_box(b"ipco", &ispe), ipma].concat()),
        ]
        .concat();
        let head = [bmff_box(b"ftyp", &ftyp[8..]), bmff_box(b"meta", &meta)].concat();
        let mdat = bmff_box(b"mdat", &[&[0x12, 0x00, 0x0A, 0x0A][..], &exif].concat());
        (head.len() as u32 + 8 + 4, [head, mdat].concat())
    };
    let (exif_at, _) = build(0);
    build(exif_at).1
}

#[test]
fn heif_exif_items_are_zeroed_in_place() {
    use switchboard::avatar::metadata::strip;
    let photo = heic_with_exif();
    accepted("image/heic", &photo);
    assert!(contains(&photo, b"52.5200N"));
    let served = strip(ImageType::Heic, &photo);
    assert_ne!(served, photo, "stripped");
    assert_eq!(served.len(), photo.len(), "every box and offset stays");
    assert!(!contains(&served, b"52.5200N") && !contains(&served, b"Exif\0\0MM"));
    accepted("image/heic", &served);
    // A file without Exif items is left as it is.
    assert_eq!(strip(ImageType::Heic, &heic(16, 16)), heic(16, 16));
}
