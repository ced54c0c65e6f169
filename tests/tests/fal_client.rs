//! The fal.ai queue client against an HTTP server answering as fal's queue API does: paths
//! and the sub-path rule, the Key header, the webhook parameter, retries of 429/5xx, and the
//! typed errors (401, 422 with its detail list, unknown submit outcome).

use std::time::Duration;

use fluxbot::fal::{CancelOutcome, FalClient, FalError, QueueStatus, RetryPolicy};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "fal-key-id:fal-key-secret";

async fn client() -> (MockServer, FalClient) {
    let server = MockServer::start().await;
    let client = FalClient::new(server.uri().parse().unwrap(), SecretString::from(KEY)).with_retry(
        RetryPolicy {
            attempts: 3,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
        },
    );
    (server, client)
}

#[tokio::test]
async fn submit_sends_the_input_with_key_and_webhook() {
    let (server, client) = client().await;
    let input = json!({"images_data_url": "https://bucket.s3/archive.zip?X-Amz-Signature=abc", "steps": 1000});
    Mock::given(method("POST"))
        .and(path("/fal-ai/flux-lora-portrait-trainer"))
        .and(header("authorization", format!("Key {KEY}").as_str()))
        .and(query_param(
            "fal_webhook",
            "https://api.example.com/fal/webhook?attempt=0192",
        ))
        .and(body_json(&input))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "request_id": "764cabcf-b745-4b3e-ae38-1200304cf45b",
            "response_url": format!("{}/fal-ai/flux-lora-portrait-trainer/requests/764cabcf-b745-4b3e-ae38-1200304cf45b", server.uri()),
            "status_url": format!("{}/fal-ai/flux-lora-portrait-trainer/requests/764cabcf-b745-4b3e-ae38-1200304cf45b/status", server.uri()),
            "cancel_url": format!("{}/fal-ai/flux-lora-portrait-trainer/requests/764cabcf-b745-4b3e-ae38-1200304cf45b/cancel", server.uri()),
            "queue_position": 0
        })))
        .expect(1)
        .mount(&server)
        .await;
    let webhook = "https://api.example.com/fal/webhook?attempt=0192"
        .parse()
        .unwrap();
    let submitted = client
        .submit("fal-ai/flux-lora-portrait-trainer", &input, Some(&webhook))
        .await
        .unwrap();
    assert_eq!(submitted.request_id, "764cabcf-b745-4b3e-ae38-1200304cf45b");
}

#[tokio::test]
async fn status_result_and_cancel_use_the_app_sub_path() {
    let (server, client) = client().await;
    let base = "/fal-ai/flux-pro/requests/req-1";
    Mock::given(method("GET"))
        .and(path(format!("{base}/status")))
        .and(query_param("logs", "1"))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({
            "status": "IN_PROGRESS", "request_id": "req-1",
            "logs": [{"message": "step 120/1000", "level": "INFO", "source": "user", "timestamp": "2026-11-21T08:00:00Z"}]
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(base))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"images":[]}"#))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(format!("{base}/cancel")))
        .respond_with(
            ResponseTemplate::new(202).set_body_json(json!({"status": "CANCELLATION_REQUESTED"})),
        )
        .mount(&server)
        .await;
    let endpoint = "fal-ai/flux-pro/v1.1-ultra-finetuned";
    match client.status(endpoint, "req-1", true).await.unwrap() {
        QueueStatus::InProgress { logs } => assert_eq!(logs[0].message, "step 120/1000"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        client.result(endpoint, "req-1").await.unwrap(),
        r#"{"images":[]}"#
    );
    assert_eq!(
        client.cancel(endpoint, "req-1").await.unwrap(),
        CancelOutcome::Requested
    );
}

#[tokio::test]
async fn completed_with_an_error_and_cancel_too_late() {
    let (server, client) = client().await;
    Mock::given(method("GET"))
        .and(path("/fal-ai/flux-lora/requests/r2/status"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": "COMPLETED", "request_id": "r2", "error": "Invalid status code: 422",
            "error_type": "content_policy_violation"
        })))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/fal-ai/flux-lora/requests/r2/cancel"))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(json!({"status": "ALREADY_COMPLETED"})),
        )
        .mount(&server)
        .await;
    assert_eq!(
        client
            .status("fal-ai/flux-lora", "r2", false)
            .await
            .unwrap(),
        QueueStatus::Completed {
            logs: vec![],
            error: Some("Invalid status code: 422".into()),
            error_type: Some("content_policy_violation".into())
        }
    );
    assert_eq!(
        client.cancel("fal-ai/flux-lora", "r2").await.unwrap(),
        CancelOutcome::AlreadyCompleted
    );
    // Unknown request ids.
    assert!(matches!(
        client.status("fal-ai/flux-lora", "nope", false).await,
        Err(FalError::NotFound)
    ));
}

