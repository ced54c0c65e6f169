//! Screens: a text plus its inline keyboard, built from the texts of the user's language.
//! Pure functions, so every screen can be checked without Telegram.

use super::callback::Callback;
use super::texts::{Texts, date, escape, preview};
use crate::domain::{
    AspectRatio, Avatar, AvatarId, AvatarKind, AvatarStatus, Billing, Credits, FailureReason,
    Gender, GeneratedImage, Generation, GenerationDefaults, ImageCount, Language, LedgerEntry,
    Pack, Preset, Prices, Style, Timestamp, WorkState,
};
use crate::pipeline::deletion::Settlement;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    pub label: String,
    pub callback: Callback,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keyboard(pub Vec<Vec<Button>>);

impl Keyboard {
    pub fn row(mut self, buttons: impl IntoIterator<Item = (String, Callback)>) -> Self {
        let row: Vec<Button> = buttons
            .into_iter()
            .map(|(label, callback)| Button { label, callback })
            .collect();
        if !row.is_empty() {
            self.0.push(row);
        }
        self
    }

    pub fn button(self, label: impl Into<String>, callback: Callback) -> Self {
        self.row([(label.into(), callback)])
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A message as the bot shows it: HTML text and buttons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    pub text: String,
    pub keyboard: Keyboard,
}

impl Screen {
    pub fn new(text: impl Into<String>, keyboard: Keyboard) -> Self {
        Self {
            text: text.into(),
            keyboard,
        }
    }

    pub fn text(text: impl Into<String>) -> Self {
        Self::new(text, Keyboard::default())
    }

