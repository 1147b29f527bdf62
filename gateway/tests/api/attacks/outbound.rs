//! Attacks on the gateway's calls to providers (SPEC §1): a test provider used as a port scanner
//! of the gateway's host, numeric IPv4 spellings as production domains, production providers
//! fetched before an admin vetted them, and production domains that lead to loopback.

use crate::manifests::dev_certs;
use crate::on_both_backends;
use crate::provider_double::{Behaviour, Double, VALID};
use crate::support::{Backend, TestApp};
use gateway::model::ManifestRecord;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A TCP port that accepts connections, counts them and hangs up at once.
async fn hang_up_port() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (port, accepted)
}

/// A provider double's behaviour: serve a valid manifest.
fn serving_valid() -> Behaviour {
    Behaviour::Serve {
        body: VALID.into(),
        content_type: "application/yaml",
        etag: None,
    }
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

async fn reload(app: &TestApp, token: &str, id: &str) -> (StatusCode, Value) {
    app.post(
        token,
        &format!("/api/providers/{id}/manifest/reload"),
        json!({}),
    )
    .await
}

async fn the_owner_cannot_tell_a_closed_port_from_one_that_hangs_up(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.user("owner", false).await;
    let (open, accepted) = hang_up_port().await;
    for (id, port) in [("scan-closed", closed_port()), ("scan-open", open)] {
        let body =
            json!({ "id": id, "domain": "127.0.0.1", "https": false, "port": port, "env": "test" });
        assert_eq!(
            app.post(&owner, "/api/providers", body).await.0,
            StatusCode::CREATED
        );
    }
    let (closed_status, closed) = reload(&app, &owner, "scan-closed").await;
    let (open_status, opened) = reload(&app, &owner, "scan-open").await;
    assert!(
        accepted.load(Ordering::SeqCst) >= 1,
        "the open port was dialled"
    );
    assert_eq!(closed_status, StatusCode::BAD_GATEWAY, "{closed}");
    assert_eq!(open_status, closed_status, "{opened}");
    assert_eq!(
        opened["detail"], closed["detail"],
        "the answer is the same for both ports"
    );
    let detail = closed["detail"].as_str().unwrap();
    assert!(detail.starts_with("unreachable: "), "{detail}");
    for raw in ["os error", "refused", "closed", "connection", "tcp"] {
        assert!(
            !detail.to_lowercase().contains(raw),
            "raw socket text {raw:?}: {detail}"
        );
    }
    let (_, a) = app.get(&owner, "/api/providers/scan-closed").await;
    let (_, b) = app.get(&owner, "/api/providers/scan-open").await;
    assert_eq!(a["manifestError"], b["manifestError"]);
    assert_eq!(a["manifestError"].as_str(), Some(detail));
}
on_both_backends!(
    the_owner_cannot_tell_a_closed_port_from_one_that_hangs_up_,
    the_owner_cannot_tell_a_closed_port_from_one_that_hangs_up
);

async fn numeric_ipv4_spellings_are_refused_as_production_domains(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.user("mallory", false).await;
    for (n, domain) in [
        "127.1",
        "2130706433",
        "0x7f.1",
        "017700000001",
        "0x7f000001",
        "127.0.0.1",
        "::1",
    ]
    .into_iter()
    .enumerate()
    {
        let body = json!({ "id": format!("num{n}"), "domain": domain, "https": true, "port": 8443, "env": "production" });
        let (status, problem) = app.post(&user, "/api/providers", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{domain}: {problem}");
        assert_eq!(problem["code"], "invalidInput");
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.contains("domain") && detail.contains(domain),
            "{detail}"
        );
    }
    let admin = app.user("root", true).await;
    let (_, all) = app.get(&admin, "/api/providers").await;
    assert_eq!(all, json!([]), "nothing was registered");
}
on_both_backends!(
    numeric_ipv4_spellings_are_refused_as_production_domains_,
    numeric_ipv4_spellings_are_refused_as_production_domains
);

async fn a_production_provider_is_not_fetched_before_an_admin_approves_it(backend: Backend) {
    let certs = dev_certs("pending");
    let double = Double::https("hpc", &certs, serving_valid()).await;
    let ca = certs.join("ca.pem");
    let app = TestApp::spawn_with(backend, |c| {
        c.manifest.extra_roots = vec![ca];
        c.manifest.allow_private = vec!["localhost".into()];
    })
    .await;
    let owner = app.user("owner", false).await;
    let body = json!({ "id": "hpc", "domain": "localhost", "https": true, "port": double.port, "env": "production" });
    let (status, reg) = app.post(&owner, "/api/providers", body).await;
    assert_eq!(
        (status, reg["status"].as_str()),
        (StatusCode::CREATED, Some("pendingApproval"))
    );

    // Neither the refresher nor the owner's reload calls the provider while it is pending.
    app.app.manifests.refresh_due().await.unwrap();
    let (status, problem) = reload(&app, &owner, "hpc").await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "providerNotApproved");
    assert!(
        problem["detail"].as_str().unwrap().contains("approv"),
        "{problem}"
    );
    assert_eq!(double.hits(), 0, "the provider was called before approval");

    // Approved: the next refresher round fetches it.
    let admin = app.user("root", true).await;
    app.approve(&admin, "hpc").await;
    assert_eq!(app.app.manifests.refresh_due().await.unwrap(), 1);
    assert_eq!(double.hits(), 1);
    assert!(app.app.manifests.current("hpc").is_some());
    let _ = std::fs::remove_dir_all(certs);
}
on_both_backends!(
    a_production_provider_is_not_fetched_before_an_admin_approves_it_,
    a_production_provider_is_not_fetched_before_an_admin_approves_it
);

