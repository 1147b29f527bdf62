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
}

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
