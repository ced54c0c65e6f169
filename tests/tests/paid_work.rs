//! The paid-work engine's guarantees through the real handlers (moto, the fake Telegram and
//! fal.ai): work committed by an update or a tap is paid once however Telegram delivers it
//! again, every end settles once (a deletion refunds what never reached fal.ai and cancels what
//! runs there; pictures Telegram will not take are refunded; a timeout honours a finished
//! result), and the sweep goes on past a record it cannot read.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use fluxbot::domain::{
    Avatar, AvatarStatus, EntryKind, Generation, OutcomeNotice, Timestamp, UserId, WorkKind,
};
use fluxbot::telegram::callback::Callback;
use fluxbot_tests::aws_meter::FaultAt;
use fluxbot_tests::fake_telegram::updates::{self, User};
use fluxbot_tests::pipeline_world::PipelineWorld;
use serde_json::json;

const ANNA: User = User {
    id: 7_500_001,
    language_code: "en",
};
const BORIS: User = User {
    id: 7_500_002,
    language_code: "en",
};

/// A paying bot: a fast training costs 50 credits, a picture 2 (two pictures by default).
const STARS: &[(&str, &str)] = &[
    ("BILLING", "stars"),
    ("CREDIT_PACKS", "60:300"),
    ("PRICE_TRAINING_CREDITS_FAST", "50"),
    ("PRICE_IMAGE_CREDITS", "2"),
    ("MAX_TRAININGS_PER_USER", "3"),
];

async fn grant(w: &PipelineWorld, user: User, credits: u64) {
    w.grant(user, credits).await;
}

async fn balance(w: &PipelineWorld, user: User) -> u64 {
    w.balance(user).await
}

/// The user's debits (or refunds) for generations.
async fn picture_entries(w: &PipelineWorld, user: User, refunds: bool) -> usize {
    w.paid_entries(user, WorkKind::Generation, refunds).await
}

async fn generations(w: &PipelineWorld, avatar: &Avatar) -> Vec<Generation> {
    w.pipeline
        .store
        .list_generations(avatar.id, 50)
        .await
        .unwrap()
}

