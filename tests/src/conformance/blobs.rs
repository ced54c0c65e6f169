//! Blob storage and streamed zips.

use super::*;

pub fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    rand::rngs::SmallRng::seed_from_u64(seed).fill_bytes(&mut bytes);
    bytes
}

pub fn body(bytes: Vec<u8>) -> BlobReader {
    Box::pin(std::io::Cursor::new(bytes))
}

pub async fn read_all(blobs: &dyn BlobStore, key: &BlobKey) -> Vec<u8> {
    let mut out = Vec::new();
    blobs
        .get(key)
        .await
        .unwrap()
        .read_to_end(&mut out)
        .await
        .unwrap();
    out
}

fn key(s: &str) -> BlobKey {
    BlobKey::new(s).unwrap()
}

pub async fn blobs_round_trip(blobs: &dyn BlobStore) {
    let small = key("photos/1/a/one.jpg");
    assert_eq!(
        blobs
            .put(&small, body(b"jpeg bytes".to_vec()), "image/jpeg")
            .await
            .unwrap(),
        10
    );
    assert_eq!(read_all(blobs, &small).await, b"jpeg bytes");
    assert_eq!(blobs.size(&small).await.unwrap(), Some(10));
    blobs
        .put(&small, body(b"replaced".to_vec()), "image/jpeg")
        .await
        .unwrap();
    assert_eq!(read_all(blobs, &small).await, b"replaced");

    // Larger than one multipart part.
    let large = random_bytes(7, 19 * 1024 * 1024 + 123);
    let big = key("photos/1/a/large.png");
    assert_eq!(
        blobs
            .put(&big, body(large.clone()), "image/png")
            .await
            .unwrap(),
        large.len() as u64
    );
    assert_eq!(
        Sha256::digest(read_all(blobs, &big).await),
        Sha256::digest(&large)
    );

    let missing = key("photos/1/a/missing.jpg");
    assert!(matches!(
        blobs.get(&missing).await,
        Err(BlobError::NotFound(_))
    ));
    assert_eq!(blobs.size(&missing).await.unwrap(), None);
}

pub async fn delete_prefixes_removes_exactly_the_prefixes(blobs: &dyn BlobStore) {
    for k in [
        "photos/7/av1/a.jpg",
        "photos/7/av1/b.jpg",
        "photos/7/av1/deep/c.jpg",
        "photos/7/av11/x.jpg",
        "archives/7/av1/z.zip",
        "models/7/av1/lora.safetensors",
    ] {
        blobs
            .put(&key(k), body(k.as_bytes().to_vec()), "image/jpeg")
            .await
            .unwrap();
    }
    let prefixes = |p: &[&str]| p.iter().map(|p| p.to_string()).collect::<Vec<_>>();
    assert!(
        blobs
            .delete_prefixes(&prefixes(&["archives/7/av1/", "photos/7/av1"]))
            .await
            .is_err(),
        "a prefix must end in /"
    );
    assert_eq!(
        blobs.size(&key("archives/7/av1/z.zip")).await.unwrap(),
        Some(20),
        "nothing deleted when one prefix is refused"
    );
    assert_eq!(
        blobs
            .delete_prefixes(&prefixes(&["photos/7/av1/", "archives/7/av1/"]))
            .await
            .unwrap(),
        4
    );
    assert_eq!(blobs.size(&key("photos/7/av1/a.jpg")).await.unwrap(), None);
    assert_eq!(
        blobs.size(&key("archives/7/av1/z.zip")).await.unwrap(),
        None
    );
    assert_eq!(
        blobs.size(&key("photos/7/av11/x.jpg")).await.unwrap(),
        Some(19),
        "a sibling with a longer name stays"
    );
    assert_eq!(
        blobs
            .size(&key("models/7/av1/lora.safetensors"))
            .await
            .unwrap(),
        Some(29),
        "another prefix of the same avatar stays"
    );
    assert_eq!(
        blobs
            .delete_prefixes(&prefixes(&["photos/7/av1/", "archives/7/av1/"]))
            .await
            .unwrap(),
        0,
        "idempotent"
    );
    assert_eq!(blobs.delete_prefixes(&[]).await.unwrap(), 0);
}

pub async fn delete_removes_one_object_idempotently(blobs: &dyn BlobStore) {
    let (a, b) = (key("photos/8/av/a.jpg"), key("photos/8/av/ab.jpg"));
    for k in [&a, &b] {
        blobs
            .put(k, body(vec![1, 2, 3]), "image/jpeg")
            .await
            .unwrap();
    }
    blobs.delete(&a).await.unwrap();
    assert_eq!(blobs.size(&a).await.unwrap(), None);
    assert_eq!(blobs.size(&b).await.unwrap(), Some(3), "only that key");
    blobs
        .delete(&a)
        .await
        .expect("deleting a missing object is fine");
}

