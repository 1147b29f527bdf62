//! `GET /assets/{file}`: the stylesheet (the same text provider-kit embeds in its pages) and the
//! pages' one script. Linked with a version of their content in the query (`?v=…`), so they are
//! cached as immutable and a new build is fetched at once.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::LazyLock;

const SCRIPT: &str = include_str!("../../../assets/page.js");

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const ASSETS: [Asset; 2] = [
    Asset {
        name: "style.css",
        content_type: "text/css; charset=utf-8",
        body: provider_kit::style::STYLESHEET,
    },
    Asset {
        name: "page.js",
        content_type: "text/javascript; charset=utf-8",
        body: SCRIPT,
    },
];

/// FNV-1a of the content: enough to tell one build's file from another's.
fn version(body: &str) -> String {
    let hash = body.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

fn href(name: &str, body: &str) -> String {
    format!("/assets/{name}?v={}", version(body))
}

pub fn stylesheet_href() -> &'static str {
    static HREF: LazyLock<String> =
        LazyLock::new(|| href("style.css", provider_kit::style::STYLESHEET));
    &HREF
}

pub fn script_href() -> &'static str {
    static HREF: LazyLock<String> = LazyLock::new(|| href("page.js", SCRIPT));
    &HREF
}

pub async fn asset(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return crate::http::errors::ApiError::NotFound(format!("no asset {name}")).into_response();
    };
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        asset.body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_file_gets_a_new_link() {
        assert_ne!(version("a{}"), version("b{}"));
        assert!(stylesheet_href().starts_with("/assets/style.css?v="));
        assert!(script_href().starts_with("/assets/page.js?v="));
    }
}
