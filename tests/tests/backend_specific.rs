//! What only one backend can show: a presigned S3 URL really serves the object over HTTP;
//! the embedded backend keeps its data across a restart and verifies its own signed URLs.

use std::time::Duration;

use fluxbot::adapters::embedded::LocalBlobs;
use fluxbot::domain::{AvatarKind, Timestamp, UserId};
use fluxbot::ports::{BlobKey, QueueDelay};
use fluxbot_tests::{backends, conformance as c};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presigned_s3_urls_serve_the_object() {
    let backend = backends::aws().await;
    let url = c::presigned_urls_name_the_object(&*backend.blobs).await;
    let response = reqwest::get(url.clone()).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().as_ref(), b"PK zip");

    // moto does not check SigV4 signatures, so expiry and signature can only be checked by
    // shape here: a one-hour URL, signed, with no credentials other than the signature.
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(query.get("X-Amz-Expires").map(String::as_str), Some("3600"));
    assert_eq!(query.get("X-Amz-Signature").map(String::len), Some(64));
    assert_eq!(
        query.get("X-Amz-Algorithm").map(String::as_str),
        Some("AWS4-HMAC-SHA256")
    );
}

#[tokio::test]
async fn objects_are_encrypted_at_rest_in_s3() {
    let backend = backends::aws().await;
    let (clients, resources) = backend.aws.as_ref().unwrap();
    let key = BlobKey::new("photos/1/enc/a.jpg").unwrap();
    backend
        .blobs
        .put(&key, c::body(vec![1; 10]), "image/jpeg")
        .await
        .unwrap();
    let head = clients
        .s3
        .head_object()
        .bucket(&resources.bucket_name)
        .key(key.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.server_side_encryption().map(|s| s.as_str()),
        Some("AES256")
    );
    assert_eq!(head.content_type(), Some("image/jpeg"));
}

#[tokio::test]
async fn embedded_data_survives_a_restart() {
    let first = backends::embedded().await;
    let owner = UserId(77);
    let avatar = c::collecting(&*first.store, owner).await;
    first
        .store
        .add_photo(&c::photo(&avatar, "keep", b"bytes"), 20)
        .await
        .unwrap();
    first
        .launches
        .send("queued before restart", QueueDelay::NONE)
        .await
        .unwrap();
    let key = BlobKey::new("photos/77/x/keep.jpg").unwrap();
    first
        .blobs
        .put(&key, c::body(b"photo".to_vec()), "image/jpeg")
        .await
        .unwrap();

    let dir = first.dir.unwrap();
    drop(first.wired);
    let second = backends::embedded_in(dir).await;
    let reread = second
        .store
        .get_avatar(owner, avatar.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((reread.kind, reread.photo_count), (AvatarKind::Portrait, 1));
    assert_eq!(second.store.list_photos(avatar.id).await.unwrap().len(), 1);
    let jobs = second
        .launches
        .receive(10, Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(
        jobs.iter().map(|j| j.body.as_str()).collect::<Vec<_>>(),
        ["queued before restart"]
    );
    assert_eq!(c::read_all(&*second.blobs, &key).await, b"photo");
}

#[tokio::test]
async fn embedded_presigned_urls_verify_and_expire() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = LocalBlobs::open(dir.path(), "http://127.0.0.1:8080/".parse().unwrap()).unwrap();
    let url = c::presigned_urls_name_the_object(&blobs).await;
    let pairs: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    let expires: i64 = pairs["expires"].parse().unwrap();
    let signature = &pairs["signature"];
    let key = "archives/3/x/attempt.zip";
    let now = Timestamp::now();
    assert!(blobs.verify_presigned(key, expires, signature, now));
    assert!(
        !blobs.verify_presigned("archives/3/x/other.zip", expires, signature, now),
        "bound to the key"
    );
    assert!(
        !blobs.verify_presigned(key, expires + 1, signature, now),
        "bound to the expiry"
    );
    assert!(
        !blobs.verify_presigned(key, expires, signature, Timestamp::from_secs(expires)),
        "expires"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(".signing-key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the signing key is private to its owner");
    }
    // A write interrupted by a crash leaves a temporary file; reopening clears it.
    std::fs::write(dir.path().join(".tmp/interrupted-write"), b"half a photo").unwrap();
    // The key survives a reopen, so URLs handed out before a restart stay valid.
    let reopened = LocalBlobs::open(dir.path(), "http://127.0.0.1:8080/".parse().unwrap()).unwrap();
    assert!(reopened.verify_presigned(key, expires, signature, now));
    assert_eq!(
        std::fs::read_dir(dir.path().join(".tmp")).unwrap().count(),
        0,
        "interrupted writes are swept"
    );
    assert_eq!(
        c::read_all(&reopened, &BlobKey::new(key).unwrap()).await,
        b"PK zip",
        "objects stay"
    );
}

/// The functions build their clients with `AwsClients::from_env`; this proves that path honours
/// `AWS_ENDPOINT_URL` and reads the resource names from the environment, by running
/// `from_env_child` in a child process with only environment variables to go on.
#[tokio::test]
async fn aws_clients_from_env_honour_aws_endpoint_url() {
    let backend = backends::aws().await;
    let (_, resources) = backend.aws.as_ref().unwrap();
    let avatar = c::collecting(&*backend.store, UserId(5)).await;
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "from_env_child", "--ignored", "--nocapture"])
        .env("AWS_ENDPOINT_URL", fluxbot_tests::moto::endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("TABLE_NAME", &resources.table_name)
        .env("LAUNCH_QUEUE_URL", &resources.launch_queue_url)
        .env("BUCKET_NAME", &resources.bucket_name)
        .env("S3_FORCE_PATH_STYLE", "true")
        .env("CHILD_AVATAR_ID", avatar.id.to_string())
        .output()
        .unwrap();
    assert!(
        child.status.success(),
        "the child could not reach moto through AWS_ENDPOINT_URL:\n{}{}",
        String::from_utf8_lossy(&child.stdout),
        String::from_utf8_lossy(&child.stderr)
    );
}