#[tokio::test]
async fn transient_failures_are_retried_then_reported() {
    let (server, client) = client().await;
    // 429 (fal's queue-length limit) proves nothing was queued: a submit may be repeated.
    Mock::given(method("POST"))
        .and(path("/fal-ai/flux-lora"))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({"detail": "Queue is full"})))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/fal-ai/flux-lora"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"request_id": "r3"})))
        .expect(1)
        .mount(&server)
        .await;
    let submitted = client
        .submit("fal-ai/flux-lora", &json!({"prompt": "x"}), None)
        .await
        .unwrap();
    assert_eq!(submitted.request_id, "r3");

    Mock::given(method("GET"))
        .and(path("/fal-ai/flux-lora/requests/r4/status"))
        .respond_with(ResponseTemplate::new(429))
        .expect(3)
        .mount(&server)
        .await;
    match client.status("fal-ai/flux-lora", "r4", false).await {
        Err(FalError::Unavailable {
            attempts: 3,
            reason,
        }) => assert!(reason.contains("429")),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn permanent_errors_are_typed_and_not_retried() {
    let (server, client) = client().await;
    Mock::given(method("POST"))
        .and(path("/fal-ai/flux-lora-portrait-trainer"))
        .respond_with(ResponseTemplate::new(422).insert_header("x-fal-retryable", "false").set_body_json(json!({
            "detail": [{"loc": ["body", "steps"], "msg": "ensure this value is less than or equal to 10000",
                        "type": "value_error.number.not_le", "ctx": {"limit_value": 10000}, "input": 20000}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/fal-ai/flux-lora"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"detail": "Unauthorized"})))
        .expect(1)
        .mount(&server)
        .await;
    let err = client
        .submit(
            "fal-ai/flux-lora-portrait-trainer",
            &json!({"steps": 20000}),
            None,
        )
        .await
        .unwrap_err();
    assert!(err.is_permanent());
    assert_eq!(
        err.to_string(),
        "fal.ai rejected the input: steps: ensure this value is less than or equal to 10000"
    );
    let err = client
        .submit("fal-ai/flux-lora", &json!({}), None)
        .await
        .unwrap_err();
    assert!(matches!(err, FalError::Unauthorized { status: 401 }) && err.is_permanent());
    assert!(
        !err.to_string().contains("fal-key"),
        "the key never appears in errors"
    );
}

#[tokio::test]
async fn a_submit_whose_answer_is_unclear_is_never_repeated() {
    for (status, body) in [
        (
            500,
            r#"{"detail":"Internal error","error_type":"internal_error"}"#,
        ),
        (502, "<html>Bad Gateway</html>"),
        (503, r#"{"detail":"Runner scheduling failure"}"#),
        (
            504,
            r#"{"detail":"Request timed out","error_type":"request_timeout"}"#,
        ),
        (200, r#"{"request_id": "0192"#),
    ] {
        let (server, client) = client().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status).set_body_string(body))
            .expect(1)
            .mount(&server)
            .await;
        let err = client
            .submit("fal-ai/flux-lora", &json!({}), None)
            .await
            .unwrap_err();
        assert!(
            matches!(err, FalError::SubmitOutcomeUnknown(_)),
            "{status}: {err:?}"
        );
        drop(server); // verifies the single call
    }
}

#[tokio::test]
async fn a_submit_that_times_out_is_not_repeated() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(40)))
        .expect(1)
        .mount(&server)
        .await;
    let client = FalClient::new(server.uri().parse().unwrap(), SecretString::from(KEY))
        .with_timeout(Duration::from_secs(1));
    let started = std::time::Instant::now();
    let err = client
        .submit("fal-ai/flux-lora", &json!({}), None)
        .await
        .unwrap_err();
    assert!(matches!(err, FalError::SubmitOutcomeUnknown(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(40));
}

#[tokio::test]
async fn storage_uploads_go_whole_or_in_parts_and_ask_to_expire() {
    use fluxbot::fal::storage::FalStorage;
    let fal = fluxbot_tests::fake_fal::FakeFal::start().await;
    let storage = FalStorage::new(
        fal.queue_url().parse().unwrap(),
        SecretString::from(fluxbot_tests::fake_fal::FAL_KEY),
    )
    .with_part_sizes(10, 4);
    for bytes in [b"small".to_vec(), b"twenty-five bytes, in 7".to_vec()] {
        let url = storage
            .upload(
                Box::pin(std::io::Cursor::new(bytes.clone())),
                bytes.len() as u64,
                "photos.zip",
                "application/zip",
                Duration::from_secs(3600),
            )
            .await
            .unwrap();
        let served = reqwest::get(url).await.unwrap().bytes().await.unwrap();
        assert_eq!(served.to_vec(), bytes);
    }
    let mut uploads = fal.uploads();
    uploads.sort_by_key(|u| u.multipart);
    assert_eq!(
        uploads
            .iter()
            .map(|u| (u.multipart, u.completed))
            .collect::<Vec<_>>(),
        [(false, true), (true, true)]
    );
    assert!(
        uploads
            .iter()
            .all(|u| u.lifecycle.as_deref() == Some(r#"{"expiration_duration_seconds":3600}"#))
    );
    // A wrong key is refused for good.
    let refused = FalStorage::new(fal.queue_url().parse().unwrap(), SecretString::from("nope"))
        .upload(
            Box::pin(std::io::Cursor::new(vec![1])),
            1,
            "photos.zip",
            "application/zip",
            Duration::from_secs(60),
        )
        .await
        .unwrap_err();
    assert!(refused.is_permanent(), "{refused:?}");
}
