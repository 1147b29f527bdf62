//! Projects: creation, roles, who may manage members, and membership as the broker will check it.

use crate::on_both_backends;
use crate::support::{Backend, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn delete(app: &TestApp, token: &str, path: &str) -> StatusCode {
    let r = app
        .http
        .delete(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    r.status()
}

fn members(project: &Value) -> Vec<(String, String)> {
    project["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["username"].as_str().unwrap().to_owned(),
                m["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn project_roles_decide_who_manages_members(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pi = app.user("pi", false).await;
    let admin = app.user("ada", false).await;
    let user = app.user("usr", false).await;
    let outsider = app.user("out", false).await;

    let (status, problem) = app
        .post(&pi, "/api/projects", json!({ "title": "  " }))
        .await;
    assert_eq!(
        (
            status,
            problem["detail"].as_str().unwrap().starts_with("title:")
        ),
        (StatusCode::BAD_REQUEST, true)
    );
    let (status, project) = app
        .post(&pi, "/api/projects", json!({ "title": "Climate" }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{project}");
    assert_eq!(
        (project["title"].clone(), project["role"].clone()),
        (json!("Climate"), json!("PI"))
    );
    let id = project["id"].as_str().unwrap().to_owned();
    let base = format!("/api/projects/{id}");
    let add = format!("{base}/members");

    // A project looks missing to whoever is not in it.
    assert_eq!(app.get(&outsider, &base).await.0, StatusCode::NOT_FOUND);
    let (status, _) = app
        .post(
            &outsider,
            &add,
            json!({ "username": "out", "role": "USER" }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    for (who, role) in [("ada", "ADMIN"), ("usr", "USER")] {
        let (status, body) = app
            .post(&pi, &add, json!({ "username": who, "role": role }))
            .await;
        assert_eq!(
            (status, body),
            (StatusCode::OK, json!({ "username": who, "role": role }))
        );
    }
    // ADMINs manage USERs but not ADMINs; USERs manage nobody.
    let (status, _) = app
        .post(&admin, &add, json!({ "username": "out", "role": "USER" }))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .post(&admin, &add, json!({ "username": "out", "role": "ADMIN" }))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .post(&user, &add, json!({ "username": "out", "role": "USER" }))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        delete(&app, &user, &format!("{add}/out")).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        delete(&app, &admin, &format!("{add}/out")).await,
        StatusCode::NO_CONTENT
    );

    // The PI is one, fixed.
    let cases = [
        (
            json!({ "username": "usr", "role": "PI" }),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({ "username": "pi", "role": "USER" }),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({ "username": "usr", "role": "OWNER" }),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({ "username": "ghost", "role": "USER" }),
            StatusCode::NOT_FOUND,
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(
            app.post(&pi, &add, body.clone()).await.0,
            expected,
            "{body}"
        );
    }
    assert_eq!(
        delete(&app, &pi, &format!("{add}/pi")).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        delete(&app, &pi, &format!("{add}/out")).await,
        StatusCode::NOT_FOUND
    );

    let (_, seen) = app.get(&user, &base).await;
    assert_eq!(seen["role"], "USER");
    let expected = [("pi", "PI"), ("ada", "ADMIN"), ("usr", "USER")];
    let expected: Vec<_> = expected
        .iter()
        .map(|(u, r)| (u.to_string(), r.to_string()))
        .collect();
    assert_eq!(members(&seen), expected);

    // The PI demotes an admin; a member leaves on their own.
    app.post(&pi, &add, json!({ "username": "ada", "role": "USER" }))
        .await;
    let (status, _) = app
        .post(&admin, &add, json!({ "username": "usr", "role": "USER" }))
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a demoted admin manages nobody"
    );
    assert_eq!(
        delete(&app, &user, &format!("{add}/usr")).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get(&user, &base).await.0, StatusCode::NOT_FOUND);
    app.stop().await;
}
on_both_backends!(roles, project_roles_decide_who_manages_members);

async fn me_and_is_member_follow_membership(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let pi = app.user("pi", false).await;
    let other = app.user("other", false).await;
    let (_, a) = app
        .post(&pi, "/api/projects", json!({ "title": "A" }))
        .await;
    app.clock.advance_secs(1);
    let (_, b) = app
        .post(&other, "/api/projects", json!({ "title": "B" }))
        .await;
    let (a, b) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    app.post(
        &other,
        &format!("/api/projects/{b}/members"),
        json!({ "username": "pi", "role": "ADMIN" }),
    )
    .await;

    let (status, me) = app.get(&pi, "/api/me").await;
    assert_eq!(status, StatusCode::OK);
    let projects: Vec<_> = me["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap(),
                p["title"].as_str().unwrap(),
                p["role"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(projects, [(a, "A", "PI"), (b, "B", "ADMIN")]);
    assert_eq!(app.get(&pi, "/api/projects").await.1, me["projects"]);

    let projects = &app.app.projects;
    let pi_id = app.app.accounts.user("pi").await.unwrap().id;
    let other_id = app.app.accounts.user("other").await.unwrap().id;
    assert!(projects.is_member(pi_id, a).await.unwrap());
    assert!(projects.is_member(pi_id, b).await.unwrap());
    assert!(!projects.is_member(other_id, a).await.unwrap());
    assert!(!projects.is_member(pi_id, "no-such-project").await.unwrap());
    app.stop().await;
}
on_both_backends!(membership, me_and_is_member_follow_membership);
