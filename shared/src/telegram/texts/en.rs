//! English.

use super::{
    Common, CreationTexts, CreditsTexts, GalleryTexts, GenerationRefusal, GenerationTexts,
    PackTexts, PrivacyTexts, RestyleTexts, TrainingProgress, TrainingRefusal, TrainingTexts,
    UpscaleTexts, brief, escape, short_label, wait_minutes,
};
use crate::domain::photo_packs::Localized;
use crate::domain::{
    AvatarKind, AvatarStatus, FailureReason, Gender, GenerationDefaults, NameError, PhotoRejection,
    Preset, PromptError, Style, UpscaleFactor,
};
use crate::domain::{Credits, EntryKind, Work, WorkKind};
use crate::telegram::incoming::Command;

pub struct En;

impl Common for En {
    fn btn_create(&self) -> &'static str {
        "➕ Create avatar"
    }
    fn btn_avatars(&self) -> &'static str {
        "🖼 My avatars"
    }
    fn btn_language(&self) -> &'static str {
        "🌐 Language"
    }
    fn btn_help(&self) -> &'static str {
        "❓ Help"
    }
    fn btn_back(&self) -> &'static str {
        "⬅️ Back"
    }
    fn btn_menu(&self) -> &'static str {
        "🏠 Menu"
    }
    fn btn_cancel(&self) -> &'static str {
        "✖️ Cancel"
    }
    fn btn_prev(&self) -> &'static str {
        "◀️"
    }
    fn btn_next(&self) -> &'static str {
        "▶️"
    }
    fn command_description(&self, command: Command) -> &'static str {
        match command {
            Command::Start => "Main menu",
            Command::Create => "Create an avatar",
            Command::Avatars => "My avatars",
            Command::Generate => "Generate images",
            Command::Language => "Change language",
            Command::Help => "How it works",
            Command::Balance => "Credits and top-up",
            Command::Terms => "Terms of purchase",
            Command::PaySupport => "Help with a payment",
            Command::Privacy => "What is kept about you",
            Command::Cancel => "Stop what you are doing",
        }
    }
    fn kind_name(&self, kind: AvatarKind) -> &'static str {
        match kind {
            AvatarKind::Portrait => "portrait",
            AvatarKind::Style => "style",
        }
    }
    fn gender_name(&self, gender: Gender) -> &'static str {
        match gender {
            Gender::Male => "male",
            Gender::Female => "female",
            Gender::Other => "other",
        }
    }
    fn preset_name(&self, preset: Preset) -> &'static str {
        match preset {
            Preset::Fast => "Fast",
            Preset::Balanced => "Balanced",
            Preset::Quality => "Quality",
        }
    }
    fn status_name(&self, status: AvatarStatus) -> &'static str {
        match status {
            AvatarStatus::Draft | AvatarStatus::CollectingPhotos => "collecting photos",
            AvatarStatus::Ready => "ready to train",
            AvatarStatus::Queued | AvatarStatus::Submitting | AvatarStatus::Sending => {
                "waiting to start training"
            }
            AvatarStatus::Training => "training",
            AvatarStatus::Completed => "ready to use",
            AvatarStatus::Failed => "training failed",
            AvatarStatus::Cancelled => "cancelled",
        }
    }
    fn minutes(&self, (low, high): (u32, u32)) -> String {
        format!("{low}-{high} min")
    }
    fn welcome(&self) -> String {
        "👋 <b>Welcome!</b>\n\nI train a personal image model (an <i>avatar</i>) from your \
         photos and then draw new pictures with it.\n\nCreate an avatar to begin, or open the \
         ones you have."
            .into()
    }
    fn help(&self, min_portrait: u32, min_style: u32, max: u32) -> String {
        format!(
            "<b>How it works</b>\n\
             1. <b>Create avatar</b>: pick a kind, a name and a quality preset.\n\
             2. Send photos: {min_portrait}-{max} of one person for a portrait, \
             {min_style}-{max} images for a style. JPEG, PNG or WebP, at least 512 px on the \
             shortest side; albums are fine.\n\
             3. Press <b>Start training</b>. I will tell you when the avatar is ready.\n\
             4. <b>Generate</b>: pick a style or write a prompt; choose the format and 1-4 \
             images. The pictures arrive here in about a minute.\n\n\
             <b>Commands</b>\n\
             /generate: pictures with a trained avatar\n\
             /create: new avatar\n/avatars: your avatars\n/language: change language\n\
             /cancel: stop what you are doing (a half-made avatar and its photos are removed)\n\
             /privacy: what is kept about you, and for how long\n\
             /help: this message"
        )
    }
    fn choose_language(&self) -> &'static str {
        "🌐 Choose your language:"
    }
    fn language_set(&self) -> &'static str {
        "Language set to English."
    }
    fn unknown_command(&self) -> &'static str {
        "I don't know that command. /help lists the ones I do."
    }
    fn fallback(&self) -> &'static str {
        "Use the menu below, or /help."
    }
    fn outdated(&self) -> &'static str {
        "This menu is out of date."
    }
    fn not_found(&self) -> &'static str {
        "Avatar not found."
    }
    fn try_again_later(&self) -> &'static str {
        "Something went wrong on my side. Please try again in a minute."
    }
    fn private_bot(&self) -> &'static str {
        "Sorry, this is a private bot: only the people its owner added can use it."
    }
}

