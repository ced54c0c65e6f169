//! Everything the bot says, grouped by feature (one trait each: [`Common`], [`CreationTexts`],
//! [`TrainingTexts`], [`GalleryTexts`], [`GenerationTexts`], [`UpscaleTexts`],
//! [`RestyleTexts`], [`CreditsTexts`], [`PrivacyTexts`]; [`Texts`] is
//! all of them). One implementation per language, each in its own file with one block per
//! feature, so a translator reads (and the compiler checks) a whole language in one place. Texts are HTML
//! (parse mode HTML); anything a user typed is escaped with [`escape`] before it goes in.

mod en;
mod ru;

use crate::domain::{
    AvatarKind, AvatarStatus, FailureReason, Gender, GenerationDefaults, Language, NameError,
    PhotoRejection, Preset, PromptError, Style, Timestamp, UpscaleFactor, photo_packs::Localized,
};
use crate::domain::{Credits, EntryKind, GenerationRefusal, TrainingRefusal};
use crate::telegram::incoming::Command;

/// How far a training is, as well as fal.ai lets us know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrainingProgress {
    InQueue { position: Option<u32> },
    Steps { done: u32, total: u32 },
    Elapsed { minutes: u64, expected: (u32, u32) },
}

/// Everything a language says, feature by feature.
pub trait Texts:
    Common
    + CreationTexts
    + TrainingTexts
    + GalleryTexts
    + GenerationTexts
    + UpscaleTexts
    + RestyleTexts
    + PackTexts
    + CreditsTexts
    + PrivacyTexts
    + Sync
{
}

impl<T> Texts for T where
    T: Common
        + CreationTexts
        + TrainingTexts
        + GalleryTexts
        + GenerationTexts
        + UpscaleTexts
        + RestyleTexts
        + PackTexts
        + CreditsTexts
        + PrivacyTexts
        + Sync
{
}

/// Shared by every screen: buttons, names, menus, help, what goes wrong anywhere.
pub trait Common {
    fn btn_create(&self) -> &'static str;
    fn btn_avatars(&self) -> &'static str;
    fn btn_language(&self) -> &'static str;
    fn btn_help(&self) -> &'static str;
    fn btn_back(&self) -> &'static str;
    fn btn_menu(&self) -> &'static str;
    fn btn_cancel(&self) -> &'static str;
    fn btn_prev(&self) -> &'static str;
    fn btn_next(&self) -> &'static str;
    /// For the command list Telegram shows (setMyCommands).
    fn command_description(&self, command: Command) -> &'static str;
    fn kind_name(&self, kind: AvatarKind) -> &'static str;
    fn gender_name(&self, gender: Gender) -> &'static str;
    fn preset_name(&self, preset: Preset) -> &'static str;
    fn status_name(&self, status: AvatarStatus) -> &'static str;
    fn minutes(&self, range: (u32, u32)) -> String;
    fn welcome(&self) -> String;
    fn help(&self, min_portrait: u32, min_style: u32, max: u32) -> String;
    fn choose_language(&self) -> &'static str;
    fn language_set(&self) -> &'static str;
    /// /privacy: what is kept, where, for how long, and what fal.ai receives.
    fn unknown_command(&self) -> &'static str;
    fn fallback(&self) -> &'static str;
    fn outdated(&self) -> &'static str;
    fn not_found(&self) -> &'static str;
    fn try_again_later(&self) -> &'static str;
    /// To a stranger of an allow-listed bot.
    fn private_bot(&self) -> &'static str;
}

