//! What a Telegram update means to this bot, separated from the wire types so the
//! conversation never reaches into teloxide's structures.

use teloxide_core::types::{Message, MessageKind, Update, UpdateKind};

impl Incoming {
    /// Who sent it, unless it is for nobody.
    pub fn sender(&self) -> Option<&Sender> {
        match self {
            Incoming::Ignored { .. } => None,
            Incoming::Command { from, .. }
            | Incoming::UnknownCommand { from }
            | Incoming::Text { from, .. }
            | Incoming::Image { from, .. }
            | Incoming::OtherMedia { from }
            | Incoming::Callback { from, .. }
            | Incoming::PreCheckout { from, .. }
            | Incoming::Payment { from, .. } => Some(from),
        }
    }
}

use crate::domain::{ChatId, MessageRef, UserId};

/// Who wrote, and where to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    pub user: UserId,
    pub chat: ChatId,
    pub language_code: Option<String>,
}

/// The commands the bot understands (the list Telegram shows is in [`super::commands`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Start,
    Help,
    Cancel,
    Language,
    Create,
    Avatars,
    Generate,
    Balance,
    Terms,
    PaySupport,
    Privacy,
}

impl Command {
    pub const ALL: [Command; 11] = [
        Command::Start,
        Command::Generate,
        Command::Create,
        Command::Avatars,
        Command::Balance,
        Command::Language,
        Command::Help,
        Command::Privacy,
        Command::Terms,
        Command::PaySupport,
        Command::Cancel,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Command::Start => "start",
            Command::Help => "help",
            Command::Cancel => "cancel",
            Command::Language => "language",
            Command::Create => "create",
            Command::Avatars => "avatars",
            Command::Generate => "generate",
            Command::Balance => "balance",
            Command::Terms => "terms",
            Command::PaySupport => "paysupport",
            Command::Privacy => "privacy",
        }
    }
}