impl CreationTexts for En {
    fn btn_kind(&self, kind: AvatarKind) -> &'static str {
        match kind {
            AvatarKind::Portrait => "👤 Portrait",
            AvatarKind::Style => "🎨 Style",
        }
    }
    fn btn_gender(&self, gender: Gender) -> &'static str {
        match gender {
            Gender::Male => "👨 Male",
            Gender::Female => "👩 Female",
            Gender::Other => "🧑 Other",
        }
    }
    fn btn_preset(&self, kind: AvatarKind, preset: Preset) -> String {
        let icon = match preset {
            Preset::Fast => "⚡",
            Preset::Balanced => "⚖️",
            Preset::Quality => "💎",
        };
        format!(
            "{icon} {} · {}",
            self.preset_name(preset),
            self.minutes(preset.expected_minutes(kind))
        )
    }
    fn btn_continue(&self) -> &'static str {
        "📥 Add photos"
    }
    fn btn_consent(&self) -> &'static str {
        "✅ I confirm"
    }
    fn consent(&self, name: &str) -> String {
        format!(
            "Before the photos for <b>{}</b>: please confirm that they show you, or someone \
             who agreed to have an avatar made of them, and no child. The photos are used only \
             to train this avatar and are deleted once it is trained.",
            escape(name)
        )
    }
    fn choose_kind(&self, min_portrait: u32, min_style: u32) -> String {
        format!(
            "<b>New avatar.</b> What will it learn?\n\n\
             👤 <b>Portrait</b>: a person. Send {min_portrait}+ photos of one face, \
             different angles and light.\n\
             🎨 <b>Style</b>: an art style, object or concept. Send {min_style}+ consistent images."
        )
    }
    fn choose_gender(&self, kind: AvatarKind) -> String {
        match kind {
            AvatarKind::Portrait => "Who is in the photos? This helps the model.".into(),
            AvatarKind::Style => {
                "Gender of people this style will usually draw (choose Other if none):".into()
            }
        }
    }
    fn enter_name(&self, kind: AvatarKind) -> String {
        let example = match kind {
            AvatarKind::Portrait => "Anna",
            AvatarKind::Style => "Watercolour",
        };
        format!("Send a name for the avatar (1-40 characters), for example <i>{example}</i>.")
    }
    fn name_refused(&self, error: &NameError) -> String {
        let why = match error {
            NameError::Empty => "the name is empty".to_owned(),
            NameError::TooLong { length, max } => {
                format!("it has {length} characters, at most {max} are allowed")
            }
            NameError::ControlCharacters => "it contains invisible control characters".to_owned(),
        };
        format!("⚠️ That name does not work: {why}. Send another one.")
    }
    fn choose_preset(&self, name: &str) -> String {
        format!(
            "Avatar <b>{}</b>. Choose the training quality: faster is cheaper, slower is \
             more faithful.",
            escape(name)
        )
    }
    fn send_photos(&self, name: &str, kind: AvatarKind, min: u32, max: u32) -> String {
        let what = match kind {
            AvatarKind::Portrait => {
                "photos of one person: face clearly visible, different angles, expressions \
                 and light; no sunglasses, no other people"
            }
            AvatarKind::Style => "images in one consistent style or of one object",
        };
        format!(
            "📸 Avatar <b>{}</b>: send {min}-{max} {what}.\n\n\
             JPEG, PNG or WebP, at least 512 px on the shortest side. Albums are welcome. \
             /cancel stops and removes the avatar.",
            escape(name)
        )
    }
    fn photo_progress(&self, count: u32, min: u32, max: u32, duplicate_skipped: bool) -> String {
        let mut s = if count >= max {
            format!("📸 <b>{count}/{max}</b>: that's the maximum. Press Start training.")
        } else if count >= min {
            format!("📸 <b>{count}/{max}</b>: send more or press Start training.")
        } else {
            format!(
                "📸 <b>{count}/{max}</b>: send {} more (at least {min}).",
                min - count
            )
        };
        if duplicate_skipped {
            s.push_str("\n↩️ The last photo was already added; skipped.");
        }
        s
    }
    fn photos_full(&self, max: u32) -> String {
        format!("This avatar already has {max} photos, the maximum. Press Start training.")
    }
    fn photo_rejected(&self, rejection: &PhotoRejection) -> String {
        let why = match rejection {
            PhotoRejection::Heic => "HEIC photos are not supported. Send it as a photo (not as a \
                 file), or set iPhone Settings → Camera → Formats → Most Compatible."
                .to_owned(),
            PhotoRejection::UnsupportedFormat => {
                "only JPEG, PNG and WebP images can be used.".to_owned()
            }
            PhotoRejection::TooLarge { max_mb } => format!(
                "the file is over {max_mb} MB, the most Telegram lets bots download. Send it \
                 as a photo instead of a file."
            ),
            PhotoRejection::TooSmall {
                width,
                height,
                min_side,
            } => format!(
                "it is {width}×{height} px; the shortest side must be at least {min_side} px."
            ),
            PhotoRejection::Unreadable => "the file could not be read as an image.".to_owned(),
        };
        format!("⚠️ Photo not added: {why}")
    }
    fn photo_not_expected(&self) -> &'static str {
        "To train on photos, create an avatar first."
    }
    fn photos_closed(&self) -> &'static str {
        "This avatar no longer takes photos."
    }
    fn text_while_collecting(&self) -> &'static str {
        "I'm waiting for photos. Send them, press Start training, or /cancel."
    }
    fn other_media(&self) -> &'static str {
        "I can only use photos (JPEG, PNG, WebP) and text."
    }
    fn cancelled(&self, removed_avatar: Option<&str>) -> String {
        match removed_avatar {
            Some(name) => format!(
                "Cancelled. The unfinished avatar <b>{}</b> and its photos were removed.",
                escape(name)
            ),
            None => "Cancelled.".to_owned(),
        }
    }
    fn nothing_to_cancel(&self) -> &'static str {
        "Nothing to cancel."
    }
}

