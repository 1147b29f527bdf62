//! A secret string (a refresh token, an access token, a user's API token) that can be sent but not
//! shown: `Debug` prints `<redacted>`, there is no `Display`, and reading it takes an explicit
//! `expose()`, which is easy to grep for.

use serde::{Deserialize, Serialize};

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, to put on the wire and nowhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let secret = Secret::new("rt_very-secret-value");
        let shown = format!("{secret:?} {:?}", Some(&secret));
        assert!(!shown.contains("very-secret"), "{shown}");
        assert_eq!(secret.expose(), "rt_very-secret-value");
    }
}
