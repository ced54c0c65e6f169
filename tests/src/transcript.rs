//! Transcripts of conversations for the docs, recorded from the fake Telegram while a test
//! drives the real bot, and compared with the committed copy so the docs cannot drift from
//! the product. `UPDATE_DOCS=1 cargo test` rewrites them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::bot_world::Answer;
use crate::fake_telegram::FakeTelegram;

pub struct Transcript {
    telegram: FakeTelegram,
    chat_id: i64,
    /// Bot API calls already shown.
    seen_calls: usize,
    /// Message id -> its number in the transcript (#1, #2...), in order of first appearance.
    numbers: BTreeMap<i32, usize>,
    out: String,
}

impl Transcript {
    pub fn new(telegram: &FakeTelegram, chat_id: i64, title: &str, intro: &str) -> Self {
        Self {
            telegram: telegram.clone(),
            chat_id,
            seen_calls: telegram.calls().len(),
            numbers: BTreeMap::new(),
            out: format!("# {title}\n\n{intro}\n\n"),
        }
    }

    /// What the user does, in words.
    pub fn user(&mut self, action: &str) {
        self.out.push_str(&format!("**User:** {action}\n\n"));
    }

    /// Everything the bot showed since the last call: each message touched, as it looks
    /// now, and the answer to the button press if there was one.
    pub fn bot(&mut self, answer: Option<&Answer>) {
        let calls = self.telegram.calls();
        let mut touched: Vec<(i32, bool)> = Vec::new();
        for call in &calls[self.seen_calls..] {
            if !call.ok {
                continue;
            }
            let id = match call.method.as_str() {
                "sendmessage" => self
                    .telegram
                    .chat(self.chat_id)
                    .iter()
                    .map(|m| m.message_id)
                    .filter(|id| {
                        !self.numbers.contains_key(id) && !touched.iter().any(|(t, _)| t == id)
                    })
                    .min(),
                "editmessagetext" => call.params["message_id"].as_i64().map(|id| id as i32),
                _ => None,
            };
            if let Some(id) = id
                && !touched.iter().any(|(t, _)| *t == id)
            {
                touched.push((id, call.method == "sendmessage"));
            }
        }
        self.seen_calls = calls.len();
        if let Some(text) = answer.and_then(|a| a.json()["text"].as_str().map(str::to_owned)) {
            let kind = if answer.unwrap().json()["show_alert"] == true {
                "alert"
            } else {
                "toast"
            };
            self.out.push_str(&format!("*Bot ({kind}):* {text}\n\n"));
        }
        for (id, new) in touched {
            let next = self.numbers.len() + 1;
            let number = *self.numbers.entry(id).or_insert(next);
            let message = self.telegram.message(self.chat_id, id);
            let how = if new { "sends" } else { "edits" };
            self.out
                .push_str(&format!("*Bot {how} message #{number}:*\n\n"));
            for line in markdown(&message.text).lines() {
                self.out.push_str(&format!("> {line}\n"));
            }
            for row in &message.buttons {
                let labels: Vec<String> = row.iter().map(|(l, _)| format!("`[{l}]`")).collect();
                self.out.push_str(&format!(">\n> {}\n", labels.join(" ")));
            }
            self.out.push('\n');
        }
    }

    /// Compares with `docs/<name>` (or writes it when `UPDATE_DOCS` is set).
    pub fn check(&self, name: &str) {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../docs")
            .join(name);
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(&path, &self.out).expect("writing the transcript");
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == self.out,
            "docs/{name} is out of date with the bot; run `UPDATE_DOCS=1 cargo test -p \
             fluxbot-tests --test telegram_bot transcript` and review the diff.\n\
             --- generated ---\n{}",
            self.out
        );
    }
}

/// Telegram HTML to Markdown, for reading on GitHub.
fn markdown(html: &str) -> String {
    html.replace("<b>", "**")
        .replace("</b>", "**")
        .replace("<i>", "_")
        .replace("</i>", "_")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}
