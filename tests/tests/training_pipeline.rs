//! The training pipeline end to end: avatars made through the real conversation, launched by
//! the real SQS handler, completed by signed webhooks into the real fal-webhook handler or by
//! the sweep; AWS adapters against moto, fake fal.ai and fake Telegram behind their URLs.

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fluxbot::domain::{
    AttemptId, AvatarId, AvatarState, AvatarStatus, FailureReason, OutcomeNotice, Timestamp,
    TrainedModel, UserId, WorkRef, WorkState,
};
use fluxbot::fal::webhook_token::WebhookRoute;
use fluxbot::jobs::Job;
use fluxbot::ports::BlobKey;
use fluxbot::telegram::callback::Callback;
use fluxbot_tests::fake_fal::{lora_bytes, ok_webhook};
use fluxbot_tests::fake_telegram::updates::User;
use fluxbot_tests::flaky_store::FlakyStore;
use fluxbot_tests::pipeline_world::PipelineWorld;
use serde_json::json;
use tokio::io::AsyncReadExt;

const ANNA: User = User {
    id: 6_000_001,
    language_code: "en",
};

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

/// A portrait avatar of 10 photos taken through the conversation and the launch worker: the
/// avatar as queued, and its one submission at the fake fal.ai.
async fn submitted(
    w: &PipelineWorld,
    user: User,
) -> (fluxbot::domain::Avatar, fluxbot_tests::fake_fal::Submission) {
    let avatar = w
        .bot
        .queued_avatar(user, "portrait", "Anna", "fast", 10)
        .await;
    w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    (avatar, w.fal.submissions()[0].clone())
}

