//! The Telegram conversation end to end: API Gateway events into the real webhook handler,
//! the AWS adapters against moto, and a fake Telegram Bot API server that speaks the wire
//! format and shows what the user sees.

use fluxbot::domain::{AvatarKind, AvatarStatus, DialogueState, Timestamp, UserId};
use fluxbot::jobs::Job;
use fluxbot::ports::UpdateClaim;
use fluxbot::telegram::callback::Callback;
use fluxbot_tests::backends;
use fluxbot_tests::bot_world::{BotWorld, SECRET};
use fluxbot_tests::fake_telegram::FakeFile;
use fluxbot_tests::fake_telegram::updates::{self, User};
use fluxbot_tests::images;
use serde_json::json;
use std::time::Duration;

const ANNA: User = User {
    id: 5_000_001,
    language_code: "ru",
};
const JOHN: User = User {
    id: 5_000_002,
    language_code: "en-GB",
};

async fn world(limits: &[(&str, &str)]) -> BotWorld {
    BotWorld::new(backends::aws().await, limits).await
}

async fn create_avatar(w: &BotWorld, user: User, kind: &str, name: &str, preset: &str) -> i32 {
    w.create_avatar(user, kind, name, preset).await
}

fn jpeg_file(w: &BotWorld, seed: u8) -> FakeFile {
    w.telegram.add_file(images::jpeg(640, 800, seed), "jpg")
}