/// Creating an avatar: kind, gender, name, preset, photos, cancelling.
pub trait CreationTexts {
    fn btn_kind(&self, kind: AvatarKind) -> &'static str;
    fn btn_gender(&self, gender: Gender) -> &'static str;
    fn btn_preset(&self, kind: AvatarKind, preset: Preset) -> String;
    fn btn_continue(&self) -> &'static str;
    fn btn_consent(&self) -> &'static str;
    /// Asked once per portrait avatar before its photos are taken (`CONSENT_TEXT` replaces it).
    fn consent(&self, name: &str) -> String;
    fn choose_kind(&self, min_portrait: u32, min_style: u32) -> String;
    fn choose_gender(&self, kind: AvatarKind) -> String;
    fn enter_name(&self, kind: AvatarKind) -> String;
    fn name_refused(&self, error: &NameError) -> String;
    fn choose_preset(&self, name: &str) -> String;
    fn send_photos(&self, name: &str, kind: AvatarKind, min: u32, max: u32) -> String;
    fn photo_progress(&self, count: u32, min: u32, max: u32, duplicate_skipped: bool) -> String;
    fn photos_full(&self, max: u32) -> String;
    fn photo_rejected(&self, rejection: &PhotoRejection) -> String;
    fn photo_not_expected(&self) -> &'static str;
    fn photos_closed(&self) -> &'static str;
    fn text_while_collecting(&self) -> &'static str;
    fn other_media(&self) -> &'static str;
    fn cancelled(&self, removed_avatar: Option<&str>) -> String;
    fn nothing_to_cancel(&self) -> &'static str;
}

/// Starting training and its end: the summary, progress, the outcome.
pub trait TrainingTexts {
    fn btn_start_training(&self) -> &'static str;
    fn btn_confirm_training(&self) -> &'static str;
    fn summary_heading(&self) -> &'static str;
    fn label_name(&self) -> &'static str;
    fn label_kind(&self) -> &'static str;
    fn label_quality(&self) -> &'static str;
    fn label_expected_time(&self) -> &'static str;
    fn summary_question(&self) -> &'static str;
    fn training_refused(&self, refusal: TrainingRefusal) -> String;
    fn training_queued(&self, name: &str, expected: (u32, u32)) -> String;
    fn btn_open_avatar(&self) -> &'static str;
    fn training_started(&self, name: &str, expected: (u32, u32)) -> String;
    fn training_progress(&self, name: &str, progress: TrainingProgress) -> String;
    fn training_done(&self, name: &str) -> String;
    fn training_failed(&self, name: &str, reason: &FailureReason) -> String;
    /// An avatar never sent to training was removed, with its photos, after `days` idle.
    fn abandoned_avatar_removed(&self, name: &str, days: u64) -> String;
}

/// The user's avatars: the list, the card, deletion.
pub trait GalleryTexts {
    fn btn_delete(&self) -> &'static str;
    fn btn_confirm_delete(&self) -> &'static str;
    /// Keeps what a confirmation would remove.
    fn btn_keep(&self) -> &'static str;
    fn avatar_list(&self, total: usize, page: usize, pages: usize) -> String;
    fn no_avatars(&self) -> &'static str;
    fn label_status(&self) -> &'static str;
    fn label_created(&self) -> &'static str;
    fn label_photos(&self) -> &'static str;
    fn label_reason(&self) -> &'static str;
    fn photos_needed(&self, min: u32) -> String;
    fn running_for(&self, minutes: u64, expected: &str) -> String;
    fn usually_takes(&self, expected: &str) -> String;
    fn card_trained(&self) -> &'static str;
    fn failure_reason(&self, reason: &FailureReason) -> String;
    fn delete_heading(&self) -> &'static str;
    fn delete_ask(&self) -> &'static str;
    fn delete_warning(&self) -> &'static str;
    fn delete_item_model(&self) -> &'static str;
    fn delete_item_photos(&self, count: u32) -> String;
    fn delete_item_history(&self) -> &'static str;
    fn delete_think_twice(&self) -> &'static str;
    fn deleted(&self, name: &str) -> String;
    /// Deleting gives back what was paid for work that has not reached the image service.
    fn delete_refund(&self, credits: Credits) -> String;
    /// Deleting stops work running at the image service; what it cost is not given back.
    fn delete_stops_running(&self, count: u32) -> String;
    /// After deleting: what was given back.
    fn deleted_refunded(&self, credits: Credits) -> String;
    fn delete_cancelled(&self) -> &'static str;
    fn history_heading(&self) -> &'static str;
}

