//! Attacks: password guessing and sign-in floods (SPEC §7). Failures are counted per username and
//! per client address in the database; a lock refuses even the right password; the web form and the
//! API share one throttle; `X-Forwarded-For` counts only behind a trusted proxy.

use crate::on_both_backends;
use crate::support::{Backend, TestApp, cookie_pair, read};
use reqwest::StatusCode;
use serde_json::Value;

async fn status_and_body(r: reqwest::Response) -> (StatusCode, Option<String>, Value) {
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = read(r).await;
    (status, retry, body)
}

async fn five_wrong_guesses_lock_the_account_even_for_the_right_password(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("alice", false).await;
    for n in 1..=5 {
        let r = app.sign_in_as("alice", "wrong guess", None).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "guess {n}");
    }
    let (status, retry, body) =
        status_and_body(app.sign_in_as("alice", "guess 6", None).await).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["code"], "tooManyAttempts");
    assert_eq!(retry.as_deref(), Some("60"));
    let r = app.sign_in_as("Alice", "alice-password", None).await;
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the right password during the lock is refused the same way (and case does not escape it)"
    );
    assert!(r.headers().get("set-cookie").is_none());

    app.clock.advance_secs(61);
    let r = app.sign_in_as("alice", "guess 7", None).await;
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "once the lock has run out, one more password is checked"
    );
    let (status, retry, _) =
        status_and_body(app.sign_in_as("alice", "alice-password", None).await).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        retry.as_deref(),
        Some("120"),
        "and its failure doubles the lock"
    );
    app.clock.advance_secs(121);
    let r = app.sign_in_as("alice", "alice-password", None).await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "the right password after the lock"
    );
    let r = app.sign_in_as("alice", "one more typo", None).await;
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "a successful sign-in starts the username afresh"
    );
}
on_both_backends!(
    five_wrong_guesses_lock_the_account_even_for_the_right_password,
    five_wrong_guesses_lock_the_account_even_for_the_right_password
);

async fn a_burst_of_concurrent_guesses_cannot_slip_past_the_count(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("bob", false).await;
    let guesses = (0..40).map(|i| {
        let app = &app;
        async move {
            app.sign_in_as("bob", &format!("guess {i}"), None)
                .await
                .status()
        }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(
        (checked, refused),
        (5, 35),
        "only five passwords are ever checked: {statuses:?}"
    );
}
on_both_backends!(
    a_burst_of_concurrent_guesses_cannot_slip_past_the_count,
    a_burst_of_concurrent_guesses_cannot_slip_past_the_count
);

async fn one_address_guessing_many_usernames_is_locked_too(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("carol", false).await;
    for n in 0..5 {
        let r = app.sign_in_as(&format!("nobody{n}"), "x", None).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = app.sign_in_as("carol", "carol-password", None).await;
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the address is locked whichever account it tries"
    );
    // Without a trusted proxy, X-Forwarded-For is the client's own say-so and changes nothing.
    let r = app
        .sign_in_as("carol", "carol-password", Some("198.51.100.77"))
        .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
}
on_both_backends!(
    one_address_guessing_many_usernames_is_locked_too,
    one_address_guessing_many_usernames_is_locked_too
);

async fn behind_a_trusted_proxy_each_client_address_counts_apart(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    app.user("dave", false).await;
    for n in 0..5 {
        let r = app
            .sign_in_as(&format!("nobody{n}"), "x", Some("198.51.100.1"))
            .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = app
        .sign_in_as("dave", "dave-password", Some("198.51.100.1"))
        .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let r = app
        .sign_in_as("dave", "dave-password", Some("198.51.100.2"))
        .await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "another client behind the same proxy is not locked out"
    );
    let r = app
        .sign_in_as("dave", "dave-password", Some("198.51.100.1, 198.51.100.3"))
        .await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "the rightmost untrusted hop is the client, not what the client prepended"
    );
}
on_both_backends!(
    behind_a_trusted_proxy_each_client_address_counts_apart,
    behind_a_trusted_proxy_each_client_address_counts_apart
);

async fn the_sign_in_page_shares_the_throttle_and_says_how_long_to_wait(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("erin", false).await;
    for _ in 0..5 {
        app.sign_in_as("erin", "wrong", None).await;
    }
    let form = app.http.get(app.url("/login")).send().await.unwrap();
    let login_cookie = cookie_pair(&form);
    let token = login_cookie.split_once('=').unwrap().1.to_owned();
    let r = app
        .http
        .post(app.url("/login"))
        .header("cookie", &login_cookie)
        .form(&[
            ("username", "erin"),
            ("password", "erin-password"),
            ("login_csrf", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "60");
    assert!(
        r.headers()
            .get_all("set-cookie")
            .iter()
            .all(|c| !c.to_str().unwrap().starts_with("gw_session="))
    );
    let page = r.text().await.unwrap();
    assert!(page.contains("Wait 60 seconds"), "{page}");
}
on_both_backends!(
    the_sign_in_page_shares_the_throttle_and_says_how_long_to_wait,
    the_sign_in_page_shares_the_throttle_and_says_how_long_to_wait
);

async fn another_site_cannot_sign_a_visitor_in_with_a_form_post(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("mallory", false).await;
    let r = app
        .http
        .post(app.url("/auth/login"))
        .header("origin", "https://evil.example")
        .form(&[("username", "mallory"), ("password", "mallory-password")])
        .send()
        .await
        .unwrap();
    assert!(
        r.headers().get("set-cookie").is_none(),
        "no session for the form"
    );
    let (status, body) = read(r).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "invalidInput");
}
on_both_backends!(
    another_site_cannot_sign_a_visitor_in_with_a_form_post,
    another_site_cannot_sign_a_visitor_in_with_a_form_post
);

async fn signing_out_ends_that_session_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("frank", false).await;
    let laptop = app.session_cookie("frank").await;
    let phone = app.session_cookie("frank").await;
    for cookie in [laptop.as_str(), "gw_session=gws_not-a-session"] {
        let r = app
            .http
            .post(app.url("/auth/logout"))
            .header("cookie", cookie)
            .header("origin", &app.url)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }
    let me = |cookie: String| {
        let app = &app;
        async move {
            app.http
                .get(app.url("/api/me"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(me(laptop).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        me(phone).await,
        StatusCode::OK,
        "the other session lives on"
    );
}
on_both_backends!(
    signing_out_ends_that_session_only,
    signing_out_ends_that_session_only
);

async fn after_sign_in_the_browser_stays_on_the_gateway(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("gina", false).await;
    let form = app.http.get(app.url("/login")).send().await.unwrap();
    let login_cookie = cookie_pair(&form);
    let token = login_cookie.split_once('=').unwrap().1.to_owned();
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for next in ["/\t/evil.example", "/\n/evil.example", "/ /evil.example"] {
        let r = no_redirects
            .post(app.url("/login"))
            .header("cookie", &login_cookie)
            .form(&[
                ("username", "gina"),
                ("password", "gina-password"),
                ("login_csrf", token.as_str()),
                ("next", next),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{next:?}");
        assert_eq!(r.headers()["location"], "/providers", "{next:?}");
    }
}
crate::on_both_backends!(after_sign_in_the_browser_stays_on_the_gateway);
