//! (A sibling of `openapi/`, not inside it, so the handlers that name these shapes and the document that
//! names the handlers do not import each other.)
//! The JSON shapes the API answers, for the OpenAPI document. The request bodies are the handlers'
//! own types (they derive `ToSchema` where they are declared); the answers are built with `json!`
//! in the handlers, and the wire types of provider-kit keep their own serde, so their shapes are
//! written down here, next to the document that publishes them. `openapi_conformance` tests (and
//! schemathesis in CI) check that what the handlers send matches these.

#![expect(
    dead_code,
    reason = "schema declarations: the handlers build these shapes as JSON"
)]

use utoipa::ToSchema;

/// RFC 9457 problem details: the body of every error (`application/problem+json`). `code` is one of
/// the gateway's problem codes; some problems carry extra members (`balance`, `provider`,
/// `connectUrl`, `feature`, `duplicate`).
#[derive(ToSchema)]
pub struct Problem {
    /// `urn:ucloud:problem:<code>`.
    #[schema(rename = "type")]
    type_: String,
    title: String,
    status: u16,
    detail: String,
    #[schema(schema_with = problem_code)]
    code: String,
}

/// `code`: one of the gateway's problem codes (`crate::problem::ProblemCode`).
fn problem_code() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .description(Some("The problem code: a stable camelCase word."))
        .enum_values(Some(
            crate::problem::ProblemCode::ALL.iter().map(|c| c.code()),
        ))
        .build()
}

/// Who a user is, as providers receive it (SPEC §2.2).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct Principal {
    username: String,
    #[schema(pattern = "^(USER|ADMIN)$")]
    role: String,
    first_name: String,
    last_name: String,
    uid: i64,
    email: String,
    two_factor_authentication: bool,
    organization: Option<String>,
    assurance: Vec<String>,
    identity_provider: Option<String>,
    site_username: Option<String>,
}

/// `GET /api/me`.
#[derive(ToSchema)]
pub struct Me {
    principal: Principal,
    projects: Vec<ProjectView>,
}

/// A project and the caller's role in it.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ProjectView {
    id: String,
    title: String,
    /// `PI`, `ADMIN` or `USER`.
    role: String,
    #[schema(format = DateTime)]
    created_at: String,
}

/// A project with its members.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ProjectDetail {
    id: String,
    title: String,
    role: String,
    #[schema(format = DateTime)]
    created_at: String,
    members: Vec<ProjectMember>,
}

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ProjectMember {
    username: String,
    role: String,
    #[schema(format = DateTime)]
    added_at: String,
}

/// A member as set.
#[derive(ToSchema)]
pub struct MemberSet {
    username: String,
    role: String,
}

/// A personal API token; the secret is never shown again.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct TokenView {
    id: String,
    name: String,
    #[schema(format = DateTime)]
    created_at: String,
}

/// A new personal API token, with its secret (shown once).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct TokenCreated {
    id: String,
    name: String,
    /// Send as `Authorization: Bearer <token>`.
    token: String,
    #[schema(format = DateTime)]
    created_at: String,
}

/// Provider metadata (SPEC §1), immutable after registration.
#[derive(ToSchema)]
pub struct ProviderMetadata {
    #[schema(pattern = "^[a-z][a-z0-9-]{1,62}$")]
    id: String,
    domain: String,
    https: bool,
    port: Option<u16>,
    #[schema(pattern = "^(production|test)$")]
    env: String,
}

/// A provider as the API shows it. Owners and admins also see `warnings`, `checkedAt`,
/// `failures` and `hasRefreshToken`; a registration answer adds `refreshToken` (shown once),
/// `issuer` and `jwksUrl`; a reload adds `reload`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ProviderView {
    id: String,
    domain: String,
    https: bool,
    port: u16,
    env: String,
    /// `pendingApproval`, `active` or `suspended`.
    status: String,
    #[schema(format = DateTime)]
    created_at: String,
    /// The last valid manifest, or null before one was fetched.
    manifest: Option<serde_json::Value>,
    manifest_error: Option<String>,
    #[schema(format = DateTime)]
    fetched_at: Option<String>,
    #[schema(required = false)]
    warnings: Vec<String>,
    #[schema(format = DateTime, required = false)]
    checked_at: Option<String>,
    #[schema(required = false)]
    failures: i64,
    #[schema(required = false)]
    has_refresh_token: bool,
    #[schema(required = false)]
    refresh_token: String,
    #[schema(required = false)]
    issuer: String,
    #[schema(required = false)]
    jwks_url: String,
    /// `updated` or `notModified`.
    #[schema(required = false)]
    reload: String,
}

/// A provider's status after an admin's change.
#[derive(ToSchema)]
pub struct ProviderStatus {
    id: String,
    status: String,
}

/// A provider's new refresh token (shown once).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct RefreshTokenIssued {
    id: String,
    refresh_token: String,
}

/// A signing key of the key ring.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct KeyView {
    kid: String,
    #[schema(format = DateTime)]
    active_from: String,
}

/// A revoked signing key and the key that signs instead.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct KeyRevoked {
    kid: String,
    #[schema(format = DateTime)]
    revoked_at: String,
    replaced_by: Option<KeyView>,
}

/// A created user.
#[derive(ToSchema)]
pub struct UserCreated {
    principal: Principal,
}

