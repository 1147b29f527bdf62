//! The OpenAPI document (`/openapi.json`) and its reference page (`/api/docs`): served, covering
//! every JSON route of the router, and true to what the handlers answer.

use crate::on_both_backends;
use crate::support::{Backend, TestApp, read};
use gateway::problem::ProblemCode;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::Path;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// The routes registered with `.route("<path>", <methods>)` in the HTTP layer's source, as
/// `(path, method)`: what the router serves, read where it is declared.
fn routes_in_the_router() -> Vec<(String, String)> {
    let mut files = vec![];
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(std::fs::read_to_string(path).unwrap());
            }
        }
    }
    let mut routes = vec![];
    for source in files {
        let mut rest = source.as_str();
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            // The call's arguments: up to the parenthesis that closes `.route(`.
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map(|(i, _)| i)
                .unwrap();
            let call = &rest[..end];
            let Some(path) = call.split('"').nth(1) else {
                continue;
            };
            for method in METHODS {
                let called = call.match_indices(&format!("{method}(")).any(|(i, _)| {
                    i == 0
                        || !call.as_bytes()[i - 1].is_ascii_alphanumeric()
                            && call.as_bytes()[i - 1] != b'_'
                });
                if called {
                    routes.push((path.to_owned(), method.to_owned()));
                }
            }
        }
    }
    routes
}

/// The JSON routes the document must cover: the API, password sign-in and sign-out, the probes.
fn is_documented_route(path: &str) -> bool {
    (path.starts_with("/api/") && path != "/api/docs")
        || ["/auth/login", "/auth/logout", "/healthz", "/readyz"].contains(&path)
}

#[test]
fn every_api_route_of_the_router_is_in_the_openapi_document() {
    let doc = serde_json::to_value(gateway::http::openapi::document()).unwrap();
    let routes: Vec<_> = routes_in_the_router()
        .into_iter()
        .filter(|(path, _)| is_documented_route(path))
        .collect();
    assert!(
        routes.len() > 40
            && routes
                .iter()
                .any(|(p, m)| p == "/api/tokens/{id}" && m == "delete"),
        "the router's routes were not found in its source: {routes:?}"
    );
    let missing: Vec<_> = routes
        .iter()
        .filter(|(path, method)| doc["paths"][path][method].is_null())
        .map(|(path, method)| format!("{} {path}", method.to_uppercase()))
        .collect();
    assert!(
        missing.is_empty(),
        "routes served but not in the OpenAPI document (annotate the handler with \
         #[utoipa::path] and name it in http/openapi/mod.rs): {missing:?}"
    );
    // And nothing documented that the router does not serve.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS.iter().filter(|m| !item[**m].is_null()) {
            assert!(
                routes.iter().any(|(p, m)| p == path && m == method),
                "documented but not routed: {method} {path}"
            );
        }
    }
}

async fn the_served_document_is_openapi_3_1_with_security_and_every_problem_code(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app.http.get(app.url("/openapi.json")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/json");
    let (_, doc) = read(r).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["apiToken"]["scheme"], "bearer");
    assert_eq!(schemes["session"]["in"], "cookie");
    assert_eq!(schemes["session"]["name"], "gw_session");
    assert_eq!(schemes["providerToken"]["bearerFormat"], "JWT");
    assert_eq!(
        doc["paths"]["/api/me"]["get"]["security"],
        json!([{ "apiToken": [] }, { "session": [] }])
    );
    assert_eq!(
        doc["paths"]["/api/accounting/charge"]["post"]["security"],
        json!([{ "providerToken": [] }])
    );
    // Every operation answers its problems as problem+json, naming the codes of each status.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for code in ProblemCode::ALL.iter().filter(|c| c.parts().0 != 405) {
                let (status, name, _) = code.parts();
                let answer = &op["responses"][status.to_string()];
                assert_eq!(
                    answer["content"]["application/problem+json"]["schema"]["$ref"],
                    "#/components/schemas/Problem",
                    "{method} {path} {status}"
                );
                let description = answer["description"].as_str().unwrap();
                assert!(
                    description.contains(&format!("`{name}`")),
                    "{method} {path} {status}: {description}"
                );
            }
        }
    }
    app.stop().await;
}
on_both_backends!(the_served_document_is_openapi_3_1_with_security_and_every_problem_code);

