//! The training pipeline under test: the conversation (to make avatars the way users do),
//! the training-launch SQS handler, the fal-webhook handler and the sweep, all on the AWS
//! adapters against moto, with fake Telegram and fake fal.ai behind their configured URLs.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use fluxbot::config::EnvReader;
use fluxbot::fal::generation::GenerationSettings;
use fluxbot::fal::settings::{FalMode, FalSettings, FalWebhooks};
use fluxbot::fal::training::TrainingSettings;
use fluxbot::fal::{FalClient, RetryPolicy};
use fluxbot::pipeline::{FalBackend, Pipeline};
use fluxbot::ports::RecordStore;
use fluxbot::telegram::client::TelegramClient;
use fluxbot::telegram::settings::TelegramSettings;
use serde_json::{Value, json};

use crate::bot_world::{Answer, BotWorld, apigw_request};
use crate::fake_fal::{FAL_KEY, FakeFal};
use crate::fake_telegram::TOKEN;

pub const WEBHOOK_URL: &str = "https://fluxapi.execute-api.eu-central-1.amazonaws.com/fal/webhook";
/// The stack's webhook secret in tests.
pub const WEBHOOK_SECRET: &str = "test-webhook-secret-0123456789abcdef";

pub struct PipelineWorld {
    pub bot: BotWorld,
    pub fal: FakeFal,
    /// Instance 0 of the launch worker and the sweep.
    pub pipeline: Pipeline,
    /// Every instance of the pipeline's functions (launch worker, fal-webhook, sweep), each
    /// with its own clients; `pipelines[0]` is `pipeline`. Webhooks go to them in turn.
    pub pipelines: Vec<Pipeline>,
    webhooks: Vec<fal_webhook::App>,
    next_webhook: std::sync::atomic::AtomicUsize,
    /// The launch queue as Lambda's event source mapping reaches it: its own client, outside
    /// the functions (and outside any fault a test injects into theirs).
    esm: std::sync::Arc<dyn fluxbot::ports::JobQueue>,
}

impl PipelineWorld {
    /// How long the pipeline waits for the fake fal.ai (a submit answered later is "unknown").
    pub const FAL_TIMEOUT: Duration = Duration::from_secs(5);

    pub async fn new(test_mode: bool) -> Self {
        Self::with_env(test_mode, &[]).await
    }

    /// With extra environment pairs for the conversation and the pipeline
    /// (`GENERATIONS_PER_HOUR`, `FAL_STYLE_TRAINER`...).
    pub async fn with_env(test_mode: bool, extra: &[(&str, &str)]) -> Self {
        Self::fleet(test_mode, extra, 1).await
    }

    /// `instances` independent instances of every function (see [`BotWorld::fleet`]).
    pub async fn fleet(test_mode: bool, extra: &[(&str, &str)], instances: usize) -> Self {
        Self::on(crate::backends::aws().await, test_mode, extra, instances).await
    }

    /// The functions on `backend` (an AWS one, e.g. [`crate::backends::aws_metered`]).
    pub async fn on(
        backend: crate::backends::Backend,
        test_mode: bool,
        extra: &[(&str, &str)],
        instances: usize,
    ) -> Self {
        let bot = BotWorld::fleet(backend, extra, instances).await;
        let fal = FakeFal::start().await;
        let mut pairs = vec![
            ("TELEGRAM_TOKEN".to_owned(), TOKEN.to_owned()),
            ("TELEGRAM_API_URL".to_owned(), bot.telegram.url()),
            ("FAL_QUEUE_URL".to_owned(), fal.queue_url()),
            // The embedded backend hands inputs to fal's storage (the fake's, here).
            ("FAL_REST_URL".to_owned(), fal.queue_url()),
            ("FAL_JWKS_URL".to_owned(), fal.jwks_url()),
            ("FAL_WEBHOOK_URL".to_owned(), WEBHOOK_URL.to_owned()),
            ("FAL_WEBHOOK_SECRET".to_owned(), WEBHOOK_SECRET.to_owned()),
            // fal's CDN, and the fake's, as an operator would list a self-hosted one.
            (
                "FAL_RESULT_HOSTS".to_owned(),
                format!("fal.media,{}", fal.cdn_origin()),
            ),
        ];
        pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        if test_mode {
            pairs.push(("AVATAR_TEST_MODE".into(), "true".into()));
            pairs.push(("FAL_MOCK_TRAINING_DURATION".into(), "1".into()));
            pairs.push(("FAL_MOCK_GENERATION_DURATION".into(), "1".into()));
        } else {
            pairs.push(("FAL_KEY".into(), FAL_KEY.into()));
        }
        let (telegram, fal_settings, webhooks, training, generation) = EnvReader::from_pairs(pairs)
            .load::<(
                TelegramSettings,
                FalSettings,
                FalWebhooks,
                TrainingSettings,
                GenerationSettings,
            )>()
            .expect("test configuration is valid");
        let mut pipelines = Vec::with_capacity(instances);
        for i in 0..instances {
            let wired = if i == 0 {
                bot.backend.wired.clone()
            } else {
                bot.backend.another_instance().await
            };
            pipelines.push(Self::pipeline_on(
                &wired,
                &telegram,
                &fal_settings,
                &webhooks,
                &training,
                &generation,
            ));
        }
        let webhooks = pipelines
            .iter()
            .cloned()
            .map(fal_webhook::App::new)
            .collect();
        let esm = bot.backend.another_instance().await.launches;
        Self {
            esm,
            bot,
            fal,
            pipeline: pipelines[0].clone(),
            pipelines,
            webhooks,
            next_webhook: 0.into(),
        }
    }

