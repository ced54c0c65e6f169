//! The Bot API client: teloxide-core's `Bot` plus this product's policies. Every call goes
//! through [`TelegramClient::call`], which honours 429 `retry_after` within a budget (a
//! webhook must answer well inside Telegram's 60 s) and sorts failures into what the
//! conversation can act on: a user who blocked the bot, a transient failure, a refusal.

use std::future::IntoFuture;
use std::time::Duration;

use super::pace::Pacer;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use secrecy::ExposeSecret;
use teloxide_core::net::Download;
use teloxide_core::payloads::setters::*;
use teloxide_core::requests::Requester;
use teloxide_core::types::{
    AllowedUpdate, BotCommand, CallbackQueryId, InlineKeyboardButton, InlineKeyboardMarkup,
    InputFile, InputMedia, InputMediaDocument, InputMediaPhoto, LabeledPrice, MessageId, ParseMode,
    PreCheckoutQueryId, TelegramTransactionId,
};
use teloxide_core::{ApiError, Bot, RequestError};

use super::screens::{Keyboard, Screen};
use crate::domain::{ChatId, MessageRef};
use crate::telegram::settings::TelegramSettings;

#[derive(Debug, thiserror::Error)]
pub enum TelegramError {
    /// 403: the user blocked the bot or deleted their account. Retrying cannot help.
    #[error("the user blocked the bot or is gone: {0}")]
    Blocked(String),
    /// 429 with a wait longer than this invocation can afford.
    #[error("rate limited by Telegram for {0:?}")]
    RateLimited(Duration),
    /// Telegram refused the request (400 and friends).
    #[error("Telegram refused the request: {0}")]
    Refused(String),
    /// Network trouble or an unreadable answer: retrying later may help.
    #[error("could not reach Telegram: {0}")]
    Unavailable(String),
}

impl TelegramError {
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            TelegramError::RateLimited(_) | TelegramError::Unavailable(_)
        )
    }

    fn from_request(e: RequestError) -> Self {
        match e {
            RequestError::Api(api) => {
                let text = api.to_string();
                if text.starts_with("Forbidden") {
                    TelegramError::Blocked(text)
                } else if is_server_trouble(&api) {
                    TelegramError::Unavailable(text)
                } else {
                    TelegramError::Refused(text)
                }
            }
            RequestError::RetryAfter(s) => TelegramError::RateLimited(s.duration()),
            // The error text never contains the token: teloxide redacts it.
            other => TelegramError::Unavailable(other.to_string()),
        }
    }
}

/// A JSON error whose description is a server-side HTTP status ("Internal Server Error",
/// "Bad Gateway"...): teloxide has no status code for it, but it is Telegram's trouble, not a
/// refusal of the request, so it is retried rather than dropped.
fn is_server_trouble(api: &ApiError) -> bool {
    const SERVER: [&str; 4] = [
        "Internal Server Error",
        "Bad Gateway",
        "Service Unavailable",
        "Gateway Timeout",
    ];
    matches!(api, ApiError::Unknown(text) if SERVER.iter().any(|s| text.contains(s)))
}

/// The update kinds the bot asks for: messages (including `successful_payment`), button
/// taps, and the pre-checkout queries of Stars purchases.
/// Telegram delivers at most this many updates at once (its maximum; the default is 40).
/// Lambda runs one instance per connection, so this caps the webhook's throughput at
/// connections / handler latency (docs/scale.md).
pub const WEBHOOK_MAX_CONNECTIONS: u8 = 100;

const ALLOWED_UPDATES: [AllowedUpdate; 3] = [
    AllowedUpdate::Message,
    AllowedUpdate::CallbackQuery,
    AllowedUpdate::PreCheckoutQuery,
];

/// How pictures are sent: as photos (compressed, shown inline) or as files (kept as they are).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PictureForm {
    Photo,
    File,
}