async fn a_production_domain_resolving_to_loopback_is_refused_at_connect(backend: Backend) {
    let (port, accepted) = hang_up_port().await;
    let app = TestApp::spawn(backend).await;
    let owner = app.user("owner", false).await;
    let admin = app.user("root", true).await;
    let body = json!({ "id": "hpc", "domain": "localhost", "https": true, "port": port, "env": "production" });
    assert_eq!(
        app.post(&owner, "/api/providers", body).await.0,
        StatusCode::CREATED
    );
    app.approve(&admin, "hpc").await;

    // The manifest fetcher refuses the address and says why, in its class.
    let (status, problem) = reload(&app, &owner, "hpc").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{problem}");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("unreachable: ") && detail.contains("loopback"),
        "{detail}"
    );

    // The broker, for a provider whose manifest was fetched while its name was public and which
    // now resolves to loopback (DNS rebinding), refuses too.
    let record = ManifestRecord {
        manifest_json: Some(r#"{"features":{"storage":{"enabled":true}}}"#.into()),
        next_fetch_at: i64::MAX,
        ..ManifestRecord::default()
    };
    app.app
        .store
        .save_manifest_record("hpc", &record)
        .await
        .unwrap();
    app.app.manifests.reload_from_store().await.unwrap();
    let user = app.user("alice", false).await;
    let (status, problem) = app.get(&user, "/ucloud/hpc/storage/files").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{problem}");
    assert_eq!(problem["code"], "providerUnreachable");
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        0,
        "nothing connected to loopback"
    );
}
on_both_backends!(
    a_production_domain_resolving_to_loopback_is_refused_at_connect_,
    a_production_domain_resolving_to_loopback_is_refused_at_connect
);

// No database takes part: this drives the broker's HTTP client alone, so one run says it all.
#[tokio::test]
async fn the_broker_client_refuses_loopback_ip_spellings_at_connect_time() {
    use http_body_util::BodyExt;
    let (port, accepted) = hang_up_port().await;
    let upstreams = gateway::broker::Upstreams::new(
        &gateway::config::ManifestConfig::default(),
        std::time::Duration::from_secs(2),
    )
    .unwrap();
    // Hosts that skip a DNS resolver: a literal, and the spellings inet_aton reads as one.
    for host in ["127.0.0.1", "[::ffff:127.0.0.1]", "127.1", "2130706433"] {
        let body = http_body_util::Empty::<bytes::Bytes>::new()
            .map_err(|never| match never {})
            .boxed_unsync();
        let request = http::Request::get(format!("https://{host}:{port}/ucloud/hpc/storage/x"))
            .body(body)
            .unwrap();
        let result = upstreams.production.send(request, false).await;
        assert!(result.is_err(), "{host}");
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        0,
        "a connection reached loopback"
    );
}