    /// The pipeline as the functions' `main` builds it, on `wired`.
    fn pipeline_on(
        wired: &fluxbot::backend::Backend,
        telegram: &TelegramSettings,
        fal_settings: &FalSettings,
        webhooks: &FalWebhooks,
        training: &TrainingSettings,
        generation: &GenerationSettings,
    ) -> Pipeline {
        let mut pipeline = Pipeline::new(
            wired,
            TelegramClient::new(telegram),
            fal_settings.clone(),
            webhooks.clone(),
            training.clone(),
            generation.clone(),
        );
        // A short wait and quick retries, so unclear answers show within a test.
        if let FalMode::Live { key } = &pipeline.fal_settings.mode {
            pipeline.fal = FalBackend::Live(
                FalClient::new(pipeline.fal_settings.queue_url.clone(), key.clone())
                    .with_retry(RetryPolicy {
                        attempts: 2,
                        base_delay: Duration::from_millis(5),
                        max_delay: Duration::from_millis(10),
                    })
                    .with_retention(pipeline.fal_settings.retention)
                    .with_timeout(Self::FAL_TIMEOUT),
            );
        }
        pipeline
    }

    /// Every instance's Telegram client, the conversation's too, gives up on a call after
    /// `timeout` (teloxide waits 17 s), so a stalled Bot API call shows within a test.
    pub fn with_telegram_timeout(mut self, timeout: Duration) -> Self {
        self.bot = self.bot.with_telegram_timeout(timeout);
        for pipeline in &mut self.pipelines {
            pipeline.telegram = pipeline.telegram.clone().with_timeout(timeout);
        }
        self.pipeline = self.pipelines[0].clone();
        self.webhooks = self
            .pipelines
            .iter()
            .cloned()
            .map(fal_webhook::App::new)
            .collect();
        self
    }

    /// Sweeps (instance 0) at each of `minutes` from now, in turn, as the schedule would.
    pub async fn sweeps_at(&self, minutes: &[u64]) -> Vec<fluxbot::pipeline::SweepReport> {
        let mut reports = Vec::with_capacity(minutes.len());
        for m in minutes {
            let at = fluxbot::domain::Timestamp::now().plus(Duration::from_secs(m * 60));
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            reports.push(self.pipeline.sweep(at, deadline).await.unwrap());
        }
        reports
    }

    /// An avatar taken through the conversation, the launch worker and a signed trainer
    /// result (`trainer_result`, or a portrait trainer's when empty): completed.
    pub async fn trained_avatar(
        &self,
        user: crate::fake_telegram::updates::User,
        kind: &str,
        trainer_result: &str,
    ) -> fluxbot::domain::Avatar {
        let photos = if kind == "portrait" { 10 } else { 5 };
        let avatar = self
            .bot
            .queued_avatar(user, kind, "Anna", "fast", photos)
            .await;
        self.run_queue(&self.pipeline, Duration::from_secs(2)).await;
        let sub = self.fal.submissions().last().unwrap().clone();
        let payload = if trainer_result.is_empty() {
            self.fal.portrait_result(&sub.request_id)
        } else {
            trainer_result.to_owned()
        };
        assert_eq!(self.deliver_ok(&sub, &payload).await.status, 200);
        let avatar = self.avatar_now(&avatar).await;
        assert_eq!(avatar.status(), fluxbot::domain::AvatarStatus::Completed);
        avatar
    }