#[tokio::test]
#[ignore = "run by aws_clients_from_env_honour_aws_endpoint_url in a child process"]
async fn from_env_child() {
    use fluxbot::adapters::aws::AwsClients;
    use fluxbot::adapters::aws::Resources;
    use fluxbot::config::EnvReader;
    use fluxbot::ports::{AvatarStore, BlobStore, JobQueue};
    let resources = EnvReader::from_process().load::<Resources>().unwrap();
    let clients = AwsClients::from_env(&resources).await;
    let avatar_id = std::env::var("CHILD_AVATAR_ID").unwrap().parse().unwrap();
    let found = clients
        .store(&resources)
        .get_avatar(UserId(5), avatar_id)
        .await
        .unwrap();
    assert!(found.is_some(), "the avatar the parent stored is visible");
    clients
        .launch_queue(&resources)
        .send("ping", QueueDelay::NONE)
        .await
        .unwrap();
    let key = BlobKey::new("photos/5/env/x.jpg").unwrap();
    let blobs = clients.blobs(&resources);
    blobs
        .put(&key, c::body(vec![7; 3]), "image/jpeg")
        .await
        .unwrap();
}

/// Sources: three 5 MB photos (so the archive's multipart upload has begun) and a missing one.
async fn zip_failing_midway(blobs: &dyn fluxbot::ports::BlobStore) -> BlobKey {
    use fluxbot::ports::ZipSource;
    let mut sources = Vec::new();
    for i in 0..3 {
        let key = BlobKey::new(format!("photos/8/mid/{i}.jpg")).unwrap();
        blobs
            .put(&key, c::body(c::random_bytes(i, 5_000_000)), "image/jpeg")
            .await
            .unwrap();
        sources.push(ZipSource {
            key,
            name: format!("{i}.jpg"),
        });
    }
    let missing = BlobKey::new("photos/8/mid/missing.jpg").unwrap();
    sources.push(ZipSource {
        key: missing,
        name: "3.jpg".into(),
    });
    let dest = BlobKey::new("archives/8/mid/a.zip").unwrap();
    assert!(
        fluxbot::zip_stream::zip_blobs(blobs, &sources, &dest)
            .await
            .is_err()
    );
    assert_eq!(blobs.size(&dest).await.unwrap(), None);
    dest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_zip_aborts_its_multipart_upload() {
    let backend = backends::aws().await;
    zip_failing_midway(&*backend.blobs).await;
    let (clients, resources) = backend.aws.as_ref().unwrap();
    let open = clients
        .s3
        .list_multipart_uploads()
        .bucket(&resources.bucket_name)
        .send()
        .await
        .unwrap();
    assert!(open.uploads().is_empty(), "left open: {:?}", open.uploads());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_zip_leaves_no_temporary_file() {
    let backend = backends::embedded().await;
    zip_failing_midway(&*backend.blobs).await;
    let tmp = backend.dir.as_ref().unwrap().path().join("blobs/.tmp");
    assert_eq!(std::fs::read_dir(tmp).unwrap().count(), 0);
}

/// The SDK sends a write again when its answer is lost; a claim whose first attempt was
/// applied must still be this invocation's claim, not "in progress" until the lease ends
/// (the 200-user load run met it: a photo answered 503 to every redelivery for 90 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_retried_by_the_sdk_after_its_answer_was_lost_is_still_ours() {
    use fluxbot::ports::UpdateClaim;
    use fluxbot_tests::aws_meter::FaultAt;

    let (backend, meter) = backends::aws_metered().await;
    let now = Timestamp::now();
    let lease = now.plus(Duration::from_secs(90));
    // One lost answer: the SDK's second attempt reaches DynamoDB and finds the first's item.
    meter.inject("dynamodb PutItem", 0, 1, FaultAt::After);
    let claim = backend
        .store
        .claim_update(424_242, now, lease)
        .await
        .unwrap();
    assert_eq!(meter.faults_left(), 0, "the fault was met");
    assert_eq!(claim, UpdateClaim::Fresh);

    // Anyone else still finds it taken, then done.
    let again = backend
        .store
        .claim_update(424_242, now, lease)
        .await
        .unwrap();
    assert_eq!(again, UpdateClaim::InProgress);
    backend
        .store
        .complete_update(424_242, now.plus(Duration::from_secs(3600)))
        .await
        .unwrap();
    let after = backend
        .store
        .claim_update(424_242, now, lease)
        .await
        .unwrap();
    assert_eq!(after, UpdateClaim::Done);
}

/// Every attempt of the claim write applied, every answer lost: the SDK gives up and the
/// claim exists. The call takes it back before failing, so Telegram's redelivery claims the
/// update at once instead of meeting "in progress" (503) for the whole lease.
#[tokio::test]
async fn a_claim_whose_every_answer_was_lost_is_taken_back() {
    use fluxbot::ports::UpdateClaim;
    use fluxbot_tests::aws_meter::FaultAt;

    let (backend, meter) = backends::aws_metered().await;
    let now = Timestamp::now();
    let lease = now.plus(Duration::from_secs(90));
    meter.inject("dynamodb PutItem", 0, 3, FaultAt::After);
    let failed = backend.store.claim_update(515_151, now, lease).await;
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(meter.faults_left(), 0, "every attempt met a lost answer");
    let redelivered = backend
        .store
        .claim_update(515_151, now, lease)
        .await
        .unwrap();
    assert_eq!(redelivered, UpdateClaim::Fresh);

    // Another invocation's claim is never taken back by a failure of ours.
    meter.inject("dynamodb PutItem", 0, 3, FaultAt::Before);
    let refused = backend.store.claim_update(515_151, now, lease).await;
    assert!(refused.is_err(), "{refused:?}");
    let still = backend
        .store
        .claim_update(515_151, now, lease)
        .await
        .unwrap();
    assert_eq!(still, UpdateClaim::InProgress, "the first claim stands");
}

/// The sharded in-flight index lists as one: 120 entries spread over every partition,
/// including the one partition of the index before it was sharded, come back oldest first,
/// each once, through pages of any size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sharded_in_flight_index_lists_oldest_first_across_its_partitions() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use fluxbot::adapters::aws::TableLayout;

    let backend = backends::aws().await;
    let (clients, resources) = backend.aws.as_ref().unwrap();
    let s = |v: String| AttributeValue::S(v);
    let mut expected = Vec::new();
    let writes = (0..120u32).map(|i| {
        // Times out of order and some equal, owners and partitions all over.
        let since = Timestamp(1_000 + i64::from((i * 37) % 120));
        let (owner, avatar) = (UserId(i64::from(i % 7) + 1), format!("{:032x}", 10_000 + i));
        let sort_key = format!("{}#T#{}#{avatar}", since.sortable(), owner.0);
        // Every third entry crowds into one shard, so a merge that runs ahead of a shard's
        // unread remainder shows.
        let partition = match i % (TableLayout::IN_FLIGHT_SHARDS as u32 + 1) {
            _ if i % 3 == 0 => "IN_FLIGHT#03".to_owned(),
            16 => "IN_FLIGHT".to_owned(),
            n => format!("IN_FLIGHT#{n:02}"),
        };
        expected.push(sort_key.clone());
        clients
            .dynamodb
            .put_item()
            .table_name(&resources.table_name)
            .item(TableLayout::PARTITION_KEY, s(format!("USER#{}", owner.0)))
            .item(TableLayout::SORT_KEY, s(format!("AVATAR#{avatar}")))
            .item(TableLayout::IN_FLIGHT_PARTITION_KEY, s(partition))
            .item(TableLayout::IN_FLIGHT_SORT_KEY, s(sort_key))
            .send()
    });
    for write in futures::future::join_all(writes).await {
        write.unwrap();
    }
    expected.sort();
    let sort_key = |item: &fluxbot::ports::InFlightItem| match item.work.kind {
        fluxbot::domain::WorkKind::Training => format!(
            "{}#T#{}#{}",
            item.since.sortable(),
            item.work.owner.0,
            item.work.avatar_id
        ),
        other => panic!("only trainings were written: {other:?}"),
    };
    for page in [1, 25, 1000] {
        let mut listed = Vec::new();
        let mut cursor = None;
        for _ in 0..200 {
            let result = backend
                .store
                .list_in_flight(Timestamp(2_000), page, cursor)
                .await
                .unwrap();
            assert!(result.items.len() <= page as usize);
            listed.extend(result.items.iter().map(sort_key));
            cursor = result.next;
            if cursor.is_none() {
                break;
            }
        }
        assert!(cursor.is_none(), "pages of {page} end");
        assert_eq!(listed, expected, "pages of {page}: all, once, oldest first");
    }
    // The cut-off applies in every partition.
    let early = backend
        .store
        .list_in_flight(Timestamp(1_010), 1000, None)
        .await
        .unwrap();
    assert_eq!(
        early.items.iter().map(sort_key).collect::<Vec<_>>(),
        expected
            .iter()
            .filter(|k| k.as_str() < Timestamp(1_010).sortable().as_str())
            .cloned()
            .collect::<Vec<_>>()
    );
}

