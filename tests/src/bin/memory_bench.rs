//! Peak memory of each function's real binary at work: the release-profile binaries of the
//! Telegram webhook, the launch worker, the fal.ai webhook and the sweep, each one process
//! under the Lambda Runtime API emulator (one instance handles one invocation at a time, as on
//! Lambda), configured as the template configures it but pointed at moto, the fake Telegram
//! and the fake fal.ai. `users` users each go through the conversation with 10 photos of
//! `side` x 1.25 `side` pixels, the launch worker zips and submits, the fal webhook keeps the
//! LoRA (`lora_mb` MB) and tells the user; then one sweep. Each process's `VmHWM` is read at
//! the end.
//!
//! `cargo build --profile measure --workspace --bins && MOTO_ENDPOINT=http://127.0.0.1:<port>
//! target/measure/memory-bench [users] [side] [lora_mb]` (defaults: 20 users, 1600 px, 64 MB).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use fluxbot_tests::bot_world::{SECRET, apigw_event};
use fluxbot_tests::fake_fal::{self, FAL_KEY};
use fluxbot_tests::fake_telegram::TOKEN;
use fluxbot_tests::fake_telegram::updates::{self, User};
use fluxbot_tests::lambda_emulator::{Outcome, RuntimeApi};
use fluxbot_tests::pipeline_world::{PipelineWorld, WEBHOOK_SECRET, WEBHOOK_URL};
use fluxbot_tests::{images, moto};
use serde_json::{Value, json};

/// One function's binary, running under its own Runtime API.
struct Function {
    name: &'static str,
    api: RuntimeApi,
    child: Child,
    init_kb: u64,
    invocations: usize,
}

impl Function {
    async fn start(name: &'static str, env: &[(String, String)]) -> Self {
        let api = RuntimeApi::start().await;
        let binary = std::env::current_exe().unwrap().with_file_name(name);
        let child = Command::new(&binary)
            .env_clear()
            .envs(api.lambda_env(name))
            .envs(env.iter().cloned())
            .env("PATH", "/usr/bin:/bin")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
        assert!(
            api.first_poll(Duration::from_secs(10)).await.is_some(),
            "{name} never polled (init error {:?})",
            api.init_error()
        );
        let init_kb = fluxbot_tests::rss::peak_kb_of(child.id());
        Self {
            name,
            api,
            child,
            init_kb,
            invocations: 0,
        }
    }

    /// The function's answer to `event`; an error answer stops the bench.
    async fn invoke(&mut self, event: &Value) -> Value {
        self.invocations += 1;
        match self.api.invoke(Bytes::from(event.to_string())).await {
            Outcome::Response(body) => serde_json::from_slice(&body).unwrap_or(Value::Null),
            Outcome::Error(body) => panic!(
                "{} failed an invocation: {}",
                self.name,
                String::from_utf8_lossy(&body)
            ),
        }
    }

    /// An HTTP API request: the status code it answered.
    async fn request(&mut self, event: &Value) -> u64 {
        self.invoke(event).await["statusCode"].as_u64().unwrap_or(0)
    }
}

