//! The provider manifest (SPEC §1): what a provider offers. Every feature defaults to false.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Manifest {
    pub users: UserSettings,
    pub features: Features,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UserSettings {
    pub require_explicit_mapping: bool,
    /// SPEC §9: the principal must have `twoFactorAuthentication`.
    pub require_two_factor: bool,
    /// SPEC §9: REFEDS assurance URIs the principal must all carry.
    pub require_assurance: Vec<String>,
    /// SPEC §9: the provider's terms, accepted in the connect flow before anything is brokered.
    pub terms: Option<Terms>,
}

/// A provider's terms of use (SPEC §9): a new `version` asks every user again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Terms {
    pub version: String,
    pub title: String,
    /// Where the text is: an http(s) URL.
    pub url: String,
}

/// Bounds on the §9 keys, checked by the parser.
pub const MAX_TERMS_VERSION_CHARS: usize = 64;
pub const MAX_TERMS_TITLE_CHARS: usize = 200;
pub const MAX_URL_CHARS: usize = 2048;
pub const MAX_ASSURANCE_URIS: usize = 16;
pub const MAX_ASSURANCE_URI_CHARS: usize = 256;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Features {
    pub compute: ComputeFeatures,
    pub storage: StorageFeatures,
    pub block_devices: FeatureToggle,
    pub ip_addresses: FeatureToggle,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ComputeFeatures {
    pub docker: DockerFeatures,
    pub virtual_machine: VirtualMachineFeatures,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DockerFeatures {
    pub enabled: bool,
    pub web: bool,
    pub vnc: bool,
    pub batch: bool,
    pub logs: bool,
    pub terminal: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VirtualMachineFeatures {
    pub enabled: bool,
    pub logs: bool,
    pub vnc: bool,
    pub terminal: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StorageFeatures {
    pub enabled: bool,
    pub shares: bool,
    pub projects: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FeatureToggle {
    pub enabled: bool,
}
