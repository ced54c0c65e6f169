//! Русский (язык по умолчанию, как в исходном продукте).

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

pub struct Ru;

/// Russian plural forms: 1 фотография, 2 фотографии, 5 фотографий.
fn plural(n: u32, one: &'static str, few: &'static str, many: &'static str) -> &'static str {
    match (n % 10, n % 100) {
        (1, r) if r != 11 => one,
        (2..=4, r) if !(12..=14).contains(&r) => few,
        _ => many,
    }
}

impl Common for Ru {
    fn btn_create(&self) -> &'static str {
        "➕ Создать аватар"
    }
    fn btn_avatars(&self) -> &'static str {
        "🖼 Мои аватары"
    }
    fn btn_language(&self) -> &'static str {
        "🌐 Язык"
    }
    fn btn_help(&self) -> &'static str {
        "❓ Помощь"
    }
    fn btn_back(&self) -> &'static str {
        "⬅️ Назад"
    }
    fn btn_menu(&self) -> &'static str {
        "🏠 Меню"
    }
    fn btn_cancel(&self) -> &'static str {
        "✖️ Отмена"
    }
    fn btn_prev(&self) -> &'static str {
        "◀️"
    }
    fn btn_next(&self) -> &'static str {
        "▶️"
    }
    fn command_description(&self, command: Command) -> &'static str {
        match command {
            Command::Start => "Главное меню",
            Command::Create => "Создать аватар",
            Command::Avatars => "Мои аватары",
            Command::Generate => "Создать изображения",
            Command::Language => "Сменить язык",
            Command::Help => "Как это работает",
            Command::Balance => "Кредиты и пополнение",
            Command::Terms => "Условия покупки",
            Command::PaySupport => "Помощь с оплатой",
            Command::Privacy => "Что хранится о вас",
            Command::Cancel => "Прервать текущее действие",
        }
    }
    fn kind_name(&self, kind: AvatarKind) -> &'static str {
        match kind {
            AvatarKind::Portrait => "портретный",
            AvatarKind::Style => "художественный",
        }
    }
    fn gender_name(&self, gender: Gender) -> &'static str {
        match gender {
            Gender::Male => "мужской",
            Gender::Female => "женский",
            Gender::Other => "другой",
        }
    }
    fn preset_name(&self, preset: Preset) -> &'static str {
        match preset {
            Preset::Fast => "Быстрое",
            Preset::Balanced => "Сбалансированное",
            Preset::Quality => "Качественное",
        }
    }
    fn status_name(&self, status: AvatarStatus) -> &'static str {
        match status {
            AvatarStatus::Draft | AvatarStatus::CollectingPhotos => "сбор фотографий",
            AvatarStatus::Ready => "готов к обучению",
            AvatarStatus::Queued | AvatarStatus::Submitting | AvatarStatus::Sending => {
                "ожидает запуска обучения"
            }
            AvatarStatus::Training => "обучается",
            AvatarStatus::Completed => "готов к использованию",
            AvatarStatus::Failed => "ошибка обучения",
            AvatarStatus::Cancelled => "отменён",
        }
    }
    fn minutes(&self, (low, high): (u32, u32)) -> String {
        format!("{low}-{high} мин")
    }
    fn welcome(&self) -> String {
        "👋 <b>Добро пожаловать!</b>\n\nЯ обучаю персональную модель (<i>аватар</i>) по вашим \
         фотографиям и затем рисую с ней новые изображения.\n\nСоздайте аватар или откройте \
         уже созданные."
            .into()
    }
    fn help(&self, min_portrait: u32, min_style: u32, max: u32) -> String {
        format!(
            "<b>Как это работает</b>\n\
             1. <b>Создать аватар</b>: выберите тип, имя и качество обучения.\n\
             2. Пришлите фотографии: {min_portrait}-{max} фото одного человека для портретного, \
             {min_style}-{max} изображений для художественного. JPEG, PNG или WebP, не меньше \
             512 пикселей по короткой стороне; можно альбомами.\n\
             3. Нажмите <b>Начать обучение</b>. Я напишу, когда аватар будет готов.\n\
             4. <b>Создать изображение</b>: выберите стиль или напишите запрос, формат и 1-4 \
             изображения. Картинки придут сюда примерно через минуту.\n\n\
             <b>Команды</b>\n\
             /generate: изображения с обученным аватаром\n\
             /create: новый аватар\n/avatars: мои аватары\n/language: сменить язык\n\
             /cancel: прервать текущее действие (незаконченный аватар и его фото удаляются)\n\
             /privacy: что хранится о вас и как долго\n\
             /help: эта справка"
        )
    }
    fn choose_language(&self) -> &'static str {
        "🌐 Выберите язык:"
    }
    fn language_set(&self) -> &'static str {
        "Язык: русский."
    }
    fn unknown_command(&self) -> &'static str {
        "Такой команды нет. Список команд: /help."
    }
    fn fallback(&self) -> &'static str {
        "Воспользуйтесь меню ниже или /help."
    }
    fn outdated(&self) -> &'static str {
        "Это меню устарело."
    }
    fn not_found(&self) -> &'static str {
        "Аватар не найден."
    }
    fn try_again_later(&self) -> &'static str {
        "Что-то пошло не так на моей стороне. Попробуйте ещё раз через минуту."
    }
    fn private_bot(&self) -> &'static str {
        "Извините, это закрытый бот: им могут пользоваться только те, кого добавил владелец."
    }
}