impl TrainingTexts for En {
    fn btn_start_training(&self) -> &'static str {
        "🚀 Start training"
    }
    fn btn_confirm_training(&self) -> &'static str {
        "✅ Confirm"
    }
    fn summary_heading(&self) -> &'static str {
        "Ready to train"
    }
    fn label_name(&self) -> &'static str {
        "Name"
    }
    fn label_kind(&self) -> &'static str {
        "Kind"
    }
    fn label_quality(&self) -> &'static str {
        "Quality"
    }
    fn label_expected_time(&self) -> &'static str {
        "Expected time"
    }
    fn summary_question(&self) -> &'static str {
        "Start training?"
    }
    fn training_refused(&self, refusal: TrainingRefusal) -> String {
        match refusal {
            TrainingRefusal::NotEnoughPhotos { count, min } => {
                format!("Not yet: {count} photos, at least {min} are needed.")
            }
            TrainingRefusal::TooManyInFlight { limit } => format!(
                "You already have {limit} training(s) running. Please wait until it finishes; \
                 I will message you."
            ),
            TrainingRefusal::AlreadyStarted => "Training has already started.".to_owned(),
            TrainingRefusal::DailyBudget { resets_in_minutes } => format!(
                "The bot has reached its budget for today, so no training can start now. \
                 It resets at midnight UTC, in {}; your photos are kept until then.",
                hours_and_minutes(resets_in_minutes)
            ),
            TrainingRefusal::NotEnoughCredits(short) => format!(
                "Not enough credits: training costs {}, you have {}. Top up {} more with \
                 /balance; your photos are kept.",
                short.price,
                short.balance,
                short.missing()
            ),
        }
    }
    fn training_queued(&self, name: &str, expected: (u32, u32)) -> String {
        format!(
            "⏳ <b>{}</b> is queued for training (usually {}). I will message you when it is \
             ready.",
            escape(name),
            self.minutes(expected)
        )
    }
    fn btn_open_avatar(&self) -> &'static str {
        "🖼 Open avatar"
    }
    fn training_started(&self, name: &str, expected: (u32, u32)) -> String {
        format!(
            "🧠 <b>{}</b>: training started, usually {}. I will message you when it is done.",
            escape(name),
            self.minutes(expected)
        )
    }
    fn training_progress(&self, name: &str, progress: TrainingProgress) -> String {
        let how = match progress {
            TrainingProgress::InQueue { position: Some(p) } => {
                format!("waiting in the training queue (position {})", p + 1)
            }
            TrainingProgress::InQueue { position: None } => {
                "waiting in the training queue".to_owned()
            }
            TrainingProgress::Steps { done, total } => format!(
                "step {done}/{total} ({}%)",
                u64::from(done) * 100 / u64::from(total.max(1))
            ),
            TrainingProgress::Elapsed { minutes, expected } => {
                format!("{minutes} min so far (usually {})", self.minutes(expected))
            }
        };
        format!("🧠 <b>{}</b> is training: {how}.", escape(name))
    }
    fn training_done(&self, name: &str) -> String {
        format!("✅ <b>{}</b> is trained and ready!", escape(name))
    }
    fn abandoned_avatar_removed(&self, name: &str, days: u64) -> String {
        format!(
            "🗑 <b>{}</b> was never sent to training, so after {days} days it has been removed \
             together with its photos. Create a new avatar whenever you like.",
            escape(name)
        )
    }
    fn training_failed(&self, name: &str, reason: &FailureReason) -> String {
        format!(
            "❌ Training of <b>{}</b> failed: {}. Your photos are kept; delete the avatar and \
             create it again to retry.",
            escape(name),
            self.failure_reason(reason)
        )
    }
}