async fn photo_blobs_exist(w: &BotWorld, user: User) -> Vec<Option<u64>> {
    let avatars = w.avatars(user).await;
    let mut sizes = Vec::new();
    for a in avatars {
        for p in w.backend.store.list_photos(a.id).await.unwrap() {
            sizes.push(w.backend.blobs.size(&p.blob_key).await.unwrap());
        }
    }
    sizes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portrait_from_an_album_of_ten_and_singles_with_duplicates() {
    let w = world(&[]).await;
    let photos_msg = create_avatar(&w, ANNA, "portrait", "  Анна <в городе>  ", "balanced").await;
    let screen = w.telegram.message(ANNA.id, photos_msg);
    screen.says("Анна &lt;в городе&gt;");
    screen.says("0/20");
    assert!(screen.buttons.is_empty(), "no Start before the minimum");
    let sends_before = w.telegram.calls_of("sendMessage").len();

    // An album of 10: ten updates sharing a media_group_id, delivered one after another.
    let album: Vec<FakeFile> = (0..10).map(|i| jpeg_file(&w, i)).collect();
    for file in &album {
        w.send_photo(ANNA, file, (640, 800), Some("13912345678901234"))
            .await;
    }
    let screen = w.telegram.message(ANNA.id, photos_msg);
    screen.says("10/20");
    assert!(
        screen.button("Начать обучение").is_some(),
        "Start appears at the minimum"
    );

    // Singles: a new one, the same file again, the same picture sent as a file, another new.
    let eleventh = jpeg_file(&w, 10);
    w.send_photo(ANNA, &eleventh, (640, 800), None).await;
    w.send_photo(ANNA, &album[3], (640, 800), None).await;
    let same_bytes = w.telegram.add_file(images::jpeg(640, 800, 10), "jpg");
    let id = w.next_update_id();
    w.deliver(&updates::document(
        id,
        ANNA,
        &same_bytes,
        "image/jpeg",
        "IMG_0011.JPG",
    ))
    .await;
    let screen = w.telegram.message(ANNA.id, photos_msg);
    screen.says("11/20");
    assert!(
        screen.text.contains("уже было добавлено"),
        "duplicate notice: {}",
        screen.text
    );
    w.send_photo(ANNA, &jpeg_file(&w, 11), (640, 800), None)
        .await;

    // One progress message, edited in place: no message per photo.
    assert_eq!(w.telegram.calls_of("sendMessage").len(), sends_before);
    let screen = w.telegram.message(ANNA.id, photos_msg);
    screen.says("12/20");
    assert!(
        !screen.text.contains("уже было добавлено"),
        "notice cleared: {}",
        screen.text
    );
    // The re-sent file was recognised without downloading it.
    assert_eq!(w.telegram.downloads_served(), 13);

    let avatar = &w.avatars(ANNA).await[0];
    assert_eq!(avatar.photo_count, 12);
    assert_eq!(avatar.status(), AvatarStatus::Ready);
    assert_eq!(avatar.name.as_str(), "Анна <в городе>");
    let sizes = photo_blobs_exist(&w, ANNA).await;
    assert_eq!(sizes.len(), 12);
    assert!(
        sizes.iter().all(|s| s.is_some_and(|n| n > 1000)),
        "{sizes:?}"
    );

    // Start -> summary -> Confirm.
    w.tap_last(ANNA, Callback::StartTraining(avatar.id)).await;
    let summary = w.telegram.message(ANNA.id, photos_msg);
    summary.says("Фото: 12");
    summary.says("5-15 мин");
    w.tap_last(ANNA, Callback::ConfirmTraining(avatar.id)).await;
    let queued = w.telegram.message(ANNA.id, photos_msg);
    queued.says("в очереди");

    let avatar = w
        .backend
        .store
        .get_avatar(UserId(ANNA.id), avatar.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(avatar.status(), AvatarStatus::Queued);
    assert_eq!(
        avatar.status_message.map(|m| m.message_id),
        Some(photos_msg)
    );
    let messages = w
        .backend
        .launches
        .receive(10, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(
        Job::from_body(&messages[0].body).unwrap(),
        Job::Launch(fluxbot::domain::WorkRef::training(
            UserId(ANNA.id),
            avatar.id
        ))
    );
    assert_eq!(w.profile(ANNA).await.unwrap().dialogue, DialogueState::Idle);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn style_avatar_in_english_from_files_and_photos() {
    let w = world(&[]).await;
    let msg = create_avatar(&w, JOHN, "style", "Watercolour", "quality").await;
    assert!(
        w.telegram
            .message(JOHN.id, msg)
            .text
            .contains("send 5-20 images")
    );
    for i in 0..3u8 {
        let file = w.telegram.add_file(images::png(600, 600, i), "png");
        let id = w.next_update_id();
        w.deliver(&updates::document(
            id,
            JOHN,
            &file,
            "image/png",
            &format!("art{i}.png"),
        ))
        .await;
    }
    for i in 3..5u8 {
        w.send_photo(JOHN, &jpeg_file(&w, 100 + i), (640, 800), None)
            .await;
    }
    let screen = w.telegram.message(JOHN.id, msg);
    screen.says("5/20");
    let avatar = &w.avatars(JOHN).await[0];
    assert_eq!(avatar.kind, AvatarKind::Style);
    assert_eq!(avatar.status(), AvatarStatus::Ready);
    w.press(JOHN, msg, "Start training").await;
    let summary = w.telegram.message(JOHN.id, msg);
    assert!(
        summary.text.contains("Kind: style") && summary.text.contains("20-45 min"),
        "{}",
        summary.text
    );
    w.press(JOHN, msg, "Confirm").await;
    assert!(
        w.telegram
            .message(JOHN.id, msg)
            .text
            .contains("queued for training")
    );
    assert_eq!(w.avatars(JOHN).await[0].status(), AvatarStatus::Queued);
}

/// Small limits so refusals at the edges are cheap to reach.
const SMALL: &[(&str, &str)] = &[
    ("PHOTOS_MIN_PORTRAIT", "2"),
    ("PHOTOS_MIN_STYLE", "2"),
    ("PHOTOS_MAX", "3"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_validation_refusal_is_explained_and_records_nothing() {
    let w = world(SMALL).await;
    // Photos before any avatar exists.
    w.send_photo(JOHN, &jpeg_file(&w, 1), (640, 800), None)
        .await;
    assert!(
        w.telegram
            .last_message(JOHN.id)
            .text
            .contains("create an avatar first")
    );

    // Names: too long, control characters; the step stays until a good one comes.
    w.say(JOHN, "/create").await;
    w.tap_last(JOHN, Callback::Kind(fluxbot::domain::AvatarKind::Portrait))
        .await;
    w.tap_last(JOHN, Callback::Gender(fluxbot::domain::Gender::Male))
        .await;
    w.say(JOHN, &"x".repeat(41)).await;
    assert!(
        w.telegram
            .last_message(JOHN.id)
            .text
            .contains("it has 41 characters, at most 40"),
        "{}",
        w.telegram.last_message(JOHN.id).text
    );
    w.say(JOHN, "bad\u{0007}name").await;
    assert!(
        w.telegram
            .last_message(JOHN.id)
            .text
            .contains("control characters")
    );
    w.say(JOHN, "   ").await;
    assert!(
        w.telegram
            .last_message(JOHN.id)
            .text
            .contains("the name is empty")
    );
    assert!(
        w.avatars(JOHN).await.is_empty(),
        "nothing stored before the preset"
    );
    w.say(JOHN, "John").await;
    w.tap_last(JOHN, Callback::Preset(fluxbot::domain::Preset::Fast))
        .await;
    // A person's photos wait for the user's consent: a photo sent first is not taken (nothing
    // downloaded or stored), and the question is asked again.
    let question = w.telegram.last_message(JOHN.id);
    question.says("please confirm that they show you");
    let early = jpeg_file(&w, 99);
    let downloads = w.telegram.downloads_served();
    w.send_photo(JOHN, &early, (640, 800), None).await;
    w.telegram
        .last_message(JOHN.id)
        .says("please confirm that they show you");
    assert_eq!(
        w.telegram.downloads_served(),
        downloads,
        "nothing downloaded"
    );
    let john = w.avatars(JOHN).await.pop().unwrap();
    assert_eq!(john.photo_count, 0);
    assert_eq!(john.consented_at, None);
    w.tap(JOHN, question.message_id, Callback::Consent(john.id))
        .await;
    assert!(
        w.avatars(JOHN).await[0].consented_at.is_some(),
        "kept with its time"
    );
    // The question becomes the photo screen.
    let progress = question.message_id;

    let refusals: Vec<(serde_json::Value, &str)> = {
        let heic = w.telegram.add_file(images::heic(), "heic");
        let heic_in_disguise = w.telegram.add_file(images::heic(), "jpg");
        let pdf = w
            .telegram
            .add_file(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3 a document".repeat(50), "pdf");
        let garbage = w.telegram.add_file(vec![0x42; 5000], "jpg");
        let tiny = w.telegram.add_file(images::png(300, 900, 3), "png");
        let huge = w.telegram.add_file(vec![0xFF; 21 * 1024 * 1024], "jpg");
        let mut understated = huge.clone();
        understated.size = 1000; // the message claims a small file; getFile knows better
        let small_photo = w.telegram.add_file(images::jpeg(400, 300, 4), "jpg");
        let id = || w.next_update_id();
        vec![
            (
                updates::document(id(), JOHN, &heic, "image/heic", "IMG_0001.HEIC"),
                "HEIC photos are not supported",
            ),
            (
                updates::document(id(), JOHN, &heic_in_disguise, "image/jpeg", "IMG_0002.jpg"),
                "HEIC photos are not supported",
            ),
            (
                updates::document(id(), JOHN, &pdf, "application/pdf", "cv.pdf"),
                "only JPEG, PNG and WebP",
            ),
            (
                updates::document(id(), JOHN, &garbage, "image/jpeg", "broken.jpg"),
                "could not be read as an image",
            ),
            (
                updates::document(id(), JOHN, &tiny, "image/png", "tiny.png"),
                "it is 300×900 px",
            ),
            (
                updates::document(id(), JOHN, &huge, "image/jpeg", "huge.jpg"),
                "over 20 MB",
            ),
            (
                updates::document(id(), JOHN, &understated, "image/jpeg", "huge.jpg"),
                "over 20 MB",
            ),
            (
                updates::photo(id(), JOHN, &small_photo, (400, 300), None),
                "it is 400×300 px",
            ),
            (updates::sticker(id(), JOHN), "I can only use photos"),
        ]
    };
    for (update, expected) in refusals {
        w.deliver(&update).await;
        let last = w.telegram.last_message(JOHN.id);
        assert!(
            last.text.contains(expected),
            "expected {expected:?}, got {:?}",
            last.text
        );
    }
    // Refused before download where the message said enough (HEIC by type, PDF, declared
    // size, Telegram's photo size); the disguised HEIC, garbage and tiny PNG were read.
    assert_eq!(w.telegram.downloads_served(), 3);
    let avatar = &w.avatars(JOHN).await[0];
    assert_eq!(avatar.photo_count, 0);
    assert!(
        w.backend
            .store
            .list_photos(avatar.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(photo_blobs_exist(&w, JOHN).await.is_empty());
    w.screen_says(JOHN, progress, "0/3");

    // Training before the minimum: a forged Start is refused with an alert.
    let answer = w
        .tap(JOHN, progress, Callback::StartTraining(avatar.id))
        .await;
    assert_eq!(answer.json()["show_alert"], true);
    assert!(
        answer.json()["text"]
            .as_str()
            .unwrap()
            .contains("at least 2 are needed")
    );

    // Up to the maximum, then "full" without downloading.
    for seed in 10..13 {
        w.send_photo(JOHN, &jpeg_file(&w, seed), (640, 800), None)
            .await;
    }
    assert!(
        w.telegram
            .message(JOHN.id, progress)
            .text
            .contains("3/3</b>: that's the maximum")
    );
    let before = w.telegram.downloads_served();
    w.send_photo(JOHN, &jpeg_file(&w, 14), (640, 800), None)
        .await;
    assert!(
        w.telegram
            .message(JOHN.id, progress)
            .text
            .contains("3 photos, the maximum")
    );
    assert_eq!(w.telegram.downloads_served(), before);
    assert_eq!(w.avatars(JOHN).await[0].photo_count, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_training_in_flight_per_user() {
    let w = world(SMALL).await;
    for (name, seeds) in [("First", [1u8, 2]), ("Second", [3, 4])] {
        create_avatar(&w, JOHN, "style", name, "fast").await;
        for seed in seeds {
            w.send_photo(JOHN, &jpeg_file(&w, seed), (640, 800), None)
                .await;
        }
    }
    let avatars = w.avatars(JOHN).await;
    let (first, second) = (&avatars[0], &avatars[1]);
    let msg = w.telegram.last_message(JOHN.id).message_id;
    w.tap(JOHN, msg, Callback::StartTraining(first.id)).await;
    w.tap_last(JOHN, Callback::ConfirmTraining(first.id)).await;
    let answer = w.tap(JOHN, msg, Callback::StartTraining(second.id)).await;
    assert!(
        answer.json()["text"]
            .as_str()
            .unwrap()
            .contains("already have 1 training(s) running"),
        "{answer:?}"
    );
    // A stale Confirm of the second is refused too; and confirming the first twice sends the
    // launch again (harmless: the worker's claim is conditional) but queues nothing new.
    let answer = w.tap(JOHN, msg, Callback::ConfirmTraining(second.id)).await;
    assert_eq!(answer.json()["show_alert"], true);
    assert_eq!(w.avatars(JOHN).await[1].status(), AvatarStatus::Ready);
    assert_eq!(w.avatars(JOHN).await[0].status(), AvatarStatus::Queued);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_half_way_removes_the_avatar_and_its_photos() {
    let w = world(&[]).await;
    create_avatar(&w, ANNA, "portrait", "Черновик", "fast").await;
    for seed in 0..3 {
        w.send_photo(ANNA, &jpeg_file(&w, seed), (640, 800), None)
            .await;
    }
    let avatar = w.avatars(ANNA).await[0].clone();
    assert_eq!(photo_blobs_exist(&w, ANNA).await.len(), 3);
    let keys: Vec<_> = w
        .backend
        .store
        .list_photos(avatar.id)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.blob_key)
        .collect();

    w.say(ANNA, "/cancel").await;
    let last = w.telegram.last_message(ANNA.id);
    assert!(
        last.text.contains("Черновик") && last.text.contains("удалены"),
        "{}",
        last.text
    );
    assert!(w.avatars(ANNA).await.is_empty());
    for key in keys {
        assert_eq!(
            w.backend.blobs.size(&key).await.unwrap(),
            None,
            "{key} is gone"
        );
    }
    assert_eq!(w.profile(ANNA).await.unwrap().dialogue, DialogueState::Idle);
    // Photos now go nowhere, and say so.
    w.send_photo(ANNA, &jpeg_file(&w, 9), (640, 800), None)
        .await;
    assert!(
        w.telegram
            .last_message(ANNA.id)
            .text
            .contains("сначала создайте аватар")
    );
    w.say(ANNA, "/cancel").await;
    assert!(
        w.telegram
            .last_message(ANNA.id)
            .text
            .contains("Отменять нечего")
    );

    // Cancelling in the middle of the questions stores nothing and leaves nothing.
    w.say(ANNA, "/create").await;
    w.tap_last(ANNA, Callback::Kind(fluxbot::domain::AvatarKind::Style))
        .await;
    w.say(ANNA, "/cancel").await;
    assert!(
        w.telegram
            .last_message(ANNA.id)
            .text
            .starts_with("Отменено.")
    );
    assert!(w.avatars(ANNA).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_asks_first_then_removes_everything() {
    let w = world(SMALL).await;
    create_avatar(&w, JOHN, "portrait", "Keep me?", "fast").await;
    for seed in 0..2 {
        w.send_photo(JOHN, &jpeg_file(&w, seed), (640, 800), None)
            .await;
    }
    let avatar = w.avatars(JOHN).await[0].clone();
    let keys: Vec<_> = w
        .backend
        .store
        .list_photos(avatar.id)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.blob_key)
        .collect();

    w.say(JOHN, "/avatars").await;
    let list = w.telegram.last_message(JOHN.id);
    assert!(list.text.contains("Your avatars</b> (1)"), "{}", list.text);
    w.press(JOHN, list.message_id, "Keep me?").await;
    let card = w.telegram.message(JOHN.id, list.message_id);
    card.says("Status: 🟢 ready to train");
    card.says("Photos: 2");

    w.press(JOHN, list.message_id, "Delete").await;
    // Worded as the original product: heading, name, status, what goes, a pause.
    let question = w.telegram.message(JOHN.id, list.message_id);
    question
        .says("Confirm deletion")
        .says("<b>Name:</b> Keep me?")
        .says("<b>Status:</b> 🟢 ready to train")
        .says("uploaded photos (2)")
        .says("cannot be undone")
        .never_says("trained model");
    w.press(JOHN, list.message_id, "Cancel").await;
    assert_eq!(
        w.telegram.message(JOHN.id, list.message_id).text,
        card.text,
        "back on the card"
    );
    assert_eq!(w.avatars(JOHN).await.len(), 1);

    w.press(JOHN, list.message_id, "Delete").await;
    w.press(JOHN, list.message_id, "Yes, delete").await;
    let after = w.telegram.message(JOHN.id, list.message_id);
    assert!(
        after.text.contains("were deleted") && after.text.contains("no avatars"),
        "{}",
        after.text
    );
    assert!(w.avatars(JOHN).await.is_empty());
    for key in keys {
        assert_eq!(
            w.backend.blobs.size(&key).await.unwrap(),
            None,
            "{key} is gone from S3"
        );
    }
    // Pressing the stale Yes again finds nothing and says so.
    let answer = w
        .tap(JOHN, list.message_id, Callback::ConfirmDelete(avatar.id))
        .await;
    assert_eq!(answer.json()["text"], "Avatar not found.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_callbacks_for_someone_elses_avatar_get_not_found() {
    let w = world(SMALL).await;
    create_avatar(&w, ANNA, "portrait", "Секрет Анны", "fast").await;
    w.send_photo(ANNA, &jpeg_file(&w, 1), (640, 800), None)
        .await;
    let victim = w.avatars(ANNA).await[0].clone();

    w.say(JOHN, "/start").await;
    let msg = w.telegram.last_message(JOHN.id).message_id;
    for data in ["a", "ct", "ts", "tc", "d", "dy"] {
        let answer = w
            .press_data(JOHN, msg, &format!("{data}:{}", victim.id))
            .await;
        assert_eq!(
            answer.json()["text"],
            "Avatar not found.",
            "{data}: {answer:?}"
        );
    }
    // Garbage callback data is "out of date", never an error.
    let answer = w.press_data(JOHN, msg, "dy:../../etc/passwd").await;
    assert_eq!(answer.json()["text"], "This menu is out of date.");
    let leaked = w
        .telegram
        .chat(JOHN.id)
        .iter()
        .any(|m| m.text.contains("Секрет"));
    assert!(!leaked, "nothing of Anna's avatar was shown to John");
    let still = w
        .backend
        .store
        .get_avatar(UserId(ANNA.id), victim.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(still, victim, "untouched");
    assert_eq!(
        photo_blobs_exist(&w, ANNA).await,
        vec![Some(photo_size(&w, &victim).await)]
    );
}

async fn photo_size(w: &BotWorld, avatar: &fluxbot::domain::Avatar) -> u64 {
    w.backend.store.list_photos(avatar.id).await.unwrap()[0].size_bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_update_ids_change_nothing() {
    let w = world(SMALL).await;
    create_avatar(&w, JOHN, "style", "Once", "fast").await;
    let file = jpeg_file(&w, 7);
    let update = updates::photo(w.next_update_id(), JOHN, &file, (640, 800), None);
    w.deliver(&update).await;
    let calls = w.telegram.calls().len();
    let answer = w.deliver(&update).await;
    assert_eq!(answer.body, "");
    assert_eq!(
        w.telegram.calls().len(),
        calls,
        "no Bot API call for a repeat"
    );
    assert_eq!(w.telegram.downloads_served(), 1);
    assert_eq!(w.avatars(JOHN).await[0].photo_count, 1);

    // A retry that arrives while the first delivery is still being processed (another
    // invocation holds the claim) is asked to come back later, not acknowledged and lost.
    let busy = updates::text(w.next_update_id(), JOHN, "/help");
    let now = fluxbot::domain::Timestamp::now();
    let claim = w
        .backend
        .store
        .claim_update(
            busy["update_id"].as_i64().unwrap(),
            now,
            now.plus(Duration::from_secs(90)),
        )
        .await
        .unwrap();
    assert_eq!(claim, fluxbot::ports::UpdateClaim::Fresh);
    assert_eq!(w.post(&busy).await.status, 503);
    assert_eq!(w.telegram.calls().len(), calls, "nothing done for it");

    // A repeated callback is not answered twice either (Telegram got the answer already).
    let msg = w.telegram.last_message(JOHN.id).message_id;
    let press = updates::callback(w.next_update_id(), JOHN, msg, "m");
    assert_eq!(
        w.deliver(&press).await.json()["method"],
        "answerCallbackQuery"
    );
    assert_eq!(w.deliver(&press).await.body, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_secret_and_malformed_bodies_are_refused_without_writes() {
    let w = world(&[]).await;
    let update = updates::text(w.next_update_id(), JOHN, "/start");
    for headers in [
        json!({"content-type": "application/json"}),
        json!({"content-type": "application/json", "x-telegram-bot-api-secret-token": "wrong"}),
        json!({"content-type": "application/json", "x-telegram-bot-api-secret-token": format!("{SECRET}x")}),
    ] {
        let answer = w.post_raw(headers, &update.to_string()).await;
        assert_eq!(answer.status, 401);
    }
    for body in [
        "",
        "not json",
        "{\"update_id\": \"seven\"}",
        "[1,2,3]",
        "{\"message\": {}}",
    ] {
        let answer = w.post_raw(
            json!({"content-type": "application/json", "x-telegram-bot-api-secret-token": SECRET}),
            body,
        )
        .await;
        assert_eq!(answer.status, 400, "{body:?}");
    }
    assert!(w.telegram.calls().is_empty());
    assert!(w.profile(JOHN).await.is_none(), "no user record written");
    // The same update with the right secret is then processed normally (its id was not
    // consumed by the refused attempts).
    w.deliver(&update).await;
    w.bot_says(JOHN, "Welcome");

    // Update kinds this bot does not use: 200 and nothing else.
    let unknown = json!({"update_id": w.next_update_id(), "some_future_kind": {"x": 1}});
    let poll = json!({"update_id": w.next_update_id(), "poll": {
        "id": "1", "question": "?", "options": [], "total_voter_count": 0, "is_closed": false,
        "is_anonymous": true, "type": "regular", "allows_multiple_answers": false}});
    let calls = w.telegram.calls().len();
    for update in [unknown, poll] {
        assert_eq!(w.post(&update).await.status, 200, "{update}");
    }
    assert_eq!(w.telegram.calls().len(), calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_429_is_waited_out_and_blocked_users_are_marked() {
    let w = world(&[]).await;
    w.telegram.inject_429("sendMessage", 1);
    w.say(ANNA, "/start").await;
    let sends = w.telegram.calls_of("sendMessage");
    assert_eq!(sends.len(), 2, "refused once, then sent");
    assert!(!sends[0].ok && sends[1].ok);
    assert!(
        w.telegram
            .last_message(ANNA.id)
            .text
            .contains("Добро пожаловать")
    );

    w.telegram.block(ANNA.id);
    let answer = w.say(ANNA, "/help").await;
    assert_eq!(
        answer.status, 200,
        "a blocked user does not make Telegram retry"
    );
    assert!(!w.profile(ANNA).await.unwrap().active);
    assert_eq!(
        w.telegram.calls_of("sendMessage").len(),
        3,
        "one attempt, no retry storm"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn language_follows_telegram_until_chosen() {
    let w = world(&[]).await;
    w.say(ANNA, "/start").await;
    assert!(
        w.telegram
            .last_message(ANNA.id)
            .text
            .contains("Добро пожаловать")
    );
    // /privacy says what is kept and what fal.ai receives, in the user's language.
    w.say(ANNA, "/privacy").await;
    w.telegram
        .last_message(ANNA.id)
        .says("Что бот хранит о вас")
        .says("без метаданных")
        .says("fal.ai");
    w.say(ANNA, "/language").await;
    let answer = w
        .tap_last(ANNA, Callback::SetLanguage(fluxbot::domain::Language::En))
        .await;
    assert_eq!(answer.json()["text"], "Language set to English.");
    let menu = w.telegram.last_message(ANNA.id);
    menu.says("Welcome");
    assert!(menu.labels().contains(&"➕ Create avatar"));
    w.say(ANNA, "/help").await;
    assert!(
        w.telegram
            .last_message(ANNA.id)
            .text
            .contains("How it works")
    );
    w.bot_says(ANNA, "/privacy: what is kept about you");
    w.say(ANNA, "/privacy").await;
    w.telegram
        .last_message(ANNA.id)
        .says("What this bot keeps about you")
        .says("without their metadata")
        .says("delete each request's files after a day");
    let profile = w.profile(ANNA).await.unwrap();
    assert!(profile.language_chosen);
    // Deep links: t.me/<bot>?start=create and ?start=avatars.
    w.say(ANNA, "/start create").await;
    w.bot_says(ANNA, "New avatar");
    w.say(ANNA, "/start avatars").await;
    assert!(
        w.telegram
            .last_message(ANNA.id)
            .text
            .contains("no avatars yet")
    );
    // Unknown commands and stray text get a hint, in the chosen language.
    w.say(ANNA, "/frobnicate").await;
    assert!(
        w.telegram
            .last_message(ANNA.id)
            .text
            .contains("don't know that command")
    );
    w.say(ANNA, "hello?").await;
    assert!(
        w.telegram
            .last_message(ANNA.id)
            .text
            .contains("Use the menu")
    );
}

/// The portrait scenario as a reader of the docs sees it, in both languages; the committed
/// transcripts in docs/ must match what the bot does today.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portrait_transcript_in_docs_is_current() {
    use fluxbot_tests::transcript::Transcript;
    for (user, file, title) in [
        (
            User {
                id: 5_000_101,
                language_code: "en",
            },
            "transcript-portrait-en.md",
            "Transcript: a portrait avatar (English)",
        ),
        (
            User {
                id: 5_000_102,
                language_code: "ru",
            },
            "transcript-portrait-ru.md",
            "Transcript: a portrait avatar (Russian, the default)",
        ),
    ] {
        let w = world(&[]).await;
        let mut tr = Transcript::new(
            &w.telegram,
            user.id,
            title,
            "Generated by `tests/tests/telegram_bot.rs` (`portrait_transcript_in_docs_is_current`) \
             from the real webhook handler and a fake Telegram; the test fails when this file \
             and the bot disagree. Edits rewrite the message in place; `[...]` are inline \
             buttons.",
        );
        tr.user("/start");
        w.say(user, "/start").await;
        tr.bot(None);
        for (label, tap) in [
            ("Create avatar", Callback::Create),
            (
                "Portrait",
                Callback::Kind(fluxbot::domain::AvatarKind::Portrait),
            ),
            ("Female", Callback::Gender(fluxbot::domain::Gender::Female)),
        ] {
            tr.user(&format!("presses `{label}`"));
            let answer = w.tap_last(user, tap).await;
            tr.bot(Some(&answer));
        }
        tr.user("Anna");
        w.say(user, "Anna").await;
        tr.bot(None);
        tr.user("presses `Balanced`");
        let answer = w
            .tap_last(user, Callback::Preset(fluxbot::domain::Preset::Balanced))
            .await;
        tr.bot(Some(&answer));
        tr.user("presses `I confirm` (the photos are theirs, no child)");
        let avatar = w.avatars(user).await.pop().unwrap();
        let answer = w.tap_last(user, Callback::Consent(avatar.id)).await;
        tr.bot(Some(&answer));

        tr.user("sends an album of 10 photos (10 updates with one `media_group_id`)");
        for seed in 0..10 {
            w.send_photo(user, &jpeg_file(&w, seed), (640, 800), Some("album-1"))
                .await;
        }
        tr.bot(None);
        tr.user("sends one of those photos again");
        let again = w.telegram.add_file(images::jpeg(640, 800, 3), "jpg");
        w.send_photo(user, &again, (640, 800), None).await;
        tr.bot(None);
        tr.user("sends a 400×300 photo");
        w.send_photo(user, &jpeg_file(&w, 40), (400, 300), None)
            .await;
        tr.bot(None);
        tr.user("sends an iPhone HEIC file");
        let heic = w.telegram.add_file(images::heic(), "heic");
        let id = w.next_update_id();
        w.deliver(&updates::document(
            id,
            user,
            &heic,
            "image/heic",
            "IMG_0042.HEIC",
        ))
        .await;
        tr.bot(None);
        tr.user("sends two more photos");
        for seed in 20..22 {
            w.send_photo(user, &jpeg_file(&w, seed), (640, 800), None)
                .await;
        }
        tr.bot(None);
        let avatar = w.avatars(user).await[0].clone();
        let photos = w.telegram.chat(user.id)[1].message_id;
        tr.user("presses `Start training`");
        let answer = w
            .tap(user, photos, Callback::StartTraining(avatar.id))
            .await;
        tr.bot(Some(&answer));
        tr.user("presses `Confirm`");
        let answer = w
            .tap(user, photos, Callback::ConfirmTraining(avatar.id))
            .await;
        tr.bot(Some(&answer));
        tr.user("/avatars");
        w.say(user, "/avatars").await;
        tr.bot(None);
        assert_eq!(w.avatars(user).await[0].status(), AvatarStatus::Queued);
        tr.check(file);
    }
}

/// A world on the AWS backend whose store fails on command.
async fn flaky_world() -> (
    BotWorld,
    std::sync::Arc<fluxbot_tests::flaky_store::FlakyStore>,
) {
    let inner = backends::aws().await;
    let flaky = std::sync::Arc::new(fluxbot_tests::flaky_store::FlakyStore::failing_save_user(
        inner.store.clone(),
        0,
    ));
    (
        BotWorld::new(inner.with_store(flaky.clone()), &[]).await,
        flaky,
    )
}

/// Choosing the preset creates the avatar; if the profile save after it fails, Telegram's
/// retry of the same update must find that avatar, not make a second one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_preset_choice_creates_one_avatar() {
    let (w, flaky) = flaky_world().await;
    w.say(ANNA, "/start").await;
    w.tap_last(ANNA, Callback::Create).await;
    w.tap_last(ANNA, Callback::Kind(fluxbot::domain::AvatarKind::Portrait))
        .await;
    w.tap_last(ANNA, Callback::Gender(fluxbot::domain::Gender::Female))
        .await;
    w.say(ANNA, "Anna").await;
    let menu = w.telegram.last_message(ANNA.id).message_id;
    let tap = updates::callback(w.next_update_id(), ANNA, menu, "p:fast");
    flaky
        .fail_save_user
        .store(5, std::sync::atomic::Ordering::SeqCst);
    let first = w.post(&tap).await;
    assert!(
        first.status >= 500,
        "transient: Telegram retries ({first:?})"
    );
    flaky
        .fail_save_user
        .store(0, std::sync::atomic::Ordering::SeqCst);
    let retry = w.post(&tap).await;
    assert_eq!(retry.status, 200, "{retry:?}");
    let avatars = w.avatars(ANNA).await;
    assert_eq!(avatars.len(), 1, "one avatar for one tap");
    assert_eq!(avatars[0].status(), AvatarStatus::CollectingPhotos);
    let profile = w.profile(ANNA).await.unwrap();
    assert!(matches!(
        profile.dialogue,
        DialogueState::SendingPhotos { avatar_id, .. } if avatar_id == avatars[0].id
    ));
}

/// A photo whose record was written but whose answer was lost keeps its file: the retry
/// finds it recorded, and training later finds every file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_whose_record_answer_was_lost_keeps_its_file() {
    let (w, flaky) = flaky_world().await;
    create_avatar(&w, ANNA, "portrait", "Anna", "fast").await;
    let file = jpeg_file(&w, 3);
    let update = updates::photo(w.next_update_id(), ANNA, &file, (640, 800), None);
    flaky
        .lose_add_photo_answer
        .store(1, std::sync::atomic::Ordering::SeqCst);
    let first = w.post(&update).await;
    assert!(
        first.status >= 500,
        "transient: Telegram retries ({first:?})"
    );
    let retry = w.post(&update).await;
    assert_eq!(retry.status, 200, "{retry:?}");
    let avatar = w.avatars(ANNA).await.pop().unwrap();
    assert_eq!(avatar.photo_count, 1);
    assert_eq!(
        photo_blobs_exist(&w, ANNA).await,
        vec![Some(file.size as u64)],
        "the recorded photo's file is there"
    );
}

/// A private bot answers a stranger politely and stores nothing for them: no profile, no
/// update id, no avatar; its own users and admins go on as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_bot_refuses_strangers_without_writing_anything() {
    const ADMIN: User = User {
        id: 5_000_077,
        language_code: "en",
    };
    let anna = ANNA.id.to_string();
    let admin = ADMIN.id.to_string();
    let w = world(&[
        ("BOT_ACCESS", "allow_list"),
        ("ALLOWED_USER_IDS", &anna),
        ("ADMIN_USER_IDS", &admin),
    ])
    .await;

    let id = w.next_update_id();
    w.deliver(&updates::text(id, JOHN, "/start")).await;
    w.bot_says(JOHN, "private bot");
    let tap = w.next_update_id();
    let answer = w.deliver(&updates::callback(tap, JOHN, 1, "c")).await;
    assert_eq!(answer.json()["method"], "answerCallbackQuery");
    assert_eq!(answer.json()["show_alert"], true);
    assert!(answer.body.contains("private bot"), "{}", answer.body);

    assert!(w.profile(JOHN).await.is_none(), "no profile for a stranger");
    assert!(w.avatars(JOHN).await.is_empty());
    let now = Timestamp::now();
    for update in [id, tap] {
        assert_eq!(
            w.backend
                .store
                .claim_update(i64::from(update), now, now.plus(Duration::from_secs(1)))
                .await
                .unwrap(),
            UpdateClaim::Fresh,
            "the stranger's update id was not recorded"
        );
    }

    w.say(ANNA, "/start").await;
    w.bot_says(ANNA, "Добро пожаловать");
    w.say(ADMIN, "/start").await;
    w.bot_says(ADMIN, "Welcome");
}

/// Past the daily spend cap a Confirm is refused with when it resets, the avatar stays ready
/// and nothing is charged; the training that fitted went through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_spend_cap_refuses_the_training_that_would_pass_it() {
    let w = world(&[
        ("SPEND_CAP_USD_PER_DAY", "3"),
        ("COST_TRAINING_USD_FAST", "2"),
    ])
    .await;
    let fitted = w.queued_avatar(JOHN, "style", "First", "fast", 5).await;
    assert_eq!(fitted.status(), AvatarStatus::Queued);

    let message = create_avatar(&w, ANNA, "style", "Вторая", "fast").await;
    for seed in 0..5u8 {
        let file = w
            .telegram
            .add_file(images::jpeg(640, 800, seed.wrapping_mul(7)), "jpg");
        w.send_photo(ANNA, &file, (640, 800), None).await;
    }
    let avatar = w.avatars(ANNA).await.pop().unwrap();
    w.tap(ANNA, message, Callback::StartTraining(avatar.id))
        .await;
    let answer = w
        .tap(ANNA, message, Callback::ConfirmTraining(avatar.id))
        .await;
    assert_eq!(answer.json()["show_alert"], true, "{}", answer.body);
    assert!(answer.body.contains("бюджет"), "{}", answer.body);
    assert!(answer.body.contains("UTC"), "{}", answer.body);
    let after = w.avatars(ANNA).await.pop().unwrap();
    assert_eq!(after.status(), AvatarStatus::Ready);
    let spent = w
        .backend
        .store
        .spent_on(&fluxbot::domain::SpendDay::of(Timestamp::now()))
        .await
        .unwrap();
    assert_eq!(spent, fluxbot::domain::Usd::parse("2").unwrap());
}

/// Two Confirms of one user at the same moment, for two avatars, with a limit of one training
/// at a time: one training is queued and launched, the other Confirm is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_confirms_at_once_pass_a_limit_of_one_once() {
    let w = world(SMALL).await;
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
    let queued: Vec<_> = w
        .avatars(JOHN)
        .await
        .into_iter()
        .filter(|a| a.status() == AvatarStatus::Queued)
        .collect();
    assert_eq!(queued.len(), 1, "one training");
    let refusals = [a, b]
        .iter()
        .filter(|answer| answer.body.contains("already have 1 training"))
        .count();
    assert_eq!(refusals, 1, "one refusal");
    let launches: Vec<Job> = w
        .backend
        .launches
        .receive(10, Duration::from_secs(1))
        .await
        .unwrap()
        .into_iter()
        .map(|m| Job::from_body(&m.body).unwrap())
        .collect();
    assert_eq!(
        launches,
        vec![Job::Launch(fluxbot::domain::WorkRef::training(
            UserId(JOHN.id),
            queued[0].id
        ))]
    );
}

/// A flood: 100 photos into one avatar, ten updates at a time at the same moment, as
/// Telegram's parallel connections deliver them. The first 20 are kept, every other one is
/// refused politely, nothing is lost or counted twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_photos_keeps_the_maximum_and_refuses_the_rest_politely() {
    let w = world(&[]).await;
    create_avatar(&w, ANNA, "portrait", "Flood", "fast").await;
    let files: Vec<FakeFile> = (0..100u8).map(|i| jpeg_file(&w, i)).collect();
    for wave in files.chunks(10) {
        futures::future::join_all(
            wave.iter()
                .map(|file| w.send_photo(ANNA, file, (640, 800), Some("flood"))),
        )
        .await;
    }
    let avatar = w.avatars(ANNA).await.pop().unwrap();
    assert_eq!(avatar.photo_count, 20);
    let stored = w.backend.store.list_photos(avatar.id).await.unwrap();
    assert_eq!(stored.len(), 20, "exactly the maximum, each once");
    let blobs = photo_blobs_exist(&w, ANNA).await;
    assert_eq!(blobs.len(), 20);
    assert!(
        blobs.iter().all(Option::is_some),
        "every kept photo's file is there"
    );
    // Said once, on the progress message: no flood of messages back.
    let full = "У аватара уже 20 фото, это максимум";
    let progress = w.bot_says(ANNA, full);
    assert!(
        progress.button("Начать обучение").is_some(),
        "{progress:#?}"
    );
    let sent_full = w
        .telegram
        .calls_of("sendMessage")
        .iter()
        .filter(|c| c.ok && c.params["text"].as_str().unwrap_or("").contains(full))
        .count();
    assert_eq!(sent_full, 0, "edits, not 80 new messages");
}

/// A photo whose download fails in any transient way (getFile's 5xx, the file server's 502
/// page, a 429 longer than a call may wait) answers 500, so Telegram delivers the update again;
/// the redelivery keeps the photo exactly once. A refused getFile (the file is gone) is told
/// to the user and answered 200: retrying cannot bring it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_whose_download_fails_is_kept_once_on_redelivery() {
    let w = world(&[]).await;
    create_avatar(&w, ANNA, "portrait", "Anna", "fast").await;
    let transient = [
        (
            "getFile",
            500,
            json!({"ok": false, "error_code": 500, "description": "Internal Server Error"}),
        ),
        ("file", 502, json!("<html><h1>502 Bad Gateway</h1></html>")),
        (
            "getFile",
            429,
            json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 60",
                   "parameters": {"retry_after": 60}}),
        ),
    ];
    for (seed, (method, status, body)) in transient.into_iter().enumerate() {
        let file = jpeg_file(&w, 40 + seed as u8);
        let update = updates::photo(w.next_update_id(), ANNA, &file, (640, 800), None);
        w.telegram.inject_error(method, status, body);
        let first = w.post(&update).await;
        assert_eq!(first.status, 500, "{method} {status}: {first:?}");
        let again = w.post(&update).await;
        assert_eq!(again.status, 200, "{method} {status}: {again:?}");
        let avatar = &w.avatars(ANNA).await[0];
        assert_eq!(avatar.photo_count, seed as u32 + 1, "{method} {status}");
    }
    let blobs = photo_blobs_exist(&w, ANNA).await;
    assert_eq!(blobs.len(), 3, "one record per photo: {blobs:?}");
    assert!(blobs.iter().all(Option::is_some), "each with its file");
}

/// Every Bot API call of a photo update timing out in turn. The download's (getFile, the
/// file) answer 500, so Telegram delivers the update again, and the redelivery keeps the photo
/// exactly once, with its file. The progress edit is the screen, not the photo: the photo is
/// kept and the update answered 200 whether Telegram carried the edit out or not; a screen
/// left one photo behind is put right by the next photo's edit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_whose_telegram_calls_time_out_is_kept_once() {
    let w = world(&[])
        .await
        .with_telegram_timeout(std::time::Duration::from_secs(1));
    create_avatar(&w, ANNA, "portrait", "Anna", "fast").await;
    // (method, carried out, first answer, the count the screen shows after it)
    let stalls = [
        ("getFile", false, 500, 1),
        ("file", false, 500, 2),
        ("editMessageText", false, 200, 2),
        ("editMessageText", true, 200, 4),
    ];
    for (seed, (method, carried_out, status, shown)) in stalls.into_iter().enumerate() {
        let file = jpeg_file(&w, 60 + seed as u8);
        let update = updates::photo(w.next_update_id(), ANNA, &file, (640, 800), None);
        w.telegram
            .stall(method, std::time::Duration::from_secs(5), carried_out);
        let first = w.post(&update).await;
        assert_eq!(first.status, status, "{method} {carried_out}: {first:?}");
        let again = w.post(&update).await;
        assert_eq!(again.status, 200, "{method} {carried_out}: {again:?}");
        let avatar = &w.avatars(ANNA).await[0];
        assert_eq!(
            avatar.photo_count,
            seed as u32 + 1,
            "{method} {carried_out}"
        );
        w.bot_says(ANNA, &format!("<b>{shown}/20</b>"));
    }
    let blobs = photo_blobs_exist(&w, ANNA).await;
    assert_eq!(blobs.len(), 4, "one record per photo: {blobs:?}");
    assert!(blobs.iter().all(Option::is_some), "each with its file");
}
