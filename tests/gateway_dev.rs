//! `gateway dev` as a developer runs it: the real binary in an empty working directory brings up the
//! gateway and the in-process dev provider, prints credentials that work (the demo user signs in,
//! sees the `dev` provider active with its manifest, connects it to the printed local account
//! `demo_local` and is brokered to it as that account with the printed API token), stops with exit 0
//! on SIGTERM, and a second run in the same directory prints the same credentials and duplicates
//! nothing. Once on SQLite, once on PostgreSQL with `--database`.

use e2e::{TempDir, binary, cookie_set_by, free_port, wait_for};
use serde_json::Value;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncBufReadExt;

/// One `gateway dev` process and everything it printed on stdout so far.
struct DevRun {
    child: tokio::process::Child,
    stdout: Arc<Mutex<String>>,
    log: std::path::PathBuf,
}

/// What the banner tells the developer.
#[derive(Debug, PartialEq, Eq)]
struct Banner {
    admin_password: String,
    demo_password: String,
    demo_token: String,
    local_password: String,
}

impl DevRun {
    /// Starts `gateway dev` in `dir` (on `database`, or the default SQLite file) and waits for its
    /// banner (printed once both servers serve).
    async fn start(
        dir: &Path,
        gateway_port: u16,
        provider_port: u16,
        label: &str,
        database: Option<&str>,
    ) -> Self {
        let log = dir.join(format!("{label}.log"));
        let mut command = tokio::process::Command::new(binary("gateway"));
        command
            .arg("dev")
            .args(["--listen", &format!("127.0.0.1:{gateway_port}")])
            .args(["--provider-port", &provider_port.to_string()]);
        if let Some(url) = database {
            command.args(["--database", url]);
        }
        let mut child = command
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("GATEWAY_LOG", "info")
            .env("GATEWAY_METRICS_LISTEN", "127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .kill_on_drop(true)
            .spawn()
            .expect("spawn gateway dev");
        let stdout = Arc::new(Mutex::new(String::new()));
        let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
        let sink = Arc::clone(&stdout);
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let mut text = sink.lock().expect("lock");
                text.push_str(&line);
                text.push('\n');
            }
        });
        let run = Self { child, stdout, log };
        let printed = Arc::clone(&run.stdout);
        let log = run.log.clone();
        wait_for("the gateway dev banner", Duration::from_secs(60), || {
            let done = printed.lock().expect("lock").contains("reused by the next");
            let log = log.clone();
            async move {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                assert!(!text.contains("error:"), "gateway dev failed: {text}");
                done.then_some(())
            }
        })
        .await;
        run
    }

    fn banner(&self) -> Banner {
        let text = self.stdout.lock().expect("lock").clone();
        let field = |prefix: &str| -> String {
            let line = text
                .lines()
                .map(str::trim)
                .find_map(|line| line.strip_prefix(prefix))
                .unwrap_or_else(|| panic!("no {prefix:?} line in:\n{text}"));
            let value = line.split_whitespace().next().expect("a value");
            value.to_owned()
        };
        Banner {
            admin_password: field("admin          admin / "),
            demo_password: field("demo user      demo / "),
            demo_token: field("demo API token "),
            local_password: field("local account  demo_local / "),
        }
    }

    /// Sends SIGTERM and returns whether the process exited with 0.
    async fn terminate(mut self) -> bool {
        let pid = self.child.id().expect("running").to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(sent.success());
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("gateway dev stops within 30 s")
            .expect("wait");
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        assert!(status.success(), "{status}: {log}");
        status.success()
    }
}

async fn json(response: reqwest::Response) -> Value {
    let status = response.status();
    let body = response.text().await.expect("a body");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body}"))
}

/// Signs in with a password and returns the session cookie.
async fn sign_in(http: &reqwest::Client, base: &str, username: &str, password: &str) -> String {
    let response = http
        .post(format!("{base}/auth/login"))
        .json(&serde_json::json!({ "username": username, "password": password }))
        .send()
        .await
        .expect("sign in");
    assert_eq!(response.status(), 200, "{username} signs in");
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a session cookie");
    cookie.split(';').next().expect("name=value").to_owned()
}

/// The Connect button's flow over HTTP: the user signed in with `session` connects the dev provider
/// to its local account `demo_local`, signing in there with `password`.
async fn connect_demo_local(base: &str, session: &str, password: &str) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let started = http
        .post(format!("{base}/api/connections"))
        .header("cookie", session)
        .header("origin", base)
        .json(&serde_json::json!({ "provider": "dev" }))
        .send()
        .await
        .expect("start a connection");
    assert_eq!(started.status(), 201);
    let started: Value = started.json().await.expect("json");
    let usermap = started["redirect"]["url"].as_str().expect("a URL");
    let token = started["redirect"]["fields"]["token"]
        .as_str()
        .expect("a token");
    let at_provider = http
        .post(usermap)
        .form(&[("token", token)])
        .send()
        .await
        .expect("the provider takes the redirect");
    assert_eq!(at_provider.status(), 302);
    let attempt = cookie_set_by(&at_provider);
    let login = format!("{usermap}/login");
    let page = http
        .get(&login)
        .header("cookie", &attempt)
        .send()
        .await
        .expect("login page");
    let page = page.text().await.expect("html");
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a CSRF field");
    let fields = [
        ("csrf", csrf),
        ("username", "demo_local"),
        ("password", password),
    ];
    let signed_in = http
        .post(&login)
        .header("cookie", &attempt)
        .form(&fields)
        .send()
        .await
        .expect("sign in at the provider");
    assert_eq!(signed_in.status(), 303, "signed in as demo_local");
    let confirm = format!("{usermap}/confirm");
    let page = http
        .get(&confirm)
        .header("cookie", &attempt)
        .send()
        .await
        .expect("confirm page")
        .text()
        .await
        .expect("html");
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a CSRF field");
    let confirmed = http
        .post(&confirm)
        .header("cookie", &attempt)
        .form(&[("csrf", csrf)])
        .send()
        .await
        .expect("confirm at the provider");
    assert_eq!(confirmed.status(), 303, "confirmed");
    let back = confirmed.headers()["location"].to_str().expect("ASCII");
    let completed = http
        .get(back)
        .header("cookie", session)
        .send()
        .await
        .expect("back at the gateway");
    assert!(
        completed.status().is_redirection(),
        "{}",
        completed.status()
    );
    let connections = json(
        http.get(format!("{base}/api/connections"))
            .header("cookie", session)
            .send()
            .await
            .expect("connections"),
    )
    .await;
    assert_eq!(connections[0]["state"], "ok", "{connections}");
    assert_eq!(connections[0]["localIdentity"], "demo_local");
}

