//! Gateway usernames, UCloud style (`DanSebastianThrane#1234`): parsed once at the edge.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// 1-64 characters of letters, digits and `. _ - @ #`, starting with a letter or digit.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let ok = !raw.is_empty()
            && raw.len() <= 64
            && raw.as_bytes()[0].is_ascii_alphanumeric()
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-@#".contains(&b));
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            let shown: String = raw.chars().take(64).collect();
            Err(format!(
                "username: {shown:?} must be 1-64 characters of letters, digits and . _ - @ #, starting with a letter or digit"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::Username;

    #[test]
    fn ucloud_style_names_are_accepted_and_odd_ones_refused() {
        for good in ["DanSebastianThrane#1234", "alice", "a.b-c_d@sdu.dk", "0x"] {
            assert!(Username::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "#1234", "ali ce", "bob/..", "é", &"a".repeat(65)] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
    }
}