/// The deep link a forwarded invoice carries instead of its Pay button (`/start balance`).
pub const INVOICE_START_PARAMETER: &str = "balance";

/// An invoice for a pack of credits, in Telegram Stars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    pub title: String,
    pub description: String,
    pub payload: String,
    pub stars: u32,
}

/// Telegram's view of the webhook (getWebhookInfo), without anything secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookStatus {
    pub url: Option<String>,
    pub pending_update_count: u32,
    /// When (UTC) and what the last delivery error was.
    pub last_error: Option<(String, String)>,
    pub max_connections: Option<u32>,
    pub allowed_updates: Vec<String>,
}

/// An image to upload.
#[derive(Debug, Clone)]
pub struct Picture {
    pub bytes: Bytes,
    pub file_name: String,
}

impl Picture {
    fn input_file(&self) -> InputFile {
        InputFile::memory(self.bytes.clone()).file_name(self.file_name.clone())
    }
}

/// Telegram's caption limit is 1024 characters; longer text is cut with an ellipsis.
fn caption_of(text: &str) -> String {
    const MAX: usize = 1024;
    if text.chars().count() <= MAX {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(MAX - 1).collect();
    cut.push('…');
    cut
}

/// A file Telegram will let the bot download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    pub path: String,
    pub size: u32,
}

#[derive(Clone, Debug)]
pub struct TelegramClient {
    bot: Bot,
    /// The longest total time one call may spend waiting on 429s.
    retry_budget: Duration,
    /// The bot's own messages a second (what a pacer is given).
    sends_per_second: u32,
    /// Paces new messages across instances (the pipeline's notices and deliveries; replies
    /// to a user's own action are not paced).
    pacer: Option<Pacer>,
}

impl TelegramClient {
    pub const DEFAULT_RETRY_BUDGET: Duration = Duration::from_secs(10);

    pub fn new(settings: &TelegramSettings) -> Self {
        let bot = Self::bot(
            settings.token.expose_secret(),
            settings.api_url.clone(),
            teloxide_core::net::default_reqwest_settings(),
        );
        Self {
            bot,
            retry_budget: Self::DEFAULT_RETRY_BUDGET,
            sends_per_second: settings.sends_per_second,
            pacer: None,
        }
    }

    /// The same bot with its new messages paced through `pace`, shared by every instance.
    pub fn paced(mut self, pace: std::sync::Arc<dyn crate::ports::SendPace>) -> Self {
        self.pacer = Some(Pacer::new(pace, self.sends_per_second));
        self
    }

    /// Waits for a new message's turn, when paced.
    async fn turn(&self, chat: ChatId, weight: usize) {
        if let Some(pacer) = &self.pacer {
            pacer
                .permit(chat, u32::try_from(weight).unwrap_or(u32::MAX))
                .await;
        }
    }

    fn bot(token: &str, api_url: reqwest::Url, client: reqwest::ClientBuilder) -> Bot {
        let client = client
            .build()
            .expect("a rustls client with timeouts always builds");
        Bot::with_client(token, client).set_api_url(api_url)
    }

