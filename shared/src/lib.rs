//! Shared library of the FLUX avatar bot: the domain, configuration, the ports the use cases
//! depend on, and their AWS and embedded adapters. Function crates only wire these together.

pub mod adapters;
pub mod backend;
pub mod bot;
pub mod config;
pub mod domain;
pub mod fal;
pub mod jobs;
pub mod metrics;
pub mod photo_metadata;
pub mod pipeline;
pub mod ports;
pub mod telegram;
pub mod zip_stream;
