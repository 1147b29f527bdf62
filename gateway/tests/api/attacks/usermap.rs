//! Attacks: usermap (SPEC §4 ▲). The link hijack — an initiator hands their attempt to a victim's
//! browser and completes it after the victim signed in at the provider — and its variants around
//! the completion code; implicit reports that would map users who never used a provider, or tell
//! a provider which usernames exist.

use crate::connections::{
    IMPLICIT, World, attempt, broker, complete, complete_with, implicit_report, listed, report,
    reported, return_to_gateway, session, session_as, state, world_on,
};
use crate::on_both_backends;
use crate::support::Backend;
use reqwest::StatusCode;

/// Mallory starts a connection and sends its form to Alice's browser; Alice signs in at the
/// provider with her local account, which reports it for Mallory's attempt and sends Alice's
/// browser back with the code. Mallory then completes with his own session: refused, the attempt
/// ends, and Alice's browser cannot complete it afterwards either.
async fn the_initiator_cannot_complete_an_attempt_a_victim_signed_in_to(backend: Backend) {
    let w = world_on(backend, crate::connections::EXPLICIT).await;
    let mallory = session(&w.app, "mallory").await;
    let alice = session(&w.app, "alice").await;
    let (id, nonce) = attempt(&w.app, &mallory).await;
    let code = reported(&w, &nonce, "mallory", "alice_local").await;

    let (status, page) = return_to_gateway(&w.app, &id, &nonce, None, Some(&mallory)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("cancelled"), "{page}");
    let mine = listed(&w.app, &mallory).await;
    assert_eq!(mine["state"], "failed", "{mine}");
    assert!(
        mine["comment"]
            .as_str()
            .is_some_and(|c| c.contains("completion code")),
        "the comment says why: {mine}"
    );

    // The victim's browser comes back with the code: nothing to complete any more, for anyone.
    let (status, _) = return_to_gateway(&w.app, &id, &nonce, Some(&code), Some(&alice)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        complete_with(&w.app, &id, &nonce, &code, &mallory).await,
        StatusCode::BAD_REQUEST,
        "even the stolen code completes nothing now"
    );
    assert_eq!(state(&w.app, &mallory).await, "failed");
    assert_eq!(
        broker(&w.app, &mallory).await,
        StatusCode::FORBIDDEN,
        "Mallory is not brokered as Alice's local account"
    );
    assert_eq!(
        *w.up.unlinked.lock().unwrap(),
        ["mallory"],
        "the provider is told to forget the mapping it recorded for the ended attempt, so \
         Alice's local account is free to connect to her own gateway account"
    );
}
on_both_backends!(
    the_initiator_cannot_complete_an_attempt_a_victim_signed_in_to,
    the_initiator_cannot_complete_an_attempt_a_victim_signed_in_to
);

