//! The command list Telegram clients show, per language (registered by the ops CLI with
//! setMyCommands).

use teloxide_core::types::BotCommand;

use super::incoming::Command;
use super::texts::texts;
use crate::domain::Language;

/// The commands with descriptions in `language`.
pub fn command_list(language: Language) -> Vec<BotCommand> {
    let t = texts(language);
    Command::ALL
        .into_iter()
        .map(|c| BotCommand::new(c.name(), t.command_description(c)))
        .collect()
}

/// `(language_code, commands)` pairs to register: Russian is also the default for clients in
/// any other language, matching the bot's own default.
pub fn registrations() -> Vec<(Option<&'static str>, Vec<BotCommand>)> {
    vec![
        (None, command_list(Language::Ru)),
        (Some("ru"), command_list(Language::Ru)),
        (Some("en"), command_list(Language::En)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_follow_telegram_rules() {
        for (_, list) in registrations() {
            assert_eq!(list.len(), Command::ALL.len());
            for c in list {
                assert!((1..=32).contains(&c.command.len()));
                assert!(
                    c.command
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b == b'_')
                );
                assert!((1..=256).contains(&c.description.chars().count()));
            }
        }
    }
}