    /// The prompt screen of `avatar` opened the way users do (its card, then Generate).
    pub async fn prompt_screen(
        &self,
        user: crate::fake_telegram::updates::User,
        avatar: &fluxbot::domain::Avatar,
    ) {
        use fluxbot::telegram::callback::Callback;
        self.bot.tap_newest(user, Callback::Card(avatar.id)).await;
        self.bot
            .tap_newest(user, Callback::Generate(avatar.id))
            .await;
    }

    /// A generation of `avatar` asked for the way users do (its card, Generate, a typed
    /// prompt) and submitted by the launch worker: its submission at the fake fal.ai.
    pub async fn prompted(
        &self,
        user: crate::fake_telegram::updates::User,
        avatar: &fluxbot::domain::Avatar,
        prompt: &str,
    ) -> crate::fake_fal::Submission {
        self.prompt_screen(user, avatar).await;
        self.bot.say(user, prompt).await;
        self.run_queue(&self.pipeline, Duration::from_secs(2)).await;
        self.fal.submissions().last().unwrap().clone()
    }

    /// Gives `user` credits, as an operator's grant does.
    pub async fn grant(&self, user: crate::fake_telegram::updates::User, credits: u64) {
        use fluxbot::domain::{Credits, LedgerEntry, Timestamp, UserId};
        let entry = LedgerEntry::grant(
            UserId(user.id),
            &format!("test-{}", rand::random::<u64>()),
            Credits(credits),
            Timestamp::now(),
        );
        self.pipeline
            .store
            .apply_entry(&entry)
            .await
            .unwrap()
            .unwrap();
    }

    /// `user`'s balance in credits.
    pub async fn balance(&self, user: crate::fake_telegram::updates::User) -> u64 {
        let id = fluxbot::domain::UserId(user.id);
        self.pipeline.store.balance(id).await.unwrap().0
    }

    /// How many debits (or, with `refunds`, refunds) of `kind` work `user`'s ledger holds.
    pub async fn paid_entries(
        &self,
        user: crate::fake_telegram::updates::User,
        kind: fluxbot::domain::WorkKind,
        refunds: bool,
    ) -> usize {
        use fluxbot::domain::{EntryKind, UserId};
        self.pipeline
            .store
            .ledger(UserId(user.id), 1000)
            .await
            .unwrap()
            .iter()
            .filter(|e| match &e.kind {
                EntryKind::Debit { work } => !refunds && work.kind == kind,
                EntryKind::Refund { work } => refunds && work.kind == kind,
                _ => false,
            })
            .count()
    }

    /// The avatar as stored now (it must still exist).
    pub async fn avatar_now(&self, avatar: &fluxbot::domain::Avatar) -> fluxbot::domain::Avatar {
        self.pipeline
            .store
            .get_avatar(avatar.owner, avatar.id)
            .await
            .unwrap()
            .expect("the avatar still exists")
    }

    /// The same pipeline on another record store (to inject failures).
    pub fn with_store(&self, store: Arc<dyn RecordStore>) -> Pipeline {
        Pipeline {
            store,
            ..self.pipeline.clone()
        }
    }

    /// Receives what is on the launch queue (waiting up to `wait` for the first message),
    /// hands it to the real SQS handler as Lambda would, and deletes what succeeded.
    pub async fn run_queue(
        &self,
        pipeline: &Pipeline,
        wait: Duration,
    ) -> (usize, SqsBatchResponse) {
        let (messages, event) = self.receive_launches(wait).await;
        let response = training_launch::handle_batch(pipeline, event).await;
        self.settle(&messages, &response).await;
        (messages.len(), response)
    }

    /// One batch for every launch worker at once, as Lambda's poller scales out over a busy
    /// queue; returns how many messages they got between them.
    pub async fn run_queue_on_all(&self, wait: Duration) -> usize {
        let batches =
            futures::future::join_all(self.pipelines.iter().map(|p| self.run_queue(p, wait))).await;
        batches.iter().map(|(received, _)| received).sum()
    }