    /// The same bot with calls given up after `timeout` instead of teloxide's 17 s (a
    /// timed-out call is [`TelegramError::Unavailable`]: whether Telegram acted on it is
    /// unknown).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        let client = teloxide_core::net::default_reqwest_settings().timeout(timeout);
        self.bot = Self::bot(self.bot.token(), self.bot.api_url(), client);
        self
    }

    pub fn with_retry_budget(mut self, budget: Duration) -> Self {
        self.retry_budget = budget;
        self
    }

    /// Runs one Bot API call, waiting out 429s while the budget lasts.
    async fn call<T, F, Fut>(&self, what: &'static str, request: F) -> Result<T, TelegramError>
    where
        F: Fn() -> Fut,
        Fut: IntoFuture<Output = Result<T, RequestError>>,
    {
        let mut waited = Duration::ZERO;
        loop {
            match request().await {
                Ok(value) => return Ok(value),
                Err(RequestError::RetryAfter(s)) if waited + s.duration() <= self.retry_budget => {
                    tracing::warn!(
                        method = what,
                        retry_after_s = s.seconds(),
                        "Telegram 429; waiting"
                    );
                    waited += s.duration();
                    tokio::time::sleep(s.duration()).await;
                }
                Err(e) => {
                    let e = TelegramError::from_request(e);
                    tracing::warn!(method = what, error = %e, "Telegram call failed");
                    return Err(e);
                }
            }
        }
    }

    pub async fn send(&self, chat: ChatId, screen: &Screen) -> Result<MessageRef, TelegramError> {
        self.turn(chat, 1).await;
        let message = self
            .call("sendMessage", || {
                let mut request = self
                    .bot
                    .send_message(tg_chat(chat), screen.text.clone())
                    .parse_mode(ParseMode::Html);
                if !screen.keyboard.is_empty() {
                    request = request.reply_markup(markup(&screen.keyboard));
                }
                request
            })
            .await?;
        Ok(MessageRef {
            chat_id: chat,
            message_id: message.id.0,
        })
    }

    /// Sends pictures (JPEG/PNG bytes) as one message, or as an album of up to 10, with
    /// `caption` (plain text, at most 1024 characters) under the first: as photos, or as files
    /// (Telegram keeps a file as it is, up to 50 MB: what it takes when it refuses a picture as
    /// a photo, `IMAGE_PROCESS_FAILED` or a photo over its limit).
    pub async fn send_pictures(
        &self,
        chat: ChatId,
        pictures: &[Picture],
        caption: &str,
        form: PictureForm,
    ) -> Result<(), TelegramError> {
        let caption = caption_of(caption);
        if !pictures.is_empty() {
            self.turn(chat, pictures.len()).await;
        }
        match (pictures, form) {
            ([], _) => Ok(()),
            ([one], PictureForm::Photo) => {
                self.call("sendPhoto", || {
                    self.bot
                        .send_photo(tg_chat(chat), one.input_file())
                        .caption(caption.clone())
                })
                .await?;
                Ok(())
            }
            ([one], PictureForm::File) => {
                self.call("sendDocument", || {
                    self.bot
                        .send_document(tg_chat(chat), one.input_file())
                        .caption(caption.clone())
                })
                .await?;
                Ok(())
            }
            (many, form) => {
                self.call("sendMediaGroup", || {
                    let media = many.iter().enumerate().map(|(i, p)| {
                        let caption = (i == 0).then(|| caption.clone());
                        match form {
                            PictureForm::Photo => {
                                let photo = InputMediaPhoto::new(p.input_file());
                                InputMedia::Photo(match caption {
                                    Some(c) => photo.caption(c),
                                    None => photo,
                                })
                            }
                            PictureForm::File => {
                                let document = InputMediaDocument::new(p.input_file());
                                InputMedia::Document(match caption {
                                    Some(c) => document.caption(c),
                                    None => document,
                                })
                            }
                        }
                    });
                    self.bot.send_media_group(tg_chat(chat), media)
                })
                .await?;
                Ok(())
            }
        }
    }

    /// Edits a message in place. "Message is not modified" is success: the user already sees
    /// exactly this screen (a double tap, a repeated progress count).
    pub async fn edit(&self, at: MessageRef, screen: &Screen) -> Result<(), TelegramError> {
        let result = self
            .call("editMessageText", || {
                self.bot
                    .edit_message_text(
                        tg_chat(at.chat_id),
                        MessageId(at.message_id),
                        screen.text.clone(),
                    )
                    .parse_mode(ParseMode::Html)
                    .reply_markup(markup(&screen.keyboard))
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(TelegramError::Refused(text))
                if text == ApiError::MessageNotModified.to_string() =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Shows a screen by editing `at` when given, else (or when that message can no longer be
    /// edited: too old, deleted) by sending a new message. Returns where the screen now is.
    pub async fn show(
        &self,
        chat: ChatId,
        at: Option<MessageRef>,
        screen: &Screen,
    ) -> Result<MessageRef, TelegramError> {
        if let Some(at) = at {
            match self.edit(at, screen).await {
                Ok(()) => return Ok(at),
                Err(TelegramError::Refused(_)) => {}
                Err(e) => return Err(e),
            }
        }
        self.send(chat, screen).await
    }

    pub async fn get_file(&self, file_id: &str) -> Result<RemoteFile, TelegramError> {
        let file = self
            .call("getFile", || {
                self.bot
                    .get_file(teloxide_core::types::FileId(file_id.to_owned()))
            })
            .await?;
        Ok(RemoteFile {
            path: file.path,
            size: file.meta.size,
        })
    }

    /// The file's bytes as they arrive; a non-2xx answer is an error item.
    pub fn download(&self, file: &RemoteFile) -> BoxStream<'static, std::io::Result<Bytes>> {
        // The URL holds the bot token: errors drop it before they can reach a log.
        self.bot
            .download_file_stream(&file.path)
            .map(|chunk| chunk.map_err(|e| std::io::Error::other(e.without_url())))
            .boxed()
    }

    /// Answers a callback query by a call of its own (long polling has no response body to
    /// carry the answer, unlike the webhook).
    pub async fn answer_callback(&self, answer: &CallbackAnswer) -> Result<(), TelegramError> {
        self.call("answerCallbackQuery", || {
            let mut request = self
                .bot
                .answer_callback_query(CallbackQueryId(answer.query_id.clone()))
                .show_alert(answer.alert);
            if let Some(text) = &answer.text {
                request = request.text(text.chars().take(200).collect::<String>());
            }
            request
        })
        .await?;
        Ok(())
    }

    /// Answers what the webhook would have answered in its response body (long polling has
    /// none).
    pub async fn answer(&self, answer: &WebhookAnswer) -> Result<(), TelegramError> {
        match answer {
            WebhookAnswer::Callback(a) => self.answer_callback(a).await,
            WebhookAnswer::PreCheckout(a) => {
                self.call("answerPreCheckoutQuery", || {
                    let request = self
                        .bot
                        .answer_pre_checkout_query(PreCheckoutQueryId(a.query_id.clone()), a.ok);
                    match &a.error {
                        Some(e) => request.error_message(e.clone()),
                        None => request,
                    }
                })
                .await?;
                Ok(())
            }
        }
    }

    /// Sends an invoice payable in Telegram Stars: currency XTR, no provider token, one price.
    pub async fn send_invoice(&self, chat: ChatId, invoice: &Invoice) -> Result<(), TelegramError> {
        self.call("sendInvoice", || {
            self.bot
                .send_invoice(
                    tg_chat(chat),
                    invoice.title.clone(),
                    invoice.description.clone(),
                    invoice.payload.clone(),
                    "XTR",
                    [LabeledPrice::new(invoice.title.clone(), invoice.stars)],
                )
                .provider_token("")
                // Forwarded copies get a link to the bot instead of a Pay button: an invoice
                // is paid where it was sent, by whom it was sent to.
                .start_parameter(INVOICE_START_PARAMETER)
        })
        .await?;
        Ok(())
    }

    /// Gives a user back the Stars of one payment.
    pub async fn refund_star_payment(
        &self,
        user: crate::domain::UserId,
        charge_id: &str,
    ) -> Result<(), TelegramError> {
        let user = teloxide_core::types::UserId(u64::try_from(user.0).unwrap_or(0));
        self.call("refundStarPayment", || {
            self.bot
                .refund_star_payment(user, TelegramTransactionId(charge_id.to_owned()))
        })
        .await?;
        Ok(())
    }

    /// The bot's Star transactions from `offset` on, oldest first, at most `limit` (1-100).
    pub async fn star_transactions(
        &self,
        offset: u32,
        limit: u8,
    ) -> Result<Vec<StarTransfer>, TelegramError> {
        let page = self
            .call("getStarTransactions", || {
                self.bot
                    .get_star_transactions()
                    .offset(offset)
                    .limit(limit.clamp(1, 100))
            })
            .await?;
        Ok(page
            .transactions
            .into_iter()
            .map(StarTransfer::from)
            .collect())
    }

    /// Removes any webhook (keeping pending updates) so getUpdates may be used.
    pub async fn delete_webhook(&self) -> Result<(), TelegramError> {
        self.call("deleteWebhook", || self.bot.delete_webhook())
            .await?;
        Ok(())
    }

    /// Long polling: updates from `offset` on, waiting up to `wait` for the first one.
    pub async fn get_updates(
        &self,
        offset: i32,
        wait: Duration,
    ) -> Result<Vec<teloxide_core::types::Update>, TelegramError> {
        let wait = u32::try_from(wait.as_secs()).unwrap_or(u32::MAX);
        self.call("getUpdates", || {
            self.bot
                .get_updates()
                .offset(offset)
                .timeout(wait)
                .allowed_updates(ALLOWED_UPDATES)
        })
        .await
    }

    /// Points Telegram at the webhook: with the secret it must send back, only the update
    /// kinds the bot uses, up to [`WEBHOOK_MAX_CONNECTIONS`] at once, and optionally dropping
    /// what is pending.
    pub async fn set_webhook(
        &self,
        url: &url::Url,
        secret: &str,
        drop_pending_updates: bool,
    ) -> Result<(), TelegramError> {
        self.call("setWebhook", || {
            self.bot
                .set_webhook(url.clone())
                .max_connections(WEBHOOK_MAX_CONNECTIONS)
                .secret_token(secret.to_owned())
                .allowed_updates(ALLOWED_UPDATES)
                .drop_pending_updates(drop_pending_updates)
        })
        .await?;
        Ok(())
    }

    /// What Telegram knows of the webhook: where it points, what is pending, the last error.
    pub async fn webhook_info(&self) -> Result<WebhookStatus, TelegramError> {
        let info = self
            .call("getWebhookInfo", || self.bot.get_webhook_info())
            .await?;
        Ok(WebhookStatus {
            url: info.url.map(|u| u.to_string()),
            pending_update_count: info.pending_update_count,
            last_error: info.last_error_date.map(|at| {
                (
                    at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                    info.last_error_message.unwrap_or_default(),
                )
            }),
            max_connections: info.max_connections,
            allowed_updates: info
                .allowed_updates
                .unwrap_or_default()
                .iter()
                .map(|u| {
                    serde_json::to_value(u)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                })
                .collect(),
        })
    }

    /// Registers the command list shown by Telegram clients, in one language or as default.
    pub async fn set_commands(
        &self,
        commands: Vec<BotCommand>,
        language_code: Option<&str>,
    ) -> Result<(), TelegramError> {
        self.call("setMyCommands", || {
            let mut request = self.bot.set_my_commands(commands.clone());
            if let Some(code) = language_code {
                request = request.language_code(code.to_owned());
            }
            request
        })
        .await?;
        Ok(())
    }
}

fn tg_chat(chat: ChatId) -> teloxide_core::types::ChatId {
    teloxide_core::types::ChatId(chat.0)
}

fn markup(keyboard: &Keyboard) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(keyboard.0.iter().map(|row| {
        row.iter()
            .map(|b| InlineKeyboardButton::callback(b.label.clone(), b.callback.encode()))
            .collect::<Vec<_>>()
    }))
}

/// A method the webhook returns in its HTTP response, so it costs no extra round trip
/// (Telegram executes a method given as the response body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookAnswer {
    Callback(CallbackAnswer),
    PreCheckout(PreCheckoutAnswer),
}

impl WebhookAnswer {
    pub fn to_webhook_body(&self) -> serde_json::Value {
        match self {
            WebhookAnswer::Callback(a) => a.to_webhook_body(),
            WebhookAnswer::PreCheckout(a) => {
                let mut body = serde_json::json!({
                    "method": "answerPreCheckoutQuery",
                    "pre_checkout_query_id": a.query_id,
                    "ok": a.ok,
                });
                if let Some(e) = &a.error {
                    body["error_message"] = e.clone().into();
                }
                body
            }
        }
    }
}

/// Whether a Stars purchase may go ahead (Telegram waits at most 10 s for it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreCheckoutAnswer {
    pub query_id: String,
    pub ok: bool,
    /// Shown to the user when refused.
    pub error: Option<String>,
}