/// An entry written before the index was sharded is still listed, and its item's next write
/// moves it to its shard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsharded_in_flight_entry_is_listed_and_moves_on_the_next_write() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use fluxbot::adapters::aws::TableLayout;

    let backend = backends::aws().await;
    let (clients, resources) = backend.aws.as_ref().unwrap();
    let owner = c::random_user();
    let now = Timestamp::now();
    let avatar = c::training_since(
        backend.store.as_ref(),
        owner,
        now.minus(Duration::from_secs(600)),
    )
    .await;
    let key = |owner: UserId, id| {
        std::collections::HashMap::from([
            (
                TableLayout::PARTITION_KEY.to_owned(),
                AttributeValue::S(format!("USER#{}", owner.0)),
            ),
            (
                TableLayout::SORT_KEY.to_owned(),
                AttributeValue::S(format!("AVATAR#{id}")),
            ),
        ])
    };
    let partition = || async {
        clients
            .dynamodb
            .get_item()
            .table_name(&resources.table_name)
            .set_key(Some(key(owner, avatar.id)))
            .send()
            .await
            .unwrap()
            .item
            .unwrap()[TableLayout::IN_FLIGHT_PARTITION_KEY]
            .as_s()
            .unwrap()
            .clone()
    };
    let sharded = partition().await;
    assert!(sharded.starts_with("IN_FLIGHT#"), "{sharded}");
    clients
        .dynamodb
        .update_item()
        .table_name(&resources.table_name)
        .set_key(Some(key(owner, avatar.id)))
        .update_expression("SET #p = :old")
        .expression_attribute_names("#p", TableLayout::IN_FLIGHT_PARTITION_KEY)
        .expression_attribute_values(":old", AttributeValue::S("IN_FLIGHT".into()))
        .send()
        .await
        .unwrap();

    let listed = backend.store.list_in_flight(now, 10, None).await.unwrap();
    assert_eq!(listed.items.len(), 1, "{listed:?}");
    // Any write of the item, here one that changes nothing but its version.
    let current = backend
        .store
        .get_avatar(owner, avatar.id)
        .await
        .unwrap()
        .unwrap();
    let moved = backend.store.update_avatar(&current).await.unwrap();
    assert_eq!(partition().await, sharded, "back in its shard");
    let listed = backend
        .store
        .list_in_flight(now.plus(Duration::from_secs(600)), 10, None)
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1, "listed once: {listed:?}");
    assert_eq!(moved.version, current.version + 1);
}