    /// The same screen with a note above it (a refusal, a confirmation).
    pub fn with_note(mut self, note: &str) -> Self {
        self.text = format!("{note}\n\n{}", self.text);
        self
    }
}

/// Avatars per page of the list.
pub const PAGE_SIZE: usize = 8;

pub fn main_menu(t: &dyn Texts, billing: &Billing) -> Screen {
    Screen::new(t.welcome(), menu_keyboard(t, billing))
}

/// The main menu's buttons; a paying bot adds Balance.
pub fn menu_keyboard(t: &dyn Texts, billing: &Billing) -> Keyboard {
    let keyboard = Keyboard::default()
        .button(t.btn_generate(), Callback::ChooseForGeneration)
        .row([
            (t.btn_create().into(), Callback::Create),
            (t.btn_avatars().into(), Callback::Avatars(0)),
        ]);
    let keyboard = match billing {
        Billing::Free => keyboard,
        Billing::Stars { .. } => keyboard.button(t.btn_balance(), Callback::Balance),
    };
    keyboard.row([
        (t.btn_language().into(), Callback::ChooseLanguage),
        (t.btn_help().into(), Callback::Help),
    ])
}

/// The Balance screen: credits, prices, the newest entries and a button per pack.
pub fn balance(
    t: &dyn Texts,
    balance: Credits,
    prices: &Prices,
    packs: &[Pack],
    recent: &[LedgerEntry],
) -> Screen {
    let mut s = format!(
        "{}\n\n<b>{}</b>",
        t.balance_line(balance),
        t.prices_heading()
    );
    for preset in Preset::ALL {
        s.push_str(&format!(
            "\n{}",
            t.price_training(preset, prices.training(preset))
        ));
    }
    s.push_str(&format!("\n{}", t.price_image(prices.image)));
    if !recent.is_empty() {
        s.push_str(&format!("\n\n<b>{}</b>", t.recent_heading()));
        for e in recent {
            s.push_str(&format!(
                "\n{} · {:+} · {}",
                date(e.at),
                e.delta,
                t.entry_name(&e.kind)
            ));
        }
    }
    s.push_str(&format!("\n\n{}", t.buy_hint()));
    let mut keyboard = Keyboard::default();
    for pack in packs {
        keyboard = keyboard.button(t.btn_buy(pack.credits, pack.stars), Callback::Buy(*pack));
    }
    Screen::new(s, keyboard.button(t.btn_menu(), Callback::Menu))
}

pub fn back_to_menu(t: &dyn Texts) -> Keyboard {
    Keyboard::default().button(t.btn_menu(), Callback::Menu)
}

pub fn language_picker(t: &dyn Texts) -> Screen {
    Screen::new(
        t.choose_language(),
        Keyboard::default()
            .row([
                ("🇷🇺 Русский".to_owned(), Callback::SetLanguage(Language::Ru)),
                ("🇬🇧 English".to_owned(), Callback::SetLanguage(Language::En)),
            ])
            .button(t.btn_back(), Callback::Menu),
    )
}

pub fn choose_kind(t: &dyn Texts, min_portrait: u32, min_style: u32) -> Screen {
    Screen::new(
        t.choose_kind(min_portrait, min_style),
        Keyboard::default()
            .row(AvatarKind::ALL.map(|k| (t.btn_kind(k).to_owned(), Callback::Kind(k))))
            .button(t.btn_back(), Callback::Menu),
    )
}

pub fn choose_gender(t: &dyn Texts, kind: AvatarKind) -> Screen {
    Screen::new(
        t.choose_gender(kind),
        Keyboard::default()
            .row(Gender::ALL.map(|g| (t.btn_gender(g).to_owned(), Callback::Gender(g))))
            .button(t.btn_back(), Callback::Create),
    )
}

pub fn enter_name(t: &dyn Texts, kind: AvatarKind) -> Screen {
    Screen::new(
        t.enter_name(kind),
        Keyboard::default().button(t.btn_back(), Callback::Kind(kind)),
    )
}

pub fn choose_preset(t: &dyn Texts, kind: AvatarKind, gender: Gender, name: &str) -> Screen {
    let mut keyboard = Keyboard::default();
    for preset in Preset::ALL {
        keyboard = keyboard.button(t.btn_preset(kind, preset), Callback::Preset(preset));
    }
    Screen::new(
        t.choose_preset(name),
        keyboard.button(t.btn_back(), Callback::Gender(gender)),
    )
}

/// The one progress message of photo collection, edited as photos arrive.
pub fn photo_progress(
    t: &dyn Texts,
    avatar: AvatarId,
    count: u32,
    min: u32,
    max: u32,
    duplicate_skipped: bool,
) -> Screen {
    let keyboard = if count >= min {
        Keyboard::default().button(t.btn_start_training(), Callback::StartTraining(avatar))
    } else {
        Keyboard::default()
    };
    Screen::new(
        t.photo_progress(count, min, max, duplicate_skipped),
        keyboard,
    )
}

/// The icon of an avatar's status, in lists and on its card.
pub fn status_icon(status: AvatarStatus) -> &'static str {
    match status {
        AvatarStatus::Draft | AvatarStatus::CollectingPhotos => "📥",
        AvatarStatus::Ready => "🟢",
        AvatarStatus::Queued | AvatarStatus::Submitting | AvatarStatus::Sending => "⏳",
        AvatarStatus::Training => "🧠",
        AvatarStatus::Completed => "✅",
        AvatarStatus::Failed => "❌",
        AvatarStatus::Cancelled => "🚫",
    }
}

/// What an avatar card shows; gathered by the gallery, worded by the language.
#[derive(Debug, Clone)]
pub struct CardFacts<'a> {
    pub name: &'a str,
    pub kind: AvatarKind,
    pub gender: Gender,
    pub preset: Preset,
    pub status: AvatarStatus,
    pub photo_count: u32,
    pub min_photos: u32,
    pub created_at: Timestamp,
    /// Minutes since training was submitted or queued, while it runs.
    pub training_minutes: Option<u64>,
    pub failure: Option<&'a FailureReason>,
}

/// What reached the user of a finished generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sent: usize,
    /// Flagged NSFW by fal.ai and not sent.
    pub filtered: usize,
    /// Could not be fetched from fal.ai.
    pub unavailable: usize,
    /// Kept, but Telegram refused them for good (as photos and as documents).
    pub refused: usize,
}

/// One line of an avatar's generation history.
#[derive(Debug, Clone)]
pub struct HistoryEntry<'a> {
    pub created_at: Timestamp,
    pub prompt: &'a str,
    pub style: Option<Style>,
    /// Images the user got; `None` while it runs, `Some(0)` when it failed.
    pub images: Option<usize>,
}