pub async fn a_failed_upload_stores_nothing(blobs: &dyn BlobStore) {
    for (name, good) in [("small", 1000), ("multipart", 12 * 1024 * 1024)] {
        let k = key(&format!("photos/9/f/{name}.jpg"));
        assert!(
            blobs
                .put(&k, Box::pin(FailingBody { remaining: good }), "image/jpeg")
                .await
                .is_err()
        );
        assert_eq!(
            blobs.size(&k).await.unwrap(),
            None,
            "{name}: nothing stored"
        );
    }
}

pub async fn presigned_urls_name_the_object(blobs: &dyn BlobStore) -> url::Url {
    let k = key("archives/3/x/attempt.zip");
    blobs
        .put(&k, body(b"PK zip".to_vec()), "application/zip")
        .await
        .unwrap();
    let url = blobs.presign_get(&k, secs(3600)).await.unwrap();
    assert!(url.path().ends_with("archives/3/x/attempt.zip"), "{url}");
    assert!(
        url.query().is_some_and(|q| !q.is_empty()),
        "carries a signature: {url}"
    );
    url
}

/// 25 objects of 5 MB each, zipped in a stream and unpacked byte-identical.
pub async fn zip_of_25_photos_unpacks_identically(blobs: Arc<dyn BlobStore>) {
    const COUNT: usize = 25;
    const SIZE: usize = 5 * 1000 * 1000;
    let owner = UserId(25);
    let avatar = AvatarId::new();
    let mut sources = Vec::new();
    let mut digests = Vec::new();
    for i in 0..COUNT {
        let bytes = random_bytes(i as u64, SIZE);
        digests.push(Sha256::digest(&bytes));
        let k = blob_keys::photo(owner, avatar, &format!("unique-{i}"), ImageFormat::Jpeg);
        blobs.put(&k, body(bytes), "image/jpeg").await.unwrap();
        sources.push(ZipSource {
            key: k,
            name: format!("photo_{:02}.jpg", i + 1),
        });
    }
    let dest = blob_keys::archive(owner, avatar, AttemptId::new());
    let summary = fluxbot::zip_stream::zip_blobs(&*blobs, &sources, &dest)
        .await
        .unwrap();
    assert_eq!(summary.entries, COUNT as u32);
    assert_eq!(summary.content_bytes, (COUNT * SIZE) as u64);
    assert_eq!(
        blobs.size(&dest).await.unwrap(),
        Some(summary.archive_bytes)
    );

    let archive = read_all(&*blobs, &dest).await;
    assert_eq!(archive.len() as u64, summary.archive_bytes);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(archive)).expect("a valid zip");
    assert_eq!(zip.len(), COUNT);
    for (i, digest) in digests.iter().enumerate() {
        let mut entry = zip.by_index(i).unwrap();
        assert_eq!(entry.name(), format!("photo_{:02}.jpg", i + 1));
        let mut content = Vec::with_capacity(SIZE);
        std::io::Read::read_to_end(&mut entry, &mut content).unwrap();
        assert_eq!(
            &Sha256::digest(&content),
            digest,
            "entry {i} is byte-identical"
        );
    }
}

pub async fn a_zip_with_a_missing_source_stores_nothing(blobs: &dyn BlobStore) {
    let present = key("photos/4/z/present.jpg");
    blobs
        .put(
            &present,
            body(random_bytes(1, 3 * 1024 * 1024)),
            "image/jpeg",
        )
        .await
        .unwrap();
    let sources = [
        ZipSource {
            key: present,
            name: "1.jpg".into(),
        },
        ZipSource {
            key: key("photos/4/z/gone.jpg"),
            name: "2.jpg".into(),
        },
    ];
    let dest = key("archives/4/z/a.zip");
    assert!(matches!(
        fluxbot::zip_stream::zip_blobs(blobs, &sources, &dest).await,
        Err(BlobError::NotFound(_))
    ));
    assert_eq!(
        blobs.size(&dest).await.unwrap(),
        None,
        "no truncated archive"
    );
}

/// A body that yields `good` bytes, then fails.
struct FailingBody {
    remaining: usize,
}

impl AsyncRead for FailingBody {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.remaining == 0 {
            return Poll::Ready(Err(std::io::Error::other("connection reset by Telegram")));
        }
        let n = self.remaining.min(buf.remaining()).min(64 * 1024);
        buf.put_slice(&vec![0xAB; n]);
        self.remaining -= n;
        Poll::Ready(Ok(()))
    }
}