/// Drawing: the style/prompt screen, its settings, what comes back.
pub trait GenerationTexts {
    fn btn_generate(&self) -> &'static str;
    fn btn_generation_settings(&self) -> &'static str;
    fn btn_again(&self) -> &'static str;
    fn btn_new_prompt(&self) -> &'static str;
    fn btn_back_to_avatar(&self) -> &'static str;
    fn btn_images(&self, count: u8) -> String;
    fn style_name(&self, style: Style) -> &'static str;
    fn generate_intro(&self, name: &str, defaults: GenerationDefaults) -> String;
    fn generation_settings(&self, defaults: GenerationDefaults) -> String;
    fn prompt_refused(&self, error: &PromptError) -> String;
    fn generation_refused(&self, refusal: GenerationRefusal) -> String;
    fn generation_started(&self, name: &str, defaults: GenerationDefaults) -> String;
    fn result_sent(&self, images: &str, name: &str) -> String;
    fn result_empty(&self, name: &str) -> String;
    /// A second tap (or a repeated message) asked for pictures already being drawn.
    fn generation_already_started(&self) -> &'static str;
    fn result_filtered(&self, count: usize) -> String;
    fn result_unavailable(&self, count: usize) -> String;
    /// Telegram would not take the pictures, as photos or as files.
    fn result_refused(&self, count: usize) -> String;
    fn generation_failed(&self, name: &str, reason: &FailureReason) -> String;
    fn no_trained_avatars(&self) -> &'static str;
    fn pick_avatar_to_generate(&self) -> &'static str;
}

/// Upscaling a delivered picture: the offer, the work, the file.
pub trait UpscaleTexts {
    /// The button under a result: `picture` is 1-based, `None` under a single picture.
    fn btn_upscale(&self, picture: Option<u8>) -> String;
    fn btn_upscale_confirm(&self, factor: UpscaleFactor) -> String;
    /// What an upscale gives, before the tap that pays for it.
    fn upscale_offer(&self, name: &str, picture: u8, factor: UpscaleFactor) -> String;
    fn upscale_started(&self, name: &str, factor: UpscaleFactor) -> String;
    /// The file's caption.
    fn upscale_caption(&self, factor: UpscaleFactor, prompt: &str) -> String;
    fn upscale_delivered(&self, name: &str, factor: UpscaleFactor) -> String;
    /// A second tap (or a repeated message) asked for an upscale already under way.
    fn upscale_already_started(&self) -> &'static str;
    /// The picture to upscale is no longer kept.
    fn upscale_unavailable(&self) -> &'static str;
    /// Telegram would not take the file.
    fn upscale_refused(&self) -> &'static str;
    fn upscale_failed(&self, name: &str, reason: &FailureReason) -> String;
}

/// Redrawing a photo of the user's as an avatar.
pub trait RestyleTexts {
    fn btn_restyle(&self) -> &'static str;
    /// A picture of the user's to redraw instead of a photo, named by its prompt.
    fn btn_restyle_picture(&self, prompt: &str) -> String;
    /// Asks for the photo to redraw.
    fn restyle_ask_photo(&self, name: &str) -> String;
    /// The photo is in: a style or a typed prompt.
    fn restyle_intro(&self, name: &str) -> String;
    fn restyle_started(&self, name: &str) -> String;
    /// A second tap (or a repeated message) asked for a restyle already under way.
    fn restyle_already_started(&self) -> &'static str;
    /// This avatar's model cannot redraw photos (a FLUX Pro finetune).
    fn restyle_not_available(&self) -> &'static str;
}

