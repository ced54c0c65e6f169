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
