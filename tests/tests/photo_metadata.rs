//! Photos are stored without metadata (issue 26 item 3), on both backends, through the real
//! handlers: a JPEG and a PNG carrying a GPS position, the camera's serial, a thumbnail, XMP
//! and comments are stored with none of it (the orientation alone kept, the image data byte
//! for byte), and the training archive fal.ai downloads holds the same clean bytes.

use std::io::Read;
use std::time::Duration;

use fluxbot_tests::backends;
use fluxbot_tests::fake_telegram::updates::User;
use fluxbot_tests::images::{self, leaks};
use fluxbot_tests::pipeline_world::PipelineWorld;
use img_parts::ImageEXIF;

const ANNA: User = User {
    id: 7_900_001,
    language_code: "en",
};

/// EXIF holding orientation 6 and nothing else (little-endian TIFF, one IFD of one entry).
fn orientation_only() -> Vec<u8> {
    let mut t = b"II\x2a\0\x08\0\0\0\x01\0".to_vec();
    t.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0]);
    t
}

async fn photos_are_stored_and_archived_without_metadata(backend: backends::Backend) {
    let w = PipelineWorld::on(backend, false, &[], 1).await;
    let message = w.bot.create_avatar(ANNA, "portrait", "Anna", "fast").await;
    for seed in 0..8u8 {
        let file = w
            .bot
            .telegram
            .add_file(images::jpeg(640, 800, seed.wrapping_mul(13)), "jpg");
        w.bot.send_photo(ANNA, &file, (640, 800), None).await;
    }
    let jpeg = images::jpeg_with_metadata(900, 1200, 7);
    let png = images::png_with_metadata(800, 1000, 9);
    assert_eq!(leaks(&jpeg).len(), 5, "the test JPEG carries every secret");
    assert_eq!(leaks(&png).len(), 5, "and so does the PNG");
    for (bytes, ext, size) in [(&jpeg, "jpg", (900, 1200)), (&png, "png", (800, 1000))] {
        let file = w.bot.telegram.add_file(bytes.clone(), ext);
        w.bot.send_photo(ANNA, &file, size, None).await;
    }
    let avatar = w.bot.avatars(ANNA).await.pop().unwrap();
    assert_eq!(avatar.photo_count, 10);

    // What is stored: none of it, the orientation alone kept, the pixels' bytes untouched.
    let mut stored = Vec::new();
    for photo in w.pipeline.store.list_photos(avatar.id).await.unwrap() {
        let mut body = w.pipeline.blobs.get(&photo.blob_key).await.unwrap();
        let mut bytes = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut body, &mut bytes)
            .await
            .unwrap();
        assert!(
            leaks(&bytes).is_empty(),
            "{:?} in a stored photo",
            leaks(&bytes)
        );
        stored.push(bytes);
    }
    // The picture's scan, from the JPEG as encoded before the metadata went in (the
    // thumbnail inside its EXIF has a scan of its own).
    let plain = images::jpeg(900, 1200, 7);
    let scan = plain.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    let jpeg_stored = stored
        .iter()
        .find(|b| b.ends_with(&plain[scan..]))
        .expect("the JPEG's image data stored byte for byte");
    let exif = img_parts::jpeg::Jpeg::from_bytes(jpeg_stored.clone().into())
        .unwrap()
        .exif()
        .unwrap();
    assert_eq!(
        exif.as_ref(),
        orientation_only().as_slice(),
        "orientation alone"
    );
    let png_stored = stored
        .iter()
        .find(|b| b.starts_with(b"\x89PNG"))
        .expect("the PNG stored");
    let png_parsed = img_parts::png::Png::from_bytes(png_stored.clone().into()).unwrap();
    assert_eq!(
        png_parsed.exif().unwrap().as_ref(),
        orientation_only().as_slice()
    );
    let original = img_parts::png::Png::from_bytes(png.clone().into()).unwrap();
    let idat = |p: &img_parts::png::Png| -> Vec<Vec<u8>> {
        p.chunks_by_type(*b"IDAT")
            .map(|c| c.contents().to_vec())
            .collect()
    };
    assert_eq!(idat(&png_parsed), idat(&original), "the pixels untouched");

    // What fal.ai downloads: the same clean bytes.
    w.bot
        .press_data(ANNA, message, &format!("ts:{}", avatar.id))
        .await;
    w.bot
        .press_data(ANNA, message, &format!("tc:{}", avatar.id))
        .await;
    w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    let sub = w.fal.submissions().last().unwrap().clone();
    let url = sub.input["images_data_url"].as_str().unwrap();
    let archive = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(archive.to_vec())).unwrap();
    assert_eq!(zip.len(), 10);
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).unwrap();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        assert!(
            leaks(&bytes).is_empty(),
            "{:?} in the archive",
            leaks(&bytes)
        );
        assert!(
            stored.contains(&bytes),
            "the archive holds the stored bytes"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_aws_photos_are_stored_and_archived_without_metadata() {
    photos_are_stored_and_archived_without_metadata(backends::aws().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_photos_are_stored_and_archived_without_metadata() {
    photos_are_stored_and_archived_without_metadata(backends::embedded().await).await;
}