/// Photo packs (the list, a pack's offer, its progress and its result) and the first look.
pub trait PackTexts {
    fn btn_packs(&self) -> &'static str;
    fn btn_more_packs(&self) -> &'static str;
    /// The pack's button in the list.
    fn btn_pack(&self, title: &str, pictures: u8) -> String;
    fn btn_run_pack(&self, pictures: u8) -> String;
    /// A pack's name or description in this language.
    fn local<'a>(&self, text: &'a Localized) -> &'a str;
    fn packs_intro(&self, name: &str) -> String;
    fn pack_offer(&self, title: &str, description: &str, pictures: u8) -> String;
    /// The price line of a pack's offer: the whole pack, one credit price per picture.
    fn pack_price(&self, price: Credits, balance: Credits) -> String;
    fn pack_started(&self, name: &str, title: &str, pictures: u8) -> String;
    /// A second tap (or a redelivered update) asked for a pack already under way.
    fn pack_already_started(&self) -> &'static str;
    /// The summary: `sent` of the pack's `total` pictures came.
    fn pack_result(&self, name: &str, title: &str, sent: usize, total: usize) -> String;
    /// Pictures fal.ai failed to draw.
    fn pack_failed(&self, count: usize) -> String;
    /// The first look: drawn from the user's best photo while the avatar trains.
    fn first_look_caption(&self) -> &'static str;
    fn first_look_started(&self, name: &str, pictures: u8) -> String;
    fn first_look_already_started(&self) -> &'static str;
    fn first_look_result(&self, name: &str, sent: usize, total: usize) -> String;
}

/// Credits and Stars: the Balance screen, prices, invoices, payments, refunds.
pub trait CreditsTexts {
    fn btn_balance(&self) -> &'static str;
    fn btn_top_up(&self) -> &'static str;
    fn btn_buy(&self, credits: Credits, stars: u32) -> String;
    fn balance_line(&self, balance: Credits) -> String;
    fn prices_heading(&self) -> &'static str;
    fn price_training(&self, preset: Preset, credits: Credits) -> String;
    fn price_image(&self, credits: Credits) -> String;
    fn price_upscale(&self, credits: Credits) -> String;
    /// The price line of an upscale's offer.
    fn upscale_price(&self, price: Credits, balance: Credits) -> String;
    fn recent_heading(&self) -> &'static str;
    fn entry_name(&self, kind: &EntryKind) -> String;
    fn buy_hint(&self) -> &'static str;
    /// /balance in a bot that does not charge.
    fn balance_free(&self) -> &'static str;
    /// The price line of the training summary.
    fn training_price(&self, price: Credits, balance: Credits) -> String;
    /// The price line of the prompt screen, for the chosen number of pictures.
    fn generation_price(&self, price: Credits, balance: Credits) -> String;
    /// Invoice title (1-32 characters) and description (1-255).
    fn invoice_title(&self, credits: Credits) -> String;
    fn invoice_description(&self, credits: Credits) -> String;
    /// Shown by Telegram when a pre-checkout is refused.
    fn offer_changed(&self) -> &'static str;
    fn payment_thanks(&self, credits: Credits, balance: Credits) -> String;
    /// Appended to a failure message when the work's credits went back.
    fn credits_returned(&self, credits: Credits) -> String;
    fn terms(&self) -> &'static str;
    fn paysupport(&self) -> &'static str;
}

/// /privacy: what is kept and for how long; forgetting everything about the user.
pub trait PrivacyTexts {
    /// The statement; `retention_days` is how long pictures are kept (`None`: until the
    /// avatar is deleted).
    fn privacy(&self, retention_days: Option<u32>) -> String;
    fn btn_privacy(&self) -> &'static str;
    fn btn_forget_me(&self) -> &'static str;
    fn btn_forget_confirm(&self) -> &'static str;
    fn forget_heading(&self) -> &'static str;
    fn forget_avatars(&self, avatars: u32, photos: u32) -> String;
    fn forget_generations(&self, count: u32) -> String;
    fn forget_profile(&self) -> &'static str;
    /// What stays, and why; `balance` stays with it.
    fn forget_kept(&self, balance: Credits) -> String;
    fn forget_final(&self) -> &'static str;
    fn forgotten(&self) -> &'static str;
    /// The gallery's word on how long pictures are kept.
    fn retention_note(&self, days: u32) -> String;
}

