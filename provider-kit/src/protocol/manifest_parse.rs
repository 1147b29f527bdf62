//! Parsing the manifest a provider serves (SPEC §1) into a [`Manifest`]; the gateway runs this on every
//! fetch. Unknown keys become warnings, anything else wrong is an error naming the path, and hostile
//! input is bounded in size, node count (aliases included) and depth.
//!
//! The flow: text → bounded `serde_yaml::Value` ([`load`]) → shape checks serde cannot see (non-string
//! keys; a sequence where serde's derive would fill a struct by position) → `Manifest` through
//! `serde_ignored` (warnings) and `serde_path_to_error` (error paths). After an error the offending value
//! is cut out and deserialization runs again, so the owner sees every error at once, not one per fetch.

use super::manifest::Manifest;
use serde_yaml::Value;
use std::collections::HashSet;
use std::fmt;
use walk::{
    MAX_MESSAGE_CHARS, Step, clip, consumed_sequences, describe, error_step, explain,
    ignored_steps, non_string_keys, remove, warnings,
};

mod load;
mod policy;
#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
mod walk;

/// The largest manifest accepted, in bytes.
pub const MAX_MANIFEST_BYTES: usize = 64 * 1024;
/// Errors reported at most; the owner fixes these first.
const MAX_ERRORS: usize = 16;
/// Unknown keys listed at most; the rest are counted in one last warning.
const MAX_WARNINGS: usize = 50;

/// A manifest that parsed, and what was ignored on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedManifest {
    pub manifest: Manifest,
    /// One line per unknown key, in document order: `features.compute.docker.gpu: unknown key, ignored`.
    pub warnings: Vec<String>,
}

/// One reason a manifest was refused: where, and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    /// Dotted path of the offending value (`features.compute.docker.web`); empty when the problem is the
    /// document as a whole (too large, not YAML, not a mapping).
    pub path: String,
    /// What is wrong, e.g. `expected a boolean, found "yes"`.
    pub problem: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.problem)
        } else {
            write!(f, "{}: {}", self.path, self.problem)
        }
    }
}

/// Why a manifest was refused: between 1 and 16 [`ManifestError`]s, in document order.
/// Displayed as one line, the errors separated by `; `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestErrors(Vec<ManifestError>);

impl ManifestErrors {
    pub fn errors(&self) -> &[ManifestError] {
        &self.0
    }

    fn whole(problem: String) -> Self {
        Self(vec![ManifestError {
            path: String::new(),
            problem,
        }])
    }
}

impl fmt::Display for ManifestErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ManifestErrors {}

/// The two encodings a provider may serve its manifest in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestFormat {
    Yaml,
    Json,
}

impl ManifestFormat {
    /// From a `Content-Type` header: `application/json` (or any `+json` type) is JSON; the YAML types
    /// (`application/yaml`, `application/x-yaml`, `text/yaml`, `text/x-yaml`, `+yaml`) or no header at all
    /// are YAML. Anything else, such as a proxy's HTML error page, is refused by name instead of being
    /// reported as a confusing YAML syntax error.
    pub fn from_content_type(content_type: Option<&str>) -> Result<Self, ManifestErrors> {
        let Some(raw) = content_type else {
            return Ok(Self::Yaml);
        };
        let essence = raw.split_once(';').map_or(raw, |(essence, _)| essence);
        match essence.trim().to_ascii_lowercase().as_str() {
            "" | "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml" => {
                Ok(Self::Yaml)
            }
            "application/json" => Ok(Self::Json),
            other if other.ends_with("+yaml") => Ok(Self::Yaml),
            other if other.ends_with("+json") => Ok(Self::Json),
            _ => Err(ManifestErrors::whole(format!(
                "content type {:?} is not a manifest; serve application/yaml or application/json",
                clip(raw.trim(), 80)
            ))),
        }
    }
}

