//! The local runner's long polling against the fake Telegram, on the embedded backend in a
//! temporary folder: updates are fetched, handled by the same conversation as the webhook,
//! callback queries answered by a call of their own, and the data survives a restart.

use std::time::Duration;

use fluxbot::config::{EnvReader, Limits, TelegramSettings};
use fluxbot::domain::{DialogueState, UserId};
use fluxbot_tests::fake_telegram::updates::{self, User};
use fluxbot_tests::fake_telegram::{FakeTelegram, TOKEN};
use local_runner::LocalBot;

const EVA: User = User {
    id: 5_000_301,
    language_code: "en",
};

fn settings(telegram: &FakeTelegram) -> (TelegramSettings, Limits) {
    EnvReader::from_pairs([
        ("TELEGRAM_TOKEN", TOKEN.to_owned()),
        ("TELEGRAM_API_URL", telegram.url()),
    ])
    .load::<(TelegramSettings, Limits)>()
    .unwrap()
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polling_runs_the_conversation_and_keeps_data_across_restarts() {
    fluxbot_tests::init_tracing();
    let telegram = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (tg, limits) = settings(&telegram);

    let bot = LocalBot::open(dir.path(), &tg, limits.clone()).unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(async move {
        bot.poll(async {
            let _ = stop_rx.await;
        })
        .await
    });
    telegram.push_update(updates::text(1, EVA, "/start"));
    wait_for("the welcome message", || {
        telegram
            .chat(EVA.id)
            .iter()
            .any(|m| m.text.contains("Welcome"))
    })
    .await;
    assert_eq!(
        telegram.calls()[0].method,
        "deletewebhook",
        "webhook removed first"
    );
    let menu = telegram.last_message(EVA.id);
    telegram.push_update(updates::callback(2, EVA, menu.message_id, "c"));
    wait_for("the callback answer", || {
        !telegram.calls_of("answerCallbackQuery").is_empty()
    })
    .await;
    wait_for("the kind menu", || {
        telegram
            .message(EVA.id, menu.message_id)
            .text
            .contains("New avatar")
    })
    .await;
    // Update 2 was confirmed by a later getUpdates offset.
    wait_for("the offset to move past update 2", || {
        telegram
            .calls_of("getUpdates")
            .iter()
            .any(|c| c.params["offset"] == 3)
    })
    .await;
    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("the runner stops when asked")
        .unwrap()
        .unwrap();

    // A restart on the same folder finds the user where they were.
    let again = LocalBot::open(dir.path(), &tg, limits).unwrap();
    let profile = again
        .conversation
        .store
        .get_user(UserId(EVA.id))
        .await
        .unwrap()
        .expect("the profile survived the restart");
    assert_eq!(profile.dialogue, DialogueState::ChoosingKind);
}