/// A prompt cut to `max` characters for a one-line preview.
pub fn preview(prompt: &str, max: usize) -> String {
    if prompt.chars().count() <= max {
        return escape(prompt);
    }
    let cut: String = prompt.chars().take(max - 1).collect();
    format!("{}…", escape(cut.trim_end()))
}

/// Minutes as the user should read a wait: at least one.
pub fn wait_minutes(minutes: u64) -> u64 {
    minutes.max(1)
}

pub fn texts(language: Language) -> &'static dyn Texts {
    match language {
        Language::Ru => &ru::Ru,
        Language::En => &en::En,
    }
}

/// Escapes text for Telegram's HTML parse mode: only `<`, `>` and `&` need it.
/// A detail from outside (fal's explanation of a failure), cut to a length that keeps any
/// message quoting it far inside Telegram's 4096 characters, then escaped.
pub fn brief(detail: &str) -> String {
    const MAX_CHARS: usize = 300;
    if detail.chars().count() <= MAX_CHARS {
        return escape(detail);
    }
    let cut: String = detail.chars().take(MAX_CHARS).collect();
    format!("{}…", escape(&cut))
}

/// A prompt short enough for a button label (buttons are plain text: nothing to escape).
pub fn short_label(text: &str) -> String {
    const MAX_CHARS: usize = 32;
    if text.chars().count() <= MAX_CHARS {
        return text.to_owned();
    }
    let cut: String = text.chars().take(MAX_CHARS - 1).collect();
    format!("{}…", cut.trim_end())
}

pub fn escape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c => out.push(c),
        }
    }
    out
}

