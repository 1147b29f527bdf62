//! `provider-kit`: a thin command line over the library. `register` joins a gateway (SPEC §1) and
//! keeps the refresh token in a 0600 file; `serve` runs the dev provider of
//! `provider_kit::devprovider` (storage folders per local account, jobs that charge wallets and the
//! connection flow, SPEC §3–§5); `reload-manifest` asks the gateway to fetch the manifest again;
//! `accounts` hashes passwords for the users file and exports the local accounts; `doctor` says
//! whether the federation works for this provider, and how to fix what does not.

mod accounts;
mod doctor;
mod policy;
mod register;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Args, Parser, Subcommand};
use provider_kit::usermap::UsernamePolicy;

#[derive(Parser)]
#[command(
    name = "provider-kit",
    version,
    about = "Join a gateway and run the dev provider"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Register provider metadata with a user's API token; save the credentials (mode 0600).
    Register(RegisterArgs),
    /// Run the dev provider: storage folders, charged jobs and account connection under /ucloud/<id>.
    Serve(ServeArgs),
    /// Ask the gateway to fetch this provider's manifest now.
    ReloadManifest {
        /// Credentials file written by `register`.
        #[arg(long)]
        credentials: PathBuf,
    },
    /// Check that the federation works for this provider: credentials file, refresh token, the
    /// gateway's keys, clock skew, the manifest as the gateway parsed it, and whether the gateway
    /// reaches the provider. Exits non-zero if any check fails.
    Doctor {
        /// Credentials file written by `register`.
        #[arg(long)]
        credentials: PathBuf,
        /// Print the checks as JSON, for scripts.
        #[arg(long)]
        json: bool,
        /// The provider's data dir: also show the quarantine ledger of its mapping store.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// The certificate chain (PEM) the provider serves HTTPS with: check its names and expiry.
        #[arg(long)]
        tls_cert: Option<PathBuf>,
    },
    /// Local accounts: password hashes for the users file, and the accounts made so far.
    #[command(subcommand)]
    Accounts(AccountsCommand),
}

#[derive(Subcommand)]
pub enum AccountsCommand {
    /// Read one password line from stdin and print its argon2id hash, for `password_hash` in the
    /// users file.
    HashPassword,
    /// Print the local accounts of a dev provider's mapping store ({data-dir}/usermap.db).
    Export {
        /// Output format: passwd (name:x:uid:gid:gecos:home:shell), quarantine (the ledger of
        /// removed accounts' names and ids, name:uid:gid:removed:held-until) or json (both).
        #[arg(long, default_value = "passwd")]
        format: provider_kit::usermap::ExportFormat,
        /// The dev provider's data dir (default ./provider-data).
        #[arg(long, default_value = "./provider-data")]
        data_dir: PathBuf,
    },
    /// Remove a local account (its mapping, and the account in the backend); its name, uid and
    /// gid go to the quarantine ledger for accounts.quarantine_days.
    Remove {
        /// The local account name.
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Change the username policy of automatic accounts without surprises.
    #[command(subcommand)]
    Policy(PolicyCommand),
}

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Print old → new for every account under --policy, and every collision; changes nothing.
    Preview(PolicyArgs),
    /// Rename as `preview` says; old names stay aliases for accounts.rename_grace_days, and each
    /// new local identity is reported to the gateway (with --credentials now, else by `serve` on
    /// the user's next request).
    Apply {
        #[command(flatten)]
        args: PolicyArgs,
        /// Credentials file written by `register`, to report the renames at once.
        #[arg(long)]
        credentials: Option<PathBuf>,
    },
}

/// Where the mapping store and the accounts configuration are.
#[derive(Args)]
pub struct StoreArgs {
    /// The `serve` config file whose `accounts:` section (backend, ranges, fallback) and
    /// data_dir apply.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The provider's data dir (default: the config's data_dir, else ./provider-data).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

#[derive(Args)]
pub struct PolicyArgs {
    /// The new policy: fullName, gatewayUsername, emailLocalPart, anonymized or identityClaim.
    #[arg(long, value_parser = parse_policy)]
    pub policy: UsernamePolicy,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
#[command(group(ArgGroup::new("token").required(true).args(["token_file", "token_env"])))]
pub struct RegisterArgs {
    /// The gateway's base URL, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    pub gateway: String,
    /// Provider metadata (YAML or JSON), e.g. manifests/dev.yaml.
    #[arg(long)]
    pub metadata: PathBuf,
    /// A file holding the user's personal API token.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// An environment variable holding the user's personal API token.
    #[arg(long)]
    pub token_env: Option<String>,
    /// Where to save the credentials (created with mode 0600).
    #[arg(long)]
    pub out: PathBuf,
    /// Replace an existing credentials file.
    #[arg(long)]
    pub force: bool,
}

#[derive(Args)]
pub struct ServeArgs {
    /// A YAML file with any of: credentials, listen, manifest, data_dir, max_upload_bytes,
    /// max_job_secs, users_file, accounts, tls_cert, tls_key. Flags override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Credentials file written by `register`.
    #[arg(long)]
    pub credentials: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:9000, the port of manifests/dev.yaml).
    #[arg(long)]
    pub listen: Option<String>,
    /// The manifest to serve (YAML, or JSON by a .json extension); re-read on every request.
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// Where storage folders and the mapping store live (default ./provider-data).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Local users a browser may sign in as to connect an account (YAML: users: [{username,
    /// password_hash}]). Without it, the connection flow says no local users are configured.
    #[arg(long)]
    pub users_file: Option<PathBuf>,
    /// How automatic accounts are named: fullName (default), gatewayUsername, emailLocalPart,
    /// anonymized, identityClaim (the IdP's siteUsername, else accounts.identity_claim_fallback)
    /// or serviceProvider.
    #[arg(long, value_parser = parse_policy)]
    pub username_policy: Option<UsernamePolicy>,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key. Reloaded without a restart
    /// on SIGHUP and when the files change.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

fn parse_policy(text: &str) -> Result<UsernamePolicy, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).map_err(|_| {
        "expected fullName, gatewayUsername, emailLocalPart, anonymized, identityClaim or serviceProvider"
            .into()
    })
}

impl From<ServeArgs> for provider_kit::devprovider::ServeOptions {
    fn from(args: ServeArgs) -> Self {
        Self {
            config: args.config,
            credentials: args.credentials,
            listen: args.listen,
            manifest: args.manifest,
            data_dir: args.data_dir,
            users_file: args.users_file,
            username_policy: args.username_policy,
            tls_cert: args.tls_cert,
            tls_key: args.tls_key,
        }
    }
}

/// Prints a line of a command's result; a closed stdout (`| head`) is an error, not a panic.
pub fn say(line: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    writeln!(std::io::stdout().lock(), "{line}").map_err(|e| anyhow::anyhow!("cannot print: {e}"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("PROVIDER_KIT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Register(args) => register::run(args).await,
            Command::Serve(args) => serve::run(args).await,
            Command::ReloadManifest { credentials } => serve::reload_manifest(&credentials).await,
            Command::Doctor {
                credentials,
                json,
                data_dir,
                tls_cert,
            } => doctor::run(&credentials, json, data_dir.as_deref(), tls_cert.as_deref()).await,
            Command::Accounts(command) => accounts::run(command).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
