//! "Delete everything about me" through the real handlers (moto, the fake Telegram, the fake
//! fal.ai): a user with a trained avatar (a delivered generation and one not yet launched),
//! one in training at fal.ai and one queued asks for everything to go. Afterwards nothing in
//! the table or the bucket names them but their books; fal.ai got a cancel for the running
//! training; the unsent work was refunded once; a redelivered or repeated tap changes
//! nothing; and `/start` meets a new user.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use fluxbot::domain::{Avatar, AvatarStatus, BlobKey, UserId, WorkKind};
use fluxbot::telegram::callback::Callback;
use fluxbot_tests::fake_telegram::updates::{self, User};
use fluxbot_tests::pipeline_world::PipelineWorld;

const ANNA: User = User {
    id: 7_800_001,
    language_code: "en",
};

const STARS: &[(&str, &str)] = &[
    ("BILLING", "stars"),
    ("CREDIT_PACKS", "60:300"),
    ("PRICE_TRAINING_CREDITS_FAST", "50"),
    ("PRICE_IMAGE_CREDITS", "2"),
    ("MAX_TRAININGS_PER_USER", "3"),
];

async fn drain_queue(w: &PipelineWorld) {
    while w.run_queue(&w.pipeline, Duration::from_millis(500)).await.0 > 0 {}
}

/// Every item of the table that names `user` (in its keys or any attribute), as `pk sk`.
async fn items_naming(w: &PipelineWorld, user: User) -> Vec<String> {
    let (clients, resources) = w.bot.backend.aws.as_ref().expect("an AWS backend");
    let needle = user.id.to_string();
    let mut found = Vec::new();
    let mut pages = clients
        .dynamodb
        .scan()
        .table_name(&resources.table_name)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for item in page.unwrap().items.unwrap_or_default() {
            let text = format!("{item:?}");
            if text.contains(&needle) {
                let key = |k: &str| match item.get(k) {
                    Some(AttributeValue::S(s)) => s.clone(),
                    other => format!("{other:?}"),
                };
                found.push(format!("{} {}", key("pk"), key("sk")));
            }
        }
    }
    found.sort();
    found
}

/// Every object of the bucket whose key names `user`.
async fn objects_naming(w: &PipelineWorld, user: User) -> Vec<String> {
    let (clients, resources) = w.bot.backend.aws.as_ref().expect("an AWS backend");
    let listed = clients
        .s3
        .list_objects_v2()
        .bucket(&resources.bucket_name)
        .send()
        .await
        .unwrap();
    listed
        .contents()
        .iter()
        .filter_map(|o| o.key())
        .filter(|k| k.split('/').any(|part| part == user.id.to_string()))
        .map(str::to_owned)
        .collect()
}

fn is_books(item: &str) -> bool {
    let sk = item.split_once(' ').map_or("", |(_, sk)| sk);
    sk == "CREDITS" || sk.starts_with("LEDGER#") || sk.starts_with("HISTORY#")
}

/// Anna's avatars: a trained one with a delivered generation and one committed but not
/// launched, one training at fal.ai, one queued. The three avatars, in that order.
async fn heavy_anna(w: &PipelineWorld) -> [Avatar; 3] {
    w.grant(ANNA, 500).await;
    // A trained avatar with a delivered generation...
    let trained = w.trained_avatar(ANNA, "portrait", "").await;
    let sub = w.prompted(ANNA, &trained, "on a beach").await;
    let result = w.fal.generation_result(&sub.request_id, &[false]);
    assert_eq!(w.deliver_ok(&sub, &result).await.status, 200);
    // ...one training at fal.ai...
    let training = w.bot.queued_avatar(ANNA, "style", "Ink", "fast", 5).await;
    drain_queue(w).await;
    assert_eq!(
        w.avatar_now(&training).await.status(),
        AvatarStatus::Training
    );
    // ...one queued, and a generation committed but not launched.
    let queued = w.bot.queued_avatar(ANNA, "style", "Oil", "fast", 5).await;
    w.prompt_screen(ANNA, &trained).await;
    w.bot.say(ANNA, "in the mountains").await;
    [trained, training, queued]
}

