//! The usage error: a command line that cannot work as given. Pure; the binary maps it to
//! exit status 2.

/// A command line that cannot work as given, found after parsing: a `--path` outside the
/// repository, an environment `.gitops-bot.yaml` does not define, flags that exclude each
/// other, a value missing from both its flag and the CI environment. The binary exits with
/// status 2 for it, as for the errors clap finds while parsing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

impl UsageError {
    pub fn new(message: impl Into<String>) -> Self {
        UsageError(message.into())
    }
}
