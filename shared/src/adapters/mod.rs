//! Implementations of the ports: AWS for production, embedded for the local runner.

pub mod aws;
pub mod embedded;