/// The card's text: the same lines in every language, worded by `t`.
pub fn card_text(t: &dyn Texts, f: &CardFacts<'_>) -> String {
    let mut s = format!(
        "<b>{}</b>\n{} · {} · {}\n{}: {} {}\n{}: {}\n{}: {}",
        escape(f.name),
        t.kind_name(f.kind),
        t.gender_name(f.gender),
        t.preset_name(f.preset),
        t.label_status(),
        status_icon(f.status),
        t.status_name(f.status),
        t.label_created(),
        date(f.created_at),
        t.label_photos(),
        f.photo_count,
    );
    match f.status {
        AvatarStatus::Draft | AvatarStatus::CollectingPhotos => {
            s.push(' ');
            s.push_str(&t.photos_needed(f.min_photos));
        }
        status if status.is_training_in_progress() => {
            let expected = t.minutes(f.preset.expected_minutes(f.kind));
            s.push('\n');
            s.push_str(&match f.training_minutes {
                Some(m) => t.running_for(m, &expected),
                None => t.usually_takes(&expected),
            });
        }
        AvatarStatus::Failed => {
            if let Some(reason) = f.failure {
                s.push_str(&format!(
                    "\n{}: {}",
                    t.label_reason(),
                    t.failure_reason(reason)
                ));
            }
        }
        AvatarStatus::Completed => {
            s.push('\n');
            s.push_str(t.card_trained());
        }
        _ => {}
    }
    s
}

