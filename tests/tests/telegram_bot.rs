//! The Telegram conversation end to end: API Gateway events into the real webhook handler,
//! the AWS adapters against moto, and a fake Telegram Bot API server that speaks the wire
//! format and shows what the user sees.

use fluxbot::domain::{AvatarKind, AvatarStatus, DialogueState, UserId};
use fluxbot::jobs::LaunchTraining;
use fluxbot_tests::backends;
use fluxbot_tests::bot_world::BotWorld;
use fluxbot_tests::fake_telegram::FakeFile;
use fluxbot_tests::fake_telegram::updates::{self, User};
use fluxbot_tests::images;
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

/// /start, Create, kind, gender, name, preset: returns the photo message's id.
async fn create_avatar(w: &BotWorld, user: User, kind: &str, name: &str, preset: &str) -> i32 {
    w.say(user, "/start").await;
    w.press_cb(user, "c").await;
    w.press_cb(user, &format!("k:{kind}")).await;
    w.press_cb(user, "g:female").await;
    w.say(user, name).await;
    w.press_cb(user, &format!("p:{preset}")).await;
    w.telegram.last_message(user.id).message_id
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
    assert!(
        screen.text.contains("Анна &lt;в городе&gt;"),
        "{}",
        screen.text
    );
    assert!(screen.text.contains("0/20"), "{}", screen.text);
    assert!(screen.buttons.is_empty(), "no Start before the minimum");
    let sends_before = w.telegram.calls_of("sendMessage").len();

    // An album of 10: ten updates sharing a media_group_id, delivered one after another.
    let album: Vec<FakeFile> = (0..10).map(|i| jpeg_file(&w, i)).collect();
    for file in &album {
        w.send_photo(ANNA, file, (640, 800), Some("13912345678901234"))
            .await;
    }
    let screen = w.telegram.message(ANNA.id, photos_msg);
    assert!(screen.text.contains("10/20"), "{}", screen.text);
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
    assert!(screen.text.contains("11/20"), "{}", screen.text);
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
    assert!(screen.text.contains("12/20"), "{}", screen.text);
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
    w.press_cb(ANNA, &format!("ts:{}", avatar.id)).await;
    let summary = w.telegram.message(ANNA.id, photos_msg);
    assert!(summary.text.contains("Фото: 12"), "{}", summary.text);
    assert!(summary.text.contains("5-15 мин"), "{}", summary.text);
    w.press_cb(ANNA, &format!("tc:{}", avatar.id)).await;
    let queued = w.telegram.message(ANNA.id, photos_msg);
    assert!(queued.text.contains("в очереди"), "{}", queued.text);

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
        .queue
        .receive(10, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(
        LaunchTraining::from_body(&messages[0].body).unwrap(),
        LaunchTraining {
            owner: UserId(ANNA.id),
            avatar_id: avatar.id
        }
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
    assert!(screen.text.contains("5/20"), "{}", screen.text);
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