impl CreationTexts for Ru {
    fn btn_kind(&self, kind: AvatarKind) -> &'static str {
        match kind {
            AvatarKind::Portrait => "👤 Портретный",
            AvatarKind::Style => "🎨 Художественный",
        }
    }
    fn btn_gender(&self, gender: Gender) -> &'static str {
        match gender {
            Gender::Male => "👨 Мужской",
            Gender::Female => "👩 Женский",
            Gender::Other => "🧑 Другой",
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
        "📥 Добавить фото"
    }
    fn btn_consent(&self) -> &'static str {
        "✅ Подтверждаю"
    }
    fn consent(&self, name: &str) -> String {
        format!(
            "Перед фото для <b>{}</b>: подтвердите, пожалуйста, что на них вы или человек, \
             согласившийся на создание своего аватара, и что на них нет детей. Фото нужны \
             только для обучения этого аватара и удаляются после него.",
            escape(name)
        )
    }
    fn choose_kind(&self, min_portrait: u32, min_style: u32) -> String {
        format!(
            "<b>Новый аватар.</b> Чему он будет учиться?\n\n\
             👤 <b>Портретный</b>: человек. Нужно от {min_portrait} фото одного лица с разных \
             ракурсов и при разном освещении.\n\
             🎨 <b>Художественный</b>: стиль, предмет или идея. Нужно от {min_style} \
             изображений в едином стиле."
        )
    }
    fn choose_gender(&self, kind: AvatarKind) -> String {
        match kind {
            AvatarKind::Portrait => "Кто на фотографиях? Это помогает модели.".into(),
            AvatarKind::Style => {
                "Пол людей, которых обычно будет рисовать этот стиль (если людей нет, выберите «Другой»):"
                    .into()
            }
        }
    }
    fn enter_name(&self, kind: AvatarKind) -> String {
        let example = match kind {
            AvatarKind::Portrait => "Анна",
            AvatarKind::Style => "Акварель",
        };
        format!("Пришлите имя аватара (от 1 до 40 символов), например <i>{example}</i>.")
    }
    fn name_refused(&self, error: &NameError) -> String {
        let why = match error {
            NameError::Empty => "имя пустое".to_owned(),
            NameError::TooLong { length, max } => format!(
                "в нём {length} {}, а можно не больше {max}",
                plural(*length as u32, "символ", "символа", "символов")
            ),
            NameError::ControlCharacters => "в нём есть невидимые управляющие символы".to_owned(),
        };
        format!("⚠️ Такое имя не подходит: {why}. Пришлите другое.")
    }
    fn choose_preset(&self, name: &str) -> String {
        format!(
            "Аватар <b>{}</b>. Выберите качество обучения: быстрее значит дешевле, дольше \
             значит точнее.",
            escape(name)
        )
    }
    fn send_photos(&self, name: &str, kind: AvatarKind, min: u32, max: u32) -> String {
        let what = match kind {
            AvatarKind::Portrait => {
                "фотографий одного человека: лицо хорошо видно, разные ракурсы, выражения и \
                 освещение; без солнечных очков и других людей"
            }
            AvatarKind::Style => "изображений в едином стиле или с одним предметом",
        };
        format!(
            "📸 Аватар <b>{}</b>: пришлите от {min} до {max} {what}.\n\n\
             JPEG, PNG или WebP, не меньше 512 пикселей по короткой стороне. Можно альбомами. \
             /cancel прервёт создание и удалит аватар.",
            escape(name)
        )
    }
    fn photo_progress(&self, count: u32, min: u32, max: u32, duplicate_skipped: bool) -> String {
        let mut s = if count >= max {
            format!("📸 <b>{count}/{max}</b>: это максимум. Нажмите «Начать обучение».")
        } else if count >= min {
            format!("📸 <b>{count}/{max}</b>: пришлите ещё или нажмите «Начать обучение».")
        } else {
            format!(
                "📸 <b>{count}/{max}</b>: пришлите ещё {} (минимум {min}).",
                min - count
            )
        };
        if duplicate_skipped {
            s.push_str("\n↩️ Последнее фото уже было добавлено, пропускаю.");
        }
        s
    }
    fn photos_full(&self, max: u32) -> String {
        format!("У аватара уже {max} фото, это максимум. Нажмите «Начать обучение».")
    }
    fn photo_rejected(&self, rejection: &PhotoRejection) -> String {
        let why = match rejection {
            PhotoRejection::Heic => "формат HEIC не поддерживается. Отправьте снимок как фото \
                 (не файлом) или включите на iPhone: Настройки → Камера → Форматы → Наиболее \
                 совместимые."
                .to_owned(),
            PhotoRejection::UnsupportedFormat => {
                "подходят только изображения JPEG, PNG и WebP.".to_owned()
            }
            PhotoRejection::TooLarge { max_mb } => format!(
                "файл больше {max_mb} МБ, а Telegram не даёт ботам скачивать файлы крупнее. \
                 Отправьте его как фото, а не файлом."
            ),
            PhotoRejection::TooSmall {
                width,
                height,
                min_side,
            } => format!(
                "размер {width}×{height} пикселей, а короткая сторона должна быть не меньше \
                 {min_side}."
            ),
            PhotoRejection::Unreadable => "файл не удалось прочитать как изображение.".to_owned(),
        };
        format!("⚠️ Фото не добавлено: {why}")
    }
    fn photo_not_expected(&self) -> &'static str {
        "Чтобы обучить модель на фотографиях, сначала создайте аватар."
    }
    fn photos_closed(&self) -> &'static str {
        "Этот аватар больше не принимает фотографии."
    }
    fn text_while_collecting(&self) -> &'static str {
        "Жду фотографии. Пришлите их, нажмите «Начать обучение» или /cancel."
    }
    fn other_media(&self) -> &'static str {
        "Я понимаю только фотографии (JPEG, PNG, WebP) и текст."
    }
    fn cancelled(&self, removed_avatar: Option<&str>) -> String {
        match removed_avatar {
            Some(name) => format!(
                "Отменено. Незаконченный аватар <b>{}</b> и его фото удалены.",
                escape(name)
            ),
            None => "Отменено.".to_owned(),
        }
    }
    fn nothing_to_cancel(&self) -> &'static str {
        "Отменять нечего."
    }
}