/// The answer to a callback query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackAnswer {
    pub query_id: String,
    pub text: Option<String>,
    pub alert: bool,
}

impl CallbackAnswer {
    pub fn to_webhook_body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "method": "answerCallbackQuery",
            "callback_query_id": self.query_id,
        });
        if let Some(text) = &self.text {
            // Telegram allows 0-200 characters.
            body["text"] = text.chars().take(200).collect::<String>().into();
        }
        if self.alert {
            body["show_alert"] = true.into();
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_are_transient_and_refusals_are_not() {
        let api = |text: &str| RequestError::Api(ApiError::Unknown(text.to_owned()));
        assert!(TelegramError::from_request(api("Bad Gateway")).is_transient());
        assert!(TelegramError::from_request(api("Internal Server Error: restart")).is_transient());
        assert!(!TelegramError::from_request(api("Bad Request: chat not found")).is_transient());
        assert!(matches!(
            TelegramError::from_request(RequestError::Api(ApiError::BotBlocked)),
            TelegramError::Blocked(_)
        ));
        assert_eq!(caption_of("short"), "short");
        let long = caption_of(&"я".repeat(1500));
        assert_eq!(long.chars().count(), 1024);
        assert!(long.ends_with('…'));
    }
}

/// One Star transaction of the bot, as the books need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StarTransfer {
    /// For a user's payment, its `telegram_payment_charge_id`; a refund carries the id of the
    /// payment it refunds.
    pub id: String,
    pub stars: u32,
    pub date: crate::domain::Timestamp,
    pub flow: StarFlow,
}

