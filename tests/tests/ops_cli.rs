//! The operator's commands against the fake Telegram: what they send, and what they print.

use fluxbot::config::EnvReader;
use fluxbot::telegram::client::TelegramClient;
use fluxbot::telegram::settings::TelegramSettings;
use fluxbot_tests::fake_telegram::{FakeTelegram, TOKEN};
use serde_json::json;

fn client(telegram: &FakeTelegram) -> TelegramClient {
    let settings = EnvReader::from_pairs([
        ("TELEGRAM_TOKEN", TOKEN.to_owned()),
        ("TELEGRAM_API_URL", telegram.url()),
    ])
    .load::<TelegramSettings>()
    .unwrap();
    TelegramClient::new(&settings)
}

#[tokio::test]
async fn set_webhook_registers_the_secret_updates_and_commands() {
    let telegram = FakeTelegram::start().await;
    let tg = client(&telegram);
    let url: url::Url = "https://abc123.execute-api.eu-central-1.amazonaws.com/telegram/webhook"
        .parse()
        .unwrap();
    let out = ops::set_webhook(&tg, &url, "s3cret_-TOKEN", true)
        .await
        .unwrap();
    assert_eq!(
        out,
        "webhook set: https://abc123.execute-api.eu-central-1.amazonaws.com/telegram/webhook\n\
         pending updates dropped\n\
         commands registered (default): 11\n\
         commands registered (ru): 11\n\
         commands registered (en): 11\n"
    );
    let webhook = telegram.webhook().unwrap();
    assert_eq!(webhook["secret_token"], "s3cret_-TOKEN");
    assert_eq!(
        webhook["allowed_updates"],
        json!(["message", "callback_query", "pre_checkout_query"])
    );
    assert_eq!(webhook["drop_pending_updates"], true);
    assert_eq!(
        webhook["max_connections"], 100,
        "Telegram's most, not its 40"
    );
    let commands = telegram.calls_of("setMyCommands");
    assert_eq!(commands.len(), 3);
    assert!(commands[0].params.get("language_code").is_none());
    assert_eq!(commands[1].params["language_code"], "ru");
    assert_eq!(commands[2].params["language_code"], "en");
    assert_eq!(commands[2].params["commands"][1]["command"], "generate");
    assert_eq!(
        commands[2].params["commands"][1]["description"],
        "Generate images"
    );
    assert_eq!(
        commands[1].params["commands"][2]["description"],
        "Создать аватар"
    );

    // Refused before any call: plain http, or a secret Telegram would not accept.
    let plain: url::Url = "http://example.com/telegram/webhook".parse().unwrap();
    assert!(ops::set_webhook(&tg, &plain, "ok", false).await.is_err());
    assert!(
        ops::set_webhook(&tg, &url, "has space", false)
            .await
            .is_err()
    );
    assert_eq!(telegram.calls_of("setWebhook").len(), 1);
}