/// The Balance screen's newest entries are one bounded read however long the user's ledger
/// grows (entries are keyed for idempotency, not time; a history item per entry keeps them in
/// time order). Entries written before the history existed still show while there are fewer
/// new ones than asked for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_newest_ledger_entries_are_one_bounded_read() {
    use aws_sdk_dynamodb::types::AttributeValue as V;
    use fluxbot::domain::{Credits, LedgerEntry};
    let (backend, meter) = backends::aws_metered().await;
    let owner = UserId(i64::from(rand::random::<u32>()) + 1);
    // One entry as the first release wrote it: no history item.
    let (clients, resources) = backend.aws.as_ref().unwrap();
    let kind = std::collections::HashMap::from([
        ("kind".to_owned(), V::S("grant".into())),
        ("request_id".to_owned(), V::S("before-history".into())),
    ]);
    clients
        .dynamodb
        .put_item()
        .table_name(&resources.table_name)
        .item("pk", V::S(format!("USER#{owner}")))
        .item("sk", V::S("LEDGER#grant:before-history".into()))
        .item("owner", V::N(owner.0.to_string()))
        .item("kind", V::M(kind))
        .item("delta", V::N("7".into()))
        .item("at", V::N("1000".into()))
        .send()
        .await
        .unwrap();
    let store = backend.store.clone();
    store
        .apply_entry(&LedgerEntry::grant(
            owner,
            "g0",
            Credits(1),
            Timestamp(2_000),
        ))
        .await
        .unwrap()
        .unwrap();
    let few = store.ledger(owner, 5).await.unwrap();
    assert_eq!(
        few.iter().map(LedgerEntry::key).collect::<Vec<_>>(),
        ["grant:g0", "grant:before-history"],
        "newest first, the old one too"
    );
    for i in 1..40 {
        let at = Timestamp(2_000 + i64::from(i) * 1_000);
        store
            .apply_entry(&LedgerEntry::grant(owner, &format!("g{i}"), Credits(1), at))
            .await
            .unwrap()
            .unwrap();
    }
    let before = meter.usage();
    let newest = store.ledger(owner, 5).await.unwrap();
    let read = meter.usage().since(&before);
    assert_eq!(
        newest.iter().map(LedgerEntry::key).collect::<Vec<_>>(),
        [
            "grant:g39",
            "grant:g38",
            "grant:g37",
            "grant:g36",
            "grant:g35"
        ]
    );
    assert_eq!(read.of("dynamodb Query"), 1, "{:?}", read.calls);
    assert_eq!(
        read.read_units, 1.0,
        "five small entries, not forty: {read:?}"
    );
}
