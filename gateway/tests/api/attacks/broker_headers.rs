//! Attacks: broker_headers. Header spoofing by omission (a caller's header the provider trusts) and
//! a provider's response headers acting on the gateway's origin (cookies, CORS, service workers,
//! redirects off-site).

use crate::broker::recorded_federation;
use crate::support::Backend;
use reqwest::StatusCode;

const MANIFEST: &str = "features:\n  storage: { enabled: true }\n";

/// Headers that some provider stack somewhere treats as the truth about the caller or the request.
const SPOOFED: [(&str, &str); 22] = [
    ("x-original-url", "/ucloud/dev/usermap"),
    ("x-rewrite-url", "/ucloud/dev/usermap"),
    ("x-http-method-override", "DELETE"),
    ("x-http-method", "DELETE"),
    ("x-method-override", "DELETE"),
    ("x-forwarded-for", "10.0.0.1"),
    ("x-forwarded-host", "evil.example"),
    ("x-forwarded-proto", "https"),
    ("x-forwarded-prefix", "/admin"),
    ("x-real-ip", "10.0.0.1"),
    ("forwarded", "for=10.0.0.1;host=evil.example"),
    ("x-forwarded-access-token", "forged"),
    ("x-forwarded-client-cert", "Hash=forged"),
    ("x-amzn-oidc-identity", "root"),
    ("x-amzn-oidc-data", "forged"),
    ("cf-access-authenticated-user-email", "root@example.org"),
    ("cf-access-jwt-assertion", "forged"),
    ("x-ms-client-principal", "forged"),
    ("x-ms-client-principal-name", "root"),
    ("impersonate-user", "root"),
    ("impersonate-group", "system:masters"),
    ("origin", "https://evil.example"),
];

async fn no_spoofed_request_header_reaches_the_provider_and_the_gateway_says_who_forwarded(
    backend: Backend,
) {
    let (app, provider, owner) = recorded_federation(backend, MANIFEST).await;
    let mut request = app
        .http
        .get(app.url("/ucloud/dev/storage/x"))
        .bearer_auth(&owner)
        .header("accept", "application/json")
        .header("x-provider-job", "42");
    for (name, value) in SPOOFED {
        request = request.header(name, value);
    }
    let r = request.send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let seen = provider.requests().pop().unwrap().headers;
    for (name, value) in SPOOFED {
        let got: Vec<_> = seen.get_all(name).iter().collect();
        assert!(
            got.iter().all(|v| *v != value),
            "{name}: {value} reached the provider"
        );
    }
    for name in [
        "x-original-url",
        "x-rewrite-url",
        "x-http-method-override",
        "forwarded",
        "origin",
    ] {
        assert!(!seen.contains_key(name), "{name} reached the provider");
    }
    assert_eq!(
        seen["x-forwarded-for"], "127.0.0.1",
        "the caller's peer address"
    );
    let host = app.url.trim_start_matches("http://");
    assert_eq!(seen["x-forwarded-host"], host);
    assert_eq!(seen["x-forwarded-proto"], "http");
    assert_eq!(seen["accept"], "application/json");
    assert_eq!(seen["x-provider-job"], "42");
}
crate::on_both_backends!(
    no_spoofed_request_header_reaches_the_provider_and_the_gateway_says_who_forwarded
);

async fn no_forbidden_response_header_reaches_the_caller_and_the_gateway_sandboxes_the_page(
    backend: Backend,
) {
    let (app, provider, owner) = recorded_federation(backend, MANIFEST).await;
    provider.answer(
        200,
        &[
            ("content-type", "text/html"),
            ("set-cookie", "gw_session=attacker; Path=/; HttpOnly"),
            ("clear-site-data", "\"cookies\""),
            ("access-control-allow-origin", "https://evil.example"),
            ("access-control-allow-credentials", "true"),
            ("service-worker-allowed", "/"),
            ("refresh", "0; url=https://evil.example/"),
            ("strict-transport-security", "max-age=0"),
            ("content-security-policy", "script-src *"),
            ("x-content-type-options", "sniff"),
            ("x-provider-job", "42"),
            ("etag", "\"v1\""),
            ("cache-control", "private, max-age=60"),
        ],
        "<script>fetch('/tokens')</script>",
    );
    let r = app
        .http
        .get(app.url("/ucloud/dev/storage/page"))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers();
    for name in [
        "set-cookie",
        "clear-site-data",
        "access-control-allow-origin",
        "access-control-allow-credentials",
        "service-worker-allowed",
        "refresh",
        "strict-transport-security",
    ] {
        assert!(!h.contains_key(name), "{name} reached the caller");
    }
    let all = |name: &str| {
        h.get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        all("content-security-policy"),
        ["sandbox; default-src 'none'; frame-ancestors 'none'"]
    );
    assert_eq!(all("x-content-type-options"), ["nosniff"]);
    assert_eq!(all("cross-origin-resource-policy"), ["same-origin"]);
    assert_eq!(all("referrer-policy"), ["no-referrer"]);
    assert_eq!(all("x-provider-job"), ["42"]);
    assert_eq!(all("etag"), ["\"v1\""]);
    assert_eq!(
        all("cache-control"),
        ["private, max-age=60"],
        "the provider's caching policy stays: no-store is for the gateway's own answers"
    );
    assert_eq!(all("x-request-id").len(), 1, "the request's id, once");
    assert_eq!(all("content-type"), ["text/html"]);
}
crate::on_both_backends!(
    no_forbidden_response_header_reaches_the_caller_and_the_gateway_sandboxes_the_page
);

