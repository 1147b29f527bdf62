//! `GET /ucloud/<id>/manifest` (SPEC §1): what this provider offers, in YAML or JSON as the `Accept`
//! header prefers (YAML when it does not say). From a value fixed at start-up, or from a file read
//! on every request, so an operator can edit the file and ask the gateway to reload it; a file that
//! no longer parses is answered `500 invalidManifest` and the gateway keeps the last valid one.

use std::path::{Path, PathBuf};

use axum::extract::State;
use axum::http::header::{ACCEPT, CONTENT_TYPE, VARY};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::protocol::{MAX_MANIFEST_BYTES, Manifest, ManifestErrors, ParsedManifest, Problem};

/// Where the manifest comes from.
#[derive(Debug, Clone)]
pub enum ManifestSource {
    Value(Manifest),
    /// A YAML file (or JSON, by a `.json` extension), re-read on every request.
    File(PathBuf),
}

/// Why a manifest file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ManifestLoadError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is larger than {MAX_MANIFEST_BYTES} bytes")]
    TooLarge { path: String },
    #[error("{path} is not a valid manifest: {errors}")]
    Invalid {
        path: String,
        errors: ManifestErrors,
    },
}

impl ManifestSource {
    pub fn value(manifest: Manifest) -> Self {
        Self::Value(manifest)
    }

    /// A manifest file, checked now so a broken one stops the provider at start-up; it is read again
    /// on every request. Unknown keys are logged as warnings.
    pub fn file(path: impl Into<PathBuf>) -> Result<Self, ManifestLoadError> {
        let path = path.into();
        let text = read_limited(&path)?;
        let parsed = parse(&path, &text)?;
        for warning in &parsed.warnings {
            tracing::warn!(path = %path.display(), %warning, "manifest");
        }
        Ok(Self::File(path))
    }

    /// The manifest as it is now.
    pub async fn load(&self) -> Result<Manifest, ManifestLoadError> {
        match self {
            Self::Value(manifest) => Ok(manifest.clone()),
            Self::File(path) => {
                let path = path.clone();
                let loaded = tokio::task::spawn_blocking(move || {
                    let text = read_limited(&path)?;
                    parse(&path, &text)
                })
                .await
                .map_err(|e| ManifestLoadError::Io {
                    path: String::new(),
                    source: std::io::Error::other(e),
                })?;
                loaded.map(|parsed| parsed.manifest)
            }
        }
    }
}

fn read_limited(path: &Path) -> Result<String, ManifestLoadError> {
    let shown = || path.display().to_string();
    let io = |source| ManifestLoadError::Io {
        path: shown(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.len() > MAX_MANIFEST_BYTES as u64 {
        return Err(ManifestLoadError::TooLarge { path: shown() });
    }
    std::fs::read_to_string(path).map_err(io)
}

fn parse(path: &Path, text: &str) -> Result<ParsedManifest, ManifestLoadError> {
    let is_json = path.extension().is_some_and(|ext| ext == "json");
    let parsed = if is_json {
        Manifest::from_json(text)
    } else {
        Manifest::from_yaml(text)
    };
    parsed.map_err(|errors| ManifestLoadError::Invalid {
        path: path.display().to_string(),
        errors,
    })
}

pub(super) async fn serve(State(source): State<ManifestSource>, headers: HeaderMap) -> Response {
    let manifest = match source.load().await {
        Ok(manifest) => manifest,
        Err(error) => {
            tracing::error!(%error, "cannot serve the manifest");
            let problem = Problem::new(
                500,
                "invalidManifest",
                "Invalid manifest",
                error.to_string(),
            );
            return problem_response(StatusCode::INTERNAL_SERVER_ERROR, &problem);
        }
    };
    let accept = headers.get(ACCEPT).and_then(|v| v.to_str().ok());
    let (content_type, body) = if prefers_json(accept) {
        (
            "application/json",
            serde_json::to_vec_pretty(&manifest).map_err(|e| e.to_string()),
        )
    } else {
        (
            "application/yaml",
            serde_yaml::to_string(&manifest)
                .map(String::into_bytes)
                .map_err(|e| e.to_string()),
        )
    };
    match body {
        Ok(body) => (
            [
                (CONTENT_TYPE, HeaderValue::from_static(content_type)),
                (VARY, HeaderValue::from_static("accept")),
            ],
            body,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "cannot encode the manifest");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

fn problem_response(status: StatusCode, problem: &Problem) -> Response {
    let body = serde_json::to_vec(problem).unwrap_or_default();
    (
        status,
        [(
            CONTENT_TYPE,
            HeaderValue::from_static(Problem::CONTENT_TYPE),
        )],
        body,
    )
        .into_response()
}

/// JSON only when the `Accept` header ranks it above YAML (RFC 9110 §12.5.1 quality values; the
/// most specific range decides); YAML otherwise, including when neither is named.
pub(crate) fn prefers_json(accept: Option<&str>) -> bool {
    let Some(accept) = accept else {
        return false;
    };
    let quality = |wanted: &[&str]| -> f32 {
        let mut best: Option<(u8, f32)> = None;
        for range in accept.split(',') {
            let mut params = range.split(';');
            let media = params.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = params
                .filter_map(|p| p.trim().strip_prefix("q=")?.trim().parse::<f32>().ok())
                .next()
                .unwrap_or(1.0);
            let specificity = if wanted.contains(&media.as_str()) {
                2
            } else if media == "application/*"
                || (media == "text/*" && wanted.contains(&"text/yaml"))
            {
                1
            } else if media == "*/*" {
                0
            } else {
                continue;
            };
            if best.is_none_or(|(s, _)| specificity > s) {
                best = Some((specificity, q));
            }
        }
        best.map_or(0.0, |(_, q)| q)
    };
    let json = quality(&["application/json"]);
    let yaml = quality(&[
        "application/yaml",
        "application/x-yaml",
        "text/yaml",
        "text/x-yaml",
    ]);
    json > yaml
}

#[cfg(test)]
mod tests {
    use super::prefers_json;

    #[test]
    fn json_is_served_only_when_accept_ranks_it_above_yaml() {
        assert!(!prefers_json(None));
        assert!(!prefers_json(Some("*/*")));
        assert!(!prefers_json(Some("application/yaml")));
        assert!(!prefers_json(Some("text/html")));
        assert!(prefers_json(Some("application/json")));
        assert!(prefers_json(Some(
            "application/yaml;q=0.5, application/json"
        )));
        assert!(!prefers_json(Some(
            "application/json;q=0.4, application/yaml;q=0.9"
        )));
        assert!(prefers_json(Some("application/json, */*;q=0.1")));
        assert!(!prefers_json(Some("application/json;q=0, */*")));
    }
}