impl Manifest {
    /// Parses a YAML manifest (YAML 1.2: `yes` is a string, not `true`). An empty document, like an empty
    /// section (`storage:` with nothing under it), is all false.
    pub fn from_yaml(text: &str) -> Result<ParsedManifest, ManifestErrors> {
        parse_text(text, ManifestFormat::Yaml)
    }

    /// Parses a JSON manifest; the same document as YAML gives the same result.
    pub fn from_json(text: &str) -> Result<ParsedManifest, ManifestErrors> {
        parse_text(text, ManifestFormat::Json)
    }

    /// Parses a manifest body as fetched, choosing the format from its `Content-Type`
    /// (see [`ManifestFormat::from_content_type`]).
    pub fn parse(
        bytes: &[u8],
        content_type: Option<&str>,
    ) -> Result<ParsedManifest, ManifestErrors> {
        let format = ManifestFormat::from_content_type(content_type)?;
        check_size(bytes.len())?;
        let text = std::str::from_utf8(bytes).map_err(|e| {
            ManifestErrors::whole(format!(
                "the manifest is not UTF-8 text (invalid byte at offset {})",
                e.valid_up_to()
            ))
        })?;
        parse_text(text, format)
    }
}

fn check_size(len: usize) -> Result<(), ManifestErrors> {
    if len > MAX_MANIFEST_BYTES {
        return Err(ManifestErrors::whole(format!(
            "the manifest is {len} bytes; at most {MAX_MANIFEST_BYTES} bytes are accepted"
        )));
    }
    Ok(())
}

fn parse_text(text: &str, format: ManifestFormat) -> Result<ParsedManifest, ManifestErrors> {
    check_size(text.len())?;
    let tree = match format {
        ManifestFormat::Yaml => load::yaml(text),
        ManifestFormat::Json => load::json(text),
    }
    .map_err(|e| ManifestErrors::whole(clip(&e, MAX_MESSAGE_CHARS)))?;
    match &tree {
        Value::Null => {
            return Ok(ParsedManifest {
                manifest: Manifest::default(),
                warnings: Vec::new(),
            });
        }
        Value::Mapping(_) => {}
        other => {
            return Err(ManifestErrors::whole(format!(
                "the manifest must be a mapping at the top level, found {}",
                describe(other)
            )));
        }
    }
    let mut errors = Vec::new();
    non_string_keys(&tree, &mut Vec::new(), &mut errors);
    if !errors.is_empty() {
        return Err(ManifestErrors(errors));
    }
    typed(tree)
}

/// Deserializes the checked tree into a `Manifest`, cutting out each value serde refuses and trying
/// again, up to [`MAX_ERRORS`] times.
fn typed(mut tree: Value) -> Result<ParsedManifest, ManifestErrors> {
    let mut errors = Vec::new();
    loop {
        let mut ignored: Vec<Vec<Step>> = Vec::new();
        let mut record = |path: serde_ignored::Path<'_>| ignored.push(ignored_steps(&path));
        let de = serde_ignored::Deserializer::new(&tree, &mut record);
        match serde_path_to_error::deserialize::<_, Manifest>(de) {
            Ok(manifest) => {
                let ignored_set: HashSet<&[Step]> = ignored.iter().map(Vec::as_slice).collect();
                consumed_sequences(&tree, &mut Vec::new(), &ignored_set, &mut errors);
                policy::check(&manifest.users, &mut errors);
                if !errors.is_empty() {
                    return Err(ManifestErrors(errors));
                }
                return Ok(ParsedManifest {
                    manifest,
                    warnings: warnings(&ignored),
                });
            }
            Err(e) => {
                let steps: Vec<Step> = e.path().iter().map(error_step).collect();
                let (error, cut) = explain(&tree, &steps, &e.inner().to_string());
                errors.push(error);
                if errors.len() >= MAX_ERRORS || !remove(&mut tree, &steps[..cut]) {
                    return Err(ManifestErrors(errors));
                }
            }
        }
    }
}
