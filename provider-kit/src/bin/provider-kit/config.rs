//! `provider-kit serve` settings: defaults, then the YAML file of `--config`, then flags. Unknown keys
//! in the file are refused, so a typo is an error rather than a silently ignored setting.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Deserialize;

use crate::ServeArgs;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    credentials: Option<PathBuf>,
    listen: Option<String>,
    manifest: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    max_upload_bytes: Option<u64>,
    max_job_secs: Option<u64>,
}

/// Everything `serve` needs, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeConfig {
    pub credentials: PathBuf,
    pub listen: String,
    pub manifest: PathBuf,
    pub data_dir: PathBuf,
    pub max_upload_bytes: u64,
    pub max_job_secs: u64,
}

impl ServeConfig {
    pub const DEFAULT_LISTEN: &str = "127.0.0.1:9000";
    pub const DEFAULT_DATA_DIR: &str = "./provider-data";
    pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 64 * 1024 * 1024;
    pub const DEFAULT_MAX_JOB_SECS: u64 = 24 * 3600;

    pub fn resolve(args: ServeArgs) -> anyhow::Result<Self> {
        let file = match &args.config {
            Some(path) => read(path)?,
            None => FileConfig::default(),
        };
        // Paths in the file are relative to the file, like every config format users know.
        let base = args
            .config
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf);
        let relative = |path: PathBuf| match &base {
            Some(base) if path.is_relative() => base.join(path),
            _ => path,
        };
        let credentials = args
            .credentials
            .or(file.credentials.map(&relative))
            .context(
                "no credentials file: pass --credentials (written by `provider-kit register`)",
            )?;
        let manifest = args
            .manifest
            .or(file.manifest.map(&relative))
            .context("no manifest: pass --manifest (e.g. manifests/dev.manifest.yaml)")?;
        Ok(Self {
            credentials,
            manifest,
            listen: args
                .listen
                .or(file.listen)
                .unwrap_or_else(|| Self::DEFAULT_LISTEN.to_owned()),
            data_dir: args
                .data_dir
                .or(file.data_dir.map(&relative))
                .unwrap_or_else(|| PathBuf::from(Self::DEFAULT_DATA_DIR)),
            max_upload_bytes: file
                .max_upload_bytes
                .unwrap_or(Self::DEFAULT_MAX_UPLOAD_BYTES),
            max_job_secs: file.max_job_secs.unwrap_or(Self::DEFAULT_MAX_JOB_SECS),
        })
    }
}

fn read(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("while reading the config file {}", path.display()))?;
    serde_yaml::from_str(&text).with_context(|| format!("in the config file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(config: Option<PathBuf>) -> ServeArgs {
        ServeArgs {
            config,
            credentials: None,
            listen: None,
            manifest: None,
            data_dir: None,
        }
    }

    #[test]
    fn flags_override_the_file_and_file_paths_are_relative_to_it() {
        let dir = std::env::temp_dir().join(format!("pk-serve-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("serve.yaml");
        std::fs::write(
            &file,
            "credentials: dev.json\nmanifest: m.yaml\nlisten: 127.0.0.1:1\nmax_job_secs: 60\n",
        )
        .expect("write");
        let mut with_flag = args(Some(file.clone()));
        with_flag.listen = Some("127.0.0.1:2".into());
        let config = ServeConfig::resolve(with_flag).expect("resolved");
        assert_eq!(config.credentials, dir.join("dev.json"));
        assert_eq!(config.manifest, dir.join("m.yaml"));
        assert_eq!(config.listen, "127.0.0.1:2");
        assert_eq!(config.max_job_secs, 60);
        assert_eq!(
            config.data_dir,
            PathBuf::from(ServeConfig::DEFAULT_DATA_DIR)
        );

        std::fs::write(&file, "credential: typo.json\n").expect("write");
        let refused = ServeConfig::resolve(args(Some(file))).expect_err("unknown key");
        assert!(
            format!("{refused:#}").contains("unknown field"),
            "{refused:#}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn credentials_and_manifest_are_required() {
        let missing = ServeConfig::resolve(args(None)).expect_err("no credentials");
        assert!(missing.to_string().contains("--credentials"), "{missing}");
    }
}