/// How an image reached us: a compressed photo (Telegram tells its size) or a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageOrigin {
    Photo {
        width: u32,
        height: u32,
    },
    Document {
        mime_type: Option<String>,
        file_name: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingImage {
    pub file_id: String,
    pub file_unique_id: String,
    /// As declared by Telegram; 0 when it did not say.
    pub declared_size: u32,
    pub origin: ImageOrigin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    Command {
        from: Sender,
        command: Command,
        /// `/start <payload>` (deep links) or text after other commands.
        payload: Option<String>,
    },
    /// A slash command this bot does not know.
    UnknownCommand {
        from: Sender,
    },
    Text {
        from: Sender,
        text: String,
    },
    Image {
        from: Sender,
        image: IncomingImage,
    },
    /// Video, sticker, voice, a non-image file...: answered with a hint.
    OtherMedia {
        from: Sender,
    },
    Callback {
        from: Sender,
        query_id: String,
        data: Option<String>,
        /// The message carrying the button, when Telegram still lets us edit it.
        message: Option<MessageRef>,
    },
    /// Telegram asks whether an order still stands before the user pays: answered in the
    /// webhook's response, nothing written.
    PreCheckout {
        from: Sender,
        query_id: String,
        currency: String,
        total_amount: u32,
        payload: String,
    },
    /// The user paid: credit once, keyed by the charge id.
    Payment {
        from: Sender,
        charge_id: String,
        currency: String,
        total_amount: u32,
        payload: String,
    },
    /// Nothing for this bot: other update kinds, group chats, messages from bots.
    Ignored {
        why: &'static str,
    },
}

impl Incoming {
    pub fn from_update(update: &Update) -> Incoming {
        match &update.kind {
            UpdateKind::Message(message) => from_message(message),
            UpdateKind::CallbackQuery(q) => {
                let Some(message) = q.message.as_ref() else {
                    // Inline-mode buttons: this bot has none.
                    return Incoming::Ignored {
                        why: "callback without a message",
                    };
                };
                let chat = message.chat();
                if !chat.is_private() {
                    return Incoming::Ignored {
                        why: "callback outside a private chat",
                    };
                }
                let chat_id = ChatId(chat.id.0);
                Incoming::Callback {
                    from: Sender {
                        user: user_id(q.from.id.0),
                        chat: chat_id,
                        language_code: q.from.language_code.clone(),
                    },
                    query_id: q.id.0.clone(),
                    data: q.data.clone(),
                    message: message.regular_message().map(|m| MessageRef {
                        chat_id,
                        message_id: m.id.0,
                    }),
                }
            }
            UpdateKind::PreCheckoutQuery(q) => Incoming::PreCheckout {
                from: Sender {
                    user: user_id(q.from.id.0),
                    // Invoices are sent in private chats only: the chat is the user.
                    chat: ChatId(user_id(q.from.id.0).0),
                    language_code: q.from.language_code.clone(),
                },
                query_id: q.id.0.clone(),
                currency: q.currency.clone(),
                total_amount: q.total_amount,
                payload: q.invoice_payload.clone(),
            },
            UpdateKind::Error(_) => Incoming::Ignored {
                why: "update kind unknown to the client library",
            },
            _ => Incoming::Ignored {
                why: "update kind not used by this bot",
            },
        }
    }
}

fn user_id(raw: u64) -> UserId {
    // Telegram user ids fit in 52 bits.
    UserId(i64::try_from(raw).unwrap_or(i64::MAX))
}

fn from_message(message: &Message) -> Incoming {
    if let Some(paid) = message.successful_payment()
        && let Some(payer) = message.from.as_ref()
    {
        // Credited to whoever paid, wherever the invoice was paid (a copy forwarded to a
        // group before invoices carried a start parameter): the pre-checkout was accepted, so
        // the Stars are taken. Thanked in the payer's private chat.
        return Incoming::Payment {
            from: Sender {
                user: user_id(payer.id.0),
                chat: ChatId(user_id(payer.id.0).0),
                language_code: payer.language_code.clone(),
            },
            charge_id: paid.telegram_payment_charge_id.0.clone(),
            currency: paid.currency.clone(),
            total_amount: paid.total_amount,
            payload: paid.invoice_payload.clone(),
        };
    }
    if !message.chat.is_private() {
        return Incoming::Ignored {
            why: "message outside a private chat",
        };
    }
    let Some(user) = message.from.as_ref().filter(|u| !u.is_bot) else {
        return Incoming::Ignored {
            why: "message without a human sender",
        };
    };
    let from = Sender {
        user: user_id(user.id.0),
        chat: ChatId(message.chat.id.0),
        language_code: user.language_code.clone(),
    };
    if matches!(message.kind, MessageKind::RefundedPayment(_)) {
        // The ops CLI took the credits back before asking Telegram to refund.
        return Incoming::Ignored {
            why: "refunded payment notice",
        };
    }
    if let Some(sizes) = message.photo() {
        // Telegram sends several resolutions of one photo; the largest is the one to train on.
        return match sizes
            .iter()
            .max_by_key(|s| u64::from(s.width) * u64::from(s.height))
        {
            Some(best) => Incoming::Image {
                from,
                image: IncomingImage {
                    file_id: best.file.id.0.clone(),
                    file_unique_id: best.file.unique_id.0.clone(),
                    declared_size: best.file.size,
                    origin: ImageOrigin::Photo {
                        width: best.width,
                        height: best.height,
                    },
                },
            },
            None => Incoming::OtherMedia { from },
        };
    }
    if let Some(doc) = message.document() {
        return Incoming::Image {
            from,
            image: IncomingImage {
                file_id: doc.file.id.0.clone(),
                file_unique_id: doc.file.unique_id.0.clone(),
                declared_size: doc.file.size,
                origin: ImageOrigin::Document {
                    mime_type: doc.mime_type.as_ref().map(|m| m.essence_str().to_owned()),
                    file_name: doc.file_name.clone(),
                },
            },
        };
    }
    match message.text() {
        Some(text) if text.starts_with('/') => parse_command(from, text),
        Some(text) => Incoming::Text {
            from,
            text: text.to_owned(),
        },
        None => Incoming::OtherMedia { from },
    }
}

fn parse_command(from: Sender, text: &str) -> Incoming {
    let (head, rest) = match text.split_once(char::is_whitespace) {
        Some((head, rest)) => (head, Some(rest.trim())),
        None => (text, None),
    };
    // `/start@my_bot` in clients that address the bot explicitly.
    let name = head[1..].split('@').next().unwrap_or_default();
    match Command::ALL.into_iter().find(|c| c.name() == name) {
        Some(command) => Incoming::Command {
            from,
            command,
            payload: rest.filter(|r| !r.is_empty()).map(str::to_owned),
        },
        None => Incoming::UnknownCommand { from },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender() -> Sender {
        Sender {
            user: UserId(1),
            chat: ChatId(1),
            language_code: None,
        }
    }

    #[test]
    fn commands_with_bot_names_and_payloads() {
        assert_eq!(
            parse_command(sender(), "/start@flux_bot  create "),
            Incoming::Command {
                from: sender(),
                command: Command::Start,
                payload: Some("create".into())
            }
        );
        assert_eq!(
            parse_command(sender(), "/cancel"),
            Incoming::Command {
                from: sender(),
                command: Command::Cancel,
                payload: None
            }
        );
        assert_eq!(
            parse_command(sender(), "/frobnicate"),
            Incoming::UnknownCommand { from: sender() }
        );
    }
}