/// A user's account state.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct AccountView {
    username: String,
    /// `active`, `suspended`, `expired`, `disabled` or `pendingApproval`.
    state: String,
    status: String,
    #[schema(format = DateTime)]
    suspended_until: Option<String>,
    #[schema(format = DateTime)]
    expires_at: Option<String>,
}

/// Whose wallet: exactly one of `username` or `project`.
#[derive(ToSchema)]
pub struct WalletOwner {
    #[schema(required = false)]
    username: String,
    #[schema(required = false)]
    project: String,
}

/// Body of `POST /api/accounting/charge` (SPEC §5): idempotent by `chargeId`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ChargeRequest {
    charge_id: String,
    owner: WalletOwner,
    units: u64,
    #[schema(required = false)]
    description: String,
}

/// The wallet after a charge; `duplicate` when this `chargeId` was charged before.
#[derive(ToSchema)]
pub struct ChargeResponse {
    balance: i64,
    duplicate: bool,
}

/// A wallet: an owner's units at one provider.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct WalletView {
    owner: WalletOwner,
    provider: String,
    balance: i64,
    #[schema(format = DateTime)]
    updated_at: String,
}

/// One charge and its outcome.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ChargeView {
    charge_id: String,
    provider: String,
    units: i64,
    description: String,
    outcome: String,
    balance: Option<i64>,
    #[schema(format = DateTime)]
    at: String,
}

/// One audit row.
#[derive(ToSchema)]
pub struct AuditEntry {
    id: i64,
    #[schema(format = DateTime)]
    at: String,
    actor: String,
    action: String,
    target: String,
    /// What changed, as recorded.
    detail: serde_json::Value,
}

/// A connection between the caller and a provider (SPEC §4).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ConnectionView {
    id: String,
    provider: String,
    state: String,
    local_identity: Option<String>,
    comment: Option<String>,
    comment_url: Option<String>,
    #[schema(format = DateTime)]
    updated_at: String,
}

/// A started connection and the form the browser posts to the provider.
#[derive(ToSchema)]
pub struct ConnectionStarted {
    connection: ConnectionView,
    redirect: ConnectRedirect,
}

#[derive(ToSchema)]
pub struct ConnectRedirect {
    method: String,
    url: String,
    fields: ConnectFields,
}

#[derive(ToSchema)]
pub struct ConnectFields {
    token: String,
}

/// A provider's mapping report (SPEC §4).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct MappingReport {
    #[schema(required = false)]
    nonce: Option<String>,
    username: String,
    local_identity: String,
    /// `ok`, `pendingAccountLinking` or `pendingAdditionalValidation`.
    state: String,
    comment: Option<String>,
    comment_url: Option<String>,
    #[schema(required = false)]
    renamed_from: Option<String>,
}

/// The answer to a report: the completion code of an explicit mapping, or the connection an
/// implicit one made.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct MappingReportAnswer {
    #[schema(required = false)]
    completion_code: String,
}

/// An accepted agreement (SPEC §9): the gateway's own (`agreement`) or a provider's terms
/// (`provider`), the version accepted and when.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct Acceptance {
    agreement: Option<String>,
    provider: Option<String>,
    version: String,
    #[schema(format = DateTime)]
    accepted_at: String,
}

/// An acceptance with who made it, for the admin's view.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct AcceptanceOfUser {
    username: String,
    agreement: Option<String>,
    provider: Option<String>,
    version: String,
    #[schema(format = DateTime)]
    accepted_at: String,
}

/// Where a failed check's way out is.
#[derive(ToSchema)]
pub struct CheckAction {
    url: String,
}

/// An agreement still to accept.
#[derive(ToSchema)]
pub struct PendingAgreement {
    agreement: Option<String>,
    provider: Option<String>,
    version: String,
    title: String,
    url: Option<String>,
}

/// One gate of the broker, in §3's order.
#[derive(ToSchema)]
pub struct AccessCheck {
    /// `account`, `provider`, `project`, `feature`, `agreements`, `connection`, `twoFactor` or
    /// `assurance`.
    check: String,
    ok: bool,
    reason: String,
    action: Option<CheckAction>,
    /// On a failed `agreements` check: what is still to accept.
    agreements: Option<Vec<PendingAgreement>>,
}

/// A wallet balance, shown with the explanation (information, not a gate).
#[derive(ToSchema)]
pub struct WalletBalance {
    balance: i64,
}

/// Whether the broker would forward the caller's request to the provider, and every check why.
#[derive(ToSchema)]
pub struct AccessExplanation {
    allowed: bool,
    checks: Vec<AccessCheck>,
    wallet: Option<WalletBalance>,
}

/// An identity at an identity provider linked to the caller's account (SPEC §8).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct LinkedIdentity {
    id: String,
    identity_provider: String,
    subject: String,
    email: Option<String>,
    #[schema(format = DateTime)]
    linked_at: String,
}

/// Where to send the browser to sign in at the identity provider being linked.
#[derive(ToSchema)]
pub struct LinkRedirect {
    redirect: String,
}

/// What a merge moved and revoked.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct MergeResult {
    from: String,
    into: String,
    identities: u64,
    connections: Vec<String>,
    wallets: Vec<String>,
    projects: Vec<String>,
    sessions_revoked: u64,
    api_tokens_revoked: u64,
    password_revoked: bool,
}