#[tokio::test]
async fn webhook_info_says_why_updates_do_not_arrive() {
    let telegram = FakeTelegram::start().await;
    let tg = client(&telegram);
    let out = ops::webhook_info(&tg).await.unwrap();
    assert!(out.starts_with("webhook: NOT SET"), "{out}");

    let url: url::Url = "https://abc.example/telegram/webhook".parse().unwrap();
    ops::set_webhook(&tg, &url, "secret", false).await.unwrap();
    telegram.push_update(json!({"update_id": 1}));
    telegram.set_webhook_error(
        1_795_244_400,
        "Wrong response from the webhook: 401 Unauthorized",
    );
    let out = ops::webhook_info(&tg).await.unwrap();
    assert_eq!(
        out,
        "webhook: https://abc.example/telegram/webhook\n\
         pending updates: 1\n\
         last delivery error: 2026-11-21 07:00:00 UTC: Wrong response from the webhook: 401 Unauthorized\n  \
         hint: the webhook answered 401: TELEGRAM_WEBHOOK_SECRET differs from the secret given to set-webhook; run set-webhook again\n\
         max connections: 100\n\
         allowed updates: message, callback_query, pre_checkout_query\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redrive_moves_dead_letters_back_without_losing_any() {
    use fluxbot::ports::{JobQueue, QueueDelay};
    let backend = fluxbot_tests::backends::aws().await;
    let (clients, resources) = backend.aws.as_ref().unwrap();
    // The dead-letter queue the template pairs with the launch queue.
    let attrs = clients
        .sqs
        .get_queue_attributes()
        .queue_url(&resources.launch_queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .unwrap();
    let policy: serde_json::Value = serde_json::from_str(
        &attrs.attributes.unwrap()[&aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy],
    )
    .unwrap();
    let dlq_name = policy["deadLetterTargetArn"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    let dlq_url = clients
        .sqs
        .get_queue_url()
        .queue_name(dlq_name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let dlq = fluxbot::adapters::aws::SqsQueue::new(clients.sqs.clone(), dlq_url.clone());
    for n in 0..12 {
        dlq.send(&format!(r#"{{"n":{n}}}"#), QueueDelay::NONE)
            .await
            .unwrap();
    }
    let out = ops::redrive(&clients.sqs, &dlq_url, &resources.launch_queue_url)
        .await
        .unwrap();
    assert_eq!(out, "moved 12 message(s) back to the launch queue\n");
    let mut bodies = Vec::new();
    loop {
        let batch = backend
            .launches
            .receive(10, std::time::Duration::from_secs(1))
            .await
            .unwrap();
        if batch.is_empty() {
            break;
        }
        for m in batch {
            bodies.push(m.body.clone());
            backend.launches.ack(&m.receipt).await.unwrap();
        }
    }
    bodies.sort();
    assert_eq!(bodies.len(), 12);
    assert!(
        dlq.receive(10, std::time::Duration::from_secs(1))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_avatars_and_in_flight_work() {
    use fluxbot::domain::{AvatarEvent, Timestamp, UserId};
    let backend = fluxbot_tests::backends::aws().await;
    let store = &*backend.store;
    let owner = UserId(8_000_001);
    let t0 = Timestamp::now().minus(std::time::Duration::from_secs(600));
    fluxbot_tests::conformance::collecting(store, owner).await;
    fluxbot_tests::conformance::training_since(store, owner, t0).await;
    let queued = fluxbot_tests::conformance::collecting(store, owner).await;
    let queued =
        fluxbot_tests::conformance::step(store, &queued, AvatarEvent::MinimumReached, t0).await;
    fluxbot_tests::conformance::step(store, &queued, AvatarEvent::Enqueue, Timestamp::now()).await;
    let out = ops::stats(store, Timestamp::now()).await.unwrap();
    assert!(out.contains("  collecting_photos  1\n"), "{out}");
    assert!(out.contains("  queued             1\n"), "{out}");
    assert!(out.contains("  training           1\n"), "{out}");
    assert!(out.contains("in flight: 2 avatar(s)"), "{out}");
    assert!(out.contains("oldest in flight: 10 min"), "{out}");
}

#[tokio::test]
async fn stack_outputs_fill_in_what_the_flags_do_not_give() {
    let sdk = fluxbot_tests::moto::sdk_config().await;
    let cloudformation = aws_sdk_cloudformation::Client::new(&sdk);
    let stack = format!("fluxbot-ops-{}", uuid::Uuid::new_v4().simple());
    // A stack with the outputs the CLI reads (values as the real template produces them).
    let template = json!({
        "Resources": {"LaunchQueue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {
            "TableName": {"Value": "fluxbot-RecordsTable-ABC"},
            "LaunchQueueUrl": {"Value": {"Ref": "LaunchQueue"}},
            "TelegramWebhookUrl": {"Value": "https://abc.execute-api.eu-central-1.amazonaws.com/telegram/webhook"}
        }
    });
    cloudformation
        .create_stack()
        .stack_name(&stack)
        .template_body(template.to_string())
        .send()
        .await
        .unwrap();

    let outputs = ops::StackOutputs::load(&cloudformation, &stack)
        .await
        .unwrap();
    assert_eq!(
        outputs.pick(None, "TableName", "--table").unwrap(),
        "fluxbot-RecordsTable-ABC"
    );
    assert!(
        outputs
            .pick(None, "LaunchQueueUrl", "--queue-url")
            .unwrap()
            .starts_with("http"),
        "a Ref to the queue is its URL"
    );
    assert_eq!(
        outputs
            .pick(Some("explicit".into()), "TableName", "--table")
            .unwrap(),
        "explicit",
        "a flag wins over the stack"
    );
    let missing = outputs
        .pick(None, "LaunchDeadLetterQueueUrl", "--dead-letter-queue-url")
        .unwrap_err();
    assert!(
        missing
            .to_string()
            .contains("has no output LaunchDeadLetterQueueUrl")
    );
    let no_stack = ops::StackOutputs::default()
        .pick(None, "TableName", "--table")
        .unwrap_err();
    assert_eq!(
        no_stack.to_string(),
        "pass --table, or --stack <name> to read it from the stack's TableName output"
    );
    let unknown = ops::StackOutputs::load(&cloudformation, "no-such-stack")
        .await
        .unwrap_err();
    assert!(unknown.to_string().contains("no-such-stack"), "{unknown}");
}

/// A buyer of their own, so tests sharing the table do not share a balance.
fn buyer() -> fluxbot_tests::fake_telegram::updates::User {
    fluxbot_tests::fake_telegram::updates::User {
        id: 7_200_000 + i64::from(rand::random::<u16>()),
        language_code: "en",
    }
}

/// A paying bot on moto in which `buyer` has bought 60 credits for 300 Stars (`charge`).
async fn bought(
    buyer: fluxbot_tests::fake_telegram::updates::User,
    charge: &str,
) -> fluxbot_tests::bot_world::BotWorld {
    let w = fluxbot_tests::bot_world::BotWorld::new(
        fluxbot_tests::backends::aws().await,
        &[("BILLING", "stars"), ("CREDIT_PACKS", "60:300")],
    )
    .await;
    w.say(buyer, "/balance").await;
    w.press_last(buyer, "60 credits").await;
    let invoice = w.telegram.invoices().pop().unwrap();
    let ids = (w.next_update_id(), w.next_update_id());
    let (pre_checkout, paid) = w.telegram.pay(&invoice, buyer, charge, ids);
    assert_eq!(w.deliver(&pre_checkout).await.json()["ok"], true);
    w.deliver(&paid).await;
    w
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_and_balance_apply_once_per_request_id() {
    use fluxbot::domain::UserId;
    let store = fluxbot_tests::backends::aws().await.store.clone();
    let user = UserId(7_200_100 + i64::from(rand::random::<u16>()));
    let out = ops::balance(store.as_ref(), user).await.unwrap();
    assert_eq!(
        out,
        format!("user {user}: 0 credit(s)\nno ledger entries\n")
    );
    let out = ops::grant(store.as_ref(), user, 25, "support-ticket-17")
        .await
        .unwrap();
    assert_eq!(
        out,
        format!("granted 25 credit(s) to user {user}; balance 25\n")
    );
    let out = ops::grant(store.as_ref(), user, 25, "support-ticket-17")
        .await
        .unwrap();
    assert_eq!(
        out,
        "request support-ticket-17 was applied before; nothing changed; balance 25\n"
    );
    let out = ops::balance(store.as_ref(), user).await.unwrap();
    assert!(
        out.starts_with(&format!("user {user}: 25 credit(s)\n")),
        "{out}"
    );
    assert!(out.contains("  +25  grant support-ticket-17\n"), "{out}");
    assert!(ops::grant(store.as_ref(), user, 0, "x").await.is_err());
    assert!(ops::grant(store.as_ref(), user, 1, "").await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refund_star_payment_takes_the_credits_back_then_refunds_once() {
    use fluxbot::domain::{Credits, UserId};
    let charge = format!("stxRefund{}", rand::random::<u32>());
    let buyer = buyer();
    let w = bought(buyer, &charge).await;
    let store = w.backend.store.clone();
    let tg = client(&w.telegram);
    let user = UserId(buyer.id);
    let out = ops::refund_star_payment(store.as_ref(), &tg, user, &charge)
        .await
        .unwrap();
    assert_eq!(
        out,
        "took back 60 credit(s); balance 0\nTelegram refunded the Stars\n"
    );
    assert!(w.telegram.refunded(&charge));
    assert_eq!(store.balance(user).await.unwrap(), Credits(0));
    // Again (an operator unsure it went through): nothing more happens.
    let out = ops::refund_star_payment(store.as_ref(), &tg, user, &charge)
        .await
        .unwrap();
    assert_eq!(
        out,
        "credits were taken back before\nTelegram had refunded the Stars already\n"
    );
    assert_eq!(store.balance(user).await.unwrap(), Credits(0));
    // A charge the user never paid.
    let err = ops::refund_star_payment(store.as_ref(), &tg, user, "stxUnknown")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no purchase"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_whose_credits_were_spent_is_not_refunded() {
    use fluxbot::domain::{Credits, GenerationId, LedgerEntry, Timestamp, UserId, Work};
    let charge = format!("stxSpent{}", rand::random::<u32>());
    let buyer = buyer();
    let w = bought(buyer, &charge).await;
    let store = w.backend.store.clone();
    let user = UserId(buyer.id);
    let spent = LedgerEntry::debit(
        user,
        Work::generation(GenerationId::new()),
        Credits(2),
        Timestamp::now(),
    );
    store.apply_entry(&spent).await.unwrap().unwrap();
    let err = ops::refund_star_payment(store.as_ref(), &client(&w.telegram), user, &charge)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("partly spent (balance 58)"),
        "{err}"
    );
    assert!(!w.telegram.refunded(&charge), "Telegram was not asked");
    assert_eq!(store.balance(user).await.unwrap(), Credits(58));
}

/// Telegram refusing the Stars refund for good (here: it no longer knows the charge) gives
/// the credits back, once: the user ends with the Stars spent and the credits, never neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stars_refund_telegram_refuses_gives_the_credits_back() {
    use fluxbot::domain::{Credits, UserId};
    let charge = format!("stxRefused{}", rand::random::<u32>());
    let buyer = buyer();
    let w = bought(buyer, &charge).await;
    let store = w.backend.store.clone();
    let tg = client(&w.telegram);
    let user = UserId(buyer.id);
    w.telegram.inject_error(
        "refundStarPayment",
        400,
        serde_json::json!({"ok": false, "error_code": 400, "description": "Bad Request: CHARGE_NOT_FOUND"}),
    );
    let err = ops::refund_star_payment(store.as_ref(), &tg, user, &charge)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("the credits were given back (balance 60)"),
        "{err}"
    );
    assert!(!w.telegram.refunded(&charge));
    assert_eq!(store.balance(user).await.unwrap(), Credits(60));
    // Run again: said, and nothing changes.
    let err = ops::refund_star_payment(store.as_ref(), &tg, user, &charge)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("refused to refund"), "{err}");
    assert_eq!(store.balance(user).await.unwrap(), Credits(60));
}

/// `reconcile-payments` against the fake Telegram's getStarTransactions (paged by 100): a
/// clean book is reported clean; a payment whose update never arrived and a ledger purchase
/// Telegram does not know are listed with their fixes; `credit-star-payment` credits the
/// first once; a refund made at Telegram behind the ledger's back is found too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_payments_finds_what_the_books_and_telegram_disagree_on() {
    use fluxbot::domain::{Credits, LedgerEntry, Timestamp, UserId};
    let charge = format!("stxBooks{}", rand::random::<u32>());
    let buyer = buyer();
    let w = bought(buyer, &charge).await;
    let store = w.backend.store.clone();
    let tg = client(&w.telegram);
    let user = UserId(buyer.id);
    let invoice = w.telegram.invoices().pop().unwrap();
    // 105 more payments, each credited as the bot credits them: two pages at Telegram.
    for i in 0..105 {
        let id = format!("{charge}-{i}");
        w.telegram.pay(&invoice, buyer, &id, (0, 0));
        let entry = LedgerEntry::purchase(user, &id, 300, Credits(60), Timestamp::now());
        store.apply_entry(&entry).await.unwrap().unwrap();
    }
    let (report, clean) = ops::reconcile_payments(store.as_ref(), &tg, Timestamp(0))
        .await
        .unwrap();
    assert!(clean, "{report}");
    assert_eq!(
        report,
        "Telegram: 106 payment(s), 31800 Stars, 0 refund(s) (2 call(s))\n\
         ledger: 106 purchase(s)\n\
         clean: every payment credited exactly once, every refund recorded\n"
    );
    let pages = w.telegram.calls_of("getStarTransactions");
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[1].params["offset"], 100);
    assert_eq!(pages[1].params["limit"], 100);

    // Telegram took a payment whose update was lost; the ledger holds one Telegram never saw.
    let lost = format!("{charge}-lost");
    w.telegram.pay(&invoice, buyer, &lost, (0, 0));
    let ghost = LedgerEntry::purchase(user, "stxGhost", 300, Credits(60), Timestamp::now());
    store.apply_entry(&ghost).await.unwrap().unwrap();
    let (report, clean) = ops::reconcile_payments(store.as_ref(), &tg, Timestamp(0))
        .await
        .unwrap();
    assert!(!clean);
    assert!(report.contains("2 unmatched:"), "{report}");
    assert!(
        report.contains(&format!(
            "  - payment {lost}: user {user} paid 300 Stars; the ledger never credited it\n    \
             fix: fluxbot-ops credit-star-payment {user} {lost}\n"
        )),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "  - purchase stxGhost: the ledger credited user {user} for 300 Stars Telegram does \
             not list"
        )),
        "{report}"
    );
    assert!(report.contains(&format!("    fix: fluxbot-ops balance {user}\n")));

    // The fix credits the lost payment once, keyed as the bot keys it.
    let before = store.balance(user).await.unwrap();
    let out = ops::credit_star_payment(store.as_ref(), &tg, user, &lost)
        .await
        .unwrap();
    assert!(
        out.starts_with(&format!("credited 60 credit(s) for {lost}")),
        "{out}"
    );
    let again = ops::credit_star_payment(store.as_ref(), &tg, user, &lost)
        .await
        .unwrap();
    assert!(again.contains("was credited before"), "{again}");
    assert_eq!(store.balance(user).await.unwrap(), Credits(before.0 + 60));
    // The update arriving after all changes nothing either.
    let (_, paid) = w.telegram.pay(
        &invoice,
        buyer,
        &lost,
        (w.next_update_id(), w.next_update_id()),
    );
    w.deliver(&paid).await;
    assert_eq!(store.balance(user).await.unwrap(), Credits(before.0 + 60));
    assert!(
        ops::credit_star_payment(store.as_ref(), &tg, user, "stxNever")
            .await
            .is_err()
    );

    // A refund made at Telegram (by hand, elsewhere) that the ledger does not know.
    let refund = serde_json::json!({"user_id": user.0, "telegram_payment_charge_id": charge});
    let refunded = reqwest::Client::new()
        .post(format!(
            "{}/bot{}/refundStarPayment",
            w.telegram.url(),
            fluxbot_tests::fake_telegram::TOKEN
        ))
        .json(&refund)
        .send()
        .await
        .unwrap();
    assert!(refunded.status().is_success());
    let (report, _) = ops::reconcile_payments(store.as_ref(), &tg, Timestamp(0))
        .await
        .unwrap();
    assert!(
        report.contains(&format!(
            "  - refund {charge}: Telegram gave the Stars back; the ledger still holds the credits\n    \
             fix: fluxbot-ops refund-star-payment {user} {charge}\n"
        )),
        "{report}"
    );
    // Its fix takes the credits back; Telegram says it refunded already.
    let out = ops::refund_star_payment(store.as_ref(), &tg, user, &charge)
        .await
        .unwrap();
    assert!(
        out.contains("Telegram had refunded the Stars already"),
        "{out}"
    );
    let (report, _) = ops::reconcile_payments(store.as_ref(), &tg, Timestamp(0))
        .await
        .unwrap();
    assert!(!report.contains(&format!("refund {charge}")), "{report}");
    assert!(
        report.contains("1 unmatched:"),
        "only the ghost is left: {report}"
    );
}

/// `spend` against the fake fal's usage API (paged, admin key): each day's estimate beside
/// fal's bill, and fal's lines by endpoint with the setting that covers them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spend_puts_the_estimates_beside_fals_bill() {
    use fluxbot::domain::{SpendDay, Timestamp};
    let w = fluxbot_tests::bot_world::BotWorld::new(
        fluxbot_tests::backends::aws().await,
        &[("SPEND_CAP_USD_PER_DAY", "20")],
    )
    .await;
    let trainer = buyer();
    // A fast training: $2 charged against today's cap.
    w.queued_avatar(trainer, "portrait", "Anna", "fast", 10)
        .await;
    let fal = fluxbot_tests::fake_fal::FakeFal::start().await;
    let now = Timestamp::now();
    let today = SpendDay::of(now);
    let two_days_ago = SpendDay::of(now.minus(std::time::Duration::from_secs(2 * 86_400)));
    fal.bill(
        today.as_str(),
        "fal-ai/flux-lora-portrait-trainer",
        "unit",
        1.0,
        2.4,
    );
    fal.bill(today.as_str(), "fal-ai/flux-lora", "megapixels", 4.0, 0.035);
    fal.bill(
        two_days_ago.as_str(),
        "fal-ai/flux-lora",
        "megapixels",
        2.0,
        0.035,
    );
    fal.bill(today.as_str(), "someone-else/endpoint", "unit", 9.0, 1.0);
    let usage = ops::FalUsage::new(
        format!("{}/v1", fal.queue_url()).parse().unwrap(),
        fluxbot_tests::fake_fal::FAL_KEY.to_owned().into(),
    );
    let since = now.minus(std::time::Duration::from_secs(3 * 86_400));
    let out = ops::spend(w.backend.store.as_ref(), &usage, since, now)
        .await
        .unwrap();
    assert!(
        out.contains(&format!(
            "{}   $2.00        $2.54        127%\n",
            today.as_str()
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "{}   $0.00        $0.07        -\n",
            two_days_ago.as_str()
        )),
        "{out}"
    );
    assert!(
        out.contains("    fal-ai/flux-lora-portrait-trainer        1 unit x $2.4 = $2.4000  (COST_TRAINING_USD_*)\n"),
        "{out}"
    );
    assert!(
        out.contains("4 megapixels x $0.035 = $0.1400  (COST_IMAGE_USD)"),
        "{out}"
    );
    assert!(
        !out.contains("someone-else"),
        "only the bot's endpoints: {out}"
    );
    assert!(
        out.contains("total        $2.00        $2.61        (2 call(s) to fal)"),
        "{out}"
    );
    let queries = fal.usage_queries();
    assert_eq!(queries.len(), 2, "paged: {queries:?}");
    assert!(queries[0].contains("expand=time_series") && queries[0].contains("timeframe=day"));
    assert!(queries[1].contains("cursor="));
    // A key without the right scope is said plainly.
    let wrong = ops::FalUsage::new(
        format!("{}/v1", fal.queue_url()).parse().unwrap(),
        "not-the-key".to_owned().into(),
    );
    let err = ops::spend(w.backend.store.as_ref(), &wrong, since, now)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");
}

/// `broadcast`: a dry run counts and sends nothing; a run stopped by Telegram sends nothing
/// twice when run again; users who blocked the bot are skipped (and marked when found);
/// each user gets their language; the rate stays within Telegram's limits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_reaches_everyone_once_within_telegrams_rates() {
    use fluxbot::domain::{Timestamp, UserId};
    use fluxbot_tests::fake_telegram::updates::User;
    let w =
        fluxbot_tests::bot_world::BotWorld::new(fluxbot_tests::backends::aws().await, &[]).await;
    let base = 7_300_000 + i64::from(rand::random::<u16>()) * 10;
    let users: Vec<User> = (0..6)
        .map(|i| User {
            id: base + i,
            language_code: if i % 2 == 0 { "en" } else { "ru" },
        })
        .collect();
    for u in &users {
        w.say(*u, "/start").await;
    }
    // One blocked the bot long ago (the bot knows); one blocked it since (it does not).
    let mut gone = w.profile(users[0]).await.unwrap();
    gone.active = false;
    w.backend.store.save_user(&gone).await.unwrap();
    w.telegram.block(users[1].id);
    let store = w.backend.store.clone();
    // Paced as the command paces it: in turn with the bot's own messages.
    let tg = client(&w.telegram).paced(w.backend.pace.clone());
    let announcement = ops::Announcement {
        id: "winter-packs".into(),
        ru: Some("❄️ <b>Зимние фотопакеты</b> уже здесь".into()),
        en: Some("❄️ <b>Winter photo packs</b> are here".into()),
    };
    let messages = |u: User| {
        w.telegram
            .chat(u.id)
            .iter()
            .filter(|m| m.text.contains("photo packs") || m.text.contains("фотопакеты"))
            .count()
    };

    let out = ops::broadcast(store.as_ref(), &tg, &announcement, 20, true)
        .await
        .unwrap();
    assert_eq!(
        out,
        "dry run: 6 user(s); 5 would get it; 1 blocked the bot before\n"
    );
    assert!(
        users.iter().all(|u| messages(*u) == 0),
        "a dry run sends nothing"
    );

    // Telegram asks to slow down for a minute: the run stops, nobody is skipped for good.
    w.telegram.inject_429("sendMessage", 600);
    let err = ops::broadcast(store.as_ref(), &tg, &announcement, 20, false)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("run the same command again"),
        "{err}"
    );
    // An earlier run had reached one user before it stopped.
    assert!(
        store
            .note_broadcast(
                UserId(users[2].id),
                "winter-packs",
                Timestamp::now().plus(std::time::Duration::from_secs(3600))
            )
            .await
            .unwrap()
    );

    w.telegram
        .enforce_rates(30, std::time::Duration::from_millis(100));
    let out = ops::broadcast(store.as_ref(), &tg, &announcement, 20, false)
        .await
        .unwrap();
    assert_eq!(
        out,
        "6 user(s): 3 sent now, 1 sent by an earlier run, 1 blocked the bot before, 1 blocked \
         it now, 0 refused\n"
    );
    assert_eq!(w.telegram.rate_refusals().0, 0, "within Telegram's rates");
    for (i, u) in users.iter().enumerate() {
        let expected = usize::from(i >= 3);
        assert_eq!(messages(*u), expected, "user {i}");
    }
    w.telegram
        .last_message(users[4].id)
        .says("Winter photo packs");
    w.telegram
        .last_message(users[3].id)
        .says("Зимние фотопакеты");
    assert!(
        !w.profile(users[1]).await.unwrap().active,
        "marked as blocked"
    );

    // Run again: nobody gets it twice.
    let out = ops::broadcast(store.as_ref(), &tg, &announcement, 20, false)
        .await
        .unwrap();
    assert_eq!(
        out,
        "6 user(s): 0 sent now, 4 sent by an earlier run, 2 blocked the bot before, 0 blocked \
         it now, 0 refused\n"
    );
    assert!(
        ops::broadcast(
            store.as_ref(),
            &tg,
            &ops::Announcement {
                id: "bad id!".into(),
                ..announcement
            },
            20,
            false
        )
        .await
        .is_err()
    );
}
