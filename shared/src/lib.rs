//! Shared library of the FLUX avatar bot: the domain, configuration, the ports the use cases
//! depend on, and their AWS and embedded adapters. Function crates only wire these together.

pub mod adapters;
pub mod config;
pub mod domain;
pub mod ports;
pub mod zip_stream;
