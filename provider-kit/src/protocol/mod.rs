//! The wire contract of `docs/protocol.md`, in types. Both crates use these: the contract lives once.
//!
//! Field names are camelCase on the wire. Types that carry a rule of the contract (`ProviderId`,
//! `ProviderMetadata`) can only be built through their parser, so the rest of the code never re-checks.

mod accounting;
mod claims;
mod manifest;
mod manifest_parse;
mod metadata;
mod problem;
mod tokens;
mod usermap;

pub use accounting::{CODE_INSUFFICIENT_FUNDS, ChargeRequest, ChargeResponse, WalletOwner};
pub use claims::{
    AccessClaims, Principal, ROLE_PROVIDER, ROLE_SERVICE, SERVICE_SUBJECT, ServiceClaims,
    TYP_ACCESS, TYP_SERVICE, TYP_USERMAP, UsermapClaims, provider_subject,
};
pub use claims::{MAX_ACCESS_LIFETIME_SECS, MAX_LEEWAY_SECS, MAX_SERVICE_LIFETIME_SECS};
pub use manifest::{
    ComputeFeatures, DockerFeatures, FeatureToggle, Features, Manifest, StorageFeatures, Terms,
    UserSettings, VirtualMachineFeatures,
};
pub use manifest_parse::{
    MAX_MANIFEST_BYTES, ManifestError, ManifestErrors, ManifestFormat, ParsedManifest,
};
pub use metadata::{MetadataError, ProviderEnv, ProviderId, ProviderMetadata};
pub use problem::Problem;
pub use tokens::{
    Jwk, JwkSet, OAuthError, OAuthTokenResponse, RefreshItem, RefreshRequest, RefreshResponse,
    RefreshResponseItem,
};
pub use usermap::{ConnectionState, MappingReport, MappingReportAnswer, ReportedState};
