//! `provider-kit register`: registers metadata with a user's API token (SPEC §1) and saves what the
//! gateway answers — the refresh token, shown once — as a credentials file with mode 0600. The
//! file is checked before registering, so an id is never used up for credentials that cannot be
//! saved; the token is never printed.

use std::path::Path;

use anyhow::{Context as _, bail};
use provider_kit::client::{ClientError, Secret, register};
use provider_kit::protocol::ProviderMetadata;

use crate::RegisterArgs;

pub async fn run(args: RegisterArgs) -> anyhow::Result<()> {
    let metadata = read_metadata(&args.metadata)?;
    let (token, from) = api_token(&args)?;
    if args.out.exists() && !args.force {
        bail!(
            "{} already exists; pass --force to replace it (the credentials in it stop being yours to use only if the gateway rotates them)",
            args.out.display()
        );
    }
    let registration = register(&args.gateway, &token, &metadata)
        .await
        .map_err(|error| explain(error, &metadata, &args.gateway, &from))?;
    let credentials = registration.credentials(&args.gateway);
    credentials.save(&args.out, args.force).with_context(|| {
        format!(
            "provider `{}` was registered, but its credentials could not be saved; ask an admin to rotate its refresh token (`gateway providers rotate-token {}`)",
            metadata.id, metadata.id
        )
    })?;
    crate::say(&format!(
        "registered provider `{}` (status: {}); credentials saved to {} (mode 0600)",
        registration.id,
        registration.status,
        args.out.display()
    ))?;
    if registration.status != "active" {
        crate::say("an admin must approve it before the gateway brokers requests to it")?;
    }
    Ok(())
}

fn read_metadata(path: &Path) -> anyhow::Result<ProviderMetadata> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("while reading the metadata file {}", path.display()))?;
    // YAML is a superset of JSON: one parser reads both.
    serde_yaml::from_str(&text)
        .with_context(|| format!("{} is not valid provider metadata", path.display()))
}

/// The user's API token, and where it came from (for messages; never the token itself).
fn api_token(args: &RegisterArgs) -> anyhow::Result<(Secret, String)> {
    let (raw, from) = match (&args.token_file, &args.token_env) {
        (Some(file), _) => {
            let raw = std::fs::read_to_string(file)
                .with_context(|| format!("while reading the API token file {}", file.display()))?;
            (raw, format!("the file {}", file.display()))
        }
        (None, Some(var)) => {
            let raw = std::env::var(var)
                .with_context(|| format!("the environment variable {var} is not set"))?;
            (raw, format!("${var}"))
        }
        (None, None) => bail!("pass --token-file or --token-env"),
    };
    let token = raw.trim();
    if token.is_empty() {
        bail!("the API token in {from} is empty");
    }
    Ok((Secret::new(token), from))
}

fn explain(
    error: ClientError,
    metadata: &ProviderMetadata,
    gateway: &str,
    from: &str,
) -> anyhow::Error {
    let id = &metadata.id;
    match error {
        ClientError::Conflict { .. } => anyhow::anyhow!(
            "provider id `{id}` is already registered at {gateway}. Its refresh token was shown once, at registration; if the provider is yours, an admin can rotate it (`gateway providers rotate-token {id}`), otherwise choose another id"
        ),
        ClientError::Unauthorized(detail) => anyhow::anyhow!(
            "the gateway did not accept the API token from {from} ({detail}); create one with `gateway tokens create USER --name NAME`"
        ),
        ClientError::Rejected { status, detail, .. } => {
            anyhow::anyhow!("the gateway refused to register `{id}` ({status}): {detail}")
        }
        ClientError::Transport(_) | ClientError::Timeout(_) => {
            anyhow::anyhow!("could not reach the gateway at {gateway}: {error}")
        }
        other => anyhow::anyhow!("registering `{id}` at {gateway} failed: {other}"),
    }
}