/// Messages the bot sent (not edits) whose text contains `needle`.
fn sent_containing(w: &PipelineWorld, needle: &str) -> usize {
    w.bot
        .telegram
        .calls_of("sendMessage")
        .iter()
        .filter(|c| c.ok && c.params["text"].as_str().unwrap_or("").contains(needle))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_submits_once_and_a_signed_webhook_completes_with_one_notice() {
    let w = PipelineWorld::new(false).await;
    let avatar = w
        .bot
        .queued_avatar(ANNA, "portrait", "Anna", "balanced", 10)
        .await;

    let (received, response) = w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    assert_eq!((received, response.batch_item_failures.len()), (1, 0));
    let subs = w.fal.submissions();
    assert_eq!(subs.len(), 1);
    let sub = &subs[0];
    assert_eq!(sub.endpoint, "fal-ai/flux-lora-portrait-trainer");
    let archive_url = sub.input["images_data_url"].as_str().unwrap().to_owned();
    assert_eq!(
        sub.input,
        json!({
            "images_data_url": archive_url,
            "trigger_phrase": avatar.trigger_phrase().as_str(),
            "steps": 1000,
            "learning_rate": 0.0002,
            "multiresolution_training": true,
            "subject_crop": true,
            "create_masks": false,
            "data_archive_format": "zip",
        })
    );
    // The presigned URL really serves the archive: ten photos, named by position.
    let zip_bytes = reqwest::get(&archive_url)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes.to_vec())).unwrap();
    assert_eq!(zip.len(), 10);
    let mut first = Vec::new();
    zip.by_name("01.jpg")
        .unwrap()
        .read_to_end(&mut first)
        .unwrap();
    assert_eq!(&first[..3], &[0xFF, 0xD8, 0xFF], "a JPEG");
    let webhook = sub.webhook.clone().expect("submitted with a webhook");
    assert!(webhook.starts_with(
        "https://fluxapi.execute-api.eu-central-1.amazonaws.com/fal/webhook?kind=training&owner=6000001&avatar="
    ));
    assert!(
        webhook.contains("&token="),
        "bound to the record: {webhook}"
    );
    // fal is asked to expire its copies and not to keep the payloads.
    assert_eq!(
        sub.lifecycle.as_deref(),
        Some(r#"{"expiration_duration_seconds":86400}"#)
    );
    assert_eq!(sub.store_io.as_deref(), Some("0"));

    let stored = w.avatar_now(&avatar).await;
    let photos = w.pipeline.store.list_photos(avatar.id).await.unwrap();
    let AvatarState::Work(WorkState::Running { request, .. }) = &stored.state else {
        panic!("{:?}", stored.state)
    };
    assert_eq!(request.request_id, sub.request_id);
    assert!(
        w.pipeline
            .store
            .get_fal_request(&sub.request_id)
            .await
            .unwrap()
            .is_some()
    );
    let status = w
        .bot
        .telegram
        .message(ANNA.id, stored.status_message.unwrap().message_id);
    status.says("training started, usually 5-15 min");

    // A duplicate delivery of the launch pays nothing more.
    let job = Job::Launch(fluxbot::domain::WorkRef::training(avatar.owner, avatar.id));
    w.enqueue(&job).await;
    let (received, response) = w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    assert_eq!((received, response.batch_item_failures.len()), (1, 0));
    assert_eq!(w.fal.submissions().len(), 1, "never two paid submissions");

    // fal.ai delivers the result, signed.
    let body = ok_webhook(&sub.request_id, &w.fal.portrait_result(&sub.request_id));
    let now = Timestamp::now().as_secs();
    let answer = w
        .post_webhook(
            &webhook,
            w.fal.signed_headers(&sub.request_id, &body, now),
            &body,
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let done = w.avatar_now(&avatar).await;
    match &done.state {
        AvatarState::Work(WorkState::Completed { output, .. }) => {
            let cdn = w.fal.cdn_origin();
            let stored_key = format!("models/{}/{}/lora.safetensors", avatar.owner, avatar.id);
            assert_eq!(
                output.model,
                TrainedModel::Lora {
                    lora_url: format!(
                        "{cdn}/files/{}/pytorch_lora_weights.safetensors",
                        sub.request_id
                    ),
                    config_url: Some(format!("{cdn}/files/{}/config.json", sub.request_id)),
                    stored_key: Some(stored_key.clone()),
                }
            );
            assert_eq!(output.raw_response, body, "fal's response kept as received");
            // What we paid for is ours: the same bytes in our bucket.
            let mut kept = Vec::new();
            w.pipeline
                .blobs
                .get(&BlobKey::new(stored_key).unwrap())
                .await
                .unwrap()
                .read_to_end(&mut kept)
                .await
                .unwrap();
            assert_eq!(kept, lora_bytes(&sub.request_id));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(done.notice, OutcomeNotice::Sent);
    assert_eq!(sent_containing(&w, "is trained and ready"), 1);
    let notice = w.bot.telegram.last_message(ANNA.id);
    assert!(notice.button("Open avatar").is_some());
    // One tap from "ready" to drawing: the Generate button opens the prompt screen.
    let generate = Callback::Generate(avatar.id);
    assert_eq!(notice.button("Generate"), Some(generate.encode().as_str()));
    w.bot.tap_last(ANNA, generate).await;
    assert!(
        w.bot
            .telegram
            .last_message(ANNA.id)
            .button("Back")
            .is_some(),
        "the generate screen"
    );
    // The archive and (by default) the photos are gone, and so are the photo records with
    // Telegram's file ids; the avatar keeps its count.
    assert_eq!(photos.len(), 10);
    for photo in &photos {
        assert_eq!(w.pipeline.blobs.size(&photo.blob_key).await.unwrap(), None);
    }
    assert!(
        w.pipeline
            .store
            .list_photos(avatar.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(done.photo_count, 10);
    assert_eq!(
        w.pipeline
            .blobs
            .delete_prefixes(&[format!("archives/{}/{}/", avatar.owner, avatar.id)])
            .await
            .unwrap(),
        0,
        "no archive left"
    );

    // fal.ai retries the same webhook: nothing changes, nobody is told twice.
    let answer = w
        .post_webhook(
            &webhook,
            w.fal.signed_headers(&sub.request_id, &body, now),
            &body,
        )
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(sent_containing(&w, "is trained and ready"), 1);
    let again = w.avatar_now(&avatar).await;
    assert_eq!(again.version, done.version);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_authenticated_before_they_are_read() {
    let w = PipelineWorld::new(false).await;
    let url = w.webhook_url_for(&WebhookRoute {
        work: WorkRef::training(UserId(ANNA.id), AvatarId::new()),
        attempt: AttemptId::new(),
        endpoint: "fal-ai/flux-pro-trainer".into(),
    });
    let body = ok_webhook("req-x", r#"{"finetune_id":"ft"}"#);
    let now = Timestamp::now().as_secs();
    let cases = [
        (
            "forged",
            w.fal.forged_headers("req-x", &body, now),
            body.clone(),
        ),
        (
            "stale",
            w.fal.signed_headers("req-x", &body, now - 301),
            body.clone(),
        ),
        (
            "tampered",
            w.fal.signed_headers("req-x", &body, now),
            body.replace("ft", "evil"),
        ),
        (
            "unsigned",
            json!({"content-type": "application/json"}),
            body.clone(),
        ),
    ];
    for (name, headers, body) in cases {
        let answer = w.post_webhook(&url, headers, &body).await;
        assert_eq!(answer.status, 401, "{name}");
    }
    // Signed by fal, but to a URL we never issued (no token, a forged one, another
    // avatar's ids under this token): 401, the body never read.
    let plain = fluxbot_tests::pipeline_world::WEBHOOK_URL.to_string();
    // The token with its last character changed (to one it is not: a forged "0" on a
    // token that ends in "0" would be the real token).
    let last = if url.ends_with('0') { 'A' } else { '0' };
    let forged_token = format!("{}{last}", &url[..url.len() - 1]);
    let other_owner = url.replacen(&format!("owner={}", ANNA.id), "owner=1", 1);
    for (name, target) in [
        ("no token", plain),
        ("bad token", forged_token),
        ("other owner", other_owner),
    ] {
        let answer = w
            .post_webhook(&target, w.fal.signed_headers("req-x", &body, now), &body)
            .await;
        assert_eq!(answer.status, 401, "{name}");
    }
    // Signed but not a fal webhook body: 400. Signed for another request id: 400.
    let junk = "{\"hello\": 1}";
    let answer = w
        .post_webhook(&url, w.fal.signed_headers("req-x", junk, now), junk)
        .await;
    assert_eq!(answer.status, 400);
    let answer = w
        .post_webhook(&url, w.fal.signed_headers("req-y", &body, now), &body)
        .await;
    assert_eq!(answer.status, 400);
    // Signed under the gateway attempt's id (fal retried internally): accepted.
    let retried = r#"{"request_id":"req-x","gateway_request_id":"gw-2","status":"OK","payload":{"finetune_id":"ft"}}"#;
    let answer = w
        .post_webhook(&url, w.fal.signed_headers("gw-2", retried, now), retried)
        .await;
    assert_eq!(answer.status, 200);
    // Genuine, but for a request nobody knows: fal's status API (our key) says it is not
    // ours; acknowledged, nothing done.
    let answer = w
        .post_webhook(&url, w.fal.signed_headers("req-x", &body, now), &body)
        .await;
    assert_eq!(answer.status, 200);
    assert!(w.fal.status_queries().contains(&"req-x".to_owned()));

    let health = w.get_health().await;
    assert_eq!(health.status, 200, "{}", health.body);
    let json = health.json();
    assert_eq!(json["status"], "ok");
    assert_eq!(json["checks"]["fal_webhook_keys"], "ok (2 keys)");
    assert_eq!(json["config"]["fal_webhook_secret_set"], true);
    assert!(
        !health
            .body
            .contains(fluxbot_tests::pipeline_world::WEBHOOK_SECRET)
    );
    assert!(!health.body.contains("test-key-secret") && !health.body.contains("AAFake"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_recovers_a_lost_webhook_and_the_late_one_changes_nothing() {
    let w = PipelineWorld::new(false).await;
    let avatar = w
        .bot
        .queued_avatar(ANNA, "portrait", "Anna", "fast", 10)
        .await;
    w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    let sub = w.fal.submissions()[0].clone();
    w.fal
        .complete(&sub.request_id, &w.fal.portrait_result(&sub.request_id));

    let later = Timestamp::now().plus(Duration::from_secs(600));
    let report = w.pipeline.sweep(later, deadline()).await.unwrap();
    assert_eq!((report.completed, report.errors), (1, 0), "{report:?}");
    let done = w.avatar_now(&avatar).await;
    assert_eq!(done.status(), AvatarStatus::Completed);
    assert_eq!(sent_containing(&w, "is trained and ready"), 1);
    assert!(
        done.sweep_due_at().is_none(),
        "out of the in-flight index once told"
    );

    let answer = w
        .deliver_ok(&sub, &w.fal.portrait_result(&sub.request_id))
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        sent_containing(&w, "is trained and ready"),
        1,
        "one notice per outcome"
    );
    let report = w.pipeline.sweep(later, deadline()).await.unwrap();
    assert_eq!(report.checked, 0, "nothing left in flight");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_shows_progress_once_a_minute_and_times_out_stuck_trainings() {
    let w = PipelineWorld::new(false).await;
    let avatar = w
        .bot
        .queued_avatar(ANNA, "portrait", "Anna", "quality", 10)
        .await;
    w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    let sub = w.fal.submissions()[0].clone();
    w.fal.set_status(&sub.request_id, json!({"status": "IN_PROGRESS", "request_id": sub.request_id,
        "logs": [{"message": "Training step 300/2500", "level": "INFO", "source": "user", "timestamp": "2026-11-21T08:00:00Z"}]}));
    let status_message = avatar.status_message.unwrap().message_id;

    let t1 = Timestamp::now().plus(Duration::from_secs(600));
    let report = w.pipeline.sweep(t1, deadline()).await.unwrap();
    assert_eq!(report.progress_shown, 1, "{report:?}");
    let shown = w.bot.telegram.message(ANNA.id, status_message);
    assert!(shown.text.contains("step 300/2500 (12%)"), "{}", shown.text);
    let report = w
        .pipeline
        .sweep(t1.plus(Duration::from_secs(30)), deadline())
        .await
        .unwrap();
    assert_eq!(report.progress_shown, 0, "at most once a minute");

    let stuck = Timestamp::now().plus(Duration::from_secs(4 * 3600));
    let report = w.pipeline.sweep(stuck, deadline()).await.unwrap();
    assert_eq!(report.timed_out, 1, "{report:?}");
    assert_eq!(w.fal.cancels(), vec![sub.request_id.clone()]);
    let failed = w.avatar_now(&avatar).await;
    assert!(matches!(
        failed.state,
        AvatarState::Work(WorkState::Failed {
            reason: FailureReason::TimedOut,
            ..
        })
    ));
    assert_eq!(sent_containing(&w, "took too long and was stopped"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_submission_fails_the_avatar_and_says_why() {
    let w = PipelineWorld::new(false).await;
    let avatar = w.bot.queued_avatar(ANNA, "style", "Ink", "fast", 5).await;
    w.fal.reject_next_submit(
        422,
        json!({"detail": [{"loc": ["body", "images_data_url"],
        "msg": "Could not download the archive", "type": "file_download_error"}]}),
    );
    let (_, response) = w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "permanent: not retried"
    );
    let failed = w.avatar_now(&avatar).await;
    assert!(
        matches!(&failed.state, AvatarState::Work(WorkState::Failed { reason: FailureReason::Rejected { detail }, .. })
        if detail.contains("Could not download the archive")),
        "{:?}",
        failed.state
    );
    assert_eq!(sent_containing(&w, "Could not download the archive"), 1);
    assert_eq!(failed.notice, OutcomeNotice::Sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_whose_record_was_lost_is_adopted_and_never_resubmitted() {
    let w = PipelineWorld::new(false).await;
    let avatar = w
        .bot
        .queued_avatar(ANNA, "portrait", "Anna", "fast", 10)
        .await;
    // Every try to record the request id fails (the worker might as well have died).
    let flaky = w.with_store(Arc::new(FlakyStore::failing_put_fal_request(
        w.pipeline.store.clone(),
        3,
    )));
    let (_, response) = w.run_queue(&flaky, Duration::from_secs(2)).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "nothing to retry: it was paid for"
    );
    assert_eq!(w.fal.submissions().len(), 1);
    let sending = w.avatar_now(&avatar).await;
    assert_eq!(
        sending.status(),
        AvatarStatus::Sending,
        "the intent is kept: it was paid for"
    );

    // A redelivered launch, and sweeps long after any lease, submit nothing.
    let job = Job::Launch(fluxbot::domain::WorkRef::training(avatar.owner, avatar.id));
    w.enqueue(&job).await;
    let (received, response) = w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    assert_eq!((received, response.batch_item_failures.len()), (1, 0));
    for minutes in [11, 30, 90] {
        let later = Timestamp::now().plus(Duration::from_secs(minutes * 60));
        let report = w.pipeline.sweep(later, deadline()).await.unwrap();
        assert_eq!(report.relaunched, 0, "{report:?}");
    }
    assert_eq!(w.fal.submissions().len(), 1);

    // The result arrives; its request id was never recorded: the token routes it, fal's
    // status API (our key) confirms it is ours.
    let sub = w.fal.submissions()[0].clone();
    assert!(
        w.pipeline
            .store
            .get_fal_request(&sub.request_id)
            .await
            .unwrap()
            .is_none()
    );
    let answer = w
        .deliver_ok(&sub, &w.fal.portrait_result(&sub.request_id))
        .await;
    assert_eq!(answer.status, 200);
    let done = w.avatar_now(&avatar).await;
    assert_eq!(done.status(), AvatarStatus::Completed);
    assert_eq!(sent_containing(&w, "is trained and ready"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_for_deleted_avatars_are_ignored() {
    let w = PipelineWorld::new(false).await;
    let avatar = w
        .bot
        .queued_avatar(ANNA, "portrait", "Anna", "fast", 10)
        .await;
    w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    let sub = w.fal.submissions()[0].clone();
    // The user deletes the avatar while it trains.
    w.bot.say(ANNA, "/avatars").await;
    let list = w.bot.telegram.last_message(ANNA.id).message_id;
    w.bot.tap(ANNA, list, Callback::Delete(avatar.id)).await;
    w.bot
        .tap(ANNA, list, Callback::ConfirmDelete(avatar.id))
        .await;
    assert!(w.bot.avatars(ANNA).await.is_empty());
    // Nothing names it any more: no request record, no photo record, no object.
    assert!(
        w.pipeline
            .store
            .get_fal_request(&sub.request_id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        w.pipeline
            .store
            .list_photos(avatar.id)
            .await
            .unwrap()
            .is_empty()
    );
    for prefix in fluxbot::domain::blob_keys::avatar_prefixes(avatar.owner, avatar.id) {
        assert_eq!(
            w.pipeline
                .blobs
                .delete_prefixes(std::slice::from_ref(&prefix))
                .await
                .unwrap(),
            0,
            "{prefix}"
        );
    }
    // Its fal.ai training is cancelled by the launch worker (which holds the fal key).
    let (received, response) = w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    assert_eq!((received, response.batch_item_failures.len()), (1, 0));
    assert_eq!(w.fal.cancels(), vec![sub.request_id.clone()]);
    // A late result changes nothing.
    let answer = w
        .deliver_ok(&sub, &w.fal.portrait_result(&sub.request_id))
        .await;
    assert_eq!(answer.status, 200);
    assert!(w.bot.avatars(ANNA).await.is_empty(), "nothing resurrected");
    assert_eq!(sent_containing(&w, "is trained and ready"), 0);
    let report = w
        .pipeline
        .sweep(Timestamp::now().plus(Duration::from_secs(600)), deadline())
        .await
        .unwrap();
    assert_eq!(report.checked, 0, "nothing in flight: {report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_mode_trains_for_free_through_the_same_completion() {
    let w = PipelineWorld::new(true).await;
    let avatar = w
        .bot
        .queued_avatar(ANNA, "style", "Ink", "balanced", 5)
        .await;
    let (received, response) = w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    assert_eq!((received, response.batch_item_failures.len()), (1, 0));
    assert!(
        w.fal.submissions().is_empty(),
        "no fal.ai call in test mode"
    );
    let training = w.avatar_now(&avatar).await;
    let AvatarState::Work(WorkState::Running { request, .. }) = &training.state else {
        panic!("{:?}", training.state)
    };
    assert!(request.request_id.starts_with("test_"));

    // The simulated result arrives after FAL_MOCK_TRAINING_DURATION (1 s) as a delayed job.
    let (received, response) = w.run_queue(&w.pipeline, Duration::from_secs(10)).await;
    assert_eq!((received, response.batch_item_failures.len()), (1, 0));
    let done = w.avatar_now(&avatar).await;
    match &done.state {
        AvatarState::Work(WorkState::Completed { output, .. }) => assert!(matches!(&output.model,
            TrainedModel::Lora { lora_url, stored_key: Some(key), .. }
                if lora_url.starts_with("data:") && key.starts_with("models/"))),
        other => panic!("{other:?}"),
    }
    assert_eq!(sent_containing(&w, "is trained and ready"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn style_happy_path_with_the_fast_lora_trainer() {
    let w = PipelineWorld::new(false).await;
    let avatar = w
        .bot
        .queued_avatar(ANNA, "style", "Ink", "quality", 5)
        .await;
    let (_, response) = w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    assert!(response.batch_item_failures.is_empty());
    let sub = w.fal.submissions()[0].clone();
    assert_eq!(sub.endpoint, "fal-ai/flux-lora-fast-training");
    let archive_url = sub.input["images_data_url"].as_str().unwrap().to_owned();
    assert_eq!(
        sub.input,
        json!({
            "images_data_url": archive_url,
            "trigger_word": avatar.trigger_phrase().as_str(),
            "steps": 1000,
            "is_style": true,
            "create_masks": false,
            "data_archive_format": "zip",
        })
    );
    let zip_bytes = reqwest::get(&archive_url)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        zip::ZipArchive::new(std::io::Cursor::new(zip_bytes.to_vec()))
            .unwrap()
            .len(),
        5
    );
    let lora = w
        .fal
        .host_file("koala/style_lora.safetensors", vec![7; 4096]);
    let config = w.fal.host_file("koala/config.json", b"{}".to_vec());
    let payload = format!(
        r#"{{"diffusers_lora_file":{{"url":"{lora}","content_type":"application/octet-stream","file_name":"pytorch_lora_weights.safetensors","file_size":4096}},"config_file":{{"url":"{config}","content_type":"application/octet-stream","file_name":"config.json","file_size":2}},"debug_preprocessed_output":null}}"#
    );
    let answer = w.deliver_ok(&sub, &payload).await;
    assert_eq!(answer.status, 200);
    let done = w.avatar_now(&avatar).await;
    assert!(
        matches!(&done.state, AvatarState::Work(WorkState::Completed { output, .. })
        if output.model == TrainedModel::Lora {
            lora_url: lora.clone(),
            config_url: Some(config.clone()),
            stored_key: Some(format!("models/{}/{}/lora.safetensors", avatar.owner, avatar.id)),
        })
    );
    assert_eq!(sent_containing(&w, "is trained and ready"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_key_fails_the_avatar_and_a_500_is_never_resubmitted() {
    let w = PipelineWorld::new(false).await;
    let first = w
        .bot
        .queued_avatar(ANNA, "portrait", "Anna", "fast", 10)
        .await;
    w.fal
        .reject_next_submit(401, json!({"detail": "Unauthorized"}));
    let (_, response) = w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "a bad key is not retried"
    );
    let failed = w.avatar_now(&first).await;
    assert!(matches!(
        failed.state,
        AvatarState::Work(WorkState::Failed {
            reason: FailureReason::Unauthorized,
            ..
        })
    ));
    assert_eq!(sent_containing(&w, "misconfigured"), 1);

    // A second avatar (the first one's training is over), and fal.ai answers 500 once.
    let second = w
        .bot
        .queued_avatar(ANNA, "portrait", "Bob", "fast", 10)
        .await;
    w.fal.reject_next_submit(
        500,
        json!({"detail": "Internal error", "error_type": "internal_error"}),
    );
    let (_, response) = w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    assert!(response.batch_item_failures.is_empty(), "nothing to retry");
    // A 5xx does not prove fal did not queue it: never submitted again; the avatar waits.
    let waiting = w.avatar_now(&second).await;
    assert_eq!(waiting.status(), AvatarStatus::Sending);
    let later = Timestamp::now().plus(Duration::from_secs(3600));
    let report = w.pipeline.sweep(later, deadline()).await.unwrap();
    assert_eq!(report.relaunched, 0);
    assert!(w.fal.submissions().is_empty(), "no second submit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_and_sweep_racing_notify_once() {
    let w = PipelineWorld::new(false).await;
    let avatar = w
        .bot
        .queued_avatar(ANNA, "portrait", "Anna", "fast", 10)
        .await;
    w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    let sub = w.fal.submissions()[0].clone();
    w.fal
        .complete(&sub.request_id, &w.fal.portrait_result(&sub.request_id));
    let body = ok_webhook(&sub.request_id, &w.fal.portrait_result(&sub.request_id));
    let headers = w
        .fal
        .signed_headers(&sub.request_id, &body, Timestamp::now().as_secs());
    let later = Timestamp::now().plus(Duration::from_secs(600));
    let (answer, report) = tokio::join!(
        w.post_webhook(sub.webhook.as_deref().unwrap(), headers, &body),
        w.pipeline.sweep(later, deadline()),
    );
    assert_eq!(answer.status, 200);
    report.unwrap();
    let done = w.avatar_now(&avatar).await;
    assert_eq!(done.status(), AvatarStatus::Completed);
    assert_eq!(
        sent_containing(&w, "is trained and ready"),
        1,
        "exactly one notice"
    );
}

/// Telegram failing the outcome notice in each way it can (a 429 longer than a call may wait,
/// its own 5xx, a proxy's HTML error page, the user having blocked the bot): the outcome is
/// recorded whatever Telegram says, the sweep sends a transient failure's notice once its
/// claim lapses, exactly once however many sweeps run, and a blocked user's is settled
/// without a message. (A timeout is the same transient class as a 5xx, and waits 17 s.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outcome_notice_telegram_fails_is_sent_once_or_settled() {
    let faults = [
        (
            "429 beyond the retry budget",
            429,
            json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 60",
                   "parameters": {"retry_after": 60}}),
            1,
        ),
        (
            "500",
            500,
            json!({"ok": false, "error_code": 500, "description": "Internal Server Error"}),
            1,
        ),
        (
            "502 HTML page",
            502,
            json!("<html><body><h1>502 Bad Gateway</h1></body></html>"),
            1,
        ),
        (
            "403 blocked",
            403,
            json!({"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}),
            0,
        ),
    ];
    for (i, (fault, status, body, expected)) in faults.into_iter().enumerate() {
        let w = PipelineWorld::new(false).await;
        let user = User {
            id: 6_000_200 + i as i64,
            language_code: "en",
        };
        let (avatar, sub) = submitted(&w, user).await;
        w.bot.telegram.inject_error("sendMessage", status, body);
        let answer = w
            .deliver_ok(&sub, &w.fal.portrait_result(&sub.request_id))
            .await;
        assert_eq!(answer.status, 200, "{fault}: the outcome is recorded");
        assert_eq!(sent_containing(&w, "is trained and ready"), 0, "{fault}");
        let done = w.avatar_now(&avatar).await;
        assert_eq!(done.status(), AvatarStatus::Completed, "{fault}");

        // Sweeps before and after the notice's claim lapses.
        w.sweeps_at(&[1, 3, 6]).await;
        assert_eq!(
            sent_containing(&w, "is trained and ready"),
            expected,
            "{fault}"
        );
        assert_eq!(
            w.avatar_now(&avatar).await.notice,
            OutcomeNotice::Sent,
            "{fault}: settled"
        );
    }
}

/// A notice whose send times out: unknown to the sender whether Telegram acted on it. The
/// sweep sends it again once the claim lapses, so a send that was stuck before Telegram
/// gives exactly one message, and one whose answer alone was lost gives two: notices are at
/// least once (the Bot API has no idempotency key), never lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outcome_notice_whose_send_times_out_is_sent_again_by_the_sweep() {
    for (i, (carried_out, expected)) in [(false, 1), (true, 2)].into_iter().enumerate() {
        let w = PipelineWorld::new(false)
            .await
            .with_telegram_timeout(Duration::from_secs(1));
        let user = User {
            id: 6_000_300 + i as i64,
            language_code: "en",
        };
        let (avatar, sub) = submitted(&w, user).await;
        w.bot
            .telegram
            .stall("sendMessage", Duration::from_secs(5), carried_out);
        let answer = w
            .deliver_ok(&sub, &w.fal.portrait_result(&sub.request_id))
            .await;
        assert_eq!(answer.status, 200, "carried out {carried_out}: recorded");
        let done = w.avatar_now(&avatar).await;
        assert_eq!(done.status(), AvatarStatus::Completed);
        assert!(
            matches!(done.notice, OutcomeNotice::Due { .. }),
            "a timed-out send leaves the notice due: {:?}",
            done.notice
        );
        assert_eq!(
            sent_containing(&w, "is trained and ready"),
            expected - 1,
            "carried out {carried_out}"
        );

        w.sweeps_at(&[1, 3, 6]).await;
        assert_eq!(
            sent_containing(&w, "is trained and ready"),
            expected,
            "carried out {carried_out}"
        );
        assert_eq!(w.avatar_now(&avatar).await.notice, OutcomeNotice::Sent);
        assert_eq!(w.fal.submissions().len(), 1, "one paid submission");
    }
}
