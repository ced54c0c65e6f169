//! /privacy, and "delete everything about me": what goes, what stays and why, before the
//! tap that deletes.

use super::{Keyboard, Screen};
use crate::pipeline::deletion::Settlement;
use crate::pipeline::erasure::Inventory;
use crate::telegram::callback::Callback;
use crate::telegram::texts::Texts;

/// The statement, with the way to delete everything.
pub fn privacy(t: &dyn Texts, retention_days: Option<u32>) -> Screen {
    Screen::new(
        t.privacy(retention_days),
        Keyboard::default()
            .button(t.btn_forget_me(), Callback::ForgetMe)
            .button(t.btn_menu(), Callback::Menu),
    )
}

/// The confirmation: everything that will go, what happens to paid work, what stays.
pub fn forget_question(t: &dyn Texts, inventory: &Inventory) -> Screen {
    let mut gone = vec![t.forget_avatars(inventory.avatars, inventory.photos)];
    if inventory.generations > 0 {
        gone.push(t.forget_generations(inventory.generations));
    }
    gone.push(t.forget_profile().to_owned());
    let mut text = format!(
        "🗑 <b>{}</b>\n\n{}",
        t.forget_heading(),
        gone.iter()
            .map(|item| format!("• {item}"))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    let Settlement {
        refunded,
        cancelled_at_fal,
    } = inventory.settlement;
    if refunded.0 > 0 {
        text.push_str(&format!("\n\n💳 {}", t.delete_refund(refunded)));
    }
    if cancelled_at_fal > 0 {
        text.push_str(&format!(
            "\n\n⏹ {}",
            t.delete_stops_running(cancelled_at_fal)
        ));
    }
    text.push_str(&format!(
        "\n\n🧾 {}\n\n⚠️ {}",
        t.forget_kept(inventory.balance),
        t.forget_final()
    ));
    Screen::new(
        text,
        Keyboard::default()
            .button(t.btn_forget_confirm(), Callback::ConfirmForgetMe)
            .button(t.btn_back(), Callback::Privacy),
    )
}

/// After forgetting: done, and what was given back.
pub fn forgotten(t: &dyn Texts, done: Settlement) -> Screen {
    let mut text = t.forgotten().to_owned();
    if done.refunded.0 > 0 {
        text.push_str(&format!("\n{}", t.deleted_refunded(done.refunded)));
    }
    Screen::text(text)
}