/// The history lines under a card: date, what was asked, how many pictures came.
pub fn history_text(t: &dyn Texts, entries: &[HistoryEntry<'_>]) -> String {
    let mut s = format!("\n\n<b>{}</b>", t.history_heading());
    for e in entries {
        let what = match e.style {
            Some(style) => t.style_name(style).to_owned(),
            None => format!("«{}»", preview(e.prompt, 40)),
        };
        let status = match e.images {
            None => "⏳".to_owned(),
            Some(0) => "—".to_owned(),
            Some(n) => format!("🖼 {n}"),
        };
        s.push_str(&format!("\n{} · {what} · {status}", date(e.created_at)));
    }
    s
}

/// The training summary shown before Confirm.
pub fn summary_text(
    t: &dyn Texts,
    name: &str,
    kind: AvatarKind,
    preset: Preset,
    photos: u32,
) -> String {
    format!(
        "<b>{}</b>\n\n{}: <b>{}</b>\n{}: {}\n{}: {}\n{}: {photos}\n{}: {}\n\n{}",
        t.summary_heading(),
        t.label_name(),
        escape(name),
        t.label_kind(),
        t.kind_name(kind),
        t.label_quality(),
        t.preset_name(preset),
        t.label_photos(),
        t.label_expected_time(),
        t.minutes(preset.expected_minutes(kind)),
        t.summary_question(),
    )
}

/// The summary under a generation's pictures: what came, what was hidden, what was lost.
pub fn generation_result(t: &dyn Texts, name: &str, r: DeliveryReport) -> String {
    let mut s = if r.sent > 0 {
        format!("✅ {}", t.result_sent(&t.btn_images(r.sent as u8), name))
    } else {
        t.result_empty(name)
    };
    if r.filtered > 0 {
        s.push_str(&format!("\n🙈 {}", t.result_filtered(r.filtered)));
    }
    if r.unavailable > 0 {
        s.push_str(&format!("\n⚠️ {}", t.result_unavailable(r.unavailable)));
    }
    if r.refused > 0 {
        s.push_str(&format!("\n⚠️ {}", t.result_refused(r.refused)));
    }
    s
}

/// The summary before Confirm; in a paying bot with the price and the balance, and Top up
/// in place of Confirm when the balance is short.
pub fn training_summary(
    t: &dyn Texts,
    avatar: &Avatar,
    price: Option<(Credits, Credits)>,
) -> Screen {
    let mut text = summary_text(
        t,
        avatar.name.as_str(),
        avatar.kind,
        avatar.preset,
        avatar.photo_count,
    );
    let mut go = (
        t.btn_confirm_training().to_owned(),
        Callback::ConfirmTraining(avatar.id),
    );
    if let Some((price, balance)) = price {
        text.push_str(&format!("\n\n{}", t.training_price(price, balance)));
        if balance < price {
            go = (t.btn_top_up().to_owned(), Callback::Balance);
        }
    }
    Screen::new(
        text,
        Keyboard::default().row([go, (t.btn_back().to_owned(), Callback::Continue(avatar.id))]),
    )
}

/// One page of the avatar list: a button per avatar with its status icon, a pager, Back.
pub fn avatar_list(t: &dyn Texts, avatars: &[Avatar], page: usize) -> Screen {
    if avatars.is_empty() {
        return Screen::new(
            t.no_avatars(),
            Keyboard::default()
                .button(t.btn_create(), Callback::Create)
                .button(t.btn_back(), Callback::Menu),
        );
    }
    let pages = avatars.len().div_ceil(PAGE_SIZE);
    let page = page.min(pages - 1);
    let mut keyboard = Keyboard::default();
    // Newest first: the one just created is on the first page.
    for avatar in avatars.iter().rev().skip(page * PAGE_SIZE).take(PAGE_SIZE) {
        keyboard = keyboard.button(
            format!("{} {}", status_icon(avatar.status()), avatar.name),
            Callback::Card(avatar.id),
        );
    }
    let mut pager = Vec::new();
    if page > 0 {
        pager.push((t.btn_prev().to_owned(), Callback::Avatars(page as u16 - 1)));
    }
    if page + 1 < pages {
        pager.push((t.btn_next().to_owned(), Callback::Avatars(page as u16 + 1)));
    }
    Screen::new(
        t.avatar_list(avatars.len(), page + 1, pages),
        keyboard.row(pager).button(t.btn_back(), Callback::Menu),
    )
}

/// An avatar's card: what it is, how it is doing, what it drew lately, and what can be done
/// with it. `history` is its latest generations, newest first.
pub fn avatar_card(
    t: &dyn Texts,
    avatar: &Avatar,
    history: &[Generation],
    min_photos: u32,
    now: Timestamp,
) -> Screen {
    let status = avatar.status();
    let training = avatar.state.training();
    let running_since = training.and_then(WorkState::due_at);
    let failure = match training {
        Some(WorkState::Failed { reason, .. }) => Some(reason),
        _ => None,
    };
    let facts = CardFacts {
        name: avatar.name.as_str(),
        kind: avatar.kind,
        gender: avatar.gender,
        preset: avatar.preset,
        status,
        photo_count: avatar.photo_count,
        min_photos,
        created_at: avatar.created_at,
        training_minutes: running_since.map(|since| now.since(since).as_secs() / 60),
        failure,
    };
    let mut keyboard = Keyboard::default();
    if status.accepts_photos() || status == AvatarStatus::Draft {
        keyboard = keyboard.button(t.btn_continue(), Callback::Continue(avatar.id));
    }
    if status == AvatarStatus::Ready {
        keyboard = keyboard.button(t.btn_start_training(), Callback::StartTraining(avatar.id));
    }
    if status == AvatarStatus::Completed {
        keyboard = keyboard.button(t.btn_generate(), Callback::Generate(avatar.id));
    }
    keyboard = keyboard.row([
        (t.btn_delete().to_owned(), Callback::Delete(avatar.id)),
        (t.btn_back().to_owned(), Callback::Avatars(0)),
    ]);
    let mut text = card_text(t, &facts);
    if !history.is_empty() {
        let entries: Vec<HistoryEntry<'_>> = history.iter().map(history_entry).collect();
        text.push_str(&history_text(t, &entries));
    }
    Screen::new(text, keyboard)
}

fn history_entry(g: &Generation) -> HistoryEntry<'_> {
    HistoryEntry {
        created_at: g.created_at,
        prompt: g.prompt.as_str(),
        style: g.style,
        images: match &g.state {
            WorkState::Completed { output: images, .. } => Some(
                images
                    .iter()
                    .filter(|i| matches!(i, GeneratedImage::Stored { .. }))
                    .count(),
            ),
            WorkState::Failed { .. } => Some(0),
            _ => None,
        },
    }
}