fn pictures_in_chat(w: &PipelineWorld, user: User) -> usize {
    w.bot
        .telegram
        .chat(user.id)
        .iter()
        .filter(|m| m.photo.is_some())
        .count()
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

/// Takes every launch message off the queue unprocessed, as if they were lost.
async fn drop_launches(w: &PipelineWorld) {
    loop {
        let (messages, _) = w.receive_launches(Duration::from_millis(300)).await;
        if messages.is_empty() {
            return;
        }
        let none = aws_lambda_events::event::sqs::SqsBatchResponse::default();
        w.settle(&messages, &none).await;
    }
}

/// Runs the launch queue until it is empty.
async fn drain_queue(w: &PipelineWorld) {
    while w.run_queue(&w.pipeline, Duration::from_millis(500)).await.0 > 0 {}
}

/// A typed prompt, delivered as `update`, then delivered again the way Telegram does when the
/// invocation that committed it died before marking it done (its claim's lease ran out):
/// one generation, one debit, one submission, the pictures once.
async fn prompt_delivered_twice(w: &PipelineWorld, avatar: &Avatar, fault: Option<FaultAt>) {
    let start = balance(w, ANNA).await;
    w.prompt_screen(ANNA, avatar).await;
    let update = updates::text(w.bot.next_update_id(), ANNA, "a lighthouse at dawn");
    let update_id = update["update_id"].as_i64().unwrap();
    assert_eq!(w.bot.post(&update).await.status, 200);
    if let Some(at) = fault {
        assert_eq!(
            at,
            FaultAt::After,
            "only a lost answer leaves a commit to find"
        );
    }
    w.pipeline.store.forget_update(update_id).await.unwrap();
    assert_eq!(w.bot.post(&update).await.status, 200, "delivered again");

    assert_eq!(generations(w, avatar).await.len(), 1, "one generation");
    assert_eq!(picture_entries(w, ANNA, false).await, 1, "one debit");
    assert_eq!(balance(w, ANNA).await, start - 4, "two pictures paid once");
    let before = w.fal.submissions().len();
    drain_queue(w).await;
    assert_eq!(w.fal.submissions().len(), before + 1, "one submission");
    let sub = w.fal.submissions().last().unwrap().clone();
    let result = w.fal.generation_result(&sub.request_id, &[false, false]);
    assert_eq!(w.deliver_ok(&sub, &result).await.status, 200);
    assert_eq!(w.deliver_ok(&sub, &result).await.status, 200, "fal retries");
    assert_eq!(pictures_in_chat(w, ANNA), 2, "the pictures once");
    assert_eq!(picture_entries(w, ANNA, true).await, 0, "nothing refunded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generation_update_delivered_again_after_its_commit_is_paid_once() {
    let w = PipelineWorld::with_env(false, STARS).await;
    grant(&w, ANNA, 500).await;
    let avatar = w.trained_avatar(ANNA, "portrait", "").await;
    prompt_delivered_twice(&w, &avatar, None).await;
}

/// The commit's transaction applied with its answer lost, every try of the SDK's (the retry
/// cancelled on its own result): the commit is the bot's own, told apart by its write token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generation_commit_whose_answer_was_lost_is_paid_once() {
    let (backend, meter) = fluxbot_tests::backends::aws_metered().await;
    let w = PipelineWorld::on(backend, false, STARS, 1).await;
    grant(&w, ANNA, 500).await;
    let avatar = w.trained_avatar(ANNA, "portrait", "").await;
    w.prompt_screen(ANNA, &avatar).await;
    meter.inject("dynamodb TransactWriteItems", 0, 3, FaultAt::After);
    let update = updates::text(w.bot.next_update_id(), ANNA, "a lighthouse at dawn");
    let update_id = update["update_id"].as_i64().unwrap();
    assert_eq!(w.bot.post(&update).await.status, 200);
    assert_eq!(meter.faults_left(), 0, "the commit's answers were lost");
    assert_eq!(generations(&w, &avatar).await.len(), 1);
    // And Telegram delivers it again (the invocation died after all).
    w.pipeline.store.forget_update(update_id).await.unwrap();
    assert_eq!(w.bot.post(&update).await.status, 200);
    assert_eq!(generations(&w, &avatar).await.len(), 1, "one generation");
    assert_eq!(picture_entries(&w, ANNA, false).await, 1, "one debit");
    assert_eq!(balance(&w, ANNA).await, 500 - 50 - 4);
    let before = w.fal.submissions().len();
    drain_queue(&w).await;
    assert_eq!(w.fal.submissions().len(), before + 1, "one submission");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_double_tap_on_a_style_starts_one_generation() {
    let w = PipelineWorld::with_env(false, STARS).await;
    grant(&w, ANNA, 500).await;
    let avatar = w.trained_avatar(ANNA, "portrait", "").await;
    w.bot.tap_last(ANNA, Callback::Card(avatar.id)).await;
    w.bot.tap_last(ANNA, Callback::Generate(avatar.id)).await;
    let screen = w.bot.telegram.last_message(ANNA.id).message_id;
    let style = Callback::Style(avatar.id, 0);
    // Two taps at once (two updates, two instances' worth of racing)...
    let (a, b) = futures::join!(
        w.bot.tap(ANNA, screen, style),
        w.bot.tap(ANNA, screen, style)
    );
    assert_eq!((a.status, b.status), (200, 200));
    assert_eq!(generations(&w, &avatar).await.len(), 1, "one generation");
    // ...and a third a moment later: the same ask, said so.
    let third = w.bot.tap(ANNA, screen, style).await;
    assert_eq!(
        third.json()["text"],
        "Already drawing these: the pictures come in a moment."
    );
    assert_eq!(generations(&w, &avatar).await.len(), 1, "still one");
    assert_eq!(picture_entries(&w, ANNA, false).await, 1, "paid once");
    let before = w.fal.submissions().len();
    drain_queue(&w).await;
    assert_eq!(w.fal.submissions().len(), before + 1, "one submission");
}

/// Deleting settles the avatar's paid work first: a queued training and a generation that
/// never reached fal.ai are refunded once, a generation running at fal.ai is cancelled there
/// (and not refunded), nothing is submitted afterwards, and the confirmation says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_refunds_what_never_reached_fal_and_cancels_what_runs_there() {
    let w = PipelineWorld::with_env(false, STARS).await;
    grant(&w, ANNA, 500).await;
    let trained = w.trained_avatar(ANNA, "portrait", "").await;
    // One generation running at fal.ai, one committed but not launched yet.
    let running = w.prompted(ANNA, &trained, "a red kite").await;
    // The prompt screen stays open: the next message is another prompt.
    w.bot.say(ANNA, "a blue kite").await;
    // A second avatar, queued for training, not launched yet.
    let queued = w.bot.queued_avatar(ANNA, "style", "Kites", "fast", 5).await;
    assert_eq!(queued.status(), AvatarStatus::Queued);
    let submitted = w.fal.submissions().len();
    assert_eq!(balance(&w, ANNA).await, 500 - 50 - 4 - 4 - 50);

    // The question names what comes back and what is stopped.
    w.bot.say(ANNA, "/avatars").await;
    w.bot.tap_last(ANNA, Callback::Card(trained.id)).await;
    w.bot.tap_last(ANNA, Callback::Delete(trained.id)).await;
    let question = w.bot.telegram.last_message(ANNA.id);
    question.says("4 credit(s) returned");
    question.says("1 job(s) already running");
    w.bot
        .tap_last(ANNA, Callback::ConfirmDelete(trained.id))
        .await;
    w.bot.bot_says(ANNA, "4 credit(s) returned to your balance");
    w.bot.say(ANNA, "/avatars").await;
    w.bot.tap_last(ANNA, Callback::Card(queued.id)).await;
    w.bot.tap_last(ANNA, Callback::Delete(queued.id)).await;
    w.bot.bot_says(ANNA, "50 credit(s) returned");
    w.bot
        .tap_last(ANNA, Callback::ConfirmDelete(queued.id))
        .await;
    w.bot
        .bot_says(ANNA, "50 credit(s) returned to your balance");

    assert_eq!(
        balance(&w, ANNA).await,
        500 - 50 - 4,
        "the unsent work, back once"
    );
    drain_queue(&w).await;
    assert_eq!(
        w.fal.submissions().len(),
        submitted,
        "nothing submitted afterwards"
    );
    assert_eq!(
        w.fal.cancels(),
        vec![running.request_id.clone()],
        "the running generation cancelled at fal.ai"
    );
    let ledger = w
        .pipeline
        .store
        .ledger(UserId(ANNA.id), 1000)
        .await
        .unwrap();
    let refunds = |work: WorkKind| {
        ledger
            .iter()
            .filter(|e| matches!(&e.kind, EntryKind::Refund { work: x } if x.kind == work))
            .count()
    };
    assert_eq!(refunds(WorkKind::Generation), 1);
    assert_eq!(refunds(WorkKind::Training), 1);
    // Its late result finds nothing, and nothing is given back twice by the sweep.
    let result = w
        .fal
        .generation_result(&running.request_id, &[false, false]);
    assert_eq!(w.deliver_ok(&running, &result).await.status, 200);
    w.sweeps_at(&[5, 15]).await;
    assert_eq!(balance(&w, ANNA).await, 500 - 50 - 4);
    assert_eq!(
        pictures_in_chat(&w, ANNA),
        0,
        "nothing of a deleted avatar is sent"
    );
}

/// Telegram takes pictures it refuses as photos (`IMAGE_PROCESS_FAILED`) as files; refused
/// every way, the generation is refunded once and the user told.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pictures_telegram_refuses_go_as_files_or_are_refunded_once() {
    let refused = json!({"ok": false, "error_code": 400,
                         "description": "Bad Request: IMAGE_PROCESS_FAILED"});
    let w = PipelineWorld::with_env(false, STARS).await;
    grant(&w, ANNA, 500).await;
    let avatar = w.trained_avatar(ANNA, "portrait", "").await;

    // Refused as an album of photos: sent as an album of files, kept price.
    let sub = w.prompted(ANNA, &avatar, "a paper boat").await;
    w.bot
        .telegram
        .inject_error("sendMediaGroup", 400, refused.clone());
    let result = w.fal.generation_result(&sub.request_id, &[false, false]);
    assert_eq!(w.deliver_ok(&sub, &result).await.status, 200);
    let files: Vec<_> = w
        .bot
        .telegram
        .chat(ANNA.id)
        .into_iter()
        .filter(|m| m.photo.is_some() && m.as_file)
        .collect();
    assert_eq!(files.len(), 2, "the pictures, as files");
    assert_eq!(picture_entries(&w, ANNA, true).await, 0);

    // Refused as photos and as files, and by every later try: refunded once, said.
    let sub = w.prompted(ANNA, &avatar, "a paper plane").await;
    for _ in 0..4 {
        w.bot
            .telegram
            .inject_error("sendMediaGroup", 400, refused.clone());
    }
    let before = balance(&w, ANNA).await;
    let result = w.fal.generation_result(&sub.request_id, &[false, false]);
    assert_eq!(w.deliver_ok(&sub, &result).await.status, 200);
    let told = w.bot.telegram.last_message(ANNA.id);
    told.says("2 could not be delivered");
    told.says("4 credits are back on your balance");
    assert_eq!(balance(&w, ANNA).await, before + 4);
    w.sweeps_at(&[5, 15]).await;
    assert_eq!(picture_entries(&w, ANNA, true).await, 1, "refunded once");
    assert_eq!(balance(&w, ANNA).await, before + 4);
    assert_eq!(
        generations(&w, &avatar).await[0].notice,
        OutcomeNotice::Sent,
        "settled: nothing more to send"
    );
}