impl TrainingTexts for Ru {
    fn btn_start_training(&self) -> &'static str {
        "🚀 Начать обучение"
    }
    fn btn_confirm_training(&self) -> &'static str {
        "✅ Подтвердить"
    }
    fn summary_heading(&self) -> &'static str {
        "Всё готово к обучению"
    }
    fn label_name(&self) -> &'static str {
        "Имя"
    }
    fn label_kind(&self) -> &'static str {
        "Тип"
    }
    fn label_quality(&self) -> &'static str {
        "Качество"
    }
    fn label_expected_time(&self) -> &'static str {
        "Ожидаемое время"
    }
    fn summary_question(&self) -> &'static str {
        "Начать обучение?"
    }
    fn training_refused(&self, refusal: TrainingRefusal) -> String {
        match refusal {
            TrainingRefusal::NotEnoughPhotos { count, min } => {
                format!("Пока рано: {count} фото, а нужно не меньше {min}.")
            }
            TrainingRefusal::TooManyInFlight { limit } => format!(
                "У вас уже идёт обучение (не больше {limit} одновременно). Дождитесь его \
                 окончания, я напишу."
            ),
            TrainingRefusal::AlreadyStarted => "Обучение уже запущено.".to_owned(),
            TrainingRefusal::DailyBudget { resets_in_minutes } => format!(
                "Бот исчерпал бюджет на сегодня, поэтому обучение сейчас не запустить. \
                 Лимит обновится в полночь по UTC, через {}; фотографии сохранятся.",
                hours_and_minutes(resets_in_minutes)
            ),
            TrainingRefusal::NotEnoughCredits(short) => format!(
                "Недостаточно кредитов: обучение стоит {}, у вас {}. Пополните баланс ещё на {} \
                 через /balance; фото сохранены.",
                short.price,
                short.balance,
                short.missing()
            ),
        }
    }
    fn training_queued(&self, name: &str, expected: (u32, u32)) -> String {
        format!(
            "⏳ <b>{}</b> в очереди на обучение (обычно {}). Я напишу, когда аватар будет готов.",
            escape(name),
            self.minutes(expected)
        )
    }
    fn btn_open_avatar(&self) -> &'static str {
        "🖼 Открыть аватар"
    }
    fn training_started(&self, name: &str, expected: (u32, u32)) -> String {
        format!(
            "🧠 <b>{}</b>: обучение началось, обычно это {}. Я напишу, когда оно закончится.",
            escape(name),
            self.minutes(expected)
        )
    }
    fn training_progress(&self, name: &str, progress: TrainingProgress) -> String {
        let how = match progress {
            TrainingProgress::InQueue { position: Some(p) } => {
                format!("ждёт в очереди на обучение (место {})", p + 1)
            }
            TrainingProgress::InQueue { position: None } => "ждёт в очереди на обучение".to_owned(),
            TrainingProgress::Steps { done, total } => format!(
                "шаг {done}/{total} ({}%)",
                u64::from(done) * 100 / u64::from(total.max(1))
            ),
            TrainingProgress::Elapsed { minutes, expected } => {
                format!("идёт {minutes} мин (обычно {})", self.minutes(expected))
            }
        };
        format!("🧠 <b>{}</b> обучается: {how}.", escape(name))
    }
    fn training_done(&self, name: &str) -> String {
        format!("✅ <b>{}</b> обучен и готов!", escape(name))
    }
    fn abandoned_avatar_removed(&self, name: &str, days: u64) -> String {
        format!(
            "🗑 <b>{}</b> так и не был отправлен на обучение, поэтому через {days} дн. он удалён \
             вместе с фотографиями. Новый аватар можно создать в любой момент.",
            escape(name)
        )
    }
    fn training_failed(&self, name: &str, reason: &FailureReason) -> String {
        format!(
            "❌ Обучение <b>{}</b> не удалось: {}. Фотографии сохранены; чтобы попробовать \
             снова, удалите аватар и создайте его заново.",
            escape(name),
            self.failure_reason(reason)
        )
    }
}

