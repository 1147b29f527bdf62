//! Real headless Chromium, driven over the DevTools protocol: navigate, evaluate JavaScript, wait
//! for a condition. Enough to click through a page as a person would, with no WebDriver.

use super::TempDir;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct Browser {
    child: Child,
    _profile: TempDir,
    socket: Socket,
    next_id: u64,
}

/// `CHROMIUM` or Debian's `/usr/bin/chromium`.
pub fn chromium_path() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned())
}

impl Browser {
    pub async fn launch() -> Self {
        let profile = TempDir::new("chromium-profile");
        let mut child = Command::new(chromium_path())
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.0.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} ({e}); install Debian's chromium",
                    chromium_path()
                )
            });
        let stderr = child.stderr.take().expect("stderr");
        let port = tokio::task::spawn_blocking(move || {
            for line in BufReader::new(stderr).lines() {
                let line = line.expect("chromium output");
                if let Some(rest) = line.split("ws://127.0.0.1:").nth(1) {
                    let port: u16 = rest
                        .split('/')
                        .next()
                        .and_then(|p| p.parse().ok())
                        .expect("a port");
                    return port;
                }
            }
            panic!("chromium exited without opening its DevTools port");
        })
        .await
        .expect("reading chromium's output");
        let targets: Value = reqwest::get(format!("http://127.0.0.1:{port}/json/list"))
            .await
            .expect("json/list")
            .json()
            .await
            .expect("targets");
        let page = targets
            .as_array()
            .and_then(|t| t.iter().find(|t| t["type"] == "page"))
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .expect("a page target")
            .to_owned();
        let (socket, _) = tokio_tungstenite::connect_async(page)
            .await
            .expect("DevTools socket");
        let mut browser = Self {
            child,
            _profile: profile,
            socket,
            next_id: 0,
        };
        browser.call("Page.enable", json!({})).await;
        browser
    }

    /// One DevTools command; events arriving meanwhile are skipped.
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        match self.try_call(method, params).await {
            Ok(result) => result,
            Err(error) => panic!("{method} failed: {error}"),
        }
    }

    /// One DevTools command, its error answer returned rather than a panic.
    async fn try_call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        let message = json!({ "id": id, "method": method, "params": params }).to_string();
        self.socket
            .send(Message::text(message))
            .await
            .expect("send to chromium");
        loop {
            let reply = tokio::time::timeout(Duration::from_secs(30), self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("chromium did not answer {method}"))
                .expect("chromium closed the socket")
                .expect("DevTools message");
            let Message::Text(text) = reply else { continue };
            let value: Value = serde_json::from_str(text.as_str()).expect("DevTools JSON");
            if value["id"] == id {
                return match value.get("error") {
                    Some(error) => Err(error.clone()),
                    None => Ok(value["result"].clone()),
                };
            }
        }
    }

    pub async fn goto(&mut self, url: &str) {
        self.call("Page.navigate", json!({ "url": url })).await;
        self.wait_for(
            "document.readyState === 'complete' && location.href !== 'about:blank'",
            Duration::from_secs(20),
        )
        .await;
    }

    /// Evaluates `expression` in the page and returns its value.
    pub async fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await;
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("{expression} threw: {exception}");
        }
        result["result"]["value"].clone()
    }

    /// Polls `condition` (a JavaScript expression) until it is true.
    pub async fn wait_for(&mut self, condition: &str, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // A navigation can destroy the context mid-call: the page's own exception, or DevTools
            // answering "Inspected target navigated or closed", both mean "not yet".
            let probe = format!(
                "(() => {{ try {{ return !!({condition}); }} catch (e) {{ return false; }} }})()"
            );
            let result = self
                .try_call(
                    "Runtime.evaluate",
                    json!({ "expression": probe, "returnByValue": true }),
                )
                .await;
            if result.is_ok_and(|r| r["result"]["value"] == true) {
                return;
            }
            if tokio::time::Instant::now() > deadline {
                let url = self.eval("location.href").await;
                let text = self
                    .eval("document.body ? document.body.innerText : ''")
                    .await;
                panic!("timed out waiting for `{condition}` at {url}; page says: {text}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The ids of the elements matching `selector`, in page order, joined by spaces.
    pub async fn ids(&mut self, selector: &str) -> String {
        let js = format!(
            "[...document.querySelectorAll({})].map(e => e.id).join(' ')",
            serde_json::to_string(selector).expect("selector")
        );
        self.eval(&js).await.as_str().unwrap_or_default().to_owned()
    }

    /// Sets a form field by CSS selector, as typing would.
    pub async fn fill(&mut self, selector: &str, value: &str) {
        let js = format!(
            "(() => {{ const e = document.querySelector({}); e.value = {}; e.dispatchEvent(new Event('input', {{bubbles: true}})); return true; }})()",
            serde_json::to_string(selector).expect("selector"),
            serde_json::to_string(value).expect("value")
        );
        assert_eq!(self.eval(&js).await, true, "no element {selector}");
    }

    pub async fn click(&mut self, selector: &str) {
        let js = format!(
            "(() => {{ const e = document.querySelector({}); if (!e) return false; e.click(); return true; }})()",
            serde_json::to_string(selector).expect("selector")
        );
        assert_eq!(self.eval(&js).await, true, "no element {selector} to click");
    }

    /// Fills `#username` and `#password` and clicks `#sign-in`: the gateway's and the provider-kit
    /// sign-in pages share these ids.
    pub async fn sign_in(&mut self, username: &str, password: &str) {
        self.fill("#username", username).await;
        self.fill("#password", password).await;
        self.click("#sign-in").await;
    }

    /// Waits for the dev provider's own sign-in page (on `port`), where a connection's form takes
    /// the browser, signs in with a local account there, and waits for the page on which the
    /// provider shows who is being linked to which local account.
    pub async fn sign_in_at_provider(&mut self, port: u16, username: &str, password: &str) {
        self.wait_for(
            &format!("location.port === '{port}' && document.getElementById('password') !== null"),
            Duration::from_secs(15),
        )
        .await;
        self.sign_in(username, password).await;
        self.wait_for(
            "document.getElementById('local-account') !== null",
            Duration::from_secs(15),
        )
        .await;
    }

    /// Saves a screenshot (PNG) for a person to look at.
    pub async fn screenshot(&mut self, path: &std::path::Path) {
        use base64::Engine;
        let shot = self
            .call("Page.captureScreenshot", json!({ "format": "png" }))
            .await;
        let data = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap_or_default())
            .unwrap_or_default();
        let _ = std::fs::write(path, data);
    }

    /// Shows the current page at desktop (1280 px) and phone (390 px) width, asserting that it
    /// fits each (nothing to scroll sideways: wide tables scroll in their own box); saves
    /// `<name>-desktop.png` and `<name>-phone.png` when `SCREENSHOTS_DIR` is set
    /// (`scripts/screenshots.sh`).
    pub async fn look(&mut self, name: &str) {
        let dir = std::env::var_os("SCREENSHOTS_DIR").map(std::path::PathBuf::from);
        for (label, width, height, mobile) in
            [("desktop", 1280, 800, false), ("phone", 390, 844, true)]
        {
            self.call(
                "Emulation.setDeviceMetricsOverride",
                json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile }),
            )
            .await;
            let fits = self
                .eval("document.documentElement.scrollWidth <= window.innerWidth")
                .await;
            assert_eq!(fits, true, "{name} overflows at {width} px");
            if let Some(dir) = &dir {
                std::fs::create_dir_all(dir).expect("screenshots folder");
                self.screenshot(&dir.join(format!("{name}-{label}.png")))
                    .await;
            }
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