/// Nothing in the table or the bucket names Anna but her books; her avatars are gone.
async fn only_the_books_are_left(w: &PipelineWorld, avatars: &[Avatar]) {
    let left = items_naming(w, ANNA).await;
    assert!(
        left.iter().all(|item| is_books(item)),
        "only the books name the user: {left:#?}"
    );
    assert!(left.iter().any(|i| i.contains("LEDGER#")), "{left:#?}");
    assert_eq!(objects_naming(w, ANNA).await, Vec::<String>::new());
    for avatar in avatars {
        let found = w
            .pipeline
            .store
            .get_avatar(UserId(ANNA.id), avatar.id)
            .await;
        assert!(found.unwrap().is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_everything_leaves_only_the_books_and_settles_work_in_flight() {
    let w = PipelineWorld::with_env(false, STARS).await;
    let [trained, training, queued] = heavy_anna(&w).await;
    let before_forget = w.balance(ANNA).await;
    let submissions = w.fal.submissions().len();
    assert!(!objects_naming(&w, ANNA).await.is_empty());

    // /privacy says what is kept, and leads to the confirmation listing what goes.
    w.bot.say(ANNA, "/privacy").await;
    w.bot
        .telegram
        .last_message(ANNA.id)
        .says("What this bot keeps about you")
        .says("kept 90 days");
    w.bot.tap_last(ANNA, Callback::ForgetMe).await;
    let question = w.bot.telegram.last_message(ANNA.id);
    question
        .says("Delete everything about you?")
        .says("3 avatar(s) with their 20 photo(s)")
        .says("2 generation(s)")
        .says("54 credit(s)")
        .says("1 job(s) already running")
        .says("your payment records")
        .says(&format!("balance of {before_forget} credit(s)"));

    // The confirmation, delivered twice as Telegram may.
    let confirm = updates::callback(
        w.bot.next_update_id(),
        ANNA,
        question.message_id,
        &Callback::ConfirmForgetMe.encode(),
    );
    w.bot.deliver(&confirm).await;
    w.bot.deliver(&confirm).await;
    w.bot
        .telegram
        .message(ANNA.id, question.message_id)
        .says("Everything about you is deleted")
        .says("54 credit(s) returned");
    assert_eq!(w.balance(ANNA).await, before_forget + 54, "refunded once");

    // The launches find nothing; the running training is cancelled at fal.ai.
    drain_queue(&w).await;
    assert_eq!(w.fal.submissions().len(), submissions, "nothing submitted");
    assert_eq!(w.fal.cancels().len(), 1, "{:?}", w.fal.cancels());
    // Its late result, and the sweep, change nothing.
    let training_sub = w
        .fal
        .submissions()
        .into_iter()
        .find(|s| s.endpoint.contains("trainer"))
        .expect("the style training was submitted");
    let late = w.fal.portrait_result(&training_sub.request_id);
    assert_eq!(w.deliver_ok(&training_sub, &late).await.status, 200);
    w.sweeps_at(&[5, 15]).await;

    only_the_books_are_left(&w, &[trained, training, queued]).await;
    assert_eq!(w.paid_entries(ANNA, WorkKind::Training, true).await, 1);
    assert_eq!(w.paid_entries(ANNA, WorkKind::Generation, true).await, 1);

    // A second tap finds nothing to delete and refunds nothing.
    w.bot
        .tap(ANNA, question.message_id, Callback::ConfirmForgetMe)
        .await;
    assert_eq!(w.balance(ANNA).await, before_forget + 54);
    assert!(
        w.bot.profile(ANNA).await.is_none(),
        "no profile saved after"
    );

    // /start meets a new user, who keeps their balance.
    w.bot.say(ANNA, "/start").await;
    w.bot
        .telegram
        .last_message(ANNA.id)
        .says("Welcome!")
        .says("Create an avatar to begin");
    let profile = w.bot.profile(ANNA).await.expect("a new profile");
    assert!(profile.version <= 1, "{profile:?}");
    assert!(w.bot.avatars(ANNA).await.is_empty());
    assert_eq!(w.balance(ANNA).await, before_forget + 54);
}

/// The same deletion with every kind of DynamoDB write losing one answer in three (done by
/// AWS, the answer lost, the SDK's retry meeting what the first attempt did): Telegram sends
/// the confirmation again for as long as the bot answers it with an error, and the end is the
/// same as without faults, every refund given once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_everything_survives_lost_answers_and_refunds_once() {
    let (backend, meter) = fluxbot_tests::backends::aws_metered().await;
    let w = PipelineWorld::on(backend, false, STARS, 1).await;
    let avatars = heavy_anna(&w).await;
    let before_forget = w.balance(ANNA).await;
    w.bot.say(ANNA, "/privacy").await;
    w.bot.tap_last(ANNA, Callback::ForgetMe).await;
    let question = w.bot.telegram.last_message(ANNA.id);
    for call in [
        "dynamodb PutItem",
        "dynamodb DeleteItem",
        "dynamodb BatchWriteItem",
        "dynamodb TransactWriteItems",
        "dynamodb UpdateItem",
    ] {
        meter.lose_answers(call, 3);
    }
    let confirm = updates::callback(
        w.bot.next_update_id(),
        ANNA,
        question.message_id,
        &Callback::ConfirmForgetMe.encode(),
    );
    let mut deliveries = 0;
    loop {
        deliveries += 1;
        assert!(deliveries < 30, "Telegram gives up long before this");
        if w.bot.post(&confirm).await.status == 200 {
            break;
        }
    }
    assert!(meter.answers_lost() > 0, "the run lost answers");
    drain_queue(&w).await;
    w.bot
        .telegram
        .message(ANNA.id, question.message_id)
        .says("Everything about you is deleted");
    assert_eq!(w.balance(ANNA).await, before_forget + 54, "refunded once");
    assert_eq!(w.paid_entries(ANNA, WorkKind::Training, true).await, 1);
    assert_eq!(w.paid_entries(ANNA, WorkKind::Generation, true).await, 1);
    assert!(
        !w.fal.cancels().is_empty(),
        "the running training is cancelled"
    );
    only_the_books_are_left(&w, &avatars).await;
}

/// Retention on both backends: a generation committed with `RETENTION_DAYS` carries its end
/// (DynamoDB's TTL attribute on AWS), the card says how long pictures are kept, and once the
/// time is over the record counts as gone; the embedded backend's sweep deletes the record
/// and its pictures (on AWS the table's TTL and the bucket's lifecycle rule do, which the
/// template test pins).
async fn retention_on(backend: fluxbot_tests::backends::Backend) {
    let name = backend.name;
    let w = PipelineWorld::on(backend, false, &[("RETENTION_DAYS", "2")], 1).await;
    let avatar = w.trained_avatar(ANNA, "portrait", "").await;
    let sub = w.prompted(ANNA, &avatar, "on a beach").await;
    let result = w.fal.generation_result(&sub.request_id, &[false]);
    assert_eq!(w.deliver_ok(&sub, &result).await.status, 200);
    let store = &w.pipeline.store;
    let generation = store
        .list_generations(avatar.id, 10)
        .await
        .unwrap()
        .remove(0);
    let until = generation.keep_until.expect("a kept generation ends");
    assert_eq!(
        until.as_secs() - generation.created_at.as_secs(),
        2 * 86_400
    );
    let pictures: Vec<BlobKey> = generation
        .kept_pictures()
        .iter()
        .map(|(_, p)| BlobKey::new(p.key).unwrap())
        .collect();
    assert!(!pictures.is_empty(), "{name}: the pictures are kept");
    let stored = |w: &PipelineWorld| {
        let (pictures, blobs) = (pictures.clone(), w.pipeline.blobs.clone());
        async move {
            let mut n = 0;
            for key in &pictures {
                n += usize::from(blobs.size(key).await.unwrap().is_some());
            }
            n
        }
    };
    assert_eq!(stored(&w).await, pictures.len());
    w.bot.say(ANNA, "/avatars").await;
    w.bot.tap_last(ANNA, Callback::Card(avatar.id)).await;
    w.bot
        .telegram
        .last_message(ANNA.id)
        .says("on a beach")
        .says("Pictures and their prompts are kept 2 days");

    if let Some((clients, resources)) = &w.bot.backend.aws {
        let item = clients
            .dynamodb
            .get_item()
            .table_name(&resources.table_name)
            .key("pk", AttributeValue::S(format!("AVATAR#{}", avatar.id)))
            .key("sk", AttributeValue::S(format!("GEN#{}", generation.id)))
            .send()
            .await
            .unwrap()
            .item
            .unwrap();
        assert_eq!(
            item.get("expires_at"),
            Some(&AttributeValue::N(until.as_secs().to_string())),
            "DynamoDB's TTL deletes it"
        );
    }

    // Three days on: the sweep of the embedded backend removes record and pictures.
    let reports = w.sweeps_at(&[3 * 24 * 60]).await;
    if name == "embedded" {
        assert_eq!(reports[0].expired_removed, 1);
        assert_eq!(stored(&w).await, 0, "the pictures are gone");
        assert!(
            store
                .get_generation(avatar.id, generation.id)
                .await
                .unwrap()
                .is_none()
        );
    }
    // A second sweep has nothing left to do.
    assert_eq!(w.sweeps_at(&[3 * 24 * 60]).await[0].expired_removed, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generations_expire_after_the_retention_on_the_embedded_backend() {
    retention_on(fluxbot_tests::backends::embedded().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generations_carry_their_ttl_on_aws() {
    retention_on(fluxbot_tests::backends::aws().await).await;
}
