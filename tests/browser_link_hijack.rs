//! The link hijack (SPEC §4 ▲) in real headless Chromium: Mallory starts a connection at the gateway
//! and has its auto-submitting form opened in Alice's browser; Alice signs in at the dev provider with
//! her local account and confirms. Mallory then completes the attempt with his own session: refused,
//! the attempt ends, and Mallory is never brokered as Alice's local account.

use e2e::browser::Browser;
use e2e::process::Gateway;
use e2e::provider::provider_kit;
use e2e::{TempDir, binary, free_port, wait_for};
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::Duration;

const MANIFEST: &str =
    "users:\n  requireExplicitMapping: true\nfeatures:\n  storage: { enabled: true }\n";

fn output(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `provider-kit accounts hash-password`, fed `password` on stdin.
fn hash_password(password: &str) -> String {
    use std::io::Write;
    let mut child = Command::new(binary("provider-kit"))
        .args(["accounts", "hash-password"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("provider-kit accounts hash-password");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("password");
    let out = child.wait_with_output().expect("hash");
    assert!(out.status.success(), "{}", output(&out));
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

#[tokio::test]
async fn an_initiator_cannot_complete_an_attempt_that_a_victim_signed_in_to() {
    let gateway = Gateway::new(None);
    gateway.run(
        &[
            "users",
            "create",
            "mallory",
            "--email",
            "mallory@example.org",
            "--first-name",
            "Mallory",
            "--last-name",
            "Evil",
            "--password-stdin",
        ],
        "mallory-gateway-password\n",
    );
    let mallory_token = gateway
        .run(&["tokens", "create", "mallory", "--name", "e2e"], "")
        .trim()
        .to_owned();
    let _server = gateway.serve().await;

    // The provider (registered by Mallory, so he can see it), with Alice's local account `asmith`.
    let work = TempDir::new("browser-hijack");
    let port = free_port();
    let metadata = work.0.join("hpc.yaml");
    std::fs::write(
        &metadata,
        format!("id: hpc\ndomain: 127.0.0.1\nhttps: false\nport: {port}\nenv: test\n"),
    )
    .expect("metadata");
    let manifest = work.0.join("hpc.manifest.yaml");
    std::fs::write(&manifest, MANIFEST).expect("manifest");
    let token_file = work.0.join("mallory.token");
    std::fs::write(&token_file, &mallory_token).expect("token");
    let credentials = work.0.join("hpc.json");
    let registered = provider_kit(&[
        "register",
        "--gateway",
        &gateway.url(""),
        "--metadata",
        metadata.to_str().expect("path"),
        "--token-file",
        token_file.to_str().expect("path"),
        "--out",
        credentials.to_str().expect("path"),
    ]);
    assert!(registered.status.success(), "{}", output(&registered));
    let users = work.0.join("users.yaml");
    let hash = hash_password("alice-local-secret");
    std::fs::write(
        &users,
        format!("users:\n  - username: asmith\n    password_hash: '{hash}'\n"),
    )
    .expect("users file");
    let data = work.0.join("data");
    let log = std::fs::File::create(work.0.join("provider.log")).expect("log");
    let mut provider = Command::new(binary("provider-kit"))
        .arg("serve")
        .args(["--credentials", credentials.to_str().expect("path")])
        .args(["--manifest", manifest.to_str().expect("path")])
        .args(["--data-dir", data.to_str().expect("path")])
        .args(["--users-file", users.to_str().expect("path")])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("provider-kit serve");
    let manifest_url = format!("http://127.0.0.1:{port}/ucloud/hpc/manifest");
    wait_for("the provider", Duration::from_secs(30), || {
        let url = manifest_url.clone();
        async move {
            reqwest::get(&url)
                .await
                .ok()
                .filter(|r| r.status() == 200)
                .map(|_| ())
        }
    })
    .await;
    let reload = provider_kit(&[
        "reload-manifest",
        "--credentials",
        credentials.to_str().expect("path"),
    ]);
    assert!(reload.status.success(), "{}", output(&reload));

    // Mallory, signed in at the gateway, starts a connection and keeps its form.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let signed_in = http
        .post(gateway.url("/auth/login"))
        .json(&serde_json::json!({"username": "mallory", "password": "mallory-gateway-password"}))
        .send()
        .await
        .expect("sign in");
    let mallory = signed_in.headers()["set-cookie"]
        .to_str()
        .expect("ASCII")
        .split(';')
        .next()
        .expect("name=value")
        .to_owned();
    let started: Value = http
        .post(gateway.url("/api/connections"))
        .header("cookie", &mallory)
        .header("origin", gateway.url(""))
        .json(&serde_json::json!({"provider": "hpc"}))
        .send()
        .await
        .expect("start")
        .json()
        .await
        .expect("json");
    let form_url = started["redirect"]["url"]
        .as_str()
        .expect("a URL")
        .to_owned();
    let form_token = started["redirect"]["fields"]["token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let connection = started["connection"]["id"]
        .as_str()
        .expect("an id")
        .to_owned();

    // Alice's browser opens Mallory's form (a page of his, here any page that submits it).
    let mut browser = Browser::launch().await;
    browser
        .goto(&format!("http://127.0.0.1:{port}/ucloud/hpc/usermap/login"))
        .await;
    let submit = format!(
        "(() => {{ const f = document.createElement('form'); f.method = 'post'; f.action = {}; \
         const i = document.createElement('input'); i.name = 'token'; i.value = {}; f.appendChild(i); \
         document.body.appendChild(f); f.submit(); return true; }})()",
        serde_json::to_string(&form_url).expect("json"),
        serde_json::to_string(&form_token).expect("json"),
    );
    browser.eval(&submit).await;
    browser
        .wait_for(
            &format!("location.port === '{port}' && document.getElementById('password') !== null"),
            Duration::from_secs(15),
        )
        .await;
    browser.sign_in("asmith", "alice-local-secret").await;
    browser
        .wait_for(
            "document.getElementById('local-account') !== null",
            Duration::from_secs(15),
        )
        .await;
    let shown = browser
        .eval("document.getElementById('gateway-username').innerText")
        .await;
    assert_eq!(
        shown, "mallory",
        "the confirm page names who is being linked"
    );
    browser.click("#confirm").await;
    // Back at the gateway, Alice's browser is not signed in there: nothing is completed.
    browser
        .wait_for(
            "location.pathname.endsWith('/complete') && document.body.innerText.includes('not signed in')",
            Duration::from_secs(15),
        )
        .await;

    // Mallory completes the attempt with his own session (he has the nonce from his token).
    let payload = form_token.split('.').nth(1).expect("a JWT");
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .expect("base64"),
    )
    .expect("claims");
    let nonce = claims["nonce"].as_str().expect("a nonce");
    let mut back =
        url::Url::parse(&gateway.url(&format!("/connections/{connection}/complete"))).expect("url");
    back.query_pairs_mut().append_pair("nonce", nonce);
    let hijack = http
        .get(back.as_str())
        .header("cookie", &mallory)
        .send()
        .await
        .expect("complete");
    assert_eq!(hijack.status(), 403, "the initiator is refused");

    let connections: Value = http
        .get(gateway.url("/api/connections"))
        .bearer_auth(&mallory_token)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(connections[0]["state"], "failed", "{connections}");
    let brokered = http
        .get(gateway.url("/ucloud/hpc/storage/files"))
        .bearer_auth(&mallory_token)
        .send()
        .await
        .expect("brokered");
    assert_eq!(brokered.status(), 403, "Mallory is not brokered as asmith");
    let problem: Value = brokered.json().await.expect("problem");
    assert_eq!(problem["code"], "connectionRequired");

    let _ = provider.kill();
    let _ = provider.wait();
}
