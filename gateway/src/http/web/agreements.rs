//! `/agreements` (SPEC §9): read what is still to be accepted — the gateway's agreements, and a
//! provider's terms when the connect flow sends the user here with `?provider=` — and accept it
//! with a CSRF form. The web pages lead here while a gateway agreement is pending.

use super::{Chrome, Csp, CsrfForm, WebUser, respond, safe_next, urlencode};
use crate::app::AppState;
use crate::http::input::Query;
use crate::policy::Subject;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct AgreementsQuery {
    provider: Option<String>,
    next: Option<String>,
}

/// One document still to accept: a gateway agreement (its text) or a provider's terms (a link).
struct Pending {
    id: String,
    provider: bool,
    title: String,
    version: String,
    text: Option<String>,
    url: Option<String>,
}

#[derive(Template)]
#[template(path = "agreements.html")]
struct AgreementsPage<'a> {
    title: &'a str,
    chrome: Chrome,
    notice: Option<&'a str>,
    pending: Vec<Pending>,
    csrf: &'a str,
    next: &'a str,
    provider: Option<&'a str>,
    provider_encoded: String,
    back: &'a str,
}

pub async fn agreements_page(
    State(app): State<AppState>,
    user: WebUser,
    Query(q): Query<AgreementsQuery>,
) -> Response {
    view(&app, &user, q.provider.as_deref(), q.next.as_deref(), None).await
}

/// The agreements page: what `user` has still to accept (with `provider`'s terms when named and
/// visible to them), and `problem` when an acceptance was refused.
async fn view(
    app: &AppState,
    user: &WebUser,
    provider: Option<&str>,
    next: Option<&str>,
    problem: Option<(StatusCode, &str)>,
) -> Response {
    let next = next.map_or(String::new(), |n| safe_next(Some(n)));
    let terms = match provider {
        Some(id) => app
            .registry
            .cached(id)
            .await
            .ok()
            .flatten()
            .filter(|p| crate::registry::visible_to(&user.user, p))
            .and_then(|_| app.manifests.current(id))
            .and_then(|m| m.users.terms.clone())
            .map(|t| (id.to_owned(), t)),
        None => None,
    };
    let pending = app
        .gate
        .agreements
        .pending(&user.user, terms.as_ref().map(|(id, t)| (id.as_str(), t)))
        .await
        .unwrap_or_default();
    let documents = app.gate.agreements.documents();
    let pending = pending
        .into_iter()
        .map(|p| match p.subject {
            Subject::Gateway(id) => Pending {
                text: documents
                    .iter()
                    .find(|a| a.id == id)
                    .map(|a| a.text.clone()),
                id,
                provider: false,
                title: p.title,
                version: p.version,
                url: None,
            },
            Subject::Provider(id) => Pending {
                id,
                provider: true,
                title: p.title,
                version: p.version,
                text: None,
                url: p.url,
            },
        })
        .collect();
    let provider = terms.as_ref().map(|(id, _)| id.as_str());
    let page = AgreementsPage {
        title: "Agreements",
        chrome: Chrome::of(app, user),
        notice: problem.map(|(_, text)| text),
        pending,
        csrf: &user.csrf,
        next: &next,
        provider,
        provider_encoded: provider.map(urlencode).unwrap_or_default(),
        back: if next.is_empty() { "/providers" } else { &next },
    };
    let status = problem.map_or(StatusCode::OK, |(status, _)| status);
    respond(status, &page, Csp::default())
}

#[derive(Deserialize)]
pub struct AcceptForm {
    agreement: Option<String>,
    provider: Option<String>,
    version: String,
    #[serde(default)]
    next: String,
}

pub async fn agreements_accept(
    State(app): State<AppState>,
    CsrfForm(user, f): CsrfForm<AcceptForm>,
) -> Response {
    let next = (!f.next.is_empty()).then_some(f.next.as_str());
    if f.version.is_empty() || f.version.chars().count() > 64 {
        let why = "That is not a version of this agreement.";
        return view(
            &app,
            &user,
            f.provider.as_deref(),
            next,
            Some((StatusCode::BAD_REQUEST, why)),
        )
        .await;
    }
    let (subject, back) = match (&f.agreement, &f.provider) {
        (Some(id), None) => (Subject::Gateway(id.clone()), "/agreements".to_owned()),
        (None, Some(id)) => (
            Subject::Provider(id.clone()),
            format!("/agreements?provider={}", urlencode(id)),
        ),
        _ => {
            let why = "Name one agreement to accept.";
            return view(
                &app,
                &user,
                None,
                next,
                Some((StatusCode::BAD_REQUEST, why)),
            )
            .await;
        }
    };
    match crate::http::agreements::accept(&app, &user.user, &subject, &f.version).await {
        Ok(_) if next.is_some() => Redirect::to(&safe_next(next)).into_response(),
        Ok(_) => Redirect::to(&back).into_response(),
        Err(e) => {
            let problem = e.problem();
            let status =
                StatusCode::from_u16(e.code().parts().0).unwrap_or(StatusCode::BAD_REQUEST);
            view(
                &app,
                &user,
                f.provider.as_deref(),
                next,
                Some((status, &problem.detail)),
            )
            .await
        }
    }
}