/// The trained avatars to pick from for /generate.
pub fn pick_avatar_to_generate(t: &dyn Texts, trained: &[Avatar]) -> Screen {
    let mut keyboard = Keyboard::default();
    for avatar in trained.iter().rev() {
        keyboard = keyboard.button(
            format!("{} {}", status_icon(avatar.status()), avatar.name.as_str()),
            Callback::Generate(avatar.id),
        );
    }
    Screen::new(
        t.pick_avatar_to_generate(),
        keyboard.button(t.btn_menu(), Callback::Menu),
    )
}

/// Styles (two a row), settings, back: the user may also just type a prompt.
/// The style/prompt screen; in a paying bot with the price of the chosen number of pictures
/// and the balance.
pub fn generate(
    t: &dyn Texts,
    avatar: &Avatar,
    defaults: GenerationDefaults,
    price: Option<(Credits, Credits)>,
) -> Screen {
    let styles: Vec<(String, Callback)> = Style::for_kind(avatar.kind)
        .iter()
        .map(|s| {
            (
                t.style_name(*s).to_owned(),
                Callback::Style(avatar.id, s.index()),
            )
        })
        .collect();
    let mut keyboard = Keyboard::default();
    for pair in styles.chunks(2) {
        keyboard = keyboard.row(pair.to_vec());
    }
    let mut text = t.generate_intro(avatar.name.as_str(), defaults);
    if let Some((price, balance)) = price {
        text.push_str(&format!("\n{}", t.generation_price(price, balance)));
    }
    Screen::new(
        text,
        keyboard
            .button(
                t.btn_generation_settings(),
                Callback::GenerationSettings(avatar.id),
            )
            .button(t.btn_back_to_avatar(), Callback::Card(avatar.id)),
    )
}

/// Aspect ratio and image count, the current ones ticked.
pub fn generation_settings(t: &dyn Texts, avatar: AvatarId, d: GenerationDefaults) -> Screen {
    let tick = |on: bool, label: String| if on { format!("✓ {label}") } else { label };
    let ratios = AspectRatio::ALL.map(|r| {
        (
            tick(r == d.aspect_ratio, r.as_str().to_owned()),
            Callback::SetRatio(avatar, r),
        )
    });
    let counts = ImageCount::ALL.map(|n| {
        (
            tick(n == d.num_images, n.get().to_string()),
            Callback::SetCount(avatar, n),
        )
    });
    Screen::new(
        t.generation_settings(d),
        Keyboard::default()
            .row(ratios)
            .row(counts)
            .button(t.btn_back(), Callback::Generate(avatar)),
    )
}

/// Under every result: the same again, another prompt, or back to the avatar.
pub fn after_generation(t: &dyn Texts, generation: &Generation) -> Keyboard {
    Keyboard::default()
        .row([
            (
                t.btn_again().to_owned(),
                Callback::Again(generation.avatar_id, generation.id),
            ),
            (
                t.btn_new_prompt().to_owned(),
                Callback::Generate(generation.avatar_id),
            ),
        ])
        .button(t.btn_back_to_avatar(), Callback::Card(generation.avatar_id))
}

/// The message that tells a training's outcome: a trained avatar is one tap from drawing.
/// The message that ends a training; a failed one says if its credits went back.
pub fn training_outcome(
    t: &dyn Texts,
    avatar: &Avatar,
    refunded: Option<Credits>,
) -> Option<Screen> {
    let name = avatar.name.as_str();
    let (text, keyboard) = match avatar.state.training()? {
        WorkState::Completed { .. } => (
            t.training_done(name),
            Keyboard::default().button(t.btn_generate(), Callback::Generate(avatar.id)),
        ),
        WorkState::Failed { reason, .. } => {
            let mut text = t.training_failed(name, reason);
            if let Some(credits) = refunded {
                text.push_str(&format!("\n\n{}", t.credits_returned(credits)));
            }
            (text, Keyboard::default())
        }
        _ => return None,
    };
    Some(Screen::new(
        text,
        keyboard
            .button(t.btn_open_avatar(), Callback::Card(avatar.id))
            .button(t.btn_menu(), Callback::Menu),
    ))
}

