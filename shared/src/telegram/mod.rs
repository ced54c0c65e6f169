//! Telegram: the Bot API client with this product's policies, what updates mean, callback
//! data, screens and the texts in every language.

pub mod callback;
pub mod client;
pub mod commands;
pub mod incoming;
pub mod pace;
pub mod screens;
pub mod settings;
pub mod texts;
