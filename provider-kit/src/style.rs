//! The federation's one stylesheet. provider-kit's usermap pages embed it (they run on the
//! provider's origin and load nothing from the gateway); the gateway serves the same text at
//! `/assets/style.css`, so both crates' pages look alike.

use base64::Engine;
use std::sync::LazyLock;

pub const STYLESHEET: &str = include_str!("../assets/style.css");

/// `'sha256-…'`: the CSP source that allows exactly [`STYLESHEET`] inline and no other style.
pub fn inline_style_source() -> &'static str {
    static SOURCE: LazyLock<String> = LazyLock::new(|| {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, STYLESHEET.as_bytes());
        format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
        )
    });
    &SOURCE
}
