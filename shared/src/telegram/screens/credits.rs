//! The Balance screen: credits, prices, the newest ledger entries and a pack per button.

use super::super::callback::Callback;
use super::super::texts::{Texts, date};
use super::{Keyboard, Screen};
use crate::domain::{Credits, LedgerEntry, Pack, Preset, Prices};

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
    s.push_str(&format!("\n{}", t.price_upscale(prices.upscale)));
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