    /// Up to 10 messages from the launch queue, and the SQS event Lambda would make of them.
    pub async fn receive_launches(
        &self,
        wait: Duration,
    ) -> (Vec<fluxbot::ports::ReceivedMessage>, SqsEvent) {
        let messages = self.esm.receive(10, wait).await.unwrap();
        let records: Vec<Value> = messages
            .iter()
            .map(|m| {
                json!({"messageId": m.message_id, "receiptHandle": m.receipt.0, "body": m.body,
                       "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
                       "eventSource": "aws:sqs", "awsRegion": "eu-central-1"})
            })
            .collect();
        let event = serde_json::from_value(json!({ "Records": records })).unwrap();
        (messages, event)
    }

    /// What Lambda's event source mapping does after a batch: deletes the messages that
    /// succeeded and makes the failed ones visible again.
    pub async fn settle(
        &self,
        messages: &[fluxbot::ports::ReceivedMessage],
        response: &SqsBatchResponse,
    ) {
        let queue = &self.esm;
        for m in messages {
            let failed = response
                .batch_item_failures
                .iter()
                .any(|f| f.item_identifier == m.message_id);
            if failed {
                queue
                    .release(&m.receipt, fluxbot::ports::QueueDelay::NONE)
                    .await
                    .unwrap();
            } else {
                queue.ack(&m.receipt).await.unwrap();
            }
        }
    }

    /// Delivers a webhook the way fal does: to the URL given at submit, with these headers.
    pub async fn post_webhook(&self, url: &str, headers: Value, body: &str) -> Answer {
        let url = url::Url::parse(url).unwrap();
        let request = apigw_request("POST", url.path(), url.query().unwrap_or(""), headers, body);
        let instance = self
            .next_webhook
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            % self.webhooks.len();
        let response = self.webhooks[instance].handle(request).await;
        Answer {
            status: response.status().as_u16(),
            body: String::from_utf8_lossy(response.body().as_ref()).into_owned(),
        }
    }

    /// Puts `job` on the launch queue, as a duplicate delivery or the sweep would.
    pub async fn enqueue(&self, job: &fluxbot::jobs::Job) {
        self.bot
            .backend
            .launches
            .send(&job.to_body(), fluxbot::ports::QueueDelay::NONE)
            .await
            .unwrap();
    }

    /// A webhook URL as the launch worker would give fal for `route` (token included).
    pub fn webhook_url_for(&self, route: &fluxbot::fal::webhook_token::WebhookRoute) -> String {
        let key = self.pipeline.webhooks.key.as_ref().expect("a test secret");
        route
            .url(&url::Url::parse(WEBHOOK_URL).unwrap(), key)
            .to_string()
    }

    /// fal.ai delivering `payload` as the successful result of `sub`: signed now, to the
    /// webhook URL given at submit.
    pub async fn deliver_ok(&self, sub: &crate::fake_fal::Submission, payload: &str) -> Answer {
        let body = crate::fake_fal::ok_webhook(&sub.request_id, payload);
        self.deliver_signed(sub, &body).await
    }

    /// `body` signed now for `sub`, posted to the webhook URL given at submit.
    async fn deliver_signed(&self, sub: &crate::fake_fal::Submission, body: &str) -> Answer {
        let now = fluxbot::domain::Timestamp::now().as_secs();
        let url = sub.webhook.as_deref().expect("submitted with a webhook");
        self.post_webhook(
            url,
            self.fal.signed_headers(&sub.request_id, body, now),
            body,
        )
        .await
    }

    /// fal.ai delivering `sub` as failed with `error`: signed now, to its webhook URL.
    pub async fn deliver_error(&self, sub: &crate::fake_fal::Submission, error: &str) -> Answer {
        let body = json!({"request_id": sub.request_id, "gateway_request_id": sub.request_id,
                          "status": "ERROR", "error": error, "payload": null})
        .to_string();
        self.deliver_signed(sub, &body).await
    }

    pub async fn get_health(&self) -> Answer {
        let request = apigw_request("GET", "/health", "", json!({}), "");
        let response = self.webhooks[0].handle(request).await;
        Answer {
            status: response.status().as_u16(),
            body: String::from_utf8_lossy(response.body().as_ref()).into_owned(),
        }
    }
}