/// The victim's browser, signed in to the gateway as the victim, comes back first: the attempt
/// ends at once with a comment for the initiator, and the initiator's code-carrying return is refused.
async fn a_return_with_another_users_session_ends_the_attempt(backend: Backend) {
    let w = world_on(backend, crate::connections::EXPLICIT).await;
    let mallory = session(&w.app, "mallory").await;
    let alice = session(&w.app, "alice").await;
    let (id, nonce) = attempt(&w.app, &mallory).await;
    let code = reported(&w, &nonce, "mallory", "alice_local").await;
    let (status, page) = return_to_gateway(&w.app, &id, &nonce, Some(&code), Some(&alice)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        page.contains("started by another gateway user"),
        "the victim is told what happened: {page}"
    );
    let mine = listed(&w.app, &mallory).await;
    assert_eq!(mine["state"], "failed", "{mine}");
    assert!(
        mine["comment"]
            .as_str()
            .is_some_and(|c| c.contains("another gateway user")),
        "{mine}"
    );
    assert_eq!(
        complete_with(&w.app, &id, &nonce, &code, &mallory).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(state(&w.app, &mallory).await, "failed");
}
on_both_backends!(
    a_return_with_another_users_session_ends_the_attempt,
    a_return_with_another_users_session_ends_the_attempt
);

/// The starting session without the code, or with a made-up one, completes nothing.
async fn a_completion_without_the_code_is_refused(backend: Backend) {
    let w = world_on(backend, crate::connections::EXPLICIT).await;
    let alice = session(&w.app, "alice").await;
    let (id, nonce) = attempt(&w.app, &alice).await;
    reported(&w, &nonce, "alice", "alice01").await;
    assert_eq!(
        complete(&w.app, &id, &nonce, &alice).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(state(&w.app, &alice).await, "failed");

    let (id, nonce) = attempt(&w.app, &alice).await;
    reported(&w, &nonce, "alice", "alice01").await;
    let guess = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    assert_eq!(
        complete_with(&w.app, &id, &nonce, guess, &alice).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(state(&w.app, &alice).await, "failed");
}
on_both_backends!(
    a_completion_without_the_code_is_refused,
    a_completion_without_the_code_is_refused
);

/// A code completes its own attempt once, and never another attempt.
async fn a_completion_code_is_single_use_and_bound_to_its_attempt(backend: Backend) {
    let w = world_on(backend, crate::connections::EXPLICIT).await;
    let alice = session(&w.app, "alice").await;
    let (first, first_nonce) = attempt(&w.app, &alice).await;
    let first_code = reported(&w, &first_nonce, "alice", "alice01").await;
    assert_eq!(
        complete_with(&w.app, &first, &first_nonce, &first_code, &alice).await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        complete_with(&w.app, &first, &first_nonce, &first_code, &alice).await,
        StatusCode::BAD_REQUEST,
        "reused"
    );
    assert_eq!(state(&w.app, &alice).await, "ok");

    let r = w
        .app
        .http
        .delete(w.app.url("/api/connections/dev"))
        .header("cookie", &alice)
        .header("origin", &w.app.url)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (second, second_nonce) = attempt(&w.app, &alice).await;
    let second_code = reported(&w, &second_nonce, "alice", "alice01").await;
    assert_ne!(first_code, second_code);
    assert_eq!(
        complete_with(&w.app, &second, &second_nonce, &first_code, &alice).await,
        StatusCode::FORBIDDEN,
        "the first attempt's code does not complete the second"
    );
    assert_eq!(state(&w.app, &alice).await, "failed");
}
on_both_backends!(
    a_completion_code_is_single_use_and_bound_to_its_attempt,
    a_completion_code_is_single_use_and_bound_to_its_attempt
);

/// A browser without a gateway session is told to sign in, and the attempt stays as it was.
async fn a_completion_without_a_session_changes_nothing(backend: Backend) {
    let w = world_on(backend, crate::connections::EXPLICIT).await;
    let alice = session(&w.app, "alice").await;
    let (id, nonce) = attempt(&w.app, &alice).await;
    let code = reported(&w, &nonce, "alice", "alice01").await;
    for cookie in [None, Some("gw_session=made-up")] {
        let (status, page) = return_to_gateway(&w.app, &id, &nonce, Some(&code), cookie).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{page}");
        assert!(page.contains("not signed in"), "{page}");
        assert_eq!(state(&w.app, &alice).await, "creating");
    }
    assert_eq!(
        complete_with(&w.app, &id, &nonce, &code, &alice).await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(state(&w.app, &alice).await, "ok");
}
on_both_backends!(
    a_completion_without_a_session_changes_nothing,
    a_completion_without_a_session_changes_nothing
);

async fn implicit_world(backend: Backend) -> World {
    world_on(backend, IMPLICIT).await
}

/// An implicit report for a user who never used the provider is the same `404` as one for a user
/// who does not exist; after a brokered request it is taken.
async fn an_implicit_report_for_a_user_who_never_brokered_looks_like_an_unknown_user(
    backend: Backend,
) {
    let w = implicit_world(backend).await;
    let alice = session(&w.app, "alice").await;
    let (status, never) = report(&w, implicit_report("alice", "alice01")).await;
    let (unknown_status, unknown) = report(&w, implicit_report("nobody", "alice01")).await;
    assert_eq!(
        (status, never["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("noSuchConnection")),
        "{never}"
    );
    assert_eq!((unknown_status, &unknown), (status, &never), "identical");
    assert!(listed(&w.app, &alice).await.is_null(), "no connection made");

    // A user the provider is not visible to cannot be reported either (here: not an admin, and
    // the provider is a test provider owned by someone else).
    let bob = session_as(&w.app, "bob", false).await;
    assert_eq!(
        report(&w, implicit_report("bob", "bob01")).await,
        (status, never.clone())
    );
    assert!(listed(&w.app, &bob).await.is_null());

    assert_eq!(broker(&w.app, &alice).await, StatusCode::OK);
    let (status, connection) = report(&w, implicit_report("alice", "alice01")).await;
    assert_eq!(status, StatusCode::OK, "{connection}");
    assert_eq!(connection["state"], "ok");
}
on_both_backends!(
    an_implicit_report_for_a_user_who_never_brokered_looks_like_an_unknown_user,
    an_implicit_report_for_a_user_who_never_brokered_looks_like_an_unknown_user
);

/// A provider that maps explicitly cannot skip the flow with an implicit report.
async fn an_implicit_report_to_an_explicit_mapping_provider_is_refused(backend: Backend) {
    let w = world_on(backend, crate::connections::EXPLICIT).await;
    let alice = session(&w.app, "alice").await;
    let (_, unknown) = report(&w, implicit_report("nobody", "x1")).await;
    let (status, problem) = report(&w, implicit_report("alice", "alice01")).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("noSuchConnection")),
        "{problem}"
    );
    assert_eq!(problem, unknown);
    assert!(listed(&w.app, &alice).await.is_null());
    assert_eq!(broker(&w.app, &alice).await, StatusCode::FORBIDDEN);
}
on_both_backends!(
    an_implicit_report_to_an_explicit_mapping_provider_is_refused,
    an_implicit_report_to_an_explicit_mapping_provider_is_refused
);