impl GalleryTexts for Ru {
    fn btn_delete(&self) -> &'static str {
        "🗑 Удалить"
    }
    fn btn_confirm_delete(&self) -> &'static str {
        "❌ Да, удалить"
    }
    fn btn_keep(&self) -> &'static str {
        "✅ Отмена"
    }
    fn avatar_list(&self, total: usize, page: usize, pages: usize) -> String {
        if pages > 1 {
            format!("<b>Ваши аватары</b> ({total}), страница {page}/{pages}:")
        } else {
            format!("<b>Ваши аватары</b> ({total}):")
        }
    }
    fn no_avatars(&self) -> &'static str {
        "У вас пока нет аватаров."
    }
    fn label_status(&self) -> &'static str {
        "Статус"
    }
    fn label_created(&self) -> &'static str {
        "Создан"
    }
    fn label_photos(&self) -> &'static str {
        "Фото"
    }
    fn label_reason(&self) -> &'static str {
        "Причина"
    }
    fn photos_needed(&self, min: u32) -> String {
        format!("(нужно не меньше {min})")
    }
    fn running_for(&self, minutes: u64, expected: &str) -> String {
        format!("Идёт {minutes} мин (обычно {expected})")
    }
    fn usually_takes(&self, expected: &str) -> String {
        format!("Обычно занимает {expected}")
    }
    fn card_trained(&self) -> &'static str {
        "Аватар обучен и готов."
    }
    fn failure_reason(&self, reason: &FailureReason) -> String {
        match reason {
            FailureReason::Rejected { detail } => {
                format!("сервис обучения не принял фотографии ({})", brief(detail))
            }
            FailureReason::Unauthorized => {
                "у бота неверно настроен доступ к сервису обучения; администратор уже знает"
                    .to_owned()
            }
            FailureReason::ProviderError { detail } => {
                format!("сервис обучения сообщил об ошибке ({})", brief(detail))
            }
            FailureReason::TimedOut => "обучение шло слишком долго и было остановлено".to_owned(),
            FailureReason::NotStarted { detail } => {
                format!("обучение не удалось запустить: {}", brief(detail))
            }
            FailureReason::Unconfirmed => "сервис обучения так и не подтвердил, что принял \
                 обучение, поэтому оно не отправлялось повторно (дважды вы не заплатите)"
                .to_owned(),
        }
    }
    fn delete_heading(&self) -> &'static str {
        "Подтверждение удаления"
    }
    fn delete_ask(&self) -> &'static str {
        "Вы действительно хотите удалить аватар?"
    }
    fn delete_warning(&self) -> &'static str {
        "<b>Внимание!</b> Это действие нельзя отменить. Все данные аватара будут удалены навсегда:"
    }
    fn delete_item_model(&self) -> &'static str {
        "Обученная модель"
    }
    fn delete_item_photos(&self, count: u32) -> String {
        format!("Загруженные фотографии ({count}) и архив для обучения")
    }
    fn delete_item_history(&self) -> &'static str {
        "История генераций"
    }
    fn delete_think_twice(&self) -> &'static str {
        "Подумайте ещё раз перед удалением."
    }
    fn deleted(&self, name: &str) -> String {
        format!("🗑 <b>{}</b> и все его файлы удалены.", escape(name))
    }
    fn delete_refund(&self, credits: Credits) -> String {
        format!("Ещё не начатая работа будет отменена, кредиты вернутся: {credits}.")
    }
    fn delete_stops_running(&self, count: u32) -> String {
        format!(
            "Задач, уже запущенных в сервисе изображений, будет остановлено: {count}; \
             их кредиты не возвращаются."
        )
    }
    fn deleted_refunded(&self, credits: Credits) -> String {
        format!("💳 На баланс возвращено кредитов: {credits}.")
    }
    fn delete_cancelled(&self) -> &'static str {
        "Удаление отменено."
    }
    fn history_heading(&self) -> &'static str {
        "Последние изображения"
    }
}

