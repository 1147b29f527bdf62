//! Second step of manifest parsing: walking the loaded tree. Paths in both crates' notations, the shape
//! checks serde's derive cannot make (it reads an integer key as a field index, and fills a struct from a
//! sequence by position), and the messages that name what was found where.

use super::{MAX_ERRORS, MAX_WARNINGS, ManifestError};
use serde_yaml::Value;
use std::collections::HashSet;

/// Echoed input is clipped to these many characters, so a report never reflects a huge body.
const MAX_PATH_CHARS: usize = 200;
const MAX_QUOTED_CHARS: usize = 40;
pub(super) const MAX_MESSAGE_CHARS: usize = 300;

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Step {
    Key(String),
    Index(usize),
    Other,
}

pub(super) fn ignored_steps(path: &serde_ignored::Path<'_>) -> Vec<Step> {
    use serde_ignored::Path;
    let (parent, step) = match path {
        Path::Root => return Vec::new(),
        Path::Seq { parent, index } => (parent, Some(Step::Index(*index))),
        Path::Map { parent, key } => (parent, Some(Step::Key(key.clone()))),
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => (parent, None),
    };
    let mut steps = ignored_steps(parent);
    steps.extend(step);
    steps
}

pub(super) fn error_step(segment: &serde_path_to_error::Segment) -> Step {
    use serde_path_to_error::Segment;
    match segment {
        Segment::Map { key } => Step::Key(key.clone()),
        Segment::Seq { index } => Step::Index(*index),
        Segment::Enum { .. } | Segment::Unknown => Step::Other,
    }
}

/// Turns serde's error at `steps` into one naming the path and what was found there. Returns how many
/// steps lead to the value to cut out before trying again (0: stop trying).
pub(super) fn explain(tree: &Value, steps: &[Step], message: &str) -> (ManifestError, usize) {
    let mut node = tree;
    for (depth, step) in steps.iter().enumerate() {
        match (node, step) {
            (Value::Mapping(mapping), Step::Key(key)) => match mapping.get(key.as_str()) {
                Some(child) => node = child,
                None => break,
            },
            // serde's derive fills a struct from a sequence by position; the schema has no sequences.
            (Value::Sequence(_), _) => {
                let error = ManifestError {
                    path: render(&steps[..depth]),
                    problem: "expected a mapping, found a sequence".to_owned(),
                };
                return (error, depth);
            }
            _ => break,
        }
        if depth + 1 == steps.len() {
            let error = ManifestError {
                path: render(steps),
                problem: problem(message, node),
            };
            return (error, steps.len());
        }
    }
    let error = ManifestError {
        path: render(steps),
        problem: clip(message, MAX_MESSAGE_CHARS),
    };
    (error, 0)
}

/// `invalid type: string "yes", expected a boolean` → `expected a boolean, found "yes"`.
pub(super) fn problem(message: &str, found: &Value) -> String {
    let about_type = message.starts_with("invalid type") || message.starts_with("invalid length");
    match message.split_once(", expected ") {
        Some((_, expected)) if about_type => {
            let expected = if expected.starts_with("struct ") {
                "a mapping"
            } else {
                expected
            };
            format!("expected {expected}, found {}", describe(found))
        }
        _ => clip(message, MAX_MESSAGE_CHARS),
    }
}

pub(super) fn remove(tree: &mut Value, steps: &[Step]) -> bool {
    let Some((last, parents)) = steps.split_last() else {
        return false;
    };
    let mut node = tree;
    for step in parents {
        node = match (node, step) {
            (Value::Mapping(mapping), Step::Key(key)) => match mapping.get_mut(key.as_str()) {
                Some(child) => child,
                None => return false,
            },
            _ => return false,
        };
    }
    match (node, last) {
        (Value::Mapping(mapping), Step::Key(key)) => mapping.shift_remove(key.as_str()).is_some(),
        _ => false,
    }
}

/// Every key of every mapping must be a string: serde's derive would read an integer key as a field
/// index (`0: true` setting the first field).
pub(super) fn non_string_keys(node: &Value, path: &mut Vec<Step>, errors: &mut Vec<ManifestError>) {
    match node {
        Value::Mapping(mapping) => {
            for (key, value) in mapping {
                match key {
                    Value::String(key) => {
                        path.push(Step::Key(key.clone()));
                        non_string_keys(value, path, errors);
                        path.pop();
                    }
                    other if errors.len() < MAX_ERRORS => errors.push(ManifestError {
                        path: render(path),
                        problem: format!("a key must be a string, found {}", describe(other)),
                    }),
                    _ => {}
                }
            }
        }
        Value::Sequence(items) => {
            for (index, value) in items.iter().enumerate() {
                path.push(Step::Index(index));
                non_string_keys(value, path, errors);
                path.pop();
            }
        }
        _ => {}
    }
}

/// The manifest's keys whose value is a list (SPEC §1); anywhere else a sequence is refused.
const LIST_KEYS: &[&str] = &["users.requireAssurance"];

/// After a successful run: a sequence that serde consumed (not under an ignored key) filled a struct by
/// position, which the contract does not allow.
pub(super) fn consumed_sequences(
    node: &Value,
    path: &mut Vec<Step>,
    ignored: &HashSet<&[Step]>,
    errors: &mut Vec<ManifestError>,
) {
    let Value::Mapping(mapping) = node else {
        return;
    };
    for (key, value) in mapping {
        let Value::String(key) = key else { continue };
        path.push(Step::Key(key.clone()));
        if !ignored.contains(path.as_slice()) && errors.len() < MAX_ERRORS {
            match value {
                Value::Sequence(_) if LIST_KEYS.contains(&render(path).as_str()) => {}
                Value::Sequence(_) => errors.push(ManifestError {
                    path: render(path),
                    problem: "expected a mapping, found a sequence".to_owned(),
                }),
                Value::Mapping(_) => consumed_sequences(value, path, ignored, errors),
                _ => {}
            }
        }
        path.pop();
    }
}

pub(super) fn warnings(ignored: &[Vec<Step>]) -> Vec<String> {
    let mut warnings: Vec<String> = ignored
        .iter()
        .take(MAX_WARNINGS)
        .map(|steps| format!("{}: unknown key, ignored", render(steps)))
        .collect();
    if ignored.len() > MAX_WARNINGS {
        let more = ignored.len() - MAX_WARNINGS;
        warnings.push(format!("{more} more unknown keys, ignored and not listed"));
    }
    warnings
}

/// `features.compute.docker.web`; sequence items as `[0]`. Control characters in keys are escaped.
pub(super) fn render(steps: &[Step]) -> String {
    let mut out = String::new();
    for step in steps {
        match step {
            Step::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                for c in key.chars() {
                    if c.is_control() {
                        out.extend(c.escape_default());
                    } else {
                        out.push(c);
                    }
                }
            }
            Step::Index(index) => out.push_str(&format!("[{index}]")),
            Step::Other => out.push_str(".?"),
        }
    }
    clip(&out, MAX_PATH_CHARS)
}

/// A value as an error message shows it: scalars as written (strings quoted), containers by kind.
pub(super) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{:?}", clip(s, MAX_QUOTED_CHARS)),
        Value::Sequence(_) => "a sequence".to_owned(),
        Value::Mapping(_) => "a mapping".to_owned(),
        Value::Tagged(_) => "a tagged value".to_owned(),
    }
}

pub(super) fn clip(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_owned(),
    }
}
