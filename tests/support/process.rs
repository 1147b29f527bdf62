//! Running the `gateway` binary: one-shot commands and a served instance stopped with SIGTERM.

use super::{TempDir, binary, free_port, wait_for};
use std::io::Write;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// One gateway installation: a data folder and a database URL, shared by its commands and server.
pub struct Gateway {
    pub data: TempDir,
    pub database_url: Option<String>,
    pub port: u16,
    pub envs: Vec<(String, String)>,
    /// Run it under `taskset -c CPUS` (a pinned process, as on a one-CPU machine).
    pub cpus: Option<&'static str>,
}

impl Gateway {
    pub fn new(database_url: Option<String>) -> Self {
        Self {
            data: TempDir::new("gw-e2e"),
            database_url,
            port: free_port(),
            envs: Vec::new(),
            cpus: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = match self.cpus {
            Some(cpus) => {
                let mut c = Command::new("taskset");
                c.args(["-c", cpus]).arg(binary("gateway"));
                c
            }
            None => Command::new(binary("gateway")),
        };
        c.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("GATEWAY_DATA_DIR", &self.data.0)
            .env("GATEWAY_LISTEN", format!("127.0.0.1:{}", self.port))
            .env("GATEWAY_LOG", "info")
            // Parallel tests each run a gateway: their metrics listeners take any free port.
            .env("GATEWAY_METRICS_LISTEN", "127.0.0.1:0")
            // The e2e tests register test providers as plain users (`serve` defaults to admin).
            .env("GATEWAY_PROVIDERS_TEST_REGISTRATION", "owner");
        if let Some(url) = &self.database_url {
            c.env("GATEWAY_DATABASE_URL", url);
        }
        for (k, v) in &self.envs {
            c.env(k, v);
        }
        c
    }

    /// Runs a one-shot command with `stdin`, returning its output; panics with stderr on failure.
    pub fn run(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run_raw(args, stdin);
        assert!(
            out.status.success(),
            "gateway {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    pub fn run_raw(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn gateway");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("wait for gateway")
    }

    /// `gateway users create`: a person's gateway account, signing in with `user.password` if set.
    pub fn create_user(&self, user: &NewUser<'_>) -> String {
        let mut args = vec![
            "users",
            "create",
            user.username,
            "--email",
            user.email,
            "--first-name",
            user.first_name,
            "--last-name",
            user.last_name,
        ];
        if user.admin {
            args.push("--admin");
        }
        let stdin = match user.password {
            Some(password) => {
                args.push("--password-stdin");
                format!("{password}\n")
            }
            None => String::new(),
        };
        self.run(&args, &stdin)
    }

    /// `gateway tokens create USERNAME`: a new personal API token of that user.
    pub fn create_token(&self, username: &str) -> String {
        self.run(&["tokens", "create", username, "--name", "e2e"], "")
            .trim()
            .to_owned()
    }

    /// `gateway wallets grant --user USERNAME --provider PROVIDER --units UNITS`.
    pub fn grant(&self, username: &str, provider: &str, units: u64) {
        let units = units.to_string();
        self.run(
            &[
                "wallets",
                "grant",
                "--user",
                username,
                "--provider",
                provider,
                "--units",
                &units,
            ],
            "",
        );
    }

    /// Creates the user and returns a personal API token of theirs.
    pub fn create_user_with_token(&self, user: &NewUser<'_>) -> String {
        self.create_user(user);
        self.create_token(user.username)
    }

    /// `GET /api/connections` with `token`: that user's connections to providers.
    pub async fn connections(&self, token: &str) -> serde_json::Value {
        reqwest::Client::new()
            .get(self.url("/api/connections"))
            .bearer_auth(token)
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("json")
    }

    /// Starts `gateway serve` and waits until `/readyz` answers 200.
    pub async fn serve(&self) -> Served {
        // A file, not a pipe: a busy server logs more than a pipe holds while nobody reads it.
        let log = self
            .data
            .0
            .join(format!("serve-{}.log", super::random_suffix()));
        let child = self
            .command(&["serve"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("server log file"))
            .spawn()
            .expect("spawn gateway serve");
        let served = Served {
            child: Some(child),
            log,
        };
        let url = self.url("/readyz");
        wait_for("gateway /readyz", Duration::from_secs(30), || {
            let url = url.clone();
            async move {
                let r = reqwest::get(&url).await.ok()?;
                (r.status() == 200).then_some(())
            }
        })
        .await;
        served
    }
}

/// A gateway account to create: who the person is, and how they may sign in.
pub struct NewUser<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    /// Their password for the web sign-in; without one they use API tokens only.
    pub password: Option<&'a str>,
    pub admin: bool,
}

impl<'a> NewUser<'a> {
    /// A plain user (not an admin) without a password.
    pub fn new(username: &'a str, email: &'a str, first_name: &'a str, last_name: &'a str) -> Self {
        Self {
            username,
            email,
            first_name,
            last_name,
            password: None,
            admin: false,
        }
    }

    /// Signs in at the gateway's web pages with `password`.
    pub fn password(self, password: &'a str) -> Self {
        Self {
            password: Some(password),
            ..self
        }
    }

    /// An administrator of the gateway.
    pub fn admin(self) -> Self {
        Self {
            admin: true,
            ..self
        }
    }
}

pub struct Served {
    child: Option<Child>,
    /// Everything the server wrote to stderr.
    log: std::path::PathBuf,
}

impl Served {
    /// The server's process id, e.g. to read its memory use from /proc.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or_default()
    }

    /// SIGKILL: the process dies mid-request, as in a crash or an OOM kill.
    pub fn kill(mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill -9");
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM and returns the exit status and everything the server logged.
    pub async fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let child = self.child.take().expect("running");
        let pid = child.id().to_string();
        let killed = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(killed.success());
        let status = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .expect("join")
            .expect("wait")
            .status;
        (status, self.log())
    }

    /// What the server has logged so far.
    pub fn log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).into_owned()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