impl GenerationTexts for Ru {
    fn btn_generate(&self) -> &'static str {
        "🎨 Создать изображение"
    }
    fn btn_generation_settings(&self) -> &'static str {
        "⚙️ Формат и количество"
    }
    fn btn_again(&self) -> &'static str {
        "🔁 Ещё раз"
    }
    fn btn_new_prompt(&self) -> &'static str {
        "✏️ Новый запрос"
    }
    fn btn_back_to_avatar(&self) -> &'static str {
        "👤 К аватару"
    }
    fn btn_images(&self, count: u8) -> String {
        let n = u32::from(count);
        format!(
            "{count} {}",
            plural(n, "изображение", "изображения", "изображений")
        )
    }
    fn style_name(&self, style: Style) -> &'static str {
        match style {
            Style::Business => "💼 Деловой портрет",
            Style::Cinematic => "🎬 Кино",
            Style::Anime => "🌸 Аниме",
            Style::Watercolour => "🖌 Акварель",
            Style::Fashion => "👗 Модная съёмка",
            Style::Fantasy => "🐉 Фэнтези",
            Style::VintageFilm => "📷 Винтажная плёнка",
            Style::Studio => "💡 Студийный портрет",
            Style::Landscape => "🏔 Пейзаж",
            Style::CityStreet => "🌃 Ночной город",
            Style::StillLife => "🍎 Натюрморт",
            Style::Character => "👒 Портрет",
            Style::Animal => "🦊 Животное",
            Style::Architecture => "🏛 Архитектура",
            Style::Poster => "🗺 Туристический плакат",
            Style::Interior => "🛋 Интерьер",
        }
    }
    fn generate_intro(&self, name: &str, d: GenerationDefaults) -> String {
        format!(
            "🎨 <b>{}</b>\n\nВыберите стиль или напишите в сообщении, что нарисовать (до 1000 \
             символов; лучше всего модель понимает английский).\n\nФормат {} · {}",
            escape(name),
            d.aspect_ratio.as_str(),
            self.btn_images(d.num_images.get())
        )
    }
    fn generation_settings(&self, d: GenerationDefaults) -> String {
        format!(
            "⚙️ Формат и количество изображений.\nСейчас: {} · {}",
            d.aspect_ratio.as_str(),
            self.btn_images(d.num_images.get())
        )
    }
    fn prompt_refused(&self, error: &PromptError) -> String {
        match error {
            PromptError::Empty => "Запрос пустой. Напишите, что нарисовать.".to_owned(),
            PromptError::TooLong { length, max } => format!(
                "В запросе {length} {}, а помещается не больше {max}. Сократите его, пожалуйста.",
                plural(*length as u32, "символ", "символа", "символов")
            ),
        }
    }
    fn generation_refused(&self, refusal: GenerationRefusal) -> String {
        match refusal {
            GenerationRefusal::NotTrained => {
                "Этот аватар не обучен, поэтому пока не может рисовать.".to_owned()
            }
            GenerationRefusal::TooManyInFlight { limit } => format!(
                "У вас уже идёт генераций: {limit}. Дождитесь результата (обычно меньше \
                 минуты) и попробуйте снова."
            ),
            GenerationRefusal::HourlyLimit {
                limit,
                wait_minutes: m,
            } => format!(
                "За этот час уже {limit} генераций — это предел. Следующая будет доступна \
                 через {} мин.",
                wait_minutes(m)
            ),
            GenerationRefusal::DailyBudget { resets_in_minutes } => format!(
                "Бот исчерпал бюджет на сегодня, поэтому сейчас не может рисовать. Лимит \
                 обновится в полночь по UTC, через {}.",
                hours_and_minutes(resets_in_minutes)
            ),
            GenerationRefusal::NotEnoughCredits(short) => format!(
                "Недостаточно кредитов: эти изображения стоят {}, у вас {}. Пополните баланс \
                 через /balance или выберите меньше изображений.",
                short.price, short.balance
            ),
        }
    }
    fn generation_started(&self, name: &str, d: GenerationDefaults) -> String {
        format!(
            "⏳ <b>{}</b> рисует: {} ({}). Обычно это занимает меньше минуты.",
            escape(name),
            self.btn_images(d.num_images.get()),
            d.aspect_ratio.as_str()
        )
    }
    fn result_sent(&self, images: &str, name: &str) -> String {
        format!("{images} — <b>{}</b>.", escape(name))
    }
    fn result_empty(&self, name: &str) -> String {
        format!("<b>{}</b>: по этому запросу показать нечего.", escape(name))
    }
    fn generation_already_started(&self) -> &'static str {
        "Уже рисую: картинки скоро придут."
    }
    fn result_filtered(&self, count: usize) -> String {
        format!(
            "Скрыто: {count}. Фильтр безопасности счёл их недопустимыми; попробуйте \
             переформулировать запрос."
        )
    }
    fn result_unavailable(&self, count: usize) -> String {
        format!("Не удалось получить от сервиса изображений: {count}.")
    }
    fn result_refused(&self, count: usize) -> String {
        format!("Не удалось доставить: {count}. Telegram не принял их ни как фото, ни как файлы.")
    }
    fn generation_failed(&self, name: &str, reason: &FailureReason) -> String {
        let why = why_failed(reason);
        format!("❌ <b>{}</b> не смог(ла) нарисовать: {why}.", escape(name))
    }
    fn no_trained_avatars(&self) -> &'static str {
        "У вас пока нет обученных аватаров. Создайте аватар — после обучения он сможет рисовать."
    }
    fn pick_avatar_to_generate(&self) -> &'static str {
        "🎨 Какой аватар будет рисовать?"
    }
}

impl UpscaleTexts for Ru {
    fn btn_upscale(&self, picture: Option<u8>) -> String {
        match picture {
            None => "🔍 Увеличить".to_owned(),
            Some(n) => format!("🔍 {n}"),
        }
    }
    fn btn_upscale_confirm(&self, factor: UpscaleFactor) -> String {
        format!("🔍 Увеличить ×{}", factor.get())
    }
    fn upscale_offer(&self, name: &str, picture: u8, factor: UpscaleFactor) -> String {
        format!(
            "🔍 Увеличить изображение {picture} от <b>{}</b> в {} раза? Оно придёт файлом в \
             полном разрешении, обычно в течение минуты.",
            escape(name),
            factor.get()
        )
    }
    fn upscale_started(&self, name: &str, factor: UpscaleFactor) -> String {
        format!(
            "⏳ Увеличиваю изображение от <b>{}</b> в {} раза. Обычно это меньше минуты.",
            escape(name),
            factor.get()
        )
    }
    fn upscale_caption(&self, factor: UpscaleFactor, prompt: &str) -> String {
        format!("×{} · {prompt}", factor.get())
    }
    fn upscale_delivered(&self, name: &str, factor: UpscaleFactor) -> String {
        format!(
            "✅ Изображение от <b>{}</b> увеличено в {} раза: файл ниже.",
            escape(name),
            factor.get()
        )
    }
    fn upscale_already_started(&self) -> &'static str {
        "Это изображение уже увеличивается: файл придёт через минуту."
    }
    fn upscale_unavailable(&self) -> &'static str {
        "Это изображение больше не хранится, поэтому увеличить его нельзя."
    }
    fn upscale_refused(&self) -> &'static str {
        "⚠️ Увеличенное изображение не удалось доставить: Telegram не принял файл."
    }
    fn upscale_failed(&self, name: &str, reason: &FailureReason) -> String {
        let why = why_failed(reason);
        format!(
            "❌ Изображение от <b>{}</b> не удалось увеличить: {why}.",
            escape(name)
        )
    }
}

