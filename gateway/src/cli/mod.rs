//! The `gateway` command line: one file per command (`users.rs`, `tokens.rs`, `providers.rs`, …),
//! each starting from `open::app`. Every command calls the same domain code as the HTTP API.

mod audit;
mod dev;
mod keys;
pub mod logging;
mod migrate;
mod open;
mod providers;
mod serve;
mod tokens;
mod users;
mod wallets;

use crate::config::Config;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// `0.1.0 (commit abc1234)`: the commit is read by `build.rs` (`unknown` when built without git).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("GATEWAY_GIT_COMMIT"),
    ")"
);

#[derive(Parser)]
#[command(name = "gateway", version = VERSION, about = "The federation gateway")]
pub struct Cli {
    /// YAML configuration file; every key can also be set with a GATEWAY_* variable.
    #[arg(long, global = true, env = "GATEWAY_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway until SIGINT/SIGTERM.
    Serve,
    /// Run a complete local federation: the gateway, an admin, a demo user with an API token and
    /// a wallet, and the provider-kit dev provider; prints the URLs and credentials.
    Dev(dev::DevArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Print configuration help.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage end-users and their account lifecycle.
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Manage personal API tokens.
    #[command(subcommand)]
    Tokens(tokens::TokensCommand),
    /// Approve, suspend and resume providers; rotate or revoke their refresh tokens.
    #[command(subcommand)]
    Providers(providers::ProvidersCommand),
    /// Manage the signing key ring.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Grant units and list wallets.
    #[command(subcommand)]
    Wallets(wallets::WalletsCommand),
    /// Read the audit log of security-relevant events.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Check a provider manifest file the way the gateway will.
    #[command(subcommand)]
    Manifest(ManifestCommand),
    /// Make development TLS material.
    #[command(subcommand)]
    Certs(CertsCommand),
    /// Print a shell completion script, e.g. `gateway completions bash > /etc/bash_completion.d/gateway`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand)]
enum ManifestCommand {
    /// Parse FILE (YAML or JSON); print the manifest with its warnings, or every error. Exit 1 on errors.
    Check { file: PathBuf },
}

#[derive(Subcommand)]
enum CertsCommand {
    /// Create a development CA (once) and a server certificate signed by it.
    Dev {
        /// Folder for ca.pem, ca-key.pem, server.pem and server-key.pem.
        #[arg(long, default_value = "certs/dev")]
        out: PathBuf,
        /// A DNS name or IP address the server certificate covers (repeatable);
        /// default: localhost, 127.0.0.1, ::1.
        #[arg(long = "host")]
        hosts: Vec<String>,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print a commented configuration with the defaults.
    Example,
    /// Load the configuration (--config file, then GATEWAY_* variables) and check it; exit 1 with
    /// the reason when it is not valid.
    Check,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match runtime().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// One worker thread per CPU the process may run on. With a single CPU (a pinned process, a
/// one-CPU container) that is the current-thread runtime: the same one thread of work without the
/// multi-thread scheduler's cross-thread queues and wake-ups, which on one CPU only cost time.
/// Password hashing has threads of its own either way (`accounts::password`).
fn runtime() -> tokio::runtime::Builder {
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    if cpus == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Config(ConfigCommand::Example) => {
            print!("{}", Config::example());
            return Ok(());
        }
        Command::Config(ConfigCommand::Check) => {
            let config = Config::from_process_env(cli.config.as_deref())?;
            let source = match &cli.config {
                Some(file) => format!("{} and the environment", file.display()),
                None => "the environment".to_owned(),
            };
            println!(
                "configuration from {source} is valid: listening on {}, issuer {}, database {}",
                config.listen,
                config.issuer(None),
                crate::config::redact_url(&config.database_url())
            );
            return Ok(());
        }
        Command::Certs(CertsCommand::Dev { out, hosts }) => return certs_dev(out, hosts),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "gateway", &mut script);
            return write_stdout(&script);
        }
        Command::Manifest(ManifestCommand::Check { file }) => return manifest_check(file),
        _ => {}
    }
    let config = Config::from_process_env(cli.config.as_deref())?;
    logging::init(config.log_format);
    match cli.command {
        Command::Serve => serve::serve(config).await,
        Command::Dev(args) => dev::dev(config, args).await,
        Command::Migrate => migrate::migrate(config).await,
        Command::Users(c) => users::users(config, c).await,
        Command::Tokens(c) => tokens::tokens(config, c).await,
        Command::Providers(c) => providers::providers(config, c).await,
        Command::Keys(c) => keys::keys(config, c).await,
        Command::Wallets(c) => wallets::wallets(config, c).await,
        Command::Audit(c) => audit::audit(config, c).await,
        Command::Config(_)
        | Command::Certs(_)
        | Command::Manifest(_)
        | Command::Completions { .. } => Ok(()),
    }
}

/// Writes `bytes` to stdout; a reader that went away (`| head`) is not an error.
fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(bytes) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

fn certs_dev(out: &std::path::Path, hosts: &[String]) -> anyhow::Result<()> {
    let paths = crate::tls::devcerts::generate(out, hosts)?;
    let ca = if paths.ca_created {
        "created"
    } else {
        "reused"
    };
    let server = if paths.server_issued {
        "issued"
    } else {
        "kept (still valid)"
    };
    println!("CA {ca}:          {}", paths.ca_cert.display());
    println!("server cert {server}: {}", paths.server_cert.display());
    println!("server key:          {}", paths.server_key.display());
    Ok(())
}

fn manifest_check(file: &std::path::Path) -> anyhow::Result<()> {
    use provider_kit::protocol::Manifest;
    let bytes =
        std::fs::read(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let content_type = match file.extension().and_then(|e| e.to_str()) {
        Some("json") => Some("application/json"),
        _ => Some("application/yaml"),
    };
    match Manifest::parse(&bytes, content_type) {
        Ok(parsed) => {
            print!("{}", serde_yaml::to_string(&parsed.manifest)?);
            for warning in &parsed.warnings {
                eprintln!("warning: {warning}");
            }
            eprintln!(
                "{}: valid ({} warning(s))",
                file.display(),
                parsed.warnings.len()
            );
            Ok(())
        }
        Err(errors) => {
            for error in errors.errors() {
                eprintln!("error: {error}");
            }
            anyhow::bail!(
                "{}: invalid manifest ({} error(s))",
                file.display(),
                errors.errors().len()
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap checks its command tree (duplicate names, conflicting flags) only when a command is
    /// parsed; this checks all of it at once, so two commands named alike fail here, not in use.
    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