/// The sweep meets a generation past its timeout whose result fal finished meanwhile (the
/// webhook lost): asked first, fal's result is delivered and kept, not refunded; one that
/// finishes while it is being cancelled (fal answers ALREADY_COMPLETED) too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_meeting_a_finished_result_delivers_it() {
    let w = PipelineWorld::with_env(false, STARS).await;
    grant(&w, ANNA, 500).await;
    let avatar = w.trained_avatar(ANNA, "portrait", "").await;
    // FAL_GENERATION_TIMEOUT is 10 minutes by default.
    let past_timeout = 12;

    let sub = w.prompted(ANNA, &avatar, "a silver fox").await;
    let result = w.fal.generation_result(&sub.request_id, &[false, false]);
    w.fal.complete(&sub.request_id, &result);
    w.sweeps_at(&[past_timeout]).await;
    assert_eq!(pictures_in_chat(&w, ANNA), 2, "delivered");
    assert!(w.fal.cancels().is_empty(), "nothing to cancel");

    let sub = w.prompted(ANNA, &avatar, "a golden fox").await;
    let result = w.fal.generation_result(&sub.request_id, &[false, false]);
    // Finished at fal, its status not yet saying so: the cancel finds it done.
    w.fal.set_result(&sub.request_id, &result);
    w.sweeps_at(&[past_timeout]).await;
    assert_eq!(w.fal.cancels(), vec![sub.request_id.clone()]);
    assert_eq!(pictures_in_chat(&w, ANNA), 4, "delivered");
    assert_eq!(picture_entries(&w, ANNA, true).await, 0, "nothing refunded");
    let states: Vec<_> = generations(&w, &avatar)
        .await
        .iter()
        .map(|g| g.state.status().as_str())
        .collect();
    assert_eq!(states, ["completed", "completed"]);
}