impl RestyleTexts for Ru {
    fn btn_restyle(&self) -> &'static str {
        "🖼 Перерисовать фото"
    }
    fn btn_restyle_picture(&self, prompt: &str) -> String {
        format!("🖼 Изображение: {}", short_label(prompt))
    }
    fn restyle_ask_photo(&self, name: &str) -> String {
        format!(
            "🖼 Пришлите фото, и <b>{}</b> перерисует его в выбранном стиле. Фото удаляется, \
             как только изображение готово. Или выберите одно из своих изображений ниже.",
            escape(name)
        )
    }
    fn restyle_intro(&self, name: &str) -> String {
        format!(
            "🖼 Выберите стиль, в котором <b>{}</b> перерисует фото, или напишите, каким оно \
             должно стать.",
            escape(name)
        )
    }
    fn restyle_started(&self, name: &str) -> String {
        format!(
            "⏳ <b>{}</b> перерисовывает ваше фото. Обычно это меньше минуты.",
            escape(name)
        )
    }
    fn restyle_already_started(&self) -> &'static str {
        "Это фото уже перерисовывается: изображение придёт через минуту."
    }
    fn restyle_not_available(&self) -> &'static str {
        "Этот аватар не умеет перерисовывать фото: его модель рисует только по описанию."
    }
}

impl PackTexts for Ru {
    fn btn_packs(&self) -> &'static str {
        "📸 Фотосеты"
    }
    fn btn_more_packs(&self) -> &'static str {
        "📸 Другие фотосеты"
    }
    fn btn_pack(&self, title: &str, pictures: u8) -> String {
        format!("{title} · {pictures} 🖼")
    }
    fn btn_run_pack(&self, pictures: u8) -> String {
        format!("▶️ Нарисовать все {pictures}")
    }
    fn local<'a>(&self, text: &'a Localized) -> &'a str {
        &text.ru
    }
    fn packs_intro(&self, name: &str) -> String {
        format!(
            "📸 Фотосеты: тематический набор изображений <b>{}</b> одним нажатием, одним \
             альбомом. За изображения, которые не получились, кредиты вернутся по одному.",
            escape(name)
        )
    }
    fn pack_offer(&self, title: &str, description: &str, pictures: u8) -> String {
        format!(
            "📸 <b>{}</b>\n{}\n\nИзображений: {pictures}, около минуты.",
            escape(title),
            escape(description)
        )
    }
    fn pack_price(&self, price: Credits, balance: Credits) -> String {
        if balance >= price {
            format!("💰 Фотосет стоит <b>{price}</b> кр. (у вас {balance}).")
        } else {
            format!(
                "💰 Фотосет стоит <b>{price}</b> кр.; у вас {balance}: сначала пополните баланс."
            )
        }
    }
    fn pack_started(&self, name: &str, title: &str, pictures: u8) -> String {
        format!(
            "⏳ <b>{}</b> рисует фотосет «{}»: изображений {pictures}, около минуты. Они придут \
             вместе, одним альбомом.",
            escape(name),
            escape(title)
        )
    }
    fn pack_already_started(&self) -> &'static str {
        "Этот фотосет уже рисуется: альбом скоро придёт."
    }
    fn pack_result(&self, name: &str, title: &str, sent: usize, total: usize) -> String {
        if sent == 0 {
            return format!(
                "У <b>{}</b> нет изображений для фотосета «{}».",
                escape(name),
                escape(title)
            );
        }
        format!(
            "✅ Фотосет «{}» от <b>{}</b>: {sent} из {total} изображений.",
            escape(title),
            escape(name)
        )
    }
    fn pack_failed(&self, count: usize) -> String {
        format!("Не удалось нарисовать: {count}.")
    }
    fn first_look_caption(&self) -> &'static str {
        "👀 Первый взгляд"
    }
    fn first_look_started(&self, name: &str, pictures: u8) -> String {
        let them = if pictures == 1 {
            "изображение"
        } else {
            "два изображения"
        };
        format!(
            "👀 Пока <b>{}</b> обучается, вот первый взгляд: {them} по вашему лучшему фото, \
             примерно через минуту.",
            escape(name)
        )
    }
    fn first_look_already_started(&self) -> &'static str {
        "Первый взгляд уже в пути."
    }
    fn first_look_result(&self, name: &str, sent: usize, total: usize) -> String {
        if sent == 0 {
            return format!(
                "Первый взгляд на <b>{}</b> не получился. Обучение продолжается.",
                escape(name)
            );
        }
        format!(
            "👀 Первый взгляд на <b>{}</b> ({sent} из {total}): нарисован по одному фото, без \
             обучения. Обученный аватар будет похож на вас гораздо больше: он придёт, когда \
             обучение закончится.",
            escape(name)
        )
    }
}