async fn the_reference_page_lists_every_operation_without_loading_anything(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let doc = serde_json::to_value(gateway::http::openapi::document()).unwrap();
    let r = app.http.get(app.url("/api/docs")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = r.text().await.unwrap();
    assert!(page.contains("<h1>Federated provider gateway — API reference</h1>"));
    assert!(page.contains("<a href=\"/openapi.json\">/openapi.json</a>"));
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let heading = format!(
                "<span class=\"m\">{}</span> <code>{}</code>",
                method.to_uppercase(),
                path
            );
            assert!(page.contains(&heading), "{heading}");
        }
    }
    for code in ProblemCode::ALL {
        assert!(
            page.contains(&format!("<code>{}</code>", code.code())),
            "{code:?}"
        );
    }
    // Parameters, bodies and schemas are shown.
    assert!(page.contains("<td><code>username</code></td><td>path</td>"));
    assert!(page.contains(
        "Request body (<code>application/json</code>): <a href=\"#schema-NewToken\">NewToken</a>"
    ));
    assert!(page.contains("<h3 id=\"schema-ProviderView\">ProviderView</h3>"));
    // Nothing from elsewhere: no script, no stylesheet or image from another site.
    assert!(!page.contains("<script"));
    assert!(!page.contains("src=\"http") && !page.contains("href=\"http"));
    app.stop().await;
}
on_both_backends!(the_reference_page_lists_every_operation_without_loading_anything);

/// Checks `value` against `schema` of the document: types, required members, and no member the
/// schema does not declare (the document must say everything an answer carries).
fn conforms(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap();
        return conforms(doc, &doc["components"]["schemas"][name], value, at);
    }
    if let Some(options) = schema["oneOf"].as_array() {
        return options
            .iter()
            .find(|s| conforms(doc, s, value, at).is_ok())
            .map(|_| ())
            .ok_or_else(|| format!("{at}: {value} matches no option of {schema}"));
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return Ok(()),
    };
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    if !(types.contains(&kind) || kind == "integer" && types.contains(&"number")) {
        return Err(format!("{at}: {value} is {kind}, documented {types:?}"));
    }
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                conforms(doc, &schema["items"], item, &format!("{at}[{i}]"))?;
            }
        }
        Value::Object(members) if schema["properties"].is_object() => {
            for required in schema["required"].as_array().into_iter().flatten() {
                let name = required.as_str().unwrap();
                if !members.contains_key(name) {
                    return Err(format!("{at}: required {name} is missing"));
                }
            }
            for (name, member) in members {
                let declared = &schema["properties"][name];
                if declared.is_null() {
                    return Err(format!("{at}: {name} is not in the document"));
                }
                conforms(doc, declared, member, &format!("{at}.{name}"))?;
            }
        }
        _ => {}
    }
    Ok(())
}