#[tokio::test]
async fn gateway_dev_runs_a_usable_federation_and_a_second_run_reuses_it() {
    dev_journey(None).await;
}

#[tokio::test]
async fn gateway_dev_with_database_runs_the_same_federation_on_postgres() {
    let (url, name) = e2e::fresh_postgres().await;
    dev_journey(Some(&url)).await;
    e2e::drop_postgres(&name).await;
}

async fn dev_journey(database: Option<&str>) {
    let dir = TempDir::new("gw-dev");
    let gateway_port = free_port();
    let provider_port = std::iter::repeat_with(free_port)
        .find(|port| *port != gateway_port)
        .expect("a second free port");
    let base = format!("http://127.0.0.1:{gateway_port}");
    let http = reqwest::Client::new();

    let first = DevRun::start(&dir.0, gateway_port, provider_port, "first", database).await;
    let banner = first.banner();
    let ready = http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 200);
    let manifest_url = format!("http://127.0.0.1:{provider_port}/ucloud/dev/manifest");
    wait_for(
        "the dev provider's manifest",
        Duration::from_secs(10),
        || {
            let request = http.get(&manifest_url).send();
            async move { (request.await.ok()?.status() == 200).then_some(()) }
        },
    )
    .await;

    // The demo user signs in with the printed password and sees the provider, manifest fetched.
    let cookie = sign_in(&http, &base, "demo", &banner.demo_password).await;
    let provider = json(
        http.get(format!("{base}/api/providers/dev"))
            .header("cookie", &cookie)
            .send()
            .await
            .expect("provider"),
    )
    .await;
    assert_eq!(provider["status"], "active", "{provider}");
    assert_eq!(provider["env"], "test");
    assert_eq!(provider["port"], provider_port);
    assert_eq!(
        provider["manifest"]["features"]["storage"]["enabled"], true,
        "{provider}"
    );

    // The printed local account connects at once; then the printed API token is brokered to the dev
    // provider, which sees the demo user working as that account.
    connect_demo_local(&base, &cookie, &banner.local_password).await;
    let files = json(
        http.get(format!("{base}/ucloud/dev/storage/files"))
            .bearer_auth(&banner.demo_token)
            .send()
            .await
            .expect("brokered listing"),
    )
    .await;
    assert_eq!(files["username"], "demo", "{files}");
    assert_eq!(files["localAccount"], "demo_local", "{files}");
    let upload = http
        .put(format!("{base}/ucloud/dev/storage/files/hello.txt"))
        .bearer_auth(&banner.demo_token)
        .body("hello")
        .send()
        .await
        .expect("upload");
    assert_eq!(upload.status(), 201);
    assert!(
        dir.0
            .join("data/dev-provider/storage/demo_local/hello.txt")
            .is_file()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for private in ["dev-credentials.json", "dev-provider/users.yaml"] {
            let mode = std::fs::metadata(dir.0.join("data").join(private))
                .expect("saved")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{private} is private");
        }
    }
    assert!(first.terminate().await, "exit 0 on SIGTERM");

    // A second run finds everything: same credentials, one provider, one wallet, the file kept.
    let second = DevRun::start(&dir.0, gateway_port, provider_port, "second", database).await;
    assert_eq!(second.banner(), banner, "the same credentials are printed");
    let admin = sign_in(&http, &base, "admin", &banner.admin_password).await;
    let providers = json(
        http.get(format!("{base}/api/providers"))
            .header("cookie", &admin)
            .send()
            .await
            .expect("providers"),
    )
    .await;
    let ids: Vec<&str> = providers
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert_eq!(ids, ["dev"], "{providers}");
    let wallets = json(
        http.get(format!("{base}/api/wallets"))
            .bearer_auth(&banner.demo_token)
            .send()
            .await
            .expect("wallets"),
    )
    .await;
    let wallets = wallets.as_array().expect("a list");
    assert_eq!(wallets.len(), 1, "{wallets:?}");
    assert_eq!(wallets[0]["provider"], "dev");
    assert_eq!(wallets[0]["balance"], 10_000, "granted once");
    let file = http
        .get(format!("{base}/ucloud/dev/storage/files/hello.txt"))
        .bearer_auth(&banner.demo_token)
        .send()
        .await
        .expect("download");
    assert_eq!(file.status(), 200, "the same token reaches the same files");
    assert_eq!(file.text().await.expect("body"), "hello");
    assert!(second.terminate().await, "exit 0 on SIGTERM");
    for run in ["first", "second"] {
        let log = std::fs::read_to_string(dir.0.join(format!("{run}.log"))).expect("log");
        for secret in [
            &banner.demo_token,
            &banner.demo_password,
            &banner.admin_password,
            &banner.local_password,
        ] {
            assert!(!log.contains(secret.as_str()), "a secret in the {run} log");
        }
    }
}