fn telegram_event(update: &Value) -> Value {
    apigw_event(
        "POST",
        "/telegram/webhook",
        "",
        json!({"content-type": "application/json", "x-telegram-bot-api-secret-token": SECRET}),
        &update.to_string(),
    )
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let users: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let side: u16 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1600);
    let lora_mb: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);

    // The world provides moto's resources, the fakes, and Lambda's SQS poller; its in-process
    // handlers are not used.
    let w = PipelineWorld::new(false).await;
    let (_, resources) = w.bot.backend.aws.clone().expect("an AWS backend");
    let env: Vec<(String, String)> = [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_ENDPOINT_URL", moto::endpoint()),
        ("TABLE_NAME", &resources.table_name),
        ("BUCKET_NAME", &resources.bucket_name),
        ("LAUNCH_QUEUE_URL", &resources.launch_queue_url),
        ("S3_FORCE_PATH_STYLE", "true"),
        ("TELEGRAM_TOKEN", TOKEN),
        ("TELEGRAM_API_URL", &w.bot.telegram.url()),
        ("TELEGRAM_WEBHOOK_SECRET", SECRET),
        ("SPEND_CAP_USD_PER_DAY", "off"),
        ("FAL_KEY", FAL_KEY),
        ("FAL_QUEUE_URL", &w.fal.queue_url()),
        ("FAL_JWKS_URL", &w.fal.jwks_url()),
        ("FAL_WEBHOOK_URL", WEBHOOK_URL),
        ("FAL_WEBHOOK_SECRET", WEBHOOK_SECRET),
        (
            "FAL_RESULT_HOSTS",
            &format!("fal.media,{}", w.fal.cdn_origin()),
        ),
        ("AVATAR_TEST_MODE", "false"),
        ("AWS_LAMBDA_LOG_FORMAT", "json"),
        ("RUST_LOG", "info"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();

    let mut bot = Function::start("telegram-webhook", &env).await;
    let mut launch = Function::start("training-launch", &env).await;
    let mut webhook = Function::start("fal-webhook", &env).await;
    let mut sweep = Function::start("status-sweep", &env).await;

    let height = side + side / 4;
    let mut photo_bytes = 0usize;
    for i in 0..users {
        let user = User {
            id: 7_600_000 + i as i64,
            language_code: "en",
        };
        let say = |text: &str| telegram_event(&updates::text(w.bot.next_update_id(), user, text));
        let press = |data: &str| {
            let last = w.bot.telegram.last_message(user.id).message_id;
            telegram_event(&updates::callback(w.bot.next_update_id(), user, last, data))
        };
        assert_eq!(bot.request(&say("/start")).await, 200);
        for data in ["c", "k:portrait", "g:female"] {
            assert_eq!(bot.request(&press(data)).await, 200);
        }
        assert_eq!(bot.request(&say("Anna")).await, 200);
        assert_eq!(bot.request(&press("p:fast")).await, 200);
        for seed in 0..10u8 {
            let jpeg = images::jpeg(side, height, seed.wrapping_add(i as u8));
            photo_bytes += jpeg.len();
            let file = w.bot.telegram.add_file(jpeg, "jpg");
            let update = updates::photo(
                w.bot.next_update_id(),
                user,
                &file,
                (side.into(), height.into()),
                None,
            );
            assert_eq!(bot.request(&telegram_event(&update)).await, 200);
        }
        let avatar = w.bot.avatars(user).await.pop().expect("an avatar");
        assert_eq!(avatar.photo_count, 10, "every photo kept");
        for data in [format!("ts:{}", avatar.id), format!("tc:{}", avatar.id)] {
            assert_eq!(bot.request(&press(&data)).await, 200);
        }

        // Lambda's poller hands the launch job to the worker, then settles the batch.
        let (messages, event) = w.receive_launches(Duration::from_secs(5)).await;
        assert_eq!(messages.len(), 1, "one launch job");
        let answer = launch.invoke(&serde_json::to_value(&event).unwrap()).await;
        let response = serde_json::from_value(answer).expect("an SQS batch response");
        w.settle(&messages, &response).await;

        // fal.ai finishes the training and calls the webhook given at submit.
        let sub = w.fal.submissions().last().expect("submitted").clone();
        let base = fake_fal::lora_bytes(&sub.request_id);
        let mut lora = base.repeat(lora_mb * 1_048_576 / base.len() + 1);
        lora.truncate(lora_mb * 1_048_576);
        let result = w.fal.portrait_result_with(&sub.request_id, lora);
        let body = fake_fal::ok_webhook(&sub.request_id, &result);
        let url = url::Url::parse(sub.webhook.as_deref().expect("a webhook URL")).unwrap();
        let headers = w.fal.signed_headers(
            &sub.request_id,
            &body,
            fluxbot::domain::Timestamp::now().as_secs(),
        );
        let event = apigw_event(
            "POST",
            url.path(),
            url.query().unwrap_or(""),
            headers,
            &body,
        );
        assert_eq!(webhook.request(&event).await, 200);
        let done = w.bot.avatars(user).await.pop().unwrap();
        assert_eq!(done.status().as_str(), "completed", "{done:?}");
    }
    let scheduled = json!({
        "version": "0", "id": "5e0b1f3c-0000-4000-8000-000000000000",
        "detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012",
        "time": "2026-12-02T01:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/fluxbot-sweep"], "detail": {}
    });
    sweep.invoke(&scheduled).await;

    println!(
        "{users} users, 10 photos of {side}x{height} each ({:.1} MB on average); peak RSS of \
         each function's process:",
        photo_bytes as f64 / (users.max(1) * 10) as f64 / 1_048_576.0
    );
    println!("| function | invocations | RSS at init | peak RSS |");
    println!("|---|---:|---:|---:|");
    for f in [&mut bot, &mut launch, &mut webhook, &mut sweep] {
        let peak = fluxbot_tests::rss::peak_kb_of(f.child.id());
        println!(
            "| {} | {} | {:.1} MB | {:.1} MB |",
            f.name,
            f.invocations,
            f.init_kb as f64 / 1024.0,
            peak as f64 / 1024.0
        );
        let _ = f.child.kill();
        let _ = f.child.wait();
    }
}