async fn by_default_only_an_admin_may_register_a_test_provider(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.providers = gateway::config::Config::default().providers;
    })
    .await;
    let user = app.user("mallory", false).await;
    let body = json!({ "id": "scanner", "domain": "127.0.0.1", "https": false, "port": 22, "env": "test" });
    let (status, problem) = app.post(&user, "/api/providers", body.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert_eq!(problem["code"], "testRegistrationRestricted");
    assert!(
        problem["detail"].as_str().unwrap().contains("admin"),
        "{problem}"
    );
    let admin = app.user("root", true).await;
    let (status, registered) = app.post(&admin, "/api/providers", body).await;
    assert_eq!(status, StatusCode::CREATED, "{registered}");
    // A production provider is still anyone's to register (an admin approves it).
    let production =
        json!({ "id": "hpc", "domain": "hpc.example.org", "https": true, "env": "production" });
    assert_eq!(
        app.post(&user, "/api/providers", production).await.0,
        StatusCode::CREATED
    );
}
crate::on_both_backends!(by_default_only_an_admin_may_register_a_test_provider);

// No database takes part: this drives the two kinds of outbound client alone.
/// The client for production providers (broker, manifest fetch, unlink, rename) and the one for
/// identity providers are built from one policy: each refuses a loopback address its host was not
/// allowed onto before connecting, and each trusts exactly the system roots plus `extra_roots`.
#[tokio::test]
async fn the_provider_and_identity_provider_clients_refuse_the_same_address_and_trust_the_same_roots()
 {
    use gateway::outbound::{Bounds, CallError, OutboundConfig, ProviderClients, call, idp_client};
    let certs = dev_certs("policy");
    let double = Double::https("hpc", &certs, serving_valid()).await;
    let url = format!("https://localhost:{}/ucloud/hpc/manifest", double.port);
    let bounds = Bounds {
        timeout: std::time::Duration::from_secs(5),
        max_body: 64 * 1024,
    };
    let clients = |extra_roots: Vec<std::path::PathBuf>, allowed: &[&str]| {
        let allowed: Vec<String> = allowed.iter().map(|h| h.to_string()).collect();
        let config = OutboundConfig {
            extra_roots,
            allow_private: allowed.clone(),
            connect_timeout: std::time::Duration::from_secs(2),
        };
        let provider = ProviderClients::new(&config).unwrap().production;
        let idp = idp_client(&config, allowed, false).unwrap();
        [("provider", provider), ("identity provider", idp)]
    };
    let get = |client: gateway::outbound::HttpClient| {
        let url = url.clone();
        async move {
            let request = call::request(http::Method::GET, &url, "t", &[], None).unwrap();
            call::exchange(&client, request, bounds).await
        }
    };
    let ca = vec![certs.join("ca.pem")];

    for (kind, client) in clients(ca.clone(), &[]) {
        match get(client).await {
            Err(CallError::Forbidden(refused)) => {
                assert_eq!(
                    (refused.host.as_str(), refused.kind),
                    ("localhost", "loopback"),
                    "{kind}"
                );
            }
            other => panic!("{kind} client: {other:?}"),
        }
    }
    assert_eq!(double.hits(), 0, "no request reached the forbidden address");

    for (kind, client) in clients(ca, &["localhost"]) {
        let reply = get(client)
            .await
            .unwrap_or_else(|e| panic!("{kind} client: {e}"));
        assert_eq!(reply.status, http::StatusCode::OK, "{kind}");
        assert_eq!(reply.body, VALID.as_bytes(), "{kind}");
    }
    assert_eq!(double.hits(), 2);

    for (kind, client) in clients(Vec::new(), &["localhost"]) {
        match get(client).await {
            Err(CallError::Tls(why)) => assert!(why.contains("trusted CA"), "{kind}: {why}"),
            other => panic!("{kind} client trusted a CA it was not given: {other:?}"),
        }
    }
    assert_eq!(
        double.hits(),
        2,
        "no request crossed an untrusted handshake"
    );
}