impl GalleryTexts for En {
    fn btn_delete(&self) -> &'static str {
        "🗑 Delete"
    }
    fn btn_confirm_delete(&self) -> &'static str {
        "❌ Yes, delete"
    }
    fn btn_keep(&self) -> &'static str {
        "✅ Cancel"
    }
    fn avatar_list(&self, total: usize, page: usize, pages: usize) -> String {
        if pages > 1 {
            format!("<b>Your avatars</b> ({total}), page {page}/{pages}:")
        } else {
            format!("<b>Your avatars</b> ({total}):")
        }
    }
    fn no_avatars(&self) -> &'static str {
        "You have no avatars yet."
    }
    fn label_status(&self) -> &'static str {
        "Status"
    }
    fn label_created(&self) -> &'static str {
        "Created"
    }
    fn label_photos(&self) -> &'static str {
        "Photos"
    }
    fn label_reason(&self) -> &'static str {
        "Reason"
    }
    fn photos_needed(&self, min: u32) -> String {
        format!("(at least {min} needed)")
    }
    fn running_for(&self, minutes: u64, expected: &str) -> String {
        format!("Running for {minutes} min (usually {expected})")
    }
    fn usually_takes(&self, expected: &str) -> String {
        format!("Usually takes {expected}")
    }
    fn card_trained(&self) -> &'static str {
        "The avatar is trained and ready."
    }
    fn failure_reason(&self, reason: &FailureReason) -> String {
        match reason {
            FailureReason::Rejected { detail } => {
                format!(
                    "the training service refused the photos ({})",
                    brief(detail)
                )
            }
            FailureReason::Unauthorized => {
                "the bot's training account is misconfigured; the operator has been told".to_owned()
            }
            FailureReason::ProviderError { detail } => {
                format!("the training service reported an error ({})", brief(detail))
            }
            FailureReason::TimedOut => "training took too long and was stopped".to_owned(),
            FailureReason::NotStarted { detail } => {
                format!("the training could not be started: {}", brief(detail))
            }
            FailureReason::Unconfirmed => "the training service never confirmed that it took \
                 the training, so it was not sent again (you will not be charged twice)"
                .to_owned(),
        }
    }
    fn delete_heading(&self) -> &'static str {
        "Confirm deletion"
    }
    fn delete_ask(&self) -> &'static str {
        "Do you really want to delete this avatar?"
    }
    fn delete_warning(&self) -> &'static str {
        "<b>Warning!</b> This cannot be undone. All of the avatar's data will be deleted for good:"
    }
    fn delete_item_model(&self) -> &'static str {
        "the trained model"
    }
    fn delete_item_photos(&self, count: u32) -> String {
        format!("the uploaded photos ({count}) and the training archive")
    }
    fn delete_item_history(&self) -> &'static str {
        "the generation history and its pictures"
    }
    fn delete_think_twice(&self) -> &'static str {
        "Think it over before you delete."
    }
    fn deleted(&self, name: &str) -> String {
        format!("🗑 <b>{}</b> and all its files were deleted.", escape(name))
    }
    fn delete_refund(&self, credits: Credits) -> String {
        format!("Work not started yet is cancelled and its {credits} credit(s) returned.")
    }
    fn delete_stops_running(&self, count: u32) -> String {
        format!(
            "{count} job(s) already running at the image service will be stopped; \
             their credits are not returned."
        )
    }
    fn deleted_refunded(&self, credits: Credits) -> String {
        format!("💳 {credits} credit(s) returned to your balance.")
    }
    fn delete_cancelled(&self) -> &'static str {
        "Not deleted."
    }
    fn history_heading(&self) -> &'static str {
        "Recent pictures"
    }
}

