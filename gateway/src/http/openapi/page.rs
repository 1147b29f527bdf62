//! The API reference page: every operation of the OpenAPI document with its security, parameters,
//! request body and answers, then every schema. Rendered once from the document's JSON, escaped,
//! with no script and nothing loaded from elsewhere.

use crate::http::web::escape;
use serde_json::Value;
use std::fmt::Write;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

pub fn render(doc: &utoipa::openapi::OpenApi) -> String {
    let doc = serde_json::to_value(doc).unwrap_or(Value::Null);
    let mut out = String::new();
    let title = text(&doc["info"]["title"]);
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t} — API reference</title><style>{STYLE}</style></head><body><main>\
         <h1>{t} — API reference</h1><p>{d}</p>\
         <p>Machine-readable: <a href=\"/openapi.json\">/openapi.json</a> (OpenAPI {v}).</p>",
        t = escape(&title),
        d = code_spans(&text(&doc["info"]["description"])),
        v = escape(&text(&doc["openapi"])),
    );
    out.push_str("<h2>Authentication</h2><dl>");
    if let Some(schemes) = doc["components"]["securitySchemes"].as_object() {
        for (name, scheme) in schemes {
            let _ = write!(
                out,
                "<dt><code>{}</code></dt><dd>{}</dd>",
                escape(name),
                code_spans(&text(&scheme["description"]))
            );
        }
    }
    out.push_str("</dl><h2>Operations</h2>");
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            for method in METHODS {
                if let Some(op) = item.get(method) {
                    operation(&mut out, method, path, op);
                }
            }
        }
    }
    out.push_str("<h2>Schemas</h2>");
    if let Some(schemas) = doc["components"]["schemas"].as_object() {
        for (name, s) in schemas {
            schema(&mut out, name, s);
        }
    }
    out.push_str("</main></body></html>");
    out
}

fn operation(out: &mut String, method: &str, path: &str, op: &Value) {
    let _ = write!(
        out,
        "<section class=\"op\"><h3 id=\"{anchor}\"><span class=\"m\">{m}</span> <code>{p}</code></h3>",
        anchor = escape(&format!("{method}-{path}")),
        m = method.to_uppercase(),
        p = escape(path),
    );
    for key in ["summary", "description"] {
        if let Some(t) = op[key].as_str() {
            let _ = write!(out, "<p>{}</p>", code_spans(t));
        }
    }
    let security: Vec<String> = op["security"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|req| req.as_object().into_iter().flat_map(|o| o.keys().cloned()))
        .collect();
    let _ = write!(
        out,
        "<p>Authentication: {}</p>",
        if security.is_empty() {
            "none".to_owned()
        } else {
            security
                .iter()
                .map(|s| format!("<code>{}</code>", escape(s)))
                .collect::<Vec<_>>()
                .join(" or ")
        }
    );
    if let Some(params) = op["parameters"].as_array() {
        out.push_str(
            "<table><caption>Parameters</caption><tr><th>name</th><th>in</th><th>type</th>\
             <th>required</th><th>description</th></tr>",
        );
        for p in params {
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&text(&p["name"])),
                escape(&text(&p["in"])),
                type_of(&p["schema"]),
                if p["required"].as_bool() == Some(true) {
                    "yes"
                } else {
                    "no"
                },
                escape(&text(&p["description"])),
            );
        }
        out.push_str("</table>");
    }
    if let Some(content) = op["requestBody"]["content"].as_object() {
        for (media, body) in content {
            let _ = write!(
                out,
                "<p>Request body (<code>{}</code>): {}</p>",
                escape(media),
                type_of(&body["schema"])
            );
        }
    }
    out.push_str(
        "<table><caption>Answers</caption><tr><th>status</th><th>description</th><th>body</th></tr>",
    );
    if let Some(responses) = op["responses"].as_object() {
        for (status, r) in responses {
            let body = r["content"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(media, c)| {
                    format!("<code>{}</code> {}", escape(media), type_of(&c["schema"]))
                })
                .collect::<Vec<_>>()
                .join("<br>");
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(status),
                code_spans(&text(&r["description"])),
                body
            );
        }
    }
    out.push_str("</table></section>");
}

fn schema(out: &mut String, name: &str, s: &Value) {
    let _ = write!(
        out,
        "<section class=\"schema\"><h3 id=\"schema-{n}\">{n}</h3>",
        n = escape(name)
    );
    if let Some(d) = s["description"].as_str() {
        let _ = write!(out, "<p>{}</p>", code_spans(d));
    }
    let required: Vec<&str> = s["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if let Some(props) = s["properties"].as_object() {
        out.push_str(
            "<table><tr><th>field</th><th>type</th><th>required</th><th>description</th></tr>",
        );
        for (field, p) in props {
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(field),
                type_of(p),
                if required.contains(&field.as_str()) {
                    "yes"
                } else {
                    "no"
                },
                code_spans(&text(&p["description"])),
            );
        }
        out.push_str("</table>");
    } else {
        let _ = write!(out, "<p>{}</p>", type_of(s));
    }
    out.push_str("</section>");
}

/// A schema in a few words: a link to a named schema, `array of …`, `string (date-time)`, `a or b`.
fn type_of(s: &Value) -> String {
    if let Some(r) = s["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!("<a href=\"#schema-{n}\">{n}</a>", n = escape(name));
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(list) = s[key].as_array() {
            return list.iter().map(type_of).collect::<Vec<_>>().join(" or ");
        }
    }
    let base = match &s["type"] {
        Value::String(t) => t.clone(),
        Value::Array(ts) => ts.iter().map(text).collect::<Vec<_>>().join(" or "),
        _ => "any".to_owned(),
    };
    let mut t = escape(&base);
    if base.starts_with("array") {
        t = format!("array of {}", type_of(&s["items"]));
    }
    if let Some(f) = s["format"].as_str() {
        let _ = write!(t, " ({})", escape(f));
    }
    if let Some(values) = s["enum"].as_array() {
        let list: Vec<String> = values
            .iter()
            .map(|v| format!("<code>{}</code>", escape(&text(v))))
            .collect();
        let _ = write!(t, ", one of {}", list.join(", "));
    }
    if let Some(p) = s["pattern"].as_str() {
        let _ = write!(t, " matching <code>{}</code>", escape(p));
    }
    t
}

/// Escaped text whose `backticked` words are shown as code.
fn code_spans(t: &str) -> String {
    escape(t)
        .split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                format!("<code>{part}</code>")
            } else {
                part.to_owned()
            }
        })
        .collect()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#1b1b1b}\
main{max-width:60rem;margin:0 auto;padding:1rem}\
.op,.schema{border-top:1px solid #ccc;padding:.5rem 0}\
.m{font-family:monospace;background:#e8eef7;padding:.1rem .4rem;border-radius:.2rem}\
table{border-collapse:collapse;margin:.5rem 0;width:100%}\
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}\
caption{text-align:left;font-weight:600}code{overflow-wrap:anywhere}";
