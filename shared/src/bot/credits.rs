//! Credits and Telegram Stars: the Balance screen, invoices for packs, the pre-checkout check
//! (answered in the webhook's response, nothing written) and the purchase itself, credited
//! once by Telegram's charge id whatever Telegram redelivers.

use super::{Answer, BotResult, Conversation, Turn};
use crate::domain::{Billing, Credits, LedgerEntry, Pack};
use crate::ports::Applied;
use crate::telegram::client::{Invoice, PreCheckoutAnswer, WebhookAnswer};
use crate::telegram::incoming::Sender;
use crate::telegram::screens::{self, Screen};
use crate::telegram::texts::texts;

/// How many of the newest entries the Balance screen lists.
const RECENT_ENTRIES: usize = 5;
const STARS: &str = "XTR";

impl Conversation {
    /// Whether the order behind a pre-checkout query still stands: the pack is on sale at
    /// the price the invoice named, in Stars, for someone who may use the bot. Pure: Telegram
    /// waits at most 10 s, and the purchase is recorded only when it succeeds.
    pub(super) fn pre_checkout(
        &self,
        from: &Sender,
        query_id: &str,
        currency: &str,
        total_amount: u32,
        payload: &str,
    ) -> WebhookAnswer {
        let t = texts(crate::domain::Language::from_telegram(
            from.language_code.as_deref(),
        ));
        let refusal = if !self.limits.access.admits(from.user) {
            Some(t.private_bot())
        } else {
            let on_sale = Pack::from_payload(payload)
                .and_then(|pack| self.limits.money.billing.pack(pack))
                .filter(|pack| currency == STARS && pack.stars == total_amount);
            on_sale.is_none().then(|| t.offer_changed())
        };
        if let Some(why) = refusal {
            tracing::warn!(user = %from.user, payload, currency, total_amount, why, "pre-checkout refused");
        } else {
            tracing::info!(user = %from.user, payload, "pre-checkout accepted");
        }
        WebhookAnswer::PreCheckout(PreCheckoutAnswer {
            query_id: query_id.to_owned(),
            ok: refusal.is_none(),
            error: refusal.map(str::to_owned),
        })
    }
}

impl Turn<'_> {
    /// /balance and the menu's button.
    pub(super) async fn show_balance(
        &mut self,
        at: Option<crate::domain::MessageRef>,
    ) -> BotResult<()> {
        let t = self.t();
        let Billing::Stars { prices, packs, .. } = &self.bot.limits.money.billing else {
            self.show(at, &Screen::new(t.balance_free(), screens::back_to_menu(t)))
                .await;
            return Ok(());
        };
        let balance = self.bot.store.balance(self.user.id).await?;
        let recent = self.bot.store.ledger(self.user.id, RECENT_ENTRIES).await?;
        let screen = screens::balance(t, balance, prices, packs, &recent);
        self.show(at, &screen).await;
        Ok(())
    }

    /// A pack's button: an invoice in Stars (Telegram shows the payment form from it).
    pub(super) async fn buy(&mut self, pack: Pack) -> BotResult<Answer> {
        let t = self.t();
        let Some(pack) = self.bot.limits.money.billing.pack(pack) else {
            return Ok(Answer::Toast(t.outdated()));
        };
        let invoice = Invoice {
            title: t.invoice_title(pack.credits),
            description: t.invoice_description(pack.credits),
            payload: pack.payload(),
            stars: pack.stars,
        };
        // Nothing is recorded for an invoice: a lost one is the user's to tap again.
        match self
            .bot
            .telegram
            .send_invoice(self.from.chat, &invoice)
            .await
        {
            Ok(()) => Ok(Answer::Silent),
            Err(e) if e.is_transient() => Err(e.into()),
            Err(e) => {
                tracing::warn!(error = %e, "invoice refused by Telegram");
                Ok(Answer::Alert(t.try_again_later().to_owned()))
            }
        }
    }

    /// `successful_payment`: the pack named by the payload, credited once per charge id.
    pub(super) async fn payment_received(
        &mut self,
        charge_id: &str,
        currency: &str,
        total_amount: u32,
        payload: &str,
    ) -> BotResult<()> {
        let t = self.t();
        let pack = Pack::from_payload(payload)
            .filter(|pack| currency == STARS && pack.stars == total_amount);
        let Some(pack) = pack else {
            // Pre-checkout accepted only our own packs; this is not one. Recorded with no
            // credits, so the operator can refund it by its charge id.
            tracing::error!(user = %self.user.id, charge_id, payload, currency, total_amount,
                "payment does not match any pack; recorded without credits, refund it with the ops CLI");
            crate::metrics::count("PaymentsUnmatched", &[]);
            let record =
                LedgerEntry::purchase(self.user.id, charge_id, total_amount, Credits(0), self.now);
            self.bot.store.apply_entry(&record).await?.ok();
            self.committed = true;
            self.send(&Screen::text(t.paysupport())).await;
            return Ok(());
        };
        let entry =
            LedgerEntry::purchase(self.user.id, charge_id, pack.stars, pack.credits, self.now);
        let applied = self
            .bot
            .store
            .apply_entry(&entry)
            .await?
            .expect("a purchase adds credits");
        self.committed = true;
        match applied {
            Applied::New(balance) => {
                tracing::info!(user = %self.user.id, charge_id, credits = %pack.credits, "purchase credited");
                crate::metrics::count("CreditsPurchased", &[]);
                crate::metrics::counts("StarsReceived", pack.stars, &[]);
                self.send(&Screen::new(
                    t.payment_thanks(pack.credits, balance),
                    screens::menu_keyboard(t, &self.bot.limits.money.billing),
                ))
                .await;
            }
            Applied::Repeat(_) => {
                tracing::info!(user = %self.user.id, charge_id, "payment delivered again; credited before");
            }
        }
        Ok(())
    }

    /// /terms and /paysupport, as Telegram asks of bots that sell: the operator's text if set.
    pub(super) async fn terms(&mut self, support: bool) {
        let t = self.t();
        let own = match &self.bot.limits.money.billing {
            Billing::Stars {
                terms, support: s, ..
            } => {
                if support {
                    s.clone()
                } else {
                    terms.clone()
                }
            }
            Billing::Free => None,
        };
        let text =
            own.unwrap_or_else(|| if support { t.paysupport() } else { t.terms() }.to_owned());
        self.send(&Screen::new(text, screens::back_to_menu(t)))
            .await;
    }

    /// The price of the avatar's training and the user's balance, in a paying bot.
    pub(super) async fn training_price(
        &self,
        preset: crate::domain::Preset,
    ) -> BotResult<Option<(Credits, Credits)>> {
        let quote = self
            .bot
            .limits
            .money
            .quote(crate::domain::Priced::Training(preset));
        match quote.price {
            Some(price) => Ok(Some((price, self.bot.store.balance(self.user.id).await?))),
            None => Ok(None),
        }
    }
}