impl GenerationTexts for En {
    fn btn_generate(&self) -> &'static str {
        "🎨 Generate"
    }
    fn btn_generation_settings(&self) -> &'static str {
        "⚙️ Format and number"
    }
    fn btn_again(&self) -> &'static str {
        "🔁 Again"
    }
    fn btn_new_prompt(&self) -> &'static str {
        "✏️ New prompt"
    }
    fn btn_back_to_avatar(&self) -> &'static str {
        "👤 Back to avatar"
    }
    fn btn_images(&self, count: u8) -> String {
        format!("{count} {}", if count == 1 { "image" } else { "images" })
    }
    fn style_name(&self, style: Style) -> &'static str {
        match style {
            Style::Business => "💼 Business portrait",
            Style::Cinematic => "🎬 Cinematic",
            Style::Anime => "🌸 Anime",
            Style::Watercolour => "🖌 Watercolour",
            Style::Fashion => "👗 Fashion editorial",
            Style::Fantasy => "🐉 Fantasy hero",
            Style::VintageFilm => "📷 Vintage film",
            Style::Studio => "💡 Studio headshot",
            Style::Landscape => "🏔 Landscape",
            Style::CityStreet => "🌃 City at night",
            Style::StillLife => "🍎 Still life",
            Style::Character => "👒 Portrait",
            Style::Animal => "🦊 Animal",
            Style::Architecture => "🏛 Architecture",
            Style::Poster => "🗺 Travel poster",
            Style::Interior => "🛋 Interior",
        }
    }
    fn generate_intro(&self, name: &str, d: GenerationDefaults) -> String {
        format!(
            "🎨 <b>{}</b>\n\nPick a style, or write what to draw in a message (up to 1000 \
             characters, English works best).\n\nFormat {} · {}",
            escape(name),
            d.aspect_ratio.as_str(),
            self.btn_images(d.num_images.get())
        )
    }
    fn generation_settings(&self, d: GenerationDefaults) -> String {
        format!(
            "⚙️ Format and number of images.\nNow: {} · {}",
            d.aspect_ratio.as_str(),
            self.btn_images(d.num_images.get())
        )
    }
    fn prompt_refused(&self, error: &PromptError) -> String {
        match error {
            PromptError::Empty => "The prompt is empty. Write what to draw.".to_owned(),
            PromptError::TooLong { length, max } => {
                format!("The prompt has {length} characters; at most {max} fit. Please shorten it.")
            }
        }
    }
    fn generation_refused(&self, refusal: GenerationRefusal) -> String {
        match refusal {
            GenerationRefusal::NotTrained => {
                "This avatar is not trained, so it cannot draw yet.".to_owned()
            }
            GenerationRefusal::TooManyInFlight { limit } => format!(
                "You already have {limit} generation(s) running. Wait for them to arrive \
                 (usually under a minute), then try again."
            ),
            GenerationRefusal::HourlyLimit {
                limit,
                wait_minutes: m,
            } => format!(
                "That makes {limit} generations this hour, the hourly limit. The next one is \
                 possible in {} min.",
                wait_minutes(m)
            ),
            GenerationRefusal::DailyBudget { resets_in_minutes } => format!(
                "The bot has reached its budget for today, so it cannot draw now. It resets \
                 at midnight UTC, in {}.",
                hours_and_minutes(resets_in_minutes)
            ),
            GenerationRefusal::NotEnoughCredits(short) => format!(
                "Not enough credits: these pictures cost {}, you have {}. Top up with /balance \
                 or ask for fewer pictures.",
                short.price, short.balance
            ),
        }
    }
    fn generation_started(&self, name: &str, d: GenerationDefaults) -> String {
        format!(
            "⏳ <b>{}</b> is drawing {} ({}). This usually takes under a minute.",
            escape(name),
            self.btn_images(d.num_images.get()),
            d.aspect_ratio.as_str()
        )
    }
    fn result_sent(&self, images: &str, name: &str) -> String {
        format!("{images} by <b>{}</b>.", escape(name))
    }
    fn result_empty(&self, name: &str) -> String {
        format!(
            "<b>{}</b> has no pictures to show for this prompt.",
            escape(name)
        )
    }
    fn generation_already_started(&self) -> &'static str {
        "Already drawing these: the pictures come in a moment."
    }
    fn result_filtered(&self, count: usize) -> String {
        let them = if count == 1 { "it" } else { "them" };
        format!("{count} hidden: the safety filter flagged {them}. Try rewording the prompt.")
    }
    fn result_unavailable(&self, count: usize) -> String {
        format!("{count} could not be fetched from the image service.")
    }
    fn result_refused(&self, count: usize) -> String {
        format!("{count} could not be delivered: Telegram refused them, as photos and as files.")
    }
    fn generation_failed(&self, name: &str, reason: &FailureReason) -> String {
        let why = why_failed(reason);
        format!("❌ <b>{}</b> could not draw this: {why}.", escape(name))
    }
    fn no_trained_avatars(&self) -> &'static str {
        "You have no trained avatars yet. Create one: once it is trained, it can draw."
    }
    fn pick_avatar_to_generate(&self) -> &'static str {
        "🎨 Which avatar should draw?"
    }
}