/// A calendar date (UTC) for cards: unambiguous in both languages.
pub fn date(ts: Timestamp) -> String {
    chrono::DateTime::from_timestamp_millis(ts.0)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telegram::screens::{self, CardFacts, DeliveryReport, HistoryEntry};

    #[test]
    fn long_details_are_cut_before_they_reach_telegram() {
        let long = "<x>".repeat(2000);
        let cut = brief(&long);
        assert!(cut.chars().count() < 1000, "{}", cut.len());
        assert!(cut.ends_with('…') && !cut.contains('<'));
        assert_eq!(brief("short & sweet"), "short &amp; sweet");
        let reason = crate::domain::FailureReason::Rejected { detail: long };
        for language in [crate::domain::Language::Ru, crate::domain::Language::En] {
            let t = texts(language);
            assert!(t.training_failed("A", &reason).chars().count() < 4096);
            assert!(t.generation_failed("A", &reason).chars().count() < 4096);
        }
    }

    #[test]
    fn escape_covers_exactly_the_html_specials() {
        assert_eq!(
            escape("<b>Tom & \"Jerry\"</b>"),
            "&lt;b&gt;Tom &amp; \"Jerry\"&lt;/b&gt;"
        );
        assert_eq!(date(Timestamp(1_763_683_200_000)), "2025-11-21");
    }

    /// Every text of every language renders without panicking, is non-empty and stays within
    /// Telegram's limits (4096 for messages, 64 for buttons is not a rule but a sanity bound).
    #[test]
    fn every_text_renders_in_both_languages() {
        let reason = FailureReason::Rejected {
            detail: "<bad>".into(),
        };
        for lang in [Language::Ru, Language::En] {
            let t = texts(lang);
            let mut all: Vec<String> = vec![
                t.welcome(),
                t.help(10, 5, 20),
                t.choose_kind(10, 5),
                t.choose_preset("<x>"),
                t.avatar_list(9, 1, 2),
                t.deleted("a&b"),
                t.cancelled(Some("n")),
                t.cancelled(None),
                t.photos_full(20),
                t.training_queued("n", (3, 5)),
                t.delete_item_photos(12),
                t.failure_reason(&reason),
            ];
            for s in [
                t.choose_language(),
                t.language_set(),
                t.unknown_command(),
                t.fallback(),
                t.outdated(),
                t.not_found(),
                t.try_again_later(),
                t.photo_not_expected(),
                t.photos_closed(),
                t.text_while_collecting(),
                t.other_media(),
                t.nothing_to_cancel(),
                t.no_avatars(),
                t.delete_cancelled(),
            ] {
                all.push(s.to_owned());
            }
            for kind in AvatarKind::ALL {
                all.push(t.choose_gender(kind));
                all.push(t.enter_name(kind));
                all.push(t.send_photos("n", kind, 10, 20));
                for preset in Preset::ALL {
                    all.push(t.btn_preset(kind, preset));
                    all.push(screens::summary_text(t, "n", kind, preset, 12));
                }
            }
            for status in AvatarStatus::ALL {
                all.push(screens::card_text(
                    t,
                    &CardFacts {
                        name: "n",
                        kind: AvatarKind::Portrait,
                        gender: Gender::Female,
                        preset: Preset::Fast,
                        status,
                        photo_count: 3,
                        min_photos: 10,
                        created_at: Timestamp(0),
                        training_minutes: Some(4),
                        failure: Some(&reason),
                    },
                ));
            }
            for progress in [
                TrainingProgress::InQueue { position: Some(3) },
                TrainingProgress::InQueue { position: None },
                TrainingProgress::Steps {
                    done: 120,
                    total: 1000,
                },
                TrainingProgress::Elapsed {
                    minutes: 7,
                    expected: (5, 15),
                },
            ] {
                all.push(t.training_progress("<x>", progress));
            }
            all.push(t.training_started("<x>", (5, 15)));
            all.push(t.training_done("<x>"));
            all.push(t.training_failed("<x>", &reason));
            for refusal in [
                TrainingRefusal::NotEnoughPhotos { count: 3, min: 10 },
                TrainingRefusal::TooManyInFlight { limit: 1 },
                TrainingRefusal::AlreadyStarted,
                TrainingRefusal::DailyBudget {
                    resets_in_minutes: 125,
                },
            ] {
                all.push(t.training_refused(refusal));
            }
            for rejection in [
                PhotoRejection::Heic,
                PhotoRejection::UnsupportedFormat,
                PhotoRejection::TooLarge { max_mb: 20 },
                PhotoRejection::TooSmall {
                    width: 300,
                    height: 800,
                    min_side: 512,
                },
                PhotoRejection::Unreadable,
            ] {
                all.push(t.photo_rejected(&rejection));
            }
            for e in [
                NameError::Empty,
                NameError::TooLong {
                    length: 41,
                    max: 40,
                },
                NameError::ControlCharacters,
            ] {
                all.push(t.name_refused(&e));
            }
            all.push(t.photo_progress(12, 10, 20, true));
            all.push(t.photo_progress(3, 10, 20, false));
            let defaults = GenerationDefaults::default();
            all.push(t.generate_intro("<x>", defaults));
            all.push(t.generation_settings(defaults));
            all.push(t.generation_started("<x>", defaults));
            all.push(t.generation_failed("<x>", &reason));
            all.push(t.prompt_refused(&PromptError::Empty));
            all.push(t.prompt_refused(&PromptError::TooLong {
                length: 1001,
                max: 1000,
            }));
            for refusal in [
                GenerationRefusal::NotTrained,
                GenerationRefusal::TooManyInFlight { limit: 2 },
                GenerationRefusal::HourlyLimit {
                    limit: 30,
                    wait_minutes: 0,
                },
                GenerationRefusal::DailyBudget {
                    resets_in_minutes: 60,
                },
            ] {
                all.push(t.generation_refused(refusal));
            }
            for (sent, filtered, unavailable, refused) in
                [(2, 0, 0, 0), (0, 4, 0, 0), (1, 1, 1, 0), (0, 0, 0, 2)]
            {
                all.push(screens::generation_result(
                    t,
                    "<x>",
                    DeliveryReport {
                        sent,
                        filtered,
                        unavailable,
                        refused,
                    },
                ));
            }
            all.push(screens::history_text(
                t,
                &[
                    HistoryEntry {
                        created_at: Timestamp(0),
                        prompt: &"<long> ".repeat(30),
                        style: None,
                        images: Some(2),
                    },
                    HistoryEntry {
                        created_at: Timestamp(0),
                        prompt: "p",
                        style: Some(Style::Anime),
                        images: None,
                    },
                ],
            ));
            for kind in AvatarKind::ALL {
                for style in Style::for_kind(kind) {
                    all.push(t.style_name(*style).to_owned());
                }
            }
            for s in [
                t.btn_generate(),
                t.btn_generation_settings(),
                t.btn_again(),
                t.btn_new_prompt(),
                t.btn_back_to_avatar(),
                t.no_trained_avatars(),
                t.private_bot(),
                t.pick_avatar_to_generate(),
                t.btn_balance(),
                t.btn_top_up(),
                t.prices_heading(),
                t.recent_heading(),
                t.buy_hint(),
                t.balance_free(),
                t.offer_changed(),
                t.terms(),
                t.paysupport(),
            ] {
                all.push(s.to_owned());
            }
            let (fifty, ten) = (Credits(50), Credits(10));
            let short = crate::domain::NotEnoughCredits {
                balance: ten,
                price: fifty,
            };
            all.push(t.training_refused(TrainingRefusal::NotEnoughCredits(short)));
            all.push(t.generation_refused(GenerationRefusal::NotEnoughCredits(short)));
            all.push(t.btn_buy(fifty, 250));
            all.push(t.balance_line(ten));
            all.push(t.price_image(Credits(1)));
            all.push(t.price_upscale(Credits(2)));
            all.push(t.upscale_price(ten, fifty));
            for factor in [2u8, 4].map(|f| UpscaleFactor::try_from(f).unwrap()) {
                all.push(t.btn_upscale_confirm(factor));
                all.push(t.upscale_offer("<Anna>", 2, factor));
                all.push(t.upscale_started("<Anna>", factor));
                all.push(t.upscale_caption(factor, "<a lighthouse>"));
                all.push(t.upscale_delivered("<Anna>", factor));
            }
            all.push(t.btn_upscale(None));
            all.push(t.btn_upscale(Some(3)));
            all.push(t.upscale_failed("<Anna>", &FailureReason::TimedOut));
            all.push(t.restyle_ask_photo("<Anna>"));
            all.push(t.restyle_intro("<Anna>"));
            all.push(t.restyle_started("<Anna>"));
            for s in [
                t.btn_restyle(),
                t.restyle_already_started(),
                t.restyle_not_available(),
                t.upscale_already_started(),
                t.upscale_unavailable(),
                t.upscale_refused(),
            ] {
                all.push(s.to_owned());
            }
            all.push(t.training_price(fifty, ten));
            all.push(t.training_price(ten, fifty));
            all.push(t.generation_price(ten, fifty));
            all.push(t.payment_thanks(fifty, fifty));
            all.push(t.credits_returned(fifty));
            // Telegram's limits for an invoice: title 1-32, description 1-255 characters.
            let big = Credits(u64::MAX);
            assert!(t.invoice_title(big).chars().count() <= 32);
            assert!(t.invoice_description(big).chars().count() <= 255);
            for preset in Preset::ALL {
                all.push(t.price_training(preset, fifty));
            }
            let work = crate::domain::Work::training(crate::domain::AvatarId::new());
            for kind in [
                EntryKind::Purchase {
                    charge_id: "c".into(),
                    stars: 250,
                },
                EntryKind::Debit { work },
                EntryKind::Refund { work },
                EntryKind::Grant {
                    request_id: "r".into(),
                },
                EntryKind::PaymentRefund {
                    charge_id: "c".into(),
                },
                EntryKind::PaymentRefundReversed {
                    charge_id: "c".into(),
                },
            ] {
                all.push(t.entry_name(&kind));
            }
            for s in &all {
                assert!(!s.trim().is_empty());
                assert!(s.chars().count() <= 4096);
                assert!(
                    !s.contains("<x>") && !s.contains("<bad>"),
                    "unescaped input in {s}"
                );
            }
        }
    }
}
