//! Real image files for tests: JPEG and PNG encoded by independent encoders, each distinct
//! (the seed changes every pixel) so content hashes differ.

/// A JPEG of the given size.
pub fn jpeg(width: u16, height: u16, seed: u8) -> Vec<u8> {
    let pixels = pattern(width.into(), height.into(), seed);
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 85)
        .encode(&pixels, width, height, jpeg_encoder::ColorType::Rgb)
        .expect("encoding a test JPEG");
    out
}

/// A PNG of the given size.
pub fn png(width: u32, height: u32, seed: u8) -> Vec<u8> {
    let pixels = pattern(width, height, seed);
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().expect("png header");
        writer.write_image_data(&pixels).expect("png data");
    }
    out
}

/// The start of an HEIC file (an ISO-BMFF `ftyp` box with brand `heic`) plus filler.
pub fn heic() -> Vec<u8> {
    let mut out = vec![0, 0, 0, 24];
    out.extend_from_slice(b"ftypheic");
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(b"mif1heic");
    out.resize(4096, 0);
    out
}

fn pattern(width: u32, height: u32, seed: u8) -> Vec<u8> {
    let mut pixels = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height {
        for x in 0..width {
            pixels.push((x as u8).wrapping_add(seed.wrapping_mul(31)));
            pixels.push((y as u8).wrapping_mul(3).wrapping_add(seed));
            pixels.push(((x ^ y) as u8).wrapping_add(seed.wrapping_mul(7)));
        }
    }
    pixels
}

/// What the photos with metadata carry that must never be stored: the camera's serial, the
/// GPS datum, a comment, XMP (each as text) and a thumbnail (its own bytes).
pub mod secrets {
    pub const SERIAL: &str = "SN-4815162342";
    pub const DATUM: &str = "WGS-84";
    pub const COMMENT: &str = "shot at 48.8584 N 2.2945 E";
    pub const XMP: &str = "http://ns.adobe.com/xap/1.0/";

    /// A thumbnail distinct from any picture (its bytes are looked for).
    pub fn thumbnail() -> Vec<u8> {
        super::jpeg(16, 16, 201)
    }
}

/// EXIF (little-endian TIFF) as a phone writes it: orientation 6 (rotate 90), the make, the
/// camera's serial (Exif IFD), a GPS position and datum (GPS IFD) and a thumbnail (IFD1).
pub fn exif_with_secrets() -> Vec<u8> {
    let thumb = secrets::thumbnail();
    // Offsets: header 8, IFD0 (4 entries) 54, Exif IFD (1) 18, GPS IFD (3) 42, IFD1 (2) 30.
    let (ifd0, exif, gps, ifd1) = (8u32, 62u32, 80u32, 122u32);
    let data = 152u32;
    let make = b"Canon\0".to_vec();
    let serial = format!("{}\0", secrets::SERIAL).into_bytes();
    let datum = format!("{}\0", secrets::DATUM).into_bytes();
    let make_at = data;
    let serial_at = make_at + make.len() as u32;
    let datum_at = serial_at + serial.len() as u32;
    let latitude_at = datum_at + datum.len() as u32;
    let thumb_at = latitude_at + 24;
    let mut t = Vec::new();
    let entry = |t: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: [u8; 4]| {
        t.extend_from_slice(&tag.to_le_bytes());
        t.extend_from_slice(&kind.to_le_bytes());
        t.extend_from_slice(&count.to_le_bytes());
        t.extend_from_slice(&value);
    };
    t.extend_from_slice(b"II\x2a\0");
    t.extend_from_slice(&ifd0.to_le_bytes());
    // IFD0
    t.extend_from_slice(&4u16.to_le_bytes());
    entry(&mut t, 0x010F, 2, make.len() as u32, make_at.to_le_bytes());
    entry(&mut t, 0x0112, 3, 1, [6, 0, 0, 0]);
    entry(&mut t, 0x8769, 4, 1, exif.to_le_bytes());
    entry(&mut t, 0x8825, 4, 1, gps.to_le_bytes());
    t.extend_from_slice(&ifd1.to_le_bytes());
    assert_eq!(t.len() as u32, exif);
    // Exif IFD: the body's serial number.
    t.extend_from_slice(&1u16.to_le_bytes());
    entry(
        &mut t,
        0xA431,
        2,
        serial.len() as u32,
        serial_at.to_le_bytes(),
    );
    t.extend_from_slice(&0u32.to_le_bytes());
    assert_eq!(t.len() as u32, gps);
    // GPS IFD: latitude reference, latitude, datum.
    t.extend_from_slice(&3u16.to_le_bytes());
    entry(&mut t, 0x0001, 2, 2, [b'N', 0, 0, 0]);
    entry(&mut t, 0x0002, 5, 3, latitude_at.to_le_bytes());
    entry(
        &mut t,
        0x0012,
        2,
        datum.len() as u32,
        datum_at.to_le_bytes(),
    );
    t.extend_from_slice(&0u32.to_le_bytes());
    assert_eq!(t.len() as u32, ifd1);
    // IFD1: the thumbnail.
    t.extend_from_slice(&2u16.to_le_bytes());
    entry(&mut t, 0x0201, 4, 1, thumb_at.to_le_bytes());
    entry(&mut t, 0x0202, 4, 1, (thumb.len() as u32).to_le_bytes());
    t.extend_from_slice(&0u32.to_le_bytes());
    assert_eq!(t.len() as u32, data);
    t.extend_from_slice(&make);
    t.extend_from_slice(&serial);
    t.extend_from_slice(&datum);
    for (num, den) in [(48u32, 1u32), (50, 1), (3024, 100)] {
        t.extend_from_slice(&num.to_le_bytes());
        t.extend_from_slice(&den.to_le_bytes());
    }
    t.extend_from_slice(&thumb);
    t
}