impl UpscaleTexts for En {
    fn btn_upscale(&self, picture: Option<u8>) -> String {
        match picture {
            None => "🔍 Upscale".to_owned(),
            Some(n) => format!("🔍 {n}"),
        }
    }
    fn btn_upscale_confirm(&self, factor: UpscaleFactor) -> String {
        format!("🔍 Upscale ×{}", factor.get())
    }
    fn upscale_offer(&self, name: &str, picture: u8, factor: UpscaleFactor) -> String {
        format!(
            "🔍 Upscale picture {picture} by <b>{}</b> ×{}? It comes as a file in full \
             resolution, usually within a minute.",
            escape(name),
            factor.get()
        )
    }
    fn upscale_started(&self, name: &str, factor: UpscaleFactor) -> String {
        format!(
            "⏳ Upscaling a picture by <b>{}</b> ×{}. This usually takes under a minute.",
            escape(name),
            factor.get()
        )
    }
    fn upscale_caption(&self, factor: UpscaleFactor, prompt: &str) -> String {
        format!("×{} · {prompt}", factor.get())
    }
    fn upscale_delivered(&self, name: &str, factor: UpscaleFactor) -> String {
        format!(
            "✅ A picture by <b>{}</b>, upscaled ×{}: the file is below.",
            escape(name),
            factor.get()
        )
    }
    fn upscale_already_started(&self) -> &'static str {
        "Already upscaling this picture: the file comes in a moment."
    }
    fn upscale_unavailable(&self) -> &'static str {
        "This picture is no longer kept, so it cannot be upscaled."
    }
    fn upscale_refused(&self) -> &'static str {
        "⚠️ The upscaled picture could not be delivered: Telegram refused the file."
    }
    fn upscale_failed(&self, name: &str, reason: &FailureReason) -> String {
        let why = why_failed(reason);
        format!(
            "❌ A picture by <b>{}</b> could not be upscaled: {why}.",
            escape(name)
        )
    }
}

impl RestyleTexts for En {
    fn btn_restyle(&self) -> &'static str {
        "🖼 Restyle a photo"
    }
    fn btn_restyle_picture(&self, prompt: &str) -> String {
        format!("🖼 Picture: {}", short_label(prompt))
    }
    fn restyle_ask_photo(&self, name: &str) -> String {
        format!(
            "🖼 Send a photo, and <b>{}</b> will redraw it in a style you pick. It is deleted \
             once the picture is ready. Or pick one of your pictures below.",
            escape(name)
        )
    }
    fn restyle_intro(&self, name: &str) -> String {
        format!(
            "🖼 Pick a style for <b>{}</b> to redraw your photo in, or type what it should \
             look like.",
            escape(name)
        )
    }
    fn restyle_started(&self, name: &str) -> String {
        format!(
            "⏳ <b>{}</b> is redrawing your photo. This usually takes under a minute.",
            escape(name)
        )
    }
    fn restyle_already_started(&self) -> &'static str {
        "Already redrawing this photo: the picture comes in a moment."
    }
    fn restyle_not_available(&self) -> &'static str {
        "This avatar cannot redraw photos: its model only draws from prompts."
    }
}

impl PackTexts for En {
    fn btn_packs(&self) -> &'static str {
        "📸 Photo packs"
    }
    fn btn_more_packs(&self) -> &'static str {
        "📸 More packs"
    }
    fn btn_pack(&self, title: &str, pictures: u8) -> String {
        format!("{title} · {pictures} 🖼")
    }
    fn btn_run_pack(&self, pictures: u8) -> String {
        format!("▶️ Draw all {pictures}")
    }
    fn local<'a>(&self, text: &'a Localized) -> &'a str {
        &text.en
    }
    fn packs_intro(&self, name: &str) -> String {
        format!(
            "📸 Photo packs: a themed set of pictures of <b>{}</b> in one tap, delivered as \
             one album. Pictures that do not come are refunded one by one.",
            escape(name)
        )
    }
    fn pack_offer(&self, title: &str, description: &str, pictures: u8) -> String {
        format!(
            "📸 <b>{}</b>\n{}\n\n{pictures} pictures, about a minute.",
            escape(title),
            escape(description)
        )
    }
    fn pack_price(&self, price: Credits, balance: Credits) -> String {
        if balance >= price {
            format!("💰 The pack costs <b>{price}</b> credits (you have {balance}).")
        } else {
            format!("💰 The pack costs <b>{price}</b> credits; you have {balance}: top up first.")
        }
    }
    fn pack_started(&self, name: &str, title: &str, pictures: u8) -> String {
        format!(
            "⏳ <b>{}</b> is drawing the pack «{}»: {pictures} pictures, about a minute. They \
             come together as one album.",
            escape(name),
            escape(title)
        )
    }
    fn pack_already_started(&self) -> &'static str {
        "Already drawing this pack: the album comes in a moment."
    }
    fn pack_result(&self, name: &str, title: &str, sent: usize, total: usize) -> String {
        if sent == 0 {
            return format!(
                "<b>{}</b> has no pictures to show for the pack «{}».",
                escape(name),
                escape(title)
            );
        }
        format!(
            "✅ The pack «{}» by <b>{}</b>: {sent} of {total} pictures.",
            escape(title),
            escape(name)
        )
    }
    fn pack_failed(&self, count: usize) -> String {
        format!("{count} could not be drawn.")
    }
    fn first_look_caption(&self) -> &'static str {
        "👀 A first look"
    }
    fn first_look_started(&self, name: &str, pictures: u8) -> String {
        let them = if pictures == 1 {
            "a picture"
        } else {
            "two pictures"
        };
        format!(
            "👀 While <b>{}</b> trains, here comes a first look: {them} drawn from your best \
             photo in about a minute.",
            escape(name)
        )
    }
    fn first_look_already_started(&self) -> &'static str {
        "The first look is on its way."
    }
    fn first_look_result(&self, name: &str, sent: usize, total: usize) -> String {
        if sent == 0 {
            return format!(
                "The first look of <b>{}</b> did not come out. Training goes on.",
                escape(name)
            );
        }
        format!(
            "👀 A first look of <b>{}</b> ({sent} of {total}), drawn from one photo without \
             training. The trained avatar will look much more like you: it comes when training \
             ends.",
            escape(name)
        )
    }
}