async fn the_handlers_answers_match_the_document(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let doc = serde_json::to_value(gateway::http::openapi::document()).unwrap();
    let admin = app.user("root", true).await;
    let alice = app.user("alice", false).await;
    let check = |method: &str, path: &str, status: StatusCode, body: &Value| {
        let op = &doc["paths"][path][method];
        let content = &op["responses"][status.as_str()]["content"];
        let schema = if status.is_success() {
            &content["application/json"]["schema"]
        } else {
            &content["application/problem+json"]["schema"]
        };
        assert!(
            !schema.is_null(),
            "{method} {path}: {status} not documented"
        );
        if let Err(e) = conforms(&doc, schema, body, "body") {
            panic!("{method} {path} {status}: {e}\n{body:#}");
        }
    };
    let (s, b) = app.get(&alice, "/api/me").await;
    check("get", "/api/me", s, &b);
    let (s, b) = app.register(&alice, "alpha", "test").await;
    check("post", "/api/providers", s, &b);
    let (s, b) = app.get(&alice, "/api/providers").await;
    check("get", "/api/providers", s, &b);
    let (s, b) = app.get(&alice, "/api/providers/alpha").await;
    check("get", "/api/providers/{id}", s, &b);
    let (s, b) = app.get(&alice, "/api/providers/nope").await;
    check("get", "/api/providers/{id}", s, &b);
    let (s, b) = app
        .post(&alice, "/api/tokens", json!({ "name": "ci" }))
        .await;
    check("post", "/api/tokens", s, &b);
    let (s, b) = app.get(&alice, "/api/tokens").await;
    check("get", "/api/tokens", s, &b);
    let (s, b) = app
        .post(&alice, "/api/projects", json!({ "title": "P" }))
        .await;
    check("post", "/api/projects", s, &b);
    let project = b["id"].as_str().unwrap().to_owned();
    let (s, b) = app.get(&alice, "/api/projects").await;
    check("get", "/api/projects", s, &b);
    let members = format!("/api/projects/{project}/members");
    let (s, b) = app
        .post(
            &alice,
            &members,
            json!({ "username": "root", "role": "USER" }),
        )
        .await;
    check("post", "/api/projects/{id}/members", s, &b);
    let (s, b) = app.get(&alice, &format!("/api/projects/{project}")).await;
    check("get", "/api/projects/{id}", s, &b);
    let grant = json!({ "owner": { "username": "alice" }, "provider": "alpha", "units": 5 });
    let (s, b) = app.post(&admin, "/api/admin/wallets/grant", grant).await;
    check("post", "/api/admin/wallets/grant", s, &b);
    let (s, b) = app.get(&alice, "/api/wallets").await;
    check("get", "/api/wallets", s, &b);
    let (s, b) = app.get(&alice, "/api/wallets/charges").await;
    check("get", "/api/wallets/charges", s, &b);
    let (s, b) = app.get(&alice, "/api/connections").await;
    check("get", "/api/connections", s, &b);
    let (s, b) = app.get(&admin, "/api/admin/users/alice").await;
    check("get", "/api/admin/users/{username}", s, &b);
    let (s, b) = app
        .post(&admin, "/api/admin/users/alice/suspend", json!({}))
        .await;
    check("post", "/api/admin/users/{username}/suspend", s, &b);
    let (s, b) = app.get(&alice, "/api/me").await;
    check("get", "/api/me", s, &b);
    let (s, b) = app
        .post(&admin, "/api/admin/users/alice/resume", json!({}))
        .await;
    check("post", "/api/admin/users/{username}/resume", s, &b);
    let new_user = json!({ "username": "bob", "email": "bob@example.org", "firstName": "B", "lastName": "Ob" });
    let (s, b) = app.post(&admin, "/api/admin/users", new_user).await;
    check("post", "/api/admin/users", s, &b);
    let (s, b) = app
        .post(
            &admin,
            "/api/admin/providers/alpha/refresh-token",
            json!({}),
        )
        .await;
    check("post", "/api/admin/providers/{id}/refresh-token", s, &b);
    let (s, b) = app.post(&admin, "/api/admin/keys/rotate", json!({})).await;
    check("post", "/api/admin/keys/rotate", s, &b);
    let (s, b) = app.get(&admin, "/api/admin/audit").await;
    check("get", "/api/admin/audit", s, &b);
    let (s, b) = app.post(&alice, "/api/admin/keys/rotate", json!({})).await;
    check("post", "/api/admin/keys/rotate", s, &b);
    let (s, b) = read(app.sign_in_as("alice", "alice-password", None).await).await;
    check("post", "/auth/login", s, &b);
    app.stop().await;
}
on_both_backends!(the_handlers_answers_match_the_document);
