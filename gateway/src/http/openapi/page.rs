//! The API reference page: every operation of the OpenAPI document with its security, parameters,
//! request body and answers, then every schema. Read from the document's JSON into a view and
//! rendered by an askama template (escaped by default) in the pages' one layout, with no script
//! and nothing loaded from elsewhere.

use crate::http::web::Chrome;
use askama::Template;
use serde_json::Value;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// A run of text as the page shows it: plain, as `code`, or a link to a schema of the page.
pub struct Piece {
    text: String,
    code: bool,
    schema_link: bool,
}

impl Piece {
    fn text(t: impl Into<String>) -> Self {
        Self {
            text: t.into(),
            code: false,
            schema_link: false,
        }
    }

    fn code(t: impl Into<String>) -> Self {
        Self {
            code: true,
            ..Self::text(t)
        }
    }

    fn schema(name: impl Into<String>) -> Self {
        Self {
            schema_link: true,
            ..Self::text(name)
        }
    }
}

type Rich = Vec<Piece>;

struct Scheme {
    name: String,
    description: Rich,
}

struct Parameter {
    name: String,
    location: String,
    type_: Rich,
    required: bool,
    description: String,
}

struct Body {
    media: String,
    type_: Rich,
}

struct Answer {
    status: String,
    description: Rich,
    bodies: Vec<Body>,
}

struct Operation {
    anchor: String,
    method: String,
    path: String,
    texts: Vec<Rich>,
    security: Vec<String>,
    parameters: Vec<Parameter>,
    bodies: Vec<Body>,
    answers: Vec<Answer>,
}

struct Field {
    name: String,
    type_: Rich,
    required: bool,
    description: Rich,
}

struct Schema {
    name: String,
    description: Option<Rich>,
    fields: Vec<Field>,
    type_: Rich,
}

#[derive(Template)]
#[template(path = "api_reference.html")]
pub struct ReferencePage {
    title: String,
    chrome: Chrome,
    description: Rich,
    version: String,
    schemes: Vec<Scheme>,
    operations: Vec<Operation>,
    schemas: Vec<Schema>,
}

pub fn view(doc: &utoipa::openapi::OpenApi, chrome: Chrome) -> ReferencePage {
    let doc = serde_json::to_value(doc).unwrap_or(Value::Null);
    let schemes = members(&doc["components"]["securitySchemes"])
        .map(|(name, scheme)| Scheme {
            name: name.clone(),
            description: code_spans(&text(&scheme["description"])),
        })
        .collect();
    let mut operations = Vec::new();
    for (path, item) in members(&doc["paths"]) {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                operations.push(operation(method, path, op));
            }
        }
    }
    let schemas = members(&doc["components"]["schemas"])
        .map(|(name, s)| schema(name, s))
        .collect();
    ReferencePage {
        title: format!("{} — API reference", text(&doc["info"]["title"])),
        chrome,
        description: code_spans(&text(&doc["info"]["description"])),
        version: text(&doc["openapi"]),
        schemes,
        operations,
        schemas,
    }
}

fn bodies(content: &Value) -> Vec<Body> {
    members(content)
        .map(|(media, c)| Body {
            media: media.clone(),
            type_: type_of(&c["schema"]),
        })
        .collect()
}

fn operation(method: &str, path: &str, op: &Value) -> Operation {
    let texts = ["summary", "description"]
        .iter()
        .filter_map(|key| op[key].as_str().map(code_spans))
        .collect();
    let security = items(&op["security"])
        .flat_map(|req| members(req).map(|(name, _)| name.clone()))
        .collect();
    let parameters = items(&op["parameters"])
        .map(|p| Parameter {
            name: text(&p["name"]),
            location: text(&p["in"]),
            type_: type_of(&p["schema"]),
            required: p["required"].as_bool() == Some(true),
            description: text(&p["description"]),
        })
        .collect();
    let answers = members(&op["responses"])
        .map(|(status, r)| Answer {
            status: status.clone(),
            description: code_spans(&text(&r["description"])),
            bodies: bodies(&r["content"]),
        })
        .collect();
    Operation {
        anchor: format!("{method}-{path}"),
        method: method.to_uppercase(),
        path: path.to_owned(),
        texts,
        security,
        parameters,
        bodies: bodies(&op["requestBody"]["content"]),
        answers,
    }
}

