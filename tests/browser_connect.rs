//! The connection flow as a person does it, in real headless Chromium: sign in at the gateway, click
//! Connect, sign in at the dev provider with a local account, confirm who is being linked, land back
//! on the gateway with the connection `ok` — then a brokered request reaches the provider as that user, under that account.

use e2e::browser::Browser;
use e2e::process::Gateway;
use e2e::provider::provider_kit;
use e2e::{TempDir, binary, free_port, wait_for};
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::Duration;

/// An HPC-like provider: accounts must be connected explicitly.
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
async fn a_user_connects_their_account_in_the_browser_and_is_brokered_as_it() {
    let gateway = Gateway::new(None);
    gateway.run(
        &[
            "users",
            "create",
            "alice",
            "--email",
            "alice@example.org",
            "--first-name",
            "Alice",
            "--last-name",
            "Smith",
            "--password-stdin",
        ],
        "alice-gateway-password\n",
    );
    let alice = gateway
        .run(&["tokens", "create", "alice", "--name", "e2e"], "")
        .trim()
        .to_owned();
    let _server = gateway.serve().await;

    // The provider: registered with alice's token, one local account `asmith`.
    let work = TempDir::new("browser-connect");
    let port = free_port();
    let metadata = work.0.join("hpc.yaml");
    std::fs::write(
        &metadata,
        format!("id: hpc\ndomain: 127.0.0.1\nhttps: false\nport: {port}\nenv: test\n"),
    )
    .expect("metadata");
    let manifest = work.0.join("hpc.manifest.yaml");
    std::fs::write(&manifest, MANIFEST).expect("manifest");
    let token_file = work.0.join("alice.token");
    std::fs::write(&token_file, &alice).expect("token");
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
    let hash = hash_password("local-secret");
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

    let http = reqwest::Client::new();
    let put = |name: &'static str| {
        http.put(gateway.url(&format!("/ucloud/hpc/storage/files/{name}")))
            .bearer_auth(&alice)
            .body("hello")
            .send()
    };
    let before = put("early.txt").await.expect("put");
    assert_eq!(before.status(), 403, "not connected yet");
    let problem: Value = before.json().await.expect("problem");
    assert_eq!(problem["code"], "connectionRequired");

    // In the browser: sign in at the gateway, connect, sign in at the provider.
    let mut browser = Browser::launch().await;
    browser.goto(&gateway.url("/providers")).await;
    browser
        .wait_for("location.pathname === '/login'", Duration::from_secs(10))
        .await;
    browser.sign_in("alice", "alice-gateway-password").await;
    browser
        .wait_for(
            "document.getElementById('connect-hpc') !== null",
            Duration::from_secs(10),
        )
        .await;
    browser.click("#connect-hpc").await;
    browser
        .wait_for(
            "document.getElementById('connect') !== null",
            Duration::from_secs(10),
        )
        .await;
    browser.click("#connect").await;
    // The auto-submitting form takes the browser to the provider's own sign-in page.
    browser
        .wait_for(
            &format!("location.port === '{port}' && document.getElementById('password') !== null"),
            Duration::from_secs(15),
        )
        .await;
    browser.sign_in("asmith", "local-secret").await;
    // The provider shows who is being linked to which local account; nothing happens before the click.
    browser
        .wait_for(
            "document.getElementById('local-account') !== null",
            Duration::from_secs(15),
        )
        .await;
    let shown = browser
        .eval("document.getElementById('gateway-username').innerText + ' ' + document.getElementById('local-account').innerText")
        .await;
    assert_eq!(shown, "alice asmith");
    browser.click("#confirm").await;
    browser
        .wait_for(
            "location.pathname === '/connections' && document.getElementById('connected') !== null",
            Duration::from_secs(15),
        )
        .await;
    let state = browser
        .eval("document.getElementById('state-hpc').innerText")
        .await;
    assert_eq!(state, "ok");
    let shot = std::env::temp_dir().join("gateway-connected.png");
    browser.screenshot(&shot).await;

    // The gateway agrees, and alice is now brokered as `asmith`.
    let connections: Value = http
        .get(gateway.url("/api/connections"))
        .bearer_auth(&alice)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(connections[0]["state"], "ok");
    assert_eq!(connections[0]["localIdentity"], "asmith");
    let after = put("hello.txt").await.expect("put");
    assert!(
        after.status().is_success(),
        "{}",
        after.text().await.unwrap_or_default()
    );
    assert_eq!(
        std::fs::read_to_string(data.join("storage/asmith/hello.txt"))
            .expect("stored under the local account"),
        "hello"
    );

    // The browser's own session is brokered too.
    browser
        .goto(&gateway.url("/ucloud/hpc/storage/files"))
        .await;
    browser
        .wait_for(
            "document.body.innerText.includes('hello.txt')",
            Duration::from_secs(10),
        )
        .await;

    // Balances and charges are on the wallets page.
    gateway.run(
        &[
            "wallets",
            "grant",
            "--user",
            "alice",
            "--provider",
            "hpc",
            "--units",
            "500",
        ],
        "",
    );
    browser.goto(&gateway.url("/wallets")).await;
    browser
        .wait_for(
            "document.getElementById('balance-hpc').innerText === '500'",
            Duration::from_secs(10),
        )
        .await;

    let _ = provider.kill();
    let _ = provider.wait();
}
