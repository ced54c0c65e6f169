//! Credits and Telegram Stars through the real handlers: moto for the table, the fake
//! Telegram for invoices, pre-checkout queries and payments (their real update shapes), the
//! fake fal.ai for work that fails.

use std::time::Duration;

use fluxbot::domain::{AvatarStatus, Credits, EntryKind, LedgerEntry, Timestamp, UserId};
use fluxbot::telegram::callback::Callback;
use fluxbot_tests::backends;
use fluxbot_tests::bot_world::BotWorld;
use fluxbot_tests::fake_telegram::updates::{self, User};
use fluxbot_tests::pipeline_world::PipelineWorld;
use serde_json::json;

const ANNA: User = User {
    id: 7_100_001,
    language_code: "en",
};
const JOHN: User = User {
    id: 7_100_002,
    language_code: "en-GB",
};
const OLGA: User = User {
    id: 7_100_003,
    language_code: "ru",
};

/// A paying bot: 60 credits for 300 Stars or 200 for 900; a fast training costs 50, a
/// picture 2.
const STARS: &[(&str, &str)] = &[
    ("BILLING", "stars"),
    ("CREDIT_PACKS", "60:300,200:900"),
    ("PRICE_TRAINING_CREDITS_FAST", "50"),
    ("PRICE_IMAGE_CREDITS", "2"),
    ("PHOTOS_MIN_STYLE", "2"),
    ("PHOTOS_MIN_PORTRAIT", "2"),
    ("PHOTOS_MAX", "5"),
    ("MAX_TRAININGS_PER_USER", "3"),
];

async fn balance(w: &BotWorld, user: User) -> Credits {
    w.backend.store.balance(UserId(user.id)).await.unwrap()
}

async fn ledger(w: &BotWorld, user: User) -> Vec<LedgerEntry> {
    w.backend.store.ledger(UserId(user.id), 100).await.unwrap()
}

fn sent_containing(w: &BotWorld, needle: &str) -> usize {
    w.telegram
        .calls_of("sendMessage")
        .iter()
        .filter(|c| c.ok && c.params["text"].as_str().unwrap_or("").contains(needle))
        .count()
}

/// /balance, then the pack's button: the invoice Telegram got.
async fn invoice_for(
    w: &BotWorld,
    user: User,
    label: &str,
) -> fluxbot_tests::fake_telegram::SentInvoice {
    w.say(user, "/balance").await;
    w.press_last(user, label).await;
    w.telegram.invoices().pop().expect("an invoice was sent")
}