/// A record in the in-flight index that cannot be read (written by hand here, as a bug or a
/// botched migration would leave one): the sweep skips and counts it and settles everything
/// else, run after run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_record_in_flight_does_not_stop_the_sweep() {
    let w = PipelineWorld::new(false).await;
    // Two avatars queued whose launch messages were lost: the sweep sends them again.
    let a = w.bot.queued_avatar(ANNA, "style", "A", "fast", 5).await;
    let b = w.bot.queued_avatar(BORIS, "style", "B", "fast", 5).await;
    drop_launches(&w).await;
    let (clients, resources) = w.bot.backend.aws.as_ref().unwrap();
    let s = |v: String| AttributeValue::S(v);
    let broken = fluxbot::domain::AvatarId::new();
    // The oldest entry of the index, in a shard of its own, with no readable body.
    clients
        .dynamodb
        .put_item()
        .table_name(&resources.table_name)
        .item("pk", s("USER#9".into()))
        .item("sk", s(format!("AVATAR#{broken}")))
        .item("entity", s("avatar".into()))
        .item("state", s("not a state".into()))
        .item("inflight_pk", s("IN_FLIGHT#07".into()))
        .item(
            "inflight_sk",
            s(format!("{}#T#9#{broken}", Timestamp(1).sortable())),
        )
        .send()
        .await
        .unwrap();
    for run in 0..2 {
        let report = w
            .pipeline
            .sweep(
                Timestamp::now().plus(Duration::from_secs(600 + run * 600)),
                deadline(),
            )
            .await
            .unwrap();
        assert_eq!(report.unreadable, 1, "run {run}: {report:?}");
        assert_eq!(
            report.relaunched, 2,
            "run {run}: the others are settled: {report:?}"
        );
        drop_launches(&w).await;
    }
    for avatar in [&a, &b] {
        assert_eq!(w.avatar_now(avatar).await.status(), AvatarStatus::Queued);
    }
}

/// A stack deployed with `AvatarTestMode=true` and otherwise the template's defaults: its
/// Telegram webhook's environment, as CloudFormation resolves it, lets 20 trainings start in
/// a day (test mode spends nothing at fal.ai, so no daily cap applies).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_mode_stack_starts_twenty_trainings_a_day() {
    let template = fluxbot_tests::template::Template::load();
    let env = template.environment_of("TelegramWebhookFunction", &[("AvatarTestMode", "true")]);
    let env: Vec<(&str, &str)> = env
        .iter()
        .filter(|(k, _)| {
            !k.starts_with("TELEGRAM_")
                && !k.ends_with("_URL")
                && *k != "TABLE_NAME"
                && *k != "BUCKET_NAME"
        })
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain([("PHOTOS_MIN_STYLE", "2")])
        .collect();
    assert!(
        env.contains(&("AVATAR_TEST_MODE", "true")),
        "the stack runs in test mode: {env:?}"
    );
    let w =
        fluxbot_tests::bot_world::BotWorld::new(fluxbot_tests::backends::aws().await, &env).await;
    for i in 0..20 {
        let user = User {
            id: 7_500_100 + i,
            language_code: "en",
        };
        let avatar = w.queued_avatar(user, "style", "Test", "fast", 2).await;
        assert_eq!(
            avatar.status(),
            AvatarStatus::Queued,
            "training {i} started"
        );
    }
}