impl CreditsTexts for En {
    fn btn_balance(&self) -> &'static str {
        "💰 Balance"
    }
    fn btn_top_up(&self) -> &'static str {
        "💰 Top up"
    }
    fn btn_buy(&self, credits: Credits, stars: u32) -> String {
        format!("{credits} credits · {stars} ⭐")
    }
    fn balance_line(&self, balance: Credits) -> String {
        format!("💰 Your balance: <b>{balance}</b> credits")
    }
    fn prices_heading(&self) -> &'static str {
        "Prices"
    }
    fn price_training(&self, preset: Preset, credits: Credits) -> String {
        format!("Training, {}: {credits} credits", self.preset_name(preset))
    }
    fn price_image(&self, credits: Credits) -> String {
        format!("One picture: {credits} credit(s)")
    }
    fn price_upscale(&self, credits: Credits) -> String {
        format!("One picture upscaled: {credits} credit(s)")
    }
    fn upscale_price(&self, price: Credits, balance: Credits) -> String {
        if balance >= price {
            format!("💰 Price: <b>{price}</b> credits (you have {balance})")
        } else {
            format!("💰 Price: <b>{price}</b> credits; you have {balance}: top up first.")
        }
    }
    fn recent_heading(&self) -> &'static str {
        "Recent"
    }
    fn entry_name(&self, kind: &EntryKind) -> String {
        match kind {
            EntryKind::Purchase { stars, .. } => format!("bought for {stars} ⭐"),
            EntryKind::Debit {
                work:
                    Work {
                        kind: WorkKind::Training,
                        ..
                    },
            } => "training".to_owned(),
            EntryKind::Debit {
                work:
                    Work {
                        kind: WorkKind::Generation,
                        ..
                    },
            } => "pictures".to_owned(),
            EntryKind::Debit {
                work:
                    Work {
                        kind: WorkKind::Upscale,
                        ..
                    },
            } => "an upscale".to_owned(),
            EntryKind::Debit {
                work:
                    Work {
                        kind: WorkKind::Restyle,
                        ..
                    },
            } => "a restyled photo".to_owned(),
            EntryKind::Debit {
                work:
                    Work {
                        kind: WorkKind::PhotoPack,
                        ..
                    },
            } => "a photo pack picture".to_owned(),
            EntryKind::Debit {
                work:
                    Work {
                        kind: WorkKind::FirstLook,
                        ..
                    },
            } => "a first look".to_owned(),
            EntryKind::Refund { .. } => "returned: the work failed".to_owned(),
            EntryKind::Grant { .. } => "a gift from the bot's owner".to_owned(),
            EntryKind::PaymentRefund { .. } => "Stars refunded".to_owned(),
            EntryKind::PaymentRefundReversed { .. } => {
                "Stars refund failed: credits returned".to_owned()
            }
        }
    }
    fn buy_hint(&self) -> &'static str {
        "Buy credits with Telegram Stars:"
    }
    fn balance_free(&self) -> &'static str {
        "This bot is free to use: no credits are needed."
    }
    fn training_price(&self, price: Credits, balance: Credits) -> String {
        if balance >= price {
            format!("💰 Price: <b>{price}</b> credits (you have {balance})")
        } else {
            format!(
                "💰 Price: <b>{price}</b> credits. You have {balance}: top up {} more to start.",
                Credits(price.0 - balance.0)
            )
        }
    }
    fn generation_price(&self, price: Credits, balance: Credits) -> String {
        format!("💰 These pictures cost <b>{price}</b> credits (you have {balance}).")
    }
    fn invoice_title(&self, credits: Credits) -> String {
        format!("{credits} credits")
    }
    fn invoice_description(&self, credits: Credits) -> String {
        format!("{credits} credits for avatar trainings and pictures in this bot.")
    }
    fn offer_changed(&self) -> &'static str {
        "This offer has changed. Open /balance for the current packs; you were not charged."
    }
    fn payment_thanks(&self, credits: Credits, balance: Credits) -> String {
        format!("🎉 Thank you! {credits} credits added. Your balance: <b>{balance}</b>.")
    }
    fn credits_returned(&self, credits: Credits) -> String {
        format!("↩️ {credits} credits are back on your balance.")
    }
    fn terms(&self) -> &'static str {
        "<b>Terms</b>\n\
         Credits are bought with Telegram Stars and spent on avatar trainings and pictures in \
         this bot only. They do not expire and cannot be exchanged for money. A training that \
         fails or times out, and a generation that delivers no picture, give their credits \
         back automatically. Photos you send are used only to train your avatar and are deleted \
         after training. For problems with a payment, use /paysupport."
    }
    fn paysupport(&self) -> &'static str {
        "<b>Payment support</b>\n\
         If a payment went wrong, write here what happened and when; the bot's owner reads \
         these messages and can refund a purchase whose credits were not spent. Telegram \
         support cannot help with purchases in bots."
    }
}