impl CreditsTexts for Ru {
    fn btn_balance(&self) -> &'static str {
        "💰 Баланс"
    }
    fn btn_top_up(&self) -> &'static str {
        "💰 Пополнить"
    }
    fn btn_buy(&self, credits: Credits, stars: u32) -> String {
        format!("{credits} кредитов · {stars} ⭐")
    }
    fn balance_line(&self, balance: Credits) -> String {
        format!("💰 Ваш баланс: <b>{balance}</b> кредитов")
    }
    fn prices_heading(&self) -> &'static str {
        "Цены"
    }
    fn price_training(&self, preset: Preset, credits: Credits) -> String {
        format!("Обучение, {}: {credits} кредитов", self.preset_name(preset))
    }
    fn price_image(&self, credits: Credits) -> String {
        format!("Одно изображение: {credits} кредит(ов)")
    }
    fn price_upscale(&self, credits: Credits) -> String {
        format!("Увеличение изображения: {credits} кредит(ов)")
    }
    fn upscale_price(&self, price: Credits, balance: Credits) -> String {
        if balance >= price {
            format!("💰 Цена: <b>{price}</b> кредитов (у вас {balance})")
        } else {
            format!("💰 Цена: <b>{price}</b> кредитов, у вас {balance}: сначала пополните баланс.")
        }
    }
    fn recent_heading(&self) -> &'static str {
        "Последние операции"
    }
    fn entry_name(&self, kind: &EntryKind) -> String {
        match kind {
            EntryKind::Purchase { stars, .. } => format!("покупка за {stars} ⭐"),
            EntryKind::Debit {
                work:
                    Work {
                        kind: WorkKind::Training,
                        ..
                    },
            } => "обучение".to_owned(),
            EntryKind::Debit {
                work:
                    Work {
                        kind: WorkKind::Generation,
                        ..
                    },
            } => "изображения".to_owned(),
            EntryKind::Debit {
                work:
                    Work {
                        kind: WorkKind::Upscale,
                        ..
                    },
            } => "увеличение".to_owned(),
            EntryKind::Debit {
                work:
                    Work {
                        kind: WorkKind::Restyle,
                        ..
                    },
            } => "перерисовка фото".to_owned(),
            EntryKind::Debit {
                work:
                    Work {
                        kind: WorkKind::PhotoPack,
                        ..
                    },
            } => "снимок фотосета".to_owned(),
            EntryKind::Debit {
                work:
                    Work {
                        kind: WorkKind::FirstLook,
                        ..
                    },
            } => "первый взгляд".to_owned(),
            EntryKind::Refund { .. } => "возврат: задача не выполнена".to_owned(),
            EntryKind::Grant { .. } => "подарок от владельца бота".to_owned(),
            EntryKind::PaymentRefund { .. } => "возврат Stars".to_owned(),
            EntryKind::PaymentRefundReversed { .. } => {
                "возврат Stars не удался: кредиты возвращены".to_owned()
            }
        }
    }
    fn buy_hint(&self) -> &'static str {
        "Купить кредиты за Telegram Stars:"
    }
    fn balance_free(&self) -> &'static str {
        "Этот бот бесплатный: кредиты не нужны."
    }
    fn training_price(&self, price: Credits, balance: Credits) -> String {
        if balance >= price {
            format!("💰 Стоимость: <b>{price}</b> кредитов (у вас {balance})")
        } else {
            format!(
                "💰 Стоимость: <b>{price}</b> кредитов. У вас {balance}: пополните баланс ещё на {}, чтобы начать.",
                Credits(price.0 - balance.0)
            )
        }
    }
    fn generation_price(&self, price: Credits, balance: Credits) -> String {
        format!("💰 Эти изображения стоят <b>{price}</b> кредитов (у вас {balance}).")
    }
    fn invoice_title(&self, credits: Credits) -> String {
        format!("{credits} кредитов")
    }
    fn invoice_description(&self, credits: Credits) -> String {
        format!("{credits} кредитов на обучение аватаров и изображения в этом боте.")
    }
    fn offer_changed(&self) -> &'static str {
        "Это предложение изменилось. Откройте /balance, чтобы увидеть актуальные пакеты; оплата не списана."
    }
    fn payment_thanks(&self, credits: Credits, balance: Credits) -> String {
        format!("🎉 Спасибо! Начислено {credits} кредитов. Ваш баланс: <b>{balance}</b>.")
    }
    fn credits_returned(&self, credits: Credits) -> String {
        format!("↩️ {credits} кредитов возвращены на ваш баланс.")
    }
    fn terms(&self) -> &'static str {
        "<b>Условия</b>\n\
         Кредиты покупаются за Telegram Stars и тратятся только на обучение аватаров и \
         изображения в этом боте. Они не сгорают и не обмениваются на деньги. Если обучение \
         не удалось или не уложилось во время, или генерация не дала ни одного изображения, \
         кредиты возвращаются автоматически. Присланные фото используются только для обучения \
         вашего аватара и удаляются после него. По вопросам оплаты: /paysupport."
    }
    fn paysupport(&self) -> &'static str {
        "<b>Поддержка по оплате</b>\n\
         Если с оплатой что-то пошло не так, напишите сюда, что случилось и когда: владелец \
         бота читает эти сообщения и может вернуть покупку, кредиты которой не потрачены. \
         Поддержка Telegram не помогает с покупками в ботах."
    }
}

