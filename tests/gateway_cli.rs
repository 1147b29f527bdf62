//! The operator's path, with the real binary: create an admin and a token from the CLI, serve,
//! register a provider over HTTP, approve it, rotate and revoke signing keys from the CLI while the
//! server runs, then stop it with SIGTERM. Once on SQLite, once on PostgreSQL.

#![expect(
    clippy::unwrap_used,
    reason = "a test stops at the first unexpected value"
)]

use e2e::process::{Gateway, NewUser};
use e2e::{drop_postgres, fresh_postgres, wait_for};
use serde_json::{Value, json};
use std::time::Duration;

/// The journey; returns the server's log.
async fn operator_journey(gateway: Gateway) -> String {
    let created = gateway.run(
        &[
            "users",
            "create",
            "admin",
            "--email",
            "admin@example.org",
            "--first-name",
            "Ada",
            "--last-name",
            "Admin",
            "--admin",
            "--password-stdin",
        ],
        "a long password\n",
    );
    assert!(created.contains("admin"), "{created}");
    let token = gateway.run(&["tokens", "create", "admin", "--name", "e2e"], "");
    let token = token.trim_end_matches('\n');
    assert!(
        !token.contains('\n') && token.len() > 40,
        "the token is alone on its line"
    );

    let duplicate = gateway.run_raw(
        &[
            "users",
            "create",
            "admin",
            "--email",
            "a@example.org",
            "--first-name",
            "A",
            "--last-name",
            "B",
        ],
        "",
    );
    assert!(!duplicate.status.success());
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("taken"));

    let server = gateway.serve().await;
    let http = reqwest::Client::new();
    let me: Value = http
        .get(gateway.url("/api/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["principal"]["role"], "ADMIN");

    // Sign in with the password given on stdin.
    let r = http
        .post(gateway.url("/auth/login"))
        .json(&json!({ "username": "admin", "password": "a long password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let reg: Value = http
        .post(gateway.url("/api/providers"))
        .bearer_auth(token)
        .json(&json!({ "id": "hpc", "domain": "hpc.example.org", "https": true, "env": "production" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reg["status"], "pendingApproval");
    assert_eq!(
        gateway.run(&["providers", "approve", "hpc"], "").trim(),
        "hpc is now active"
    );
    let hpc: Value = http
        .get(gateway.url("/api/providers/hpc"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(hpc["status"], "active");

    // A provider the operator does not want is rejected: suspended, and audited.
    let r = http
        .post(gateway.url("/api/providers"))
        .bearer_auth(token)
        .json(&json!({ "id": "spam", "domain": "spam.example.org", "https": true, "env": "production" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(
        gateway.run(&["providers", "reject", "spam"], "").trim(),
        "spam is now suspended"
    );
    let again = gateway.run_raw(&["providers", "reject", "spam"], "");
    assert!(
        !again.status.success(),
        "only a waiting provider can be rejected"
    );

    let refresh = reg["refreshToken"].as_str().unwrap();
    let access = |refresh: String| {
        let http = http.clone();
        let url = gateway.url("/oauth/token");
        async move {
            let body: Value = http
                .post(url)
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh.as_str()),
                ])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            body["access_token"].as_str().map(str::to_owned)
        }
    };
    let first = access(refresh.to_owned()).await.expect("an access token");
    let old_kid = jsonwebtoken::decode_header(&first).unwrap().kid.unwrap();

    // Rotate from the CLI while the server runs; the server picks it up at its next reload.
    let new_kid = gateway
        .run(&["keys", "rotate", "--immediate"], "")
        .trim()
        .to_owned();
    assert_ne!(new_kid, old_kid);
    let next = wait_for(
        "the server to sign with the rotated key",
        Duration::from_secs(20),
        || {
            let fut = access(refresh.to_owned());
            let new_kid = new_kid.clone();
            async move {
                let token = fut.await?;
                (jsonwebtoken::decode_header(&token).ok()?.kid? == new_kid).then_some(token)
            }
        },
    )
    .await;
    assert!(!next.is_empty());
    let jwks: Value = http
        .get(gateway.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(
        kids,
        [new_kid.as_str(), old_kid.as_str()],
        "the old key stays published"
    );

    // Rotating the refresh token from the CLI stops the old one at once.
    let rotated = gateway
        .run(&["providers", "rotate-token", "hpc"], "")
        .trim()
        .to_owned();
    assert!(access(refresh.to_owned()).await.is_none());
    assert!(access(rotated.clone()).await.is_some());

    // A leaked key is revoked from the CLI: the running server drops it from its JWKS and refuses
    // the access tokens it signed at its next reload, without waiting for them to expire.
    let charge_status = |access: String| {
        let http = http.clone();
        let url = gateway.url("/api/accounting/charge");
        async move {
            let body = json!({ "chargeId": "c-1", "owner": { "username": "admin" }, "units": 1,
                               "description": "probe" });
            let r = http
                .post(url)
                .bearer_auth(access)
                .json(&body)
                .send()
                .await
                .unwrap();
            r.status().as_u16()
        }
    };
    assert_ne!(
        charge_status(first.clone()).await,
        401,
        "still a valid token"
    );
    let revoked = gateway.run(&["keys", "revoke", &old_kid], "");
    assert_eq!(
        revoked.trim(),
        format!("revoked {old_kid}"),
        "a retired key needs no replacement"
    );
    wait_for(
        "the server to drop the revoked key",
        Duration::from_secs(20),
        || {
            let (published, refused) = (
                published_kids(&http, &gateway),
                charge_status(first.clone()),
            );
            let old_kid = old_kid.clone();
            async move {
                let gone = !published.await.contains(&old_kid);
                (gone && refused.await == 401).then_some(())
            }
        },
    )
    .await;

    // Revoking the current key: a replacement is made that signs at once.
    let revoked = gateway.run(&["keys", "revoke", &new_kid], "");
    let replacement = revoked
        .lines()
        .find_map(|line| line.strip_prefix("new signing key "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("names the replacement: {revoked}"))
        .to_owned();
    wait_for(
        "the server to sign with the replacement",
        Duration::from_secs(20),
        || {
            let (published, token) = (published_kids(&http, &gateway), access(rotated.clone()));
            let (replacement, new_kid) = (replacement.clone(), new_kid.clone());
            async move {
                let token = token.await?;
                let signed_by = jsonwebtoken::decode_header(&token).ok()?.kid?;
                let published = published.await;
                (signed_by == replacement && !published.contains(&new_kid)).then_some(())
            }
        },
    )
    .await;

    // An unknown kid is a clear error and a non-zero exit.
    let unknown = gateway.run_raw(&["keys", "revoke", "no-such-kid"], "");
    assert!(!unknown.status.success());
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("no signing key with kid \"no-such-kid\""),
        "{stderr}"
    );

    let (status, log) = server.terminate().await;
    assert!(status.success(), "SIGTERM is a clean stop: {status}\n{log}");
    assert!(log.contains("shutting down"), "{log}");
    assert!(
        !log.contains(token) && !log.contains(refresh),
        "no secret is ever logged"
    );
    log
}

/// The kids the gateway publishes now.
fn published_kids(
    http: &reqwest::Client,
    gateway: &Gateway,
) -> impl std::future::Future<Output = Vec<String>> + use<> {
    let request = http.get(gateway.url("/.well-known/jwks.json")).send();
    async move {
        let jwks: Value = request.await.unwrap().json().await.unwrap();
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    }
}

#[tokio::test]
async fn an_operator_runs_the_gateway_on_sqlite() {
    let mut gateway = Gateway::new(None);
    gateway
        .envs
        .push(("GATEWAY_KEY_RELOAD_SECS".into(), "1".into()));
    operator_journey(gateway).await;
}

/// Pinned to one CPU the gateway runs the current-thread runtime (`cli::runtime`), and does
/// everything the journey does there: password sign-in on its hashing threads, tokens, key rotation.
#[tokio::test]
async fn an_operator_runs_the_gateway_pinned_to_one_cpu() {
    let mut gateway = Gateway::new(None);
    gateway.cpus = Some("0");
    gateway
        .envs
        .push(("GATEWAY_KEY_RELOAD_SECS".into(), "1".into()));
    let log = operator_journey(gateway).await;
    assert!(
        log.contains("current-thread (one CPU)"),
        "the start says which runtime it chose: {log}"
    );
}

#[tokio::test]
async fn an_operator_runs_the_gateway_on_postgres() {
    let (url, name) = fresh_postgres().await;
    let mut gateway = Gateway::new(Some(url));
    gateway
        .envs
        .push(("GATEWAY_KEY_RELOAD_SECS".into(), "1".into()));
    operator_journey(gateway).await;
    drop_postgres(&name).await;
}

#[tokio::test]
async fn a_fresh_machine_starts_with_no_configuration_and_keeps_its_key_private() {
    use std::os::unix::fs::PermissionsExt;
    let gateway = Gateway::new(None);
    let server = gateway.serve().await;
    // The signing key is in the database; on disk only the generated key-encryption key, private.
    let keys_dir = gateway.data.0.join("keys");
    let names: Vec<_> = std::fs::read_dir(&keys_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["kek"]);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        (mode(&keys_dir.join("kek")), mode(&keys_dir)),
        (0o600, 0o700)
    );
    assert!(gateway.data.0.join("gateway.db").exists());
    let health = reqwest::get(gateway.url("/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    let kids = published_kids(&reqwest::Client::new(), &gateway).await;
    assert_eq!(kids.len(), 1);
    let (status, log) = server.terminate().await;
    assert!(status.success());
    assert!(
        log.contains("generated one"),
        "the log says a KEK was generated: {log}"
    );

    // Restarted, it reuses the same key (and key-encryption key) rather than minting another.
    let server = gateway.serve().await;
    assert_eq!(
        published_kids(&reqwest::Client::new(), &gateway).await,
        kids
    );
    assert_eq!(std::fs::read_dir(&keys_dir).unwrap().count(), 1);
    drop(server);

    let bad = gateway.run_raw(&["serve", "--config", "/nonexistent/gateway.yaml"], "");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("/nonexistent/gateway.yaml"));
}

#[tokio::test]
async fn a_second_server_on_the_same_sqlite_file_refuses_to_start_and_says_why() {
    let gateway = Gateway::new(None);
    let server = gateway.serve().await;
    // The second server would listen elsewhere: only the database stands in its way. It must exit
    // by itself; one still running after the bound has started beside the first.
    let second = tokio::process::Command::new(e2e::binary("gateway"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GATEWAY_DATA_DIR", &gateway.data.0)
        .env("GATEWAY_LISTEN", format!("127.0.0.1:{}", e2e::free_port()))
        .env("GATEWAY_METRICS_LISTEN", "127.0.0.1:0")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let second = tokio::time::timeout(Duration::from_secs(30), second.wait_with_output())
        .await
        .expect("the second `gateway serve` kept running beside the first")
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("already running on the SQLite database")
            && stderr.contains("gateway.db.lock")
            && stderr.contains("PostgreSQL"),
        "{stderr}"
    );
    // One-shot commands still run beside the server, and it keeps serving.
    let created = gateway.run(
        &[
            "users",
            "create",
            "beside",
            "--email",
            "beside@example.org",
            "--first-name",
            "Be",
            "--last-name",
            "Side",
        ],
        "",
    );
    assert!(created.contains("beside"), "{created}");
    let health = reqwest::get(gateway.url("/readyz")).await.unwrap();
    assert_eq!(health.status(), 200);
    // A killed server (SIGKILL: no chance to clean up) leaves no stale lock behind.
    drop(server);
    let restarted = gateway.serve().await;
    let (status, _) = restarted.terminate().await;
    assert!(status.success());
}

#[tokio::test]
async fn a_replica_given_the_wrong_key_encryption_key_refuses_to_start_and_says_why() {
    let (url, name) = fresh_postgres().await;
    let mut first = Gateway::new(Some(url.clone()));
    let kek = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=";
    first
        .envs
        .push(("GATEWAY_KEY_ENCRYPTION_KEY".into(), kek.into()));
    let server = first.serve().await;
    let kid = published_kids(&reqwest::Client::new(), &first)
        .await
        .remove(0);
    assert!(
        !first.data.0.join("keys").exists(),
        "with the KEK given, nothing is written to disk"
    );

    // Another replica, its own data dir, the same database, another KEK.
    let mut wrong = Gateway::new(Some(url.clone()));
    wrong.envs.push((
        "GATEWAY_KEY_ENCRYPTION_KEY".into(),
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into(),
    ));
    let out = wrong.run_raw(&["serve"], "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains(&kid), "names the key: {stderr}");
    assert!(stderr.contains("does not decrypt"), "{stderr}");
    assert!(
        stderr.contains("GATEWAY_KEY_ENCRYPTION_KEY"),
        "says where the KEK came from: {stderr}"
    );

    // Given the right KEK, the same replica starts and signs with the same key.
    let mut right = Gateway::new(Some(url));
    right
        .envs
        .push(("GATEWAY_KEY_ENCRYPTION_KEY".into(), kek.into()));
    let replica = right.serve().await;
    assert_eq!(published_kids(&reqwest::Client::new(), &right).await, [kid]);
    drop(replica);
    drop(server);
    drop_postgres(&name).await;
}

#[tokio::test]
async fn the_version_names_the_commit_and_completions_are_printed_for_each_shell() {
    let gateway = Gateway::new(None);
    let version = gateway.run(&["--version"], "");
    assert!(
        version.starts_with("gateway ") && version.contains("(commit "),
        "{version}"
    );
    let commit = version
        .split("(commit ")
        .nth(1)
        .unwrap()
        .trim_end()
        .trim_end_matches(')');
    assert!(
        commit == "unknown" || commit.chars().all(|c| c.is_ascii_hexdigit()),
        "{commit}"
    );
    for (shell, marker) in [
        ("bash", "complete -F _gateway"),
        ("zsh", "#compdef gateway"),
        ("fish", "complete -c gateway"),
    ] {
        let script = gateway.run(&["completions", shell], "");
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(script.contains("migrate"), "{shell} completes subcommands");
    }
    let bad = gateway.run_raw(&["completions", "cmd.exe"], "");
    assert!(!bad.status.success());
}

#[tokio::test]
async fn config_check_accepts_a_good_configuration_and_names_what_is_wrong_with_a_bad_one() {
    let gateway = Gateway::new(None);
    let ok = gateway.run(&["config", "check"], "");
    assert!(ok.contains("is valid"), "{ok}");
    let file = gateway.data.0.join("gateway.yaml");
    std::fs::write(&file, "access_token_ttl_secs: 3600\n").unwrap();
    let bad = gateway.run_raw(&["config", "check", "--config", file.to_str().unwrap()], "");
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("access_token_ttl_secs"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    // The harness sets GATEWAY_LISTEN; public_url comes from the file alone.
    std::fs::write(&file, "public_url: https://gw.example/\n").unwrap();
    let ok = gateway.run(&["config", "check", "--config", file.to_str().unwrap()], "");
    assert!(
        ok.contains("issuer https://gw.example") && ok.contains("gateway.yaml"),
        "{ok}"
    );
    let mut typo = Gateway::new(None);
    typo.envs
        .push(("GATEWAY_SESSION_TTL_SECS".into(), "a day".into()));
    let bad = typo.run_raw(&["config", "check"], "");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("GATEWAY_SESSION_TTL_SECS"));
}

#[tokio::test]
async fn an_operator_lists_users_and_tokens_and_revokes_a_token_from_the_cli() {
    let gateway = Gateway::new(None);
    let token = gateway.create_user_with_token(&NewUser::new("bob", "bob@example.org", "Bob", "B"));
    gateway.create_user(&NewUser::new("ada", "ada@example.org", "Ada", "L").admin());
    let users = gateway.run(&["users", "list"], "");
    let rows: Vec<Vec<&str>> = users.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(
        rows,
        [
            vec!["ada", "admin", "ada@example.org"],
            vec!["bob", "user", "bob@example.org"]
        ]
    );

    let listed = gateway.run(&["tokens", "list", "bob"], "");
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(!listed.contains(&token), "the secret is never listed");
    let id = listed.split('\t').next().unwrap().to_owned();

    let server = gateway.serve().await;
    let http = reqwest::Client::new();
    let me = |t: String| http.get(gateway.url("/api/me")).bearer_auth(t).send();
    assert_eq!(me(token.clone()).await.unwrap().status(), 200);
    let revoked = gateway.run(&["tokens", "revoke", &id], "");
    assert!(revoked.contains("bob"), "{revoked}");
    wait_for(
        "the revoked token to be refused",
        Duration::from_secs(10),
        || async { (me(token.clone()).await.unwrap().status() == 401).then_some(()) },
    )
    .await;
    drop(server);
    assert_eq!(gateway.run(&["tokens", "list", "bob"], ""), "");

    for (args, wording) in [
        (vec!["tokens", "revoke", &id], "no such API token"),
        (vec!["tokens", "list", "nobody"], "no such user: nobody"),
    ] {
        let out = gateway.run_raw(&args, "");
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(wording), "{args:?}: {stderr}");
    }
}

#[tokio::test]
async fn serve_on_a_taken_port_says_so_and_how_to_choose_another() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut gateway = Gateway::new(None);
    gateway.port = taken.local_addr().unwrap().port();
    let out = gateway.run_raw(&["serve"], "");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is already in use") && stderr.contains("GATEWAY_LISTEN"),
        "{stderr}"
    );
}

#[tokio::test]
async fn an_operator_sets_a_local_accounts_assurance_and_a_missing_agreement_file_stops_the_start()
{
    let gateway = Gateway::new(None);
    let token = gateway.create_user_with_token(&NewUser::new("bob", "bob@example.org", "Bob", "B"));
    let server = gateway.serve().await;
    let medium = "https://refeds.org/assurance/IAP/medium";
    let set = gateway.run(
        &[
            "users",
            "set-assurance",
            "bob",
            medium,
            "--two-factor",
            "true",
        ],
        "",
    );
    assert!(
        set.contains("two-factor true") && set.contains(medium),
        "{set}"
    );
    let http = reqwest::Client::new();
    // What the command changed reaches the running server through the change feed.
    wait_for(
        "the new assurance on /api/me",
        Duration::from_secs(10),
        || async {
            let me: serde_json::Value = http
                .get(gateway.url("/api/me"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            (me["principal"]["assurance"] == serde_json::json!([medium])
                && me["principal"]["twoFactorAuthentication"] == true)
                .then_some(())
        },
    )
    .await;
    let bad = gateway.run_raw(&["users", "set-assurance", "bob", "not a uri"], "");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not an assurance URI"));
    drop(server);

    let mut strict = Gateway::new(None);
    let missing = strict.data.0.join("no-such-aup.txt");
    strict.envs.push((
        "GATEWAY_AGREEMENTS".into(),
        format!(
            r#"[{{"id":"aup","version":"1","title":"AUP","file":"{}"}}]"#,
            missing.display()
        ),
    ));
    let refused = strict.run_raw(&["users", "list"], "");
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("aup") && stderr.contains(&missing.display().to_string()),
        "{stderr}"
    );
}