/// Who a Star transaction was with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StarFlow {
    /// A user paid one of the bot's invoices.
    PaidBy {
        user: crate::domain::UserId,
        payload: Option<String>,
    },
    /// Stars went back to a user (a refund).
    RefundedTo { user: crate::domain::UserId },
    /// Anything else (withdrawals, ads, gifts): not the books' business.
    Other,
}

impl From<teloxide_core::types::StarTransaction> for StarTransfer {
    fn from(t: teloxide_core::types::StarTransaction) -> Self {
        use teloxide_core::types::{TransactionPartner, TransactionPartnerUserKind};
        let user_of = |p: &TransactionPartner| match p {
            TransactionPartner::User(u) => Some((
                crate::domain::UserId(i64::try_from(u.user.id.0).unwrap_or(i64::MAX)),
                u.kind.clone(),
            )),
            _ => None,
        };
        let flow = match (
            t.source.as_ref().and_then(user_of),
            t.receiver.as_ref().and_then(user_of),
        ) {
            (Some((user, TransactionPartnerUserKind::InvoicePayment(paid))), _) => {
                StarFlow::PaidBy {
                    user,
                    payload: paid.invoice_payload,
                }
            }
            (None, Some((user, _))) => StarFlow::RefundedTo { user },
            _ => StarFlow::Other,
        };
        StarTransfer {
            id: t.id.0,
            stars: t.amount,
            date: crate::domain::Timestamp(t.date.timestamp_millis()),
            flow,
        }
    }
}
