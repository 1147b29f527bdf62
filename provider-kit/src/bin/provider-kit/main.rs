//! `provider-kit`: a thin command line over the library. `register` joins a gateway (SPEC §1) and
//! keeps the refresh token in a 0600 file; `serve` runs the dev provider of
//! `provider_kit::devprovider` (per-account storage folders and jobs that charge wallets, SPEC §3,
//! §5); `reload-manifest` asks the gateway to fetch the manifest again.

mod register;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Args, Parser, Subcommand};

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
    /// Run the dev provider: storage folders and charged jobs under /ucloud/<id>.
    Serve(ServeArgs),
    /// Ask the gateway to fetch this provider's manifest now.
    ReloadManifest {
        /// Credentials file written by `register`.
        #[arg(long)]
        credentials: PathBuf,
    },
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
    /// max_job_secs. Flags override it.
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
    /// Where account folders live (default ./provider-data).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

impl From<ServeArgs> for provider_kit::devprovider::ServeOptions {
    fn from(args: ServeArgs) -> Self {
        Self {
            config: args.config,
            credentials: args.credentials,
            listen: args.listen,
            manifest: args.manifest,
            data_dir: args.data_dir,
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
