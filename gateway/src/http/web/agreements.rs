//! `/agreements` (SPEC §9): read what is still to be accepted — the gateway's agreements, and a
//! provider's terms when the connect flow sends the user here with `?provider=` — and accept it
//! with a CSRF form. The web pages lead here while a gateway agreement is pending.

use super::{check_csrf, csrf_token, escape, page, paragraph, safe_next, urlencode, web_user};
use crate::app::AppState;
use crate::http::input::{Form, Query};
use crate::policy::Subject;
use axum::extract::State;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct AgreementsQuery {
    provider: Option<String>,
    next: Option<String>,
}

fn accept_form(csrf: &str, field: &str, id: &str, version: &str, next: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/agreements\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <input type=\"hidden\" name=\"{field}\" value=\"{}\"><input type=\"hidden\" name=\"version\" value=\"{}\">\
         <input type=\"hidden\" name=\"next\" value=\"{}\"><button id=\"accept-{}\">I accept</button></form>",
        escape(id),
        escape(version),
        escape(next),
        escape(id)
    )
}

pub async fn agreements_page(
    State(app): State<AppState>,
    parts: Parts,
    Query(q): Query<AgreementsQuery>,
) -> Response {
    let (user, session) = match web_user(&app, &parts).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let csrf = csrf_token(&session);
    let next = q
        .next
        .as_deref()
        .map_or(String::new(), |n| safe_next(Some(n)));
    let terms = match &q.provider {
        Some(id) => app
            .registry
            .cached(id)
            .await
            .ok()
            .flatten()
            .filter(|p| crate::registry::visible_to(&user, p))
            .and_then(|_| app.manifests.current(id))
            .and_then(|m| m.users.terms.clone())
            .map(|t| (id.clone(), t)),
        None => None,
    };
    let pending = app
        .gate
        .agreements
        .pending(&user, terms.as_ref().map(|(id, t)| (id.as_str(), t)))
        .await
        .unwrap_or_default();
    let mut body = String::new();
    for p in &pending {
        match &p.subject {
            Subject::Gateway(id) => {
                let text = app
                    .gate
                    .agreements
                    .documents()
                    .iter()
                    .find(|a| &a.id == id)
                    .map(|a| a.text.as_str())
                    .unwrap_or_default();
                body.push_str(&format!(
                    "<section class=\"agreement\"><h2>{} <small>version {}</small></h2><pre>{}</pre>{}</section>",
                    escape(&p.title),
                    escape(&p.version),
                    escape(text),
                    accept_form(&csrf, "agreement", id, &p.version, &next)
                ));
            }
            Subject::Provider(id) => body.push_str(&format!(
                "<section class=\"agreement\"><h2>{} <small>terms of {}, version {}</small></h2>\
                 <p>Read them at <a href=\"{}\" rel=\"noreferrer\">{}</a> before you connect.</p>{}</section>",
                escape(&p.title),
                escape(id),
                escape(&p.version),
                escape(p.url.as_deref().unwrap_or_default()),
                escape(p.url.as_deref().unwrap_or_default()),
                accept_form(&csrf, "provider", id, &p.version, &next)
            )),
        }
    }
    if pending.is_empty() {
        body.push_str(&paragraph(
            "You have accepted everything that is asked of you.",
        ));
        if let Some((id, _)) = &terms {
            body.push_str(&format!(
                "<p><a href=\"/connections/new?provider={}\">Continue connecting to {}</a></p>",
                urlencode(id),
                escape(id)
            ));
        }
    }
    page("Agreements", &body, Some((&user, &csrf)))
}

#[derive(Deserialize)]
pub struct AcceptForm {
    csrf: String,
    agreement: Option<String>,
    provider: Option<String>,
    version: String,
    #[serde(default)]
    next: String,
}

pub async fn agreements_accept(
    State(app): State<AppState>,
    parts: Parts,
    Form(f): Form<AcceptForm>,
) -> Response {
    let (user, session) = match web_user(&app, &parts).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if let Err(response) = check_csrf(&session, &f.csrf) {
        return *response;
    }
    let csrf = csrf_token(&session);
    if f.version.is_empty() || f.version.chars().count() > 64 {
        return page(
            "Agreements",
            &paragraph("That is not a version of this agreement."),
            Some((&user, &csrf)),
        );
    }
    let (subject, back) = match (f.agreement, f.provider) {
        (Some(id), None) => (Subject::Gateway(id), "/agreements".to_owned()),
        (None, Some(id)) => {
            let back = format!("/agreements?provider={}", urlencode(&id));
            (Subject::Provider(id), back)
        }
        _ => {
            return page(
                "Agreements",
                &paragraph("Name one agreement."),
                Some((&user, &csrf)),
            );
        }
    };
    match crate::http::agreements::accept(&app, &user, &subject, &f.version).await {
        Ok(_) if !f.next.is_empty() => Redirect::to(&safe_next(Some(&f.next))).into_response(),
        Ok(_) => Redirect::to(&back).into_response(),
        Err(e) => page(
            "Agreements",
            &paragraph(&e.problem().detail),
            Some((&user, &csrf)),
        ),
    }
}