/// Pays `invoice` as Telegram does: the pre-checkout (answered in the webhook's response
/// with ok) and then the payment message. Returns the payment update, to deliver again.
async fn pay(
    w: &BotWorld,
    user: User,
    invoice: &fluxbot_tests::fake_telegram::SentInvoice,
    charge: &str,
) -> serde_json::Value {
    let ids = (w.next_update_id(), w.next_update_id());
    let (pre_checkout, paid) = w.telegram.pay(invoice, user, charge, ids);
    let answer = w.deliver(&pre_checkout).await.json();
    assert_eq!(
        answer,
        json!({"method": "answerPreCheckoutQuery", "pre_checkout_query_id": format!("pcq{charge}"), "ok": true})
    );
    w.deliver(&paid).await;
    paid
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buy_then_train_then_fal_fails_gives_the_credits_back_once() {
    let w = PipelineWorld::with_env(false, STARS).await;
    let bot = &w.bot;
    bot.say(ANNA, "/start").await;
    assert!(
        bot.telegram
            .last_message(ANNA.id)
            .button("Balance")
            .is_some(),
        "a paying bot's menu has Balance"
    );

    // The Balance screen: nothing yet, the prices, the packs.
    bot.say(ANNA, "/balance").await;
    let screen = bot.bot_says(ANNA, "Your balance: <b>0</b> credits");
    screen.says("Training, Fast: 50 credits");
    screen.says("One picture: 2 credit(s)");
    assert_eq!(
        &screen.labels()[..2],
        ["60 credits · 300 ⭐", "200 credits · 900 ⭐"]
    );
    let invoice = invoice_for(bot, ANNA, "60 credits").await;
    assert_eq!(
        (invoice.stars, invoice.payload.as_str()),
        (300, "credits:60:300")
    );
    let call = bot.telegram.calls_of("sendInvoice").pop().unwrap();
    assert_eq!(call.params["currency"], "XTR");
    assert_eq!(call.params["provider_token"], "");
    assert_eq!(
        call.params["prices"],
        json!([{"label": "60 credits", "amount": 300}])
    );

    // The pre-checkout alone writes nothing; the payment credits and thanks.
    let ids = (bot.next_update_id(), bot.next_update_id());
    let (pre_checkout, paid) = bot.telegram.pay(&invoice, ANNA, "stxANNA1", ids);
    let answer = bot.deliver(&pre_checkout).await.json();
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(balance(bot, ANNA).await, Credits(0));
    assert!(ledger(bot, ANNA).await.is_empty());
    bot.deliver(&paid).await;
    bot.bot_says(ANNA, "60 credits added. Your balance: <b>60</b>");
    assert_eq!(balance(bot, ANNA).await, Credits(60));

    // The summary shows the price; Confirm takes it in the same write as the queueing.
    let (message, avatar) = bot.summary_shown(ANNA, "Ink", 2, 0).await;
    bot.screen_says(ANNA, message, "Price: <b>50</b> credits (you have 60)");
    bot.tap(ANNA, message, Callback::ConfirmTraining(avatar.id))
        .await;
    assert_eq!(balance(bot, ANNA).await, Credits(10));

    // fal refuses the archive: the avatar fails and the user hears once, with the refund.
    w.fal.reject_next_submit(
        422,
        json!({"detail": [{"loc": ["body", "images_data_url"],
        "msg": "Could not download the archive", "type": "file_download_error"}]}),
    );
    w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    assert_eq!(w.avatar_now(&avatar).await.status(), AvatarStatus::Failed);
    assert_eq!(sent_containing(bot, "Could not download the archive"), 1);
    assert_eq!(
        sent_containing(bot, "50 credits are back on your balance"),
        1
    );
    assert_eq!(balance(bot, ANNA).await, Credits(60));

    // Sweeps later and the same payment delivered again change nothing.
    let later = Timestamp::now().plus(Duration::from_secs(2 * 3600));
    w.pipeline
        .sweep(later, std::time::Instant::now() + Duration::from_secs(60))
        .await
        .unwrap();
    bot.deliver(&paid).await;
    let mut again = paid.clone();
    again["update_id"] = json!(bot.next_update_id());
    bot.deliver(&again).await;
    assert_eq!(balance(bot, ANNA).await, Credits(60));
    assert_eq!(sent_containing(bot, "credits added"), 1, "thanked once");
    assert_eq!(sent_containing(bot, "credits are back"), 1, "refunded once");
    let kinds: Vec<&'static str> = ledger(bot, ANNA)
        .await
        .iter()
        .map(|e| match e.kind {
            EntryKind::Purchase { .. } => "purchase",
            EntryKind::Debit { .. } => "debit",
            EntryKind::Refund { .. } => "refund",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["refund", "debit", "purchase"]);
    // The Balance screen lists them, newest first.
    bot.say(ANNA, "/balance").await;
    let screen = bot.bot_says(ANNA, "Your balance: <b>60</b> credits");
    screen.says("+50 · returned: the work failed");
    screen.says("-50 · training");
    screen.says("+60 · bought for 300 ⭐");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_payment_delivered_twice_at_once_is_credited_once() {
    let w = BotWorld::new(backends::aws().await, STARS).await;
    let invoice = invoice_for(&w, OLGA, "200").await;
    let ids = (w.next_update_id(), w.next_update_id());
    let (_, paid) = w.telegram.pay(&invoice, OLGA, "stxOLGA1", ids);
    let mut other_delivery = paid.clone();
    other_delivery["update_id"] = json!(w.next_update_id());
    let (a, b) = tokio::join!(w.post(&paid), w.post(&other_delivery));
    assert!(a.status == 200 && b.status == 200, "{a:?} {b:?}");
    // A retry of the first, too (Telegram repeats an update it saw no 200 for).
    w.post(&paid).await;
    assert_eq!(balance(&w, OLGA).await, Credits(200));
    assert_eq!(ledger(&w, OLGA).await.len(), 1);
    assert_eq!(sent_containing(&w, "Начислено 200 кредитов"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_confirms_at_once_with_credits_for_one_training_start_one() {
    let w = BotWorld::new(backends::aws().await, STARS).await;
    let invoice = invoice_for(&w, JOHN, "60 credits").await;
    pay(&w, JOHN, &invoice, "stxJOHN1").await;
    let ready = [
        w.summary_shown(JOHN, "One", 2, 0).await,
        w.summary_shown(JOHN, "Two", 2, 10).await,
    ];
    let (first, second) = (
        format!("tc:{}", ready[0].1.id),
        format!("tc:{}", ready[1].1.id),
    );
    let (a, b) = tokio::join!(
        w.press_data(JOHN, ready[0].0, &first),
        w.press_data(JOHN, ready[1].0, &second),
    );
    let queued = w
        .avatars(JOHN)
        .await
        .into_iter()
        .filter(|a| a.status() == AvatarStatus::Queued)
        .count();
    assert_eq!(queued, 1, "one training");
    let refusals: Vec<_> = [a, b]
        .into_iter()
        .filter(|answer| answer.body.contains("Not enough credits"))
        .collect();
    assert_eq!(refusals.len(), 1, "one refusal");
    let refusal = refusals[0].json();
    assert!(
        refusal["text"]
            .as_str()
            .unwrap()
            .contains("training costs 50, you have 10"),
        "{refusal}"
    );
    assert_eq!(balance(&w, JOHN).await, Credits(10));

    // Shown the summary again, the short user gets Top up instead of Confirm.
    let (message, avatar) = ready
        .iter()
        .find(|(_, a)| {
            futures::executor::block_on(w.backend.store.get_avatar(a.owner, a.id))
                .unwrap()
                .unwrap()
                .status()
                == AvatarStatus::Ready
        })
        .unwrap();
    w.tap(JOHN, *message, Callback::StartTraining(avatar.id))
        .await;
    let summary = w.screen_says(JOHN, *message, "top up 40 more to start");
    assert!(summary.button("Confirm").is_none(), "{summary:#?}");
    assert_eq!(summary.button("Top up"), Some("bal"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pre_checkout_for_a_pack_no_longer_sold_is_refused_and_nothing_is_written() {
    let w = BotWorld::new(backends::aws().await, STARS).await;
    for (payload, stars, currency) in [
        ("credits:60:100", 100, "XTR"), // a price the bot never offered
        ("credits:60:300", 301, "XTR"), // not what the invoice said
        ("credits:60:300", 300, "USD"),
        ("garbage", 300, "XTR"),
    ] {
        let mut update =
            updates::pre_checkout_query(w.next_update_id(), JOHN, "q1", stars, payload);
        update["pre_checkout_query"]["currency"] = json!(currency);
        let answer = w.deliver(&update).await.json();
        assert_eq!(answer["method"], "answerPreCheckoutQuery");
        assert_eq!(answer["ok"], false, "{payload} {stars} {currency}");
        assert!(
            answer["error_message"]
                .as_str()
                .unwrap()
                .contains("offer has changed"),
            "{answer}"
        );
    }
    assert!(w.profile(JOHN).await.is_none(), "nothing stored");
    assert!(ledger(&w, JOHN).await.is_empty());
    // /terms and /paysupport answer, as Telegram asks of bots that sell.
    w.say(JOHN, "/terms").await;
    w.bot_says(JOHN, "Credits are bought with Telegram Stars");
    w.say(JOHN, "/paysupport").await;
    w.bot_says(JOHN, "Payment support");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_bot_refuses_a_strangers_pre_checkout() {
    let mut env = STARS.to_vec();
    env.extend([
        ("BOT_ACCESS", "allow_list"),
        ("ALLOWED_USER_IDS", "7100001"),
    ]);
    let w = BotWorld::new(backends::aws().await, &env).await;
    let update = updates::pre_checkout_query(w.next_update_id(), JOHN, "q2", 300, "credits:60:300");
    let answer = w.deliver(&update).await.json();
    assert_eq!(answer["ok"], false);
    assert!(
        answer["error_message"]
            .as_str()
            .unwrap()
            .contains("private bot")
    );
    assert!(w.profile(JOHN).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn free_mode_has_no_balance_and_no_prices() {
    let w = BotWorld::new(backends::aws().await, &[("PHOTOS_MIN_STYLE", "2")]).await;
    w.say(JOHN, "/start").await;
    assert!(w.telegram.last_message(JOHN.id).button("Balance").is_none());
    w.say(JOHN, "/balance").await;
    w.bot_says(JOHN, "This bot is free to use");
    let (message, avatar) = w.summary_shown(JOHN, "Free", 2, 0).await;
    w.screen_says(JOHN, message, "Start training?")
        .never_says("Price");
    w.tap(JOHN, message, Callback::ConfirmTraining(avatar.id))
        .await;
    assert_eq!(
        w.avatars(JOHN).await[0].status(),
        AvatarStatus::Queued,
        "free: no credits needed"
    );
    assert!(ledger(&w, JOHN).await.is_empty());
}

/// A paid generation whose every picture fal withholds, and one fal fails: each gives its
/// credits back once, and the message says so; one that delivers keeps them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generations_that_deliver_nothing_are_paid_back_once() {
    let w = PipelineWorld::with_env(false, STARS).await;
    let bot = &w.bot;
    let owner = UserId(ANNA.id);
    let gift = LedgerEntry::grant(owner, "welcome", Credits(60), Timestamp::now());
    bot.backend.store.apply_entry(&gift).await.unwrap().unwrap();
    let avatar = bot.queued_avatar(ANNA, "portrait", "Anna", "fast", 2).await;
    w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    let sub = w.fal.submissions().last().unwrap().clone();
    assert_eq!(
        w.deliver_ok(&sub, &w.fal.portrait_result(&sub.request_id))
            .await
            .status,
        200
    );
    assert_eq!(
        balance(bot, ANNA).await,
        Credits(10),
        "60 - 50 for the training"
    );
    let id = avatar.id;
    bot.tap_last(ANNA, Callback::Card(id)).await;
    bot.tap_last(ANNA, Callback::Generate(id)).await;
    bot.bot_says(ANNA, "These pictures cost <b>4</b> credits (you have 10)");

    // Two pictures (4 credits), both withheld by the safety filter.
    bot.say(ANNA, "a red kite").await;
    assert_eq!(balance(bot, ANNA).await, Credits(6));
    w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    let sub = w.fal.submissions().last().unwrap().clone();
    let result = w.fal.generation_result(&sub.request_id, &[true, true]);
    assert_eq!(w.deliver_ok(&sub, &result).await.status, 200);
    bot.bot_says(ANNA, "4 credits are back on your balance");
    assert_eq!(balance(bot, ANNA).await, Credits(10));
    // fal delivers the same result again: no second refund.
    assert_eq!(w.deliver_ok(&sub, &result).await.status, 200);
    assert_eq!(balance(bot, ANNA).await, Credits(10));

    // Failed at fal: paid back, said in place of the "drawing" message.
    bot.say(ANNA, "a blue kite").await;
    w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    let sub = w.fal.submissions().last().unwrap().clone();
    let answer = w.deliver_error(&sub, "Internal Server Error").await;
    assert_eq!(answer.status, 200);
    let told = bot.telegram.last_message(ANNA.id);
    told.says("Internal Server Error");
    told.says("4 credits are back");
    assert_eq!(balance(bot, ANNA).await, Credits(10));

    // One of two delivered: kept. Then the balance is short for two more.
    bot.say(ANNA, "a green kite").await;
    w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    let sub = w.fal.submissions().last().unwrap().clone();
    let result = w.fal.generation_result(&sub.request_id, &[false, true]);
    assert_eq!(w.deliver_ok(&sub, &result).await.status, 200);
    bot.telegram
        .last_with_buttons(ANNA.id)
        .says("1 hidden")
        .never_says("credits are back");
    assert_eq!(balance(bot, ANNA).await, Credits(6));
    bot.say(ANNA, "a white kite").await;
    w.run_queue(&w.pipeline, Duration::from_secs(2)).await;
    let sub = w.fal.submissions().last().unwrap().clone();
    let result = w.fal.generation_result(&sub.request_id, &[false, false]);
    w.deliver_ok(&sub, &result).await;
    assert_eq!(balance(bot, ANNA).await, Credits(2));
    bot.say(ANNA, "a black kite").await;
    let refused = bot.bot_says(
        ANNA,
        "Not enough credits: these pictures cost 4, you have 2",
    );
    assert_eq!(refused.button("Top up"), Some("bal"));
    assert_eq!(balance(bot, ANNA).await, Credits(2));
}

/// A payment that matches no pack (it cannot pass our pre-checkout, but Telegram is the
/// judge): not credited, recorded by its charge id so it can be refunded, the user pointed to
/// /paysupport.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_matching_no_pack_is_recorded_without_credits() {
    let w = BotWorld::new(backends::aws().await, STARS).await;
    let paid = updates::successful_payment(w.next_update_id(), JOHN, "stxOdd1", 300, "garbage");
    w.deliver(&paid).await;
    w.bot_says(JOHN, "Payment support");
    assert_eq!(balance(&w, JOHN).await, Credits(0));
    let entries = ledger(&w, JOHN).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].delta, 0);
    assert_eq!(entries[0].key(), LedgerEntry::purchase_key("stxOdd1"));
}

/// Confirm tapped twice at once with credits for exactly one training: it is queued and paid
/// once, and neither tap is told the credits are short (the second finds it queued).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_double_tapped_confirm_pays_once_and_refuses_nothing() {
    let w = BotWorld::new(backends::aws().await, STARS).await;
    let owner = UserId(ANNA.id);
    let gift = LedgerEntry::grant(owner, "exactly-one", Credits(50), Timestamp::now());
    w.backend.store.apply_entry(&gift).await.unwrap().unwrap();
    let (message, avatar) = w.summary_shown(ANNA, "Twice", 2, 0).await;
    let confirm = format!("tc:{}", avatar.id);
    let (a, b) = tokio::join!(
        w.press_data(ANNA, message, &confirm),
        w.press_data(ANNA, message, &confirm),
    );
    for answer in [&a, &b] {
        assert!(!answer.body.contains("Not enough"), "{answer:?}");
    }
    assert_eq!(w.avatars(ANNA).await[0].status(), AvatarStatus::Queued);
    assert_eq!(balance(&w, ANNA).await, Credits(0));
    assert_eq!(ledger(&w, ANNA).await.len(), 2, "the gift and one debit");
}

/// Telegram refuses the invoice: the user is told to try again, nothing is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_invoice_is_answered_and_records_nothing() {
    let w = BotWorld::new(backends::aws().await, STARS).await;
    w.say(JOHN, "/balance").await;
    w.telegram.inject_error(
        "sendInvoice",
        400,
        json!({"ok": false, "error_code": 400, "description": "Bad Request: STARS_INVOICE_INVALID"}),
    );
    let answer = w.press_last(JOHN, "60 credits").await.json();
    assert_eq!(answer["show_alert"], true);
    assert!(
        answer["text"].as_str().unwrap().contains("try again"),
        "{answer}"
    );
    assert!(w.telegram.invoices().is_empty());
    assert!(ledger(&w, JOHN).await.is_empty());
}

/// Invoices carry a start parameter, so a forwarded copy shows a link to the bot, not a Pay
/// button. A payment Telegram still reports from a group (a copy forwarded before) was
/// accepted at pre-checkout, so the Stars are taken: it is credited to whoever paid, once, and
/// they are thanked in their private chat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_made_outside_the_private_chat_is_credited_to_the_payer() {
    let w = BotWorld::new(backends::aws().await, STARS).await;
    w.say(ANNA, "/start").await;
    let invoice = invoice_for(&w, ANNA, "60 credits").await;
    let call = w.telegram.calls_of("sendInvoice").pop().unwrap();
    assert_eq!(call.params["start_parameter"], "balance");
    // The forwarded copy's link opens the Balance screen.
    w.say(JOHN, "/start balance").await;
    w.bot_says(JOHN, "Your balance: <b>0</b> credits");

    // John pays a copy in a group.
    let ids = (w.next_update_id(), w.next_update_id());
    let (pre_checkout, mut paid) = w.telegram.pay(&invoice, JOHN, "chgGroup1", ids);
    let answer = w.deliver(&pre_checkout).await.json();
    assert_eq!(answer["ok"], true);
    paid["message"]["chat"] = json!({"id": -100_777, "type": "supergroup", "title": "Friends"});
    w.deliver(&paid).await;
    w.deliver(&paid).await;
    assert_eq!(balance(&w, JOHN).await, Credits(60));
    assert_eq!(balance(&w, ANNA).await, Credits(0));
    assert_eq!(
        sent_containing(&w, "60 credits added"),
        1,
        "thanked once, in private"
    );
    assert!(
        w.telegram.chat(-100_777).is_empty(),
        "nothing said in the group"
    );
}
