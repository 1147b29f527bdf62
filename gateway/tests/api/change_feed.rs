//! The change feed (SPEC §10): what another process on the same database changes — a replica, or a
//! `gateway` CLI command beside `serve` — reaches this process's caches within a second, on both
//! backends. The other process is a second `App` on the same database that is not serving.

use crate::support::{Backend, TestApp, wait_until};
use gateway::audit::Actor;
use reqwest::StatusCode;
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(1);

async fn other_process(app: &TestApp) -> gateway::app::AppState {
    gateway::app::App::build(app.app.config.clone(), app.url.clone(), app.clock.clone())
        .await
        .unwrap()
}

/// Polls `GET /api/me` with `token` until it answers `status`.
async fn me_answers(app: &TestApp, token: &str, status: StatusCode) {
    wait_until(WITHIN, || async {
        (app.get(token, "/api/me").await.0 == status).then_some(())
    })
    .await;
}

async fn a_user_suspended_by_another_process_is_refused_here_within_a_second(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.user("alice", false).await;
    assert_eq!(
        app.get(&token, "/api/me").await.0,
        StatusCode::OK,
        "cached now"
    );
    let other = other_process(&app).await;
    other
        .accounts
        .suspend(&Actor::Operator, "alice", None)
        .await
        .unwrap();
    me_answers(&app, &token, StatusCode::FORBIDDEN).await;
    other
        .accounts
        .resume(&Actor::Operator, "alice")
        .await
        .unwrap();
    me_answers(&app, &token, StatusCode::OK).await;
    app.stop().await;
}
crate::on_both_backends!(
    suspended_elsewhere,
    a_user_suspended_by_another_process_is_refused_here_within_a_second
);

async fn an_api_token_deleted_by_another_process_stops_working_here_within_a_second(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let token = app.user("alice", false).await;
    let kept = app.user("bob", false).await;
    assert_eq!(app.get(&token, "/api/me").await.0, StatusCode::OK);
    assert_eq!(app.get(&kept, "/api/me").await.0, StatusCode::OK);
    let other = other_process(&app).await;
    let alice = other
        .store
        .user_by_username("alice")
        .await
        .unwrap()
        .unwrap();
    let tokens = other.accounts.api_tokens(&alice).await.unwrap();
    other
        .accounts
        .delete_api_token(&alice, &tokens[0].id)
        .await
        .unwrap();
    me_answers(&app, &token, StatusCode::UNAUTHORIZED).await;
    assert_eq!(
        app.get(&kept, "/api/me").await.0,
        StatusCode::OK,
        "only that token"
    );
    app.stop().await;
}
crate::on_both_backends!(
    token_deleted_elsewhere,
    an_api_token_deleted_by_another_process_stops_working_here_within_a_second
);

async fn a_provider_suspended_by_another_process_is_suspended_here_within_a_second(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let owner = app.user("owner", false).await;
    let (status, _) = app.register(&owner, "hpc", "test").await;
    assert_eq!(status, StatusCode::CREATED);
    let cached = app.app.registry.cached("hpc").await.unwrap().unwrap();
    assert_eq!(cached.status, gateway::model::ProviderStatus::Active);
    let other = other_process(&app).await;
    other
        .registry
        .apply(
            "hpc",
            gateway::registry::Action::Suspend,
            &gateway::audit::Actor::Operator,
        )
        .await
        .unwrap();
    wait_until(WITHIN, || async {
        let p = app.app.registry.cached("hpc").await.unwrap().unwrap();
        (p.status == gateway::model::ProviderStatus::Suspended).then_some(())
    })
    .await;
    app.stop().await;
}
crate::on_both_backends!(
    provider_suspended_elsewhere,
    a_provider_suspended_by_another_process_is_suspended_here_within_a_second
);

async fn a_token_signed_with_a_key_rotated_in_elsewhere_a_moment_ago_verifies_here(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let owner = app.user("owner", false).await;
    let (_, reg) = app.register(&owner, "hpc", "test").await;
    let refresh = reg["refreshToken"].as_str().unwrap();
    // Neither replica serves, so neither follows the feed: only the re-read on an unknown kid can
    // let the second verify what the first signs with a key it rotated in with `--immediate`.
    let first = other_process(&app).await;
    let second = other_process(&app).await;
    let rotated = first
        .keys
        .rotate(gateway::keys::Activation::Now)
        .await
        .unwrap();
    let token = first.tokens.refresh(refresh).await.unwrap().token;
    assert!(token.len() > 100);
    assert_eq!(second.keys.verifying_key(&rotated.kid).map(|_| ()), None);
    let provider = second.tokens.verify_access_token(&token).await.unwrap();
    assert_eq!(provider.metadata.id.as_str(), "hpc");
    assert!(
        second.keys.jwks().keys.iter().any(|k| k.kid == rotated.kid),
        "and the JWK Set it publishes now holds the key that signs"
    );
    app.stop().await;
}
crate::on_both_backends!(
    unknown_kid_rereads,
    a_token_signed_with_a_key_rotated_in_elsewhere_a_moment_ago_verifies_here
);