/// A JPEG carrying EXIF (see [`exif_with_secrets`]), XMP, IPTC and a comment, as a phone's
/// photo sent as a file does.
pub fn jpeg_with_metadata(width: u16, height: u16, seed: u8) -> Vec<u8> {
    use img_parts::jpeg::{Jpeg, JpegSegment, markers};
    let mut jpeg = Jpeg::from_bytes(jpeg(width, height, seed).into()).expect("a test JPEG");
    let segment = |marker, prefix: &[u8], body: &[u8]| {
        let mut contents = prefix.to_vec();
        contents.extend_from_slice(body);
        JpegSegment::new_with_contents(marker, contents.into())
    };
    let xmp = format!(
        "<x:xmpmeta><tiff:Make>Canon</tiff:Make><aux:SerialNumber>{}</aux:SerialNumber></x:xmpmeta>",
        secrets::SERIAL
    );
    let added = [
        segment(markers::APP1, b"Exif\0\0", &exif_with_secrets()),
        segment(
            markers::APP1,
            format!("{}\0", secrets::XMP).as_bytes(),
            xmp.as_bytes(),
        ),
        segment(
            markers::APP13,
            b"Photoshop 3.0\0",
            secrets::SERIAL.as_bytes(),
        ),
        segment(markers::COM, b"", secrets::COMMENT.as_bytes()),
    ];
    for (i, s) in added.into_iter().enumerate() {
        jpeg.segments_mut().insert(1 + i, s);
    }
    jpeg.encoder().bytes().to_vec()
}

/// A PNG carrying EXIF (see [`exif_with_secrets`]), text, XMP and a modification time.
pub fn png_with_metadata(width: u32, height: u32, seed: u8) -> Vec<u8> {
    use img_parts::png::{Png, PngChunk};
    let mut png = Png::from_bytes(png(width, height, seed).into()).expect("a test PNG");
    let text = format!("Comment\0{}", secrets::COMMENT);
    let xmp = format!(
        "XML:com.adobe.xmp\0\0\0\0\0<x:xmpmeta xmlns:x=\"{}\">{}</x:xmpmeta>",
        secrets::XMP,
        secrets::SERIAL
    );
    let added = [
        PngChunk::new(*b"eXIf", exif_with_secrets().into()),
        PngChunk::new(*b"tEXt", text.into_bytes().into()),
        PngChunk::new(*b"iTXt", xmp.into_bytes().into()),
        PngChunk::new(*b"tIME", vec![7, 234, 12, 6, 9, 30, 0].into()),
    ];
    for (i, c) in added.into_iter().enumerate() {
        png.chunks_mut().insert(1 + i, c);
    }
    png.encoder().bytes().to_vec()
}

/// Whether `bytes` hold any of the secrets the photos with metadata carry.
pub fn leaks(bytes: &[u8]) -> Vec<&'static str> {
    let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    let mut found = Vec::new();
    for (name, needle) in [
        ("serial", secrets::SERIAL.as_bytes()),
        ("GPS datum", secrets::DATUM.as_bytes()),
        ("comment", secrets::COMMENT.as_bytes()),
        ("XMP", secrets::XMP.as_bytes()),
    ] {
        if has(needle) {
            found.push(name);
        }
    }
    if has(&secrets::thumbnail()) {
        found.push("thumbnail");
    }
    found
}