/// The delete confirmation, as the original product words it: heading, question, the
/// avatar's name and status, what will be lost, and a pause.
pub fn delete_question(t: &dyn Texts, avatar: &Avatar, settlement: Settlement) -> Screen {
    let status = avatar.status();
    let trained = status == AvatarStatus::Completed;
    let mut lost = Vec::new();
    if trained {
        lost.push(t.delete_item_model().to_owned());
    }
    lost.push(t.delete_item_photos(avatar.photo_count));
    if trained {
        lost.push(t.delete_item_history().to_owned());
    }
    let text = format!(
        "🗑 <b>{}</b>\n\n❓ {}\n\n🎭 <b>{}:</b> {}\n📊 <b>{}:</b> {} {}\n\n⚠️ {}\n{}\n\n🤔 {}",
        t.delete_heading(),
        t.delete_ask(),
        t.label_name(),
        escape(avatar.name.as_str()),
        t.label_status(),
        status_icon(status),
        t.status_name(status),
        t.delete_warning(),
        lost.iter()
            .map(|item| format!("• {item}"))
            .collect::<Vec<_>>()
            .join("\n"),
        t.delete_think_twice(),
    );
    let mut text = text;
    if settlement.refunded.0 > 0 {
        text.push_str(&format!("\n\n💳 {}", t.delete_refund(settlement.refunded)));
    }
    if settlement.cancelled_at_fal > 0 {
        text.push_str(&format!(
            "\n⏹ {}",
            t.delete_stops_running(settlement.cancelled_at_fal)
        ));
    }
    Screen::new(
        text,
        Keyboard::default().row([
            (
                t.btn_confirm_delete().to_owned(),
                Callback::ConfirmDelete(avatar.id),
            ),
            (t.btn_keep().to_owned(), Callback::Card(avatar.id)),
        ]),
    )
}

/// What deleting an avatar did: said, with what went back to the balance.
pub fn deleted(t: &dyn Texts, name: &str, settlement: Settlement) -> String {
    let mut text = t.deleted(name);
    if settlement.refunded.0 > 0 {
        text.push_str(&format!("\n{}", t.deleted_refunded(settlement.refunded)));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AvatarName, UserId};
    use crate::telegram::texts::texts;

    fn avatar(n: usize) -> Avatar {
        Avatar::draft(
            UserId(1),
            AvatarKind::Portrait,
            Gender::Male,
            AvatarName::parse(&format!("a{n}")).unwrap(),
            Preset::Fast,
            Timestamp(0),
        )
    }

    #[test]
    fn list_pages_beyond_eight_newest_first() {
        let t = texts(Language::En);
        let avatars: Vec<Avatar> = (0..11).map(avatar).collect();
        let first = avatar_list(t, &avatars, 0);
        assert_eq!(first.keyboard.0.len(), 8 + 2, "8 avatars, pager, back");
        assert_eq!(
            first.keyboard.0[0][0].callback,
            Callback::Card(avatars[10].id)
        );
        assert_eq!(first.keyboard.0[8][0].callback, Callback::Avatars(1));
        let second = avatar_list(t, &avatars, 1);
        assert_eq!(second.keyboard.0.len(), 3 + 2);
        assert_eq!(second.keyboard.0[3][0].callback, Callback::Avatars(0));
        assert!(second.text.contains("2/2"));
        // A page past the end (a stale button after deletions) shows the last page.
        assert_eq!(avatar_list(t, &avatars, 7), second);
    }

    #[test]
    fn start_button_only_once_the_minimum_is_reached() {
        let t = texts(Language::Ru);
        let id = AvatarId::new();
        assert!(photo_progress(t, id, 9, 10, 20, false).keyboard.is_empty());
        assert_eq!(
            photo_progress(t, id, 10, 10, 20, false).keyboard.0[0][0].callback,
            Callback::StartTraining(id)
        );
    }
}
