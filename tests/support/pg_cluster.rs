//! A private PostgreSQL server for one test that stops and starts it (a database restart), so the
//! shared server other tests use is never disturbed. Run as the `postgres` user with the installed
//! server's own `initdb` and `pg_ctl`.

use super::{TempDir, free_port};
use std::process::Command;

pub struct PgCluster {
    dir: TempDir,
    pub port: u16,
    bin: std::path::PathBuf,
}

/// The newest installed server's binaries (`/usr/lib/postgresql/<version>/bin`).
fn server_bin() -> std::path::PathBuf {
    let mut versions: Vec<u32> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server installed under /usr/lib/postgresql")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    versions.sort_unstable();
    let version = versions.last().expect("a PostgreSQL version");
    std::path::PathBuf::from(format!("/usr/lib/postgresql/{version}/bin"))
}

impl PgCluster {
    /// Creates and starts a cluster on a free port, trusting local connections.
    pub fn start() -> Self {
        let dir = TempDir::new("gw-pg");
        let owned = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir.0)
            .status()
            .expect("chown");
        assert!(owned.success());
        let cluster = Self {
            dir,
            port: free_port(),
            bin: server_bin(),
        };
        cluster.as_postgres("initdb", &["-A", "trust", "-U", "postgres", "-D"], true);
        cluster.up();
        cluster
    }

    fn data(&self) -> String {
        self.dir.0.join("data").display().to_string()
    }

    fn as_postgres(&self, tool: &str, args: &[&str], with_data: bool) {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"])
            .arg(self.bin.join(tool))
            .args(args);
        if with_data {
            c.arg(self.data());
        }
        let out = c.output().expect("run as postgres");
        assert!(
            out.status.success(),
            "{tool} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The admin URL of this server.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server and waits until it accepts connections.
    pub fn up(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {}",
            self.port,
            self.dir.0.display()
        );
        let log = self.dir.0.join("server.log").display().to_string();
        let data = self.data();
        self.as_postgres(
            "pg_ctl",
            &["-D", &data, "-o", &options, "-l", &log, "-w", "start"],
            false,
        );
    }

    /// Stops the server at once (connections are cut), as a crash or a restart would.
    pub fn down(&self) {
        let data = self.data();
        self.as_postgres("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"], false);
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.data();
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .output();
    }
}