/// `5 ч 3 мин`, `42 мин`.
fn hours_and_minutes(minutes: u64) -> String {
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} мин"),
        (h, 0) => format!("{h} ч"),
        (h, m) => format!("{h} ч {m} мин"),
    }
}

/// What went wrong with picture work, in the user's terms.
fn why_failed(reason: &FailureReason) -> String {
    match reason {
        FailureReason::Rejected { detail } => {
            format!("сервис изображений отклонил запрос ({})", brief(detail))
        }
        FailureReason::Unauthorized => {
            "сервис изображений сейчас недоступен (администратор бота уже знает)".to_owned()
        }
        FailureReason::ProviderError { detail } => {
            format!("сервис изображений сообщил об ошибке ({})", brief(detail))
        }
        FailureReason::TimedOut => "это заняло слишком много времени и было остановлено".to_owned(),
        FailureReason::NotStarted { detail } => {
            format!("запрос не удалось запустить ({})", brief(detail))
        }
        FailureReason::Unconfirmed => {
            "сервис изображений так и не подтвердил запрос, поэтому он не отправлялся повторно"
                .to_owned()
        }
    }
}

impl PrivacyTexts for Ru {
    fn privacy(&self, retention_days: Option<u32>) -> String {
        let pictures = match retention_days {
            Some(days) => {
                format!("хранятся {days} дн. после создания или пока вы не удалите аватар")
            }
            None => "хранятся, пока вы не удалите аватар".to_owned(),
        };
        format!(
            "🔒 <b>Что бот хранит о вас</b>\n\
             • Ваш id и чат в Telegram, язык и то, на каком шаге диалога вы находитесь.\n\
             • Для каждого аватара: имя, тип и настройки, а также когда вы подтвердили, что \
             его фото можно использовать.\n\
             • Ваши фото, без метаданных (без геопозиции и данных камеры), в закрытом \
             зашифрованном хранилище: удаляются после обучения аватара или вместе с ним. \
             Аватар, брошенный незаконченным на 7 дней, удаляется вместе с фото.\n\
             • Обученная модель: хранится, пока вы не удалите аватар. Ваши изображения с их \
             описаниями: {pictures}.\n\
             • Кредиты и платежи, если бот их продаёт: хранятся для возвратов и споров, даже \
             если вы удалите всё остальное.\n\n\
             <b>Что получает сервис изображений (fal.ai)</b>\n\
             Фото для обучения (одним архивом), фото, которое вы перерисовываете, ваше лучшее \
             фото для первого взгляда и ваши описания. Его просят удалять файлы каждого \
             запроса через сутки и не хранить запросы в истории.\n\n\
             Удалить один аватар вместе с фото, моделью и изображениями: /avatars, аватар, \
             Удалить. Удалить всё о вас: кнопка ниже."
        )
    }
    fn btn_privacy(&self) -> &'static str {
        "🔒 Приватность"
    }
    fn btn_forget_me(&self) -> &'static str {
        "🗑 Удалить всё обо мне"
    }
    fn btn_forget_confirm(&self) -> &'static str {
        "🗑 Да, удалить всё"
    }
    fn forget_heading(&self) -> &'static str {
        "Удалить всё о вас?"
    }
    fn forget_avatars(&self, avatars: u32, photos: u32) -> String {
        format!(
            "аватары ({avatars}) с их фото ({photos}), архивами для обучения и обученными \
             моделями"
        )
    }
    fn forget_generations(&self, count: u32) -> String {
        format!("генерации ({count}) с изображениями и описаниями")
    }
    fn forget_profile(&self) -> &'static str {
        "ваши настройки, язык и шаг диалога"
    }
    fn forget_kept(&self, balance: Credits) -> String {
        format!(
            "<b>Останется, отдельно от всего остального:</b> записи о платежах (номера \
             списаний Telegram и суммы, купленные, потраченные и возвращённые кредиты) и ваш \
             баланс: {balance} кред. Они нужны для возвратов и споров по платежам; в них нет \
             ваших фото, изображений и описаний."
        )
    }
    fn forget_final(&self) -> &'static str {
        "Это нельзя отменить. Сообщения, уже полученные в этом чате, хранит Telegram: удалите \
         чат, чтобы убрать их."
    }
    fn forgotten(&self) -> &'static str {
        "✅ Всё о вас удалено. Остались только записи о платежах.\n\
         /start начнёт заново."
    }
    fn retention_note(&self, days: u32) -> String {
        format!("🕒 Изображения и их описания хранятся {days} дн.")
    }
}

#[cfg(test)]
mod tests {
    use super::plural;

    #[test]
    fn russian_plurals() {
        let f = |n| plural(n, "символ", "символа", "символов");
        assert_eq!(f(1), "символ");
        assert_eq!(f(21), "символ");
        assert_eq!(f(11), "символов");
        assert_eq!(f(3), "символа");
        assert_eq!(f(13), "символов");
        assert_eq!(f(41), "символ");
        assert_eq!(f(45), "символов");
    }
}
