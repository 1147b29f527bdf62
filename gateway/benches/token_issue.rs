//! Access tokens issued per second, beside `openssl speed rsa2048` on the same machine.
//!
//! Run: `cargo bench -p gateway --bench token_issue`. Prints three figures, single-threaded:
//! the raw RS256 signature of an access token (key ring only), the whole refresh path
//! (hash lookup in SQLite + claims + signature), and OpenSSL's RSA-2048 sign/s for comparison.

use gateway::app::App;
use gateway::clock::SystemClock;
use gateway::config::Config;
use provider_kit::protocol::AccessClaims;
use std::sync::Arc;
use std::time::{Duration, Instant};

const RUN: Duration = Duration::from_secs(3);

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

async fn run() {
    let dir = std::env::temp_dir().join(format!("gw-bench-{}", gateway::secrets::random_id()));
    let config = Config {
        data_dir: dir.clone(),
        ..Config::default()
    };
    let app = App::build(config, "http://bench.local".into(), Arc::new(SystemClock))
        .await
        .expect("app");

    let claims = AccessClaims {
        iss: "http://bench.local".into(),
        sub: "#P_bench".into(),
        aud: "http://bench.local".into(),
        role: "PROVIDER".into(),
        iat: 1,
        nbf: 1,
        exp: 601,
        jti: "0123456789abcdef0123456789abcdef".into(),
    };
    let (n, elapsed) = repeat(|| {
        app.keys.sign("at+jwt", &claims).expect("sign");
    });
    let sign_rate = n as f64 / elapsed;
    println!("gateway: sign access token (RS256, aws-lc-rs)   {sign_rate:>9.0} tokens/s");

    let owner = app
        .accounts
        .create_user(gateway::accounts::UserInput {
            username: "bench".into(),
            email: "bench@example.org".into(),
            first_name: "Bench".into(),
            last_name: "Mark".into(),
            organization: None,
            admin: false,
            password: None,
        })
        .await
        .expect("user");
    let metadata = provider_kit::protocol::ProviderMetadata::new(
        "bench",
        "127.0.0.1",
        false,
        Some(9000),
        provider_kit::protocol::ProviderEnv::Test,
    )
    .expect("metadata");
    let (_, refresh) = app
        .registry
        .register(&owner, metadata)
        .await
        .expect("register");
    let start = Instant::now();
    let mut issued = 0u64;
    while start.elapsed() < RUN {
        app.tokens.refresh(refresh.expose()).await.expect("refresh");
        issued += 1;
    }
    let refresh_rate = issued as f64 / start.elapsed().as_secs_f64();
    println!("gateway: full refresh (lookup + claims + sign)  {refresh_rate:>9.0} tokens/s");

    match openssl_sign_rate() {
        Some(openssl) => {
            println!("openssl speed -seconds 3 rsa2048 (1 thread)    {openssl:>9.0} sign/s");
            println!(
                "ratio signing / openssl: {:.2}  (target >= 0.80)",
                sign_rate / openssl
            );
            println!(
                "ratio full refresh / openssl: {:.2}",
                refresh_rate / openssl
            );
        }
        None => println!("openssl not found or its output not understood: no baseline"),
    }
    let _ = std::fs::remove_dir_all(dir);
}

fn repeat(mut f: impl FnMut()) -> (u64, f64) {
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed() < RUN {
        f();
        n += 1;
    }
    (n, start.elapsed().as_secs_f64())
}

/// Parses the `rsa 2048 bits ... sign/s verify/s` line of `openssl speed`.
fn openssl_sign_rate() -> Option<f64> {
    let out = std::process::Command::new("openssl")
        .args(["speed", "-seconds", "3", "rsa2048"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| {
        l.trim_start().starts_with("rsa 2048 bits") || l.trim_start().starts_with("rsa  2048 bits")
    })?;
    let numbers: Vec<f64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    // "rsa 2048 bits 0.000596s 0.000017s 1678.6 58823.5": the first of the two rates is sign/s.
    numbers.iter().rev().nth(1).copied()
}