fn schema(name: &str, s: &Value) -> Schema {
    let required: Vec<&str> = items(&s["required"]).filter_map(Value::as_str).collect();
    let fields = members(&s["properties"])
        .map(|(field, p)| Field {
            name: field.clone(),
            type_: type_of(p),
            required: required.contains(&field.as_str()),
            description: code_spans(&text(&p["description"])),
        })
        .collect();
    Schema {
        name: name.to_owned(),
        description: s["description"].as_str().map(code_spans),
        fields,
        type_: type_of(s),
    }
}

/// A schema in a few words: a link to a named schema, `array of …`, `string (date-time)`, `a or b`.
fn type_of(s: &Value) -> Rich {
    if let Some(r) = s["$ref"].as_str() {
        return vec![Piece::schema(r.rsplit('/').next().unwrap_or(r))];
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(list) = s[key].as_array() {
            let mut out = Vec::new();
            for (i, item) in list.iter().enumerate() {
                if i > 0 {
                    out.push(Piece::text(" or "));
                }
                out.extend(type_of(item));
            }
            return out;
        }
    }
    let base = match &s["type"] {
        Value::String(t) => t.clone(),
        Value::Array(ts) => ts.iter().map(text).collect::<Vec<_>>().join(" or "),
        _ => "any".to_owned(),
    };
    let mut out = if base.starts_with("array") {
        let mut items = vec![Piece::text("array of ")];
        items.extend(type_of(&s["items"]));
        items
    } else {
        vec![Piece::text(base)]
    };
    if let Some(f) = s["format"].as_str() {
        out.push(Piece::text(format!(" ({f})")));
    }
    if let Some(values) = s["enum"].as_array() {
        out.push(Piece::text(", one of "));
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                out.push(Piece::text(", "));
            }
            out.push(Piece::code(text(v)));
        }
    }
    if let Some(p) = s["pattern"].as_str() {
        out.push(Piece::text(" matching "));
        out.push(Piece::code(p));
    }
    out
}

/// Text whose `backticked` words are shown as code.
fn code_spans(t: &str) -> Rich {
    t.split('`')
        .enumerate()
        .filter(|(_, part)| !part.is_empty())
        .map(|(i, part)| {
            if i % 2 == 1 {
                Piece::code(part)
            } else {
                Piece::text(part)
            }
        })
        .collect()
}

/// The members of a JSON object; none when `v` is not one.
fn members(v: &Value) -> impl Iterator<Item = (&String, &Value)> {
    v.as_object().into_iter().flatten()
}

/// The items of a JSON array; none when `v` is not one.
fn items(v: &Value) -> impl Iterator<Item = &Value> {
    v.as_array().into_iter().flatten()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn html(pieces: &Rich) -> String {
        pieces
            .iter()
            .map(|p| match (p.code, p.schema_link) {
                (true, _) => format!("`{}`", p.text),
                (_, true) => format!("[{}]", p.text),
                _ => p.text.clone(),
            })
            .collect()
    }

    #[test]
    fn types_read_as_words_with_links_to_their_schemas() {
        let t =
            serde_json::json!({"type": "array", "items": {"$ref": "#/components/schemas/Token"}});
        assert_eq!(html(&type_of(&t)), "array of [Token]");
        let t = serde_json::json!({"type": "string", "format": "date-time", "enum": ["a", "b"]});
        assert_eq!(html(&type_of(&t)), "string (date-time), one of `a`, `b`");
        let t = serde_json::json!({"oneOf": [{"type": "integer"}, {"type": "null"}]});
        assert_eq!(html(&type_of(&t)), "integer or null");
        assert_eq!(html(&code_spans("use `x` here")), "use `x` here");
    }
}