/// The front gives a brokered answer the gateway's own headers without its `no-store`: a provider
/// that sets no caching policy gets none added, and the caller's request id comes back once.
async fn a_brokered_answer_gets_the_gateways_headers_but_not_its_caching_policy(backend: Backend) {
    let (app, provider, owner) = recorded_federation(backend, MANIFEST).await;
    provider.answer(200, &[("content-type", "application/json")], "{}");
    let r = app
        .http
        .get(app.url("/ucloud/dev/storage/page"))
        .bearer_auth(&owner)
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers();
    assert!(
        !h.contains_key("cache-control"),
        "no-store is for the gateway's own answers: {h:?}"
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    let ids: Vec<_> = h.get_all("x-request-id").iter().collect();
    assert_eq!(ids, ["trace-me-42"], "the caller's id, once");
}
crate::on_both_backends!(a_brokered_answer_gets_the_gateways_headers_but_not_its_caching_policy);

async fn a_location_reaches_the_caller_only_while_it_stays_in_the_providers_namespace(
    backend: Backend,
) {
    let (app, provider, owner) = recorded_federation(backend, MANIFEST).await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let location_for = |location: String| {
        provider.answer(302, &[("location", &location)], "");
        let (http, url, owner) = (
            no_redirects.clone(),
            app.url("/ucloud/dev/storage/a/b"),
            owner.clone(),
        );
        async move {
            let r = http.get(url).bearer_auth(owner).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::FOUND);
            r.headers()
                .get("location")
                .map(|v| v.to_str().unwrap().to_owned())
        }
    };
    let absolute = app.url("/ucloud/dev/storage/c");
    for kept in ["c", "../x", "/ucloud/dev/storage/done", absolute.as_str()] {
        assert_eq!(
            location_for(kept.to_owned()).await.as_deref(),
            Some(kept),
            "{kept} should be kept"
        );
    }
    let other_port = app.url.rsplit_once(':').unwrap().0.to_owned() + ":1/ucloud/dev/x";
    for dropped in [
        "https://evil.example/",
        "//evil.example/ucloud/dev/x",
        "/tokens",
        "../../../../tokens",
        "/ucloud/dev/../../tokens",
        "/ucloud/other/x",
        other_port.as_str(),
    ] {
        assert_eq!(
            location_for(dropped.to_owned()).await,
            None,
            "{dropped} should be dropped"
        );
    }
}
crate::on_both_backends!(
    a_location_reaches_the_caller_only_while_it_stays_in_the_providers_namespace
);

async fn a_safe_request_id_is_kept_end_to_end_and_an_unsafe_one_is_replaced(backend: Backend) {
    let (app, provider, owner) = recorded_federation(backend, MANIFEST).await;
    let send = |id: Option<&'static str>| {
        let mut r = app
            .http
            .get(app.url("/ucloud/dev/storage/x"))
            .bearer_auth(&owner);
        if let Some(id) = id {
            r = r.header("x-request-id", id);
        }
        r.send()
    };
    let r = send(Some("trace-me_1.2")).await.unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-me_1.2");
    assert_eq!(
        provider.requests().pop().unwrap().headers["x-request-id"],
        "trace-me_1.2"
    );
    for unsafe_id in [Some("two words"), Some("<script>"), None] {
        let r = send(unsafe_id).await.unwrap();
        let returned = r.headers()["x-request-id"].to_str().unwrap().to_owned();
        let forwarded = provider.requests().pop().unwrap().headers["x-request-id"].clone();
        assert_eq!(forwarded, returned.as_str(), "{unsafe_id:?}");
        assert!(
            Some(returned.as_str()) != unsafe_id && !returned.is_empty(),
            "{unsafe_id:?}"
        );
    }
    let long = "a".repeat(129);
    let r = app
        .http
        .get(app.url("/ucloud/dev/storage/x"))
        .bearer_auth(&owner)
        .header("x-request-id", &long)
        .send()
        .await
        .unwrap();
    assert_ne!(r.headers()["x-request-id"], long.as_str());

    // A refusal carries the id too, so a user can quote it.
    let r = app
        .http
        .get(app.url("/ucloud/dev/compute/docker/x"))
        .bearer_auth(&owner)
        .header("x-request-id", "refused-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.headers()["x-request-id"], "refused-1");
}
crate::on_both_backends!(a_safe_request_id_is_kept_end_to_end_and_an_unsafe_one_is_replaced);
