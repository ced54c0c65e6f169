use std::fmt;

/// An AWS SDK error rendered with its whole cause chain (the SDK's own `Display` says only
/// "service error"). Carries no request payloads, so it is safe to log.
#[derive(Debug)]
pub struct AwsError(String);

impl AwsError {
    pub fn from_sdk<E: std::error::Error>(e: E) -> Self {
        Self(aws_smithy_types::error::display::DisplayErrorContext(e).to_string())
    }

    pub fn msg(m: impl Into<String>) -> Self {
        Self(m.into())
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AwsError {}