/// `5 h 3 min`, `42 min`.
fn hours_and_minutes(minutes: u64) -> String {
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// What went wrong with picture work, in the user's terms.
fn why_failed(reason: &FailureReason) -> String {
    match reason {
        FailureReason::Rejected { detail } => {
            format!("the image service refused the request ({})", brief(detail))
        }
        FailureReason::Unauthorized => {
            "the image service is not available right now (the bot's operator has been \
             told)"
                .to_owned()
        }
        FailureReason::ProviderError { detail } => {
            format!("the image service reported an error ({})", brief(detail))
        }
        FailureReason::TimedOut => "it took too long and was stopped".to_owned(),
        FailureReason::NotStarted { detail } => {
            format!("it could not be started ({})", brief(detail))
        }
        FailureReason::Unconfirmed => {
            "the image service never confirmed the request, so it was not sent again".to_owned()
        }
    }
}

impl PrivacyTexts for En {
    fn privacy(&self, retention_days: Option<u32>) -> String {
        let pictures = match retention_days {
            Some(days) => {
                format!("kept {days} days after they are made, or until you delete the avatar")
            }
            None => "kept until you delete the avatar".to_owned(),
        };
        format!(
            "🔒 <b>What this bot keeps about you</b>\n\
             • Your Telegram id and chat, your language and where you are in a conversation.\n\
             • Each avatar: its name, kind and settings, and when you confirmed its photos may \
             be used.\n\
             • Your photos, stored without their metadata (no location, no camera details) in \
             private, encrypted storage: deleted once the avatar is trained, or when you \
             delete it. An avatar left unfinished for 7 days goes with its photos.\n\
             • The trained model: kept until you delete the avatar. The pictures you made, \
             with their prompts: {pictures}.\n\
             • Credits and payments, in a bot that sells them: kept for refunds and disputes, \
             even when you delete everything else.\n\n\
             <b>What the image service (fal.ai) receives</b>\n\
             The photos to train on (as one archive), a photo you restyle, your best photo for \
             a first look, and your prompts. It is asked to delete each request's files after \
             a day and not to keep the requests in its history.\n\n\
             To delete one avatar with its photos, model and pictures: /avatars, the avatar, \
             Delete. To delete everything about you: the button below."
        )
    }
    fn btn_privacy(&self) -> &'static str {
        "🔒 Privacy"
    }
    fn btn_forget_me(&self) -> &'static str {
        "🗑 Delete everything about me"
    }
    fn btn_forget_confirm(&self) -> &'static str {
        "🗑 Yes, delete everything"
    }
    fn forget_heading(&self) -> &'static str {
        "Delete everything about you?"
    }
    fn forget_avatars(&self, avatars: u32, photos: u32) -> String {
        format!(
            "{avatars} avatar(s) with their {photos} photo(s), training archives and trained \
             models"
        )
    }
    fn forget_generations(&self, count: u32) -> String {
        format!("{count} generation(s) with their pictures and prompts")
    }
    fn forget_profile(&self) -> &'static str {
        "your settings, language and where you are in a conversation"
    }
    fn forget_kept(&self, balance: Credits) -> String {
        format!(
            "<b>Kept, apart from everything else:</b> your payment records (Telegram's charge \
             ids and amounts, credits bought, spent and returned) and your balance of {balance} \
             credit(s). They are needed for refunds and payment disputes; nothing in them \
             shows your photos, pictures or prompts."
        )
    }
    fn forget_final(&self) -> &'static str {
        "This cannot be undone. The messages already in this chat are Telegram's: delete the \
         chat to remove them."
    }
    fn forgotten(&self) -> &'static str {
        "✅ Everything about you is deleted. Only your payment records stay.\n\
         /start begins anew."
    }
    fn retention_note(&self, days: u32) -> String {
        format!("🕒 Pictures and their prompts are kept {days} days.")
    }
}
