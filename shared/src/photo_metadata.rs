//! Photos are kept without their metadata. A phone's JPEG carries its GPS position, the
//! camera's serial number and a thumbnail in EXIF, and often XMP, IPTC and comments too; a PNG
//! can carry EXIF and text chunks; a WebP EXIF and XMP chunks. All of it is dropped before a
//! photo is stored, so nothing that reads a stored photo (the training archive fal.ai
//! downloads, a restyle's input) ever sees it. The one tag kept is the orientation the camera
//! wrote, in an EXIF block of its own: without it a portrait shot would lie on its side.
//! The pixels are not touched: the image data is copied byte for byte.

use img_parts::jpeg::{Jpeg, JpegSegment, markers};
use img_parts::png::Png;
use img_parts::webp::{CHUNK_XMP, WebP};
use img_parts::{Bytes, ImageEXIF};

use crate::domain::ImageFormat;

#[derive(Debug, thiserror::Error)]
#[error("the image could not be read to remove its metadata: {0}")]
pub struct StripError(#[from] img_parts::Error);

/// The photo without its metadata (but its orientation).
pub fn strip(format: ImageFormat, photo: Bytes) -> Result<Bytes, StripError> {
    match format {
        ImageFormat::Jpeg => strip_jpeg(photo),
        ImageFormat::Png => strip_png(photo),
        ImageFormat::Webp => strip_webp(photo),
    }
}

fn strip_jpeg(photo: Bytes) -> Result<Bytes, StripError> {
    let mut jpeg = Jpeg::from_bytes(photo)?;
    let orientation = jpeg.exif().and_then(|exif| orientation(&exif));
    jpeg.segments_mut().retain(keeps);
    if let Some(o) = orientation.filter(|o| *o != 1) {
        jpeg.set_exif(Some(orientation_only(o)));
    }
    // Where the image data starts: after SOI and every segment's header and contents.
    let data_start = 2 + jpeg.segments().iter().map(JpegSegment::len).sum::<usize>();
    let mut out = jpeg.encoder().bytes();
    // The picture ends at its EOI: phones append more pictures after it (a multi-picture
    // file's previews and depth maps, each with its own EXIF), which go too.
    if let Some(end) = out
        .get(data_start..)
        .and_then(|data| data.windows(2).position(|w| w == [0xFF, markers::EOI]))
    {
        out.truncate(data_start + end + 2);
    }
    Ok(out)
}

/// Whether a JPEG segment stays: everything that makes the picture, JFIF's header, the
/// colour profile and Adobe's colour transform; no other application segment (EXIF, XMP,
/// IPTC, maker data, multi-picture index) and no comment.
fn keeps(segment: &JpegSegment) -> bool {
    let contents = segment.contents();
    match segment.marker() {
        markers::APP0 => contents.starts_with(b"JFIF\0"),
        markers::APP2 => contents.starts_with(b"ICC_PROFILE\0"),
        markers::APP14 => contents.starts_with(b"Adobe"),
        marker if (markers::APP0..=markers::APP15).contains(&marker) => false,
        markers::COM => false,
        _ => true,
    }
}

/// PNG chunks that are metadata: EXIF, text of any kind, the time of the last change.
const PNG_METADATA: [[u8; 4]; 5] = [*b"eXIf", *b"tEXt", *b"zTXt", *b"iTXt", *b"tIME"];

fn strip_png(photo: Bytes) -> Result<Bytes, StripError> {
    let mut png = Png::from_bytes(photo)?;
    let orientation = png.exif().and_then(|exif| orientation(&exif));
    png.chunks_mut()
        .retain(|chunk| !PNG_METADATA.contains(&chunk.kind()));
    if let Some(o) = orientation.filter(|o| *o != 1) {
        png.set_exif(Some(orientation_only(o)));
    }
    Ok(png.encoder().bytes())
}

fn strip_webp(photo: Bytes) -> Result<Bytes, StripError> {
    let mut webp = WebP::from_bytes(photo)?;
    let orientation = webp.exif().and_then(|exif| orientation(&exif));
    webp.remove_chunks_by_id(CHUNK_XMP);
    webp.set_exif(orientation.filter(|o| *o != 1).map(orientation_only));
    Ok(webp.encoder().bytes())
}

/// The orientation tag (0x0112) of IFD0 in EXIF's TIFF structure, if it is there and valid.
fn orientation(tiff: &[u8]) -> Option<u16> {
    let little = match tiff.get(..4)? {
        [b'I', b'I', 42, 0] => true,
        [b'M', b'M', 0, 42] => false,
        _ => return None,
    };
    let u16_at = |at: usize| -> Option<u16> {
        let b: [u8; 2] = tiff.get(at..at + 2)?.try_into().ok()?;
        Some(if little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b: [u8; 4] = tiff.get(at..at + 4)?.try_into().ok()?;
        Some(if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let ifd = usize::try_from(u32_at(4)?).ok()?;
    let entries = u16_at(ifd)?;
    (0..usize::from(entries))
        .map(|i| ifd + 2 + i * 12)
        .find(|entry| u16_at(*entry) == Some(0x0112))
        .and_then(|entry| u16_at(entry + 8))
        .filter(|o| (1..=8).contains(o))
}

/// An EXIF block (little-endian TIFF) holding the orientation and nothing else.
fn orientation_only(orientation: u16) -> Bytes {
    let mut tiff = Vec::with_capacity(26);
    tiff.extend_from_slice(b"II");
    tiff.extend_from_slice(&42u16.to_le_bytes());
    tiff.extend_from_slice(&8u32.to_le_bytes()); // IFD0 right after the header
    tiff.extend_from_slice(&1u16.to_le_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_le_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_le_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_le_bytes()); // one value
    tiff.extend_from_slice(&orientation.to_le_bytes());
    tiff.extend_from_slice(&[0, 0]); // the value field's padding
    tiff.extend_from_slice(&0u32.to_le_bytes()); // no next IFD (no thumbnail)
    Bytes::from(tiff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_orientation_block_reads_back() {
        for o in 1..=8 {
            assert_eq!(orientation(&orientation_only(o)), Some(o));
        }
        assert_eq!(orientation(b"not tiff"), None);
        // Big-endian, with the tag second.
        let mut mm = b"MM\0\x2a\0\0\0\x08\0\x02".to_vec();
        mm.extend_from_slice(&[0x01, 0x0F, 0, 2, 0, 0, 0, 6, b'C', b'a', b'n', 0]);
        mm.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0]);
        assert_eq!(orientation(&mm), Some(6));
    }
}
