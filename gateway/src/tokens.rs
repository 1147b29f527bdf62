//! Provider access tokens (SPEC §2.1): refresh token in, short-lived RS256 `at+jwt` out, and the
//! check the gateway applies when a provider presents one.

use crate::clock::SharedClock;
use crate::keys::{KeyRing, SignError};
use crate::model::{Provider, ProviderStatus};
use crate::secrets::{hash_secret, random_id};
use crate::store::{Store, StoreError};
use provider_kit::protocol::{
    AccessClaims, MAX_ACCESS_LIFETIME_SECS, MAX_LEEWAY_SECS, Principal, ROLE_PROVIDER,
    ROLE_SERVICE, SERVICE_SUBJECT, ServiceClaims, TYP_ACCESS, TYP_SERVICE, provider_subject,
};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The refresh token is unknown, revoked, rotated away, or its provider is suspended.
    #[error("the refresh token is invalid, revoked, or its provider is suspended")]
    InvalidGrant,
    /// A presented access token failed a check; the reason is safe to show (it never holds the token).
    #[error("access token rejected: {0}")]
    InvalidAccessToken(&'static str),
    #[error(transparent)]
    Sign(#[from] SignError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct IssuedAccessToken {
    pub token: String,
    pub expires_in: i64,
}

#[derive(Clone)]
pub struct Tokens {
    store: Store,
    keys: Arc<KeyRing>,
    clock: SharedClock,
    issuer: String,
    access_ttl_secs: i64,
    service_ttl_secs: i64,
}

/// Longest a token may claim to come from the future, or be past `exp`, because clocks drift.
const LEEWAY_SECS: u64 = 30;
const _: () = assert!(
    LEEWAY_SECS <= MAX_LEEWAY_SECS.unsigned_abs(),
    "SPEC §2 caps the leeway"
);

/// The claims of a presented access token, loose where a missing claim must be named rather than
/// fail the parse. `iss`, `aud` and the signature are checked by jsonwebtoken before this is read.
#[derive(serde::Deserialize)]
struct PresentedClaims {
    sub: String,
    role: String,
    iat: Option<i64>,
    nbf: i64,
    exp: i64,
}
/// Refuse to parse anything larger: a real access token is well under 2 KiB.
const MAX_TOKEN_LEN: usize = 8 * 1024;

impl Tokens {
    pub fn new(
        store: Store,
        keys: Arc<KeyRing>,
        clock: SharedClock,
        issuer: String,
        access_ttl_secs: i64,
        service_ttl_secs: i64,
    ) -> Self {
        Self {
            store,
            keys,
            clock,
            issuer,
            access_ttl_secs,
            service_ttl_secs,
        }
    }

    /// The claims of a service token for a call to `provider_id`, on behalf of `principal` if given.
    pub fn service_claims(
        &self,
        provider_id: &str,
        principal: Option<Principal>,
        project: Option<String>,
    ) -> ServiceClaims {
        let now = self.clock.now_secs();
        ServiceClaims {
            iss: self.issuer.clone(),
            sub: SERVICE_SUBJECT.to_owned(),
            aud: provider_id.to_owned(),
            role: ROLE_SERVICE.to_owned(),
            iat: now,
            exp: now + self.service_ttl_secs,
            jti: random_id(),
            principal,
            project,
        }
    }

    /// Signs any of the gateway's JWT kinds with the current key.
    pub fn sign(&self, typ: &str, claims: &impl serde::Serialize) -> Result<String, TokenError> {
        Ok(self.keys.sign(typ, claims)?)
    }

    /// A signed service token (SPEC §2.2) for a call the gateway makes to `provider_id`.
    pub fn service_token(
        &self,
        provider_id: &str,
        principal: Option<Principal>,
        project: Option<String>,
    ) -> Result<String, TokenError> {
        let claims = self.service_claims(provider_id, principal, project);
        Ok(self.keys.sign(TYP_SERVICE, &claims)?)
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Exchanges a refresh token for an access token. Both refresh forms of SPEC §2.1 call this.
    #[tracing::instrument(skip_all)]
    pub async fn refresh(&self, refresh_token: &str) -> Result<IssuedAccessToken, TokenError> {
        if refresh_token.is_empty() || refresh_token.len() > 512 {
            return Err(TokenError::InvalidGrant);
        }
        let provider = self
            .store
            .provider_by_refresh_hash(&hash_secret(refresh_token))
            .await?
            .ok_or(TokenError::InvalidGrant)?;
        if provider.status == ProviderStatus::Suspended {
            return Err(TokenError::InvalidGrant);
        }
        let now = self.clock.now_secs();
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            sub: provider_subject(provider.metadata.id.as_str()),
            aud: self.issuer.clone(),
            role: ROLE_PROVIDER.to_owned(),
            iat: now,
            nbf: now,
            exp: now + self.access_ttl_secs,
            jti: random_id(),
        };
        let token = self.keys.sign(TYP_ACCESS, &claims)?;
        Ok(IssuedAccessToken {
            token,
            expires_in: self.access_ttl_secs,
        })
    }

    /// Verifies an access token a provider presents and returns that provider, which must not be
    /// suspended. Checks `alg` (RS256 only), `typ`, `kid` (a published, unrevoked key), signature,
    /// `iss`, `aud`, `sub`, `role`, `exp`, `nbf`, `iat`, and the lifetime `exp − iat` (SPEC §2: at
    /// most 600 s plus the leeway, so a token signed with a genuine key cannot live for years).
    #[tracing::instrument(skip_all)]
    pub async fn verify_access_token(&self, token: &str) -> Result<Provider, TokenError> {
        use jsonwebtoken::{Algorithm, Validation, decode, decode_header};
        let bad = TokenError::InvalidAccessToken;
        if token.len() > MAX_TOKEN_LEN {
            return Err(bad("too large"));
        }
        let header = decode_header(token).map_err(|_| bad("malformed"))?;
        if header.alg != Algorithm::RS256 {
            return Err(bad("algorithm must be RS256"));
        }
        if header.typ.as_deref() != Some(TYP_ACCESS) {
            return Err(bad("typ must be at+jwt"));
        }
        let kid = header.kid.ok_or(bad("no kid"))?;
        let key = self
            .keys
            .verifying_key_or_reload(&kid)
            .await
            .ok_or(bad("unknown kid"))?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        // jsonwebtoken reads the system clock; check exp/nbf against ours instead.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let claims = decode::<PresentedClaims>(token, &key, &validation)
            .map_err(|_| bad("signature, issuer or audience"))?
            .claims;
        let now = self.clock.now_secs();
        let leeway = LEEWAY_SECS as i64;
        if claims.exp.saturating_add(leeway) <= now {
            return Err(bad("expired"));
        }
        if claims.nbf.saturating_sub(leeway) > now {
            return Err(bad("not yet valid"));
        }
        let iat = claims.iat.ok_or(bad("no iat"))?;
        if iat.saturating_sub(leeway) > now {
            return Err(bad("issued in the future"));
        }
        if claims.exp.saturating_sub(iat) > MAX_ACCESS_LIFETIME_SECS + leeway {
            return Err(bad("lifetime exp - iat exceeds 600 s"));
        }
        if claims.role != ROLE_PROVIDER {
            return Err(bad("role must be PROVIDER"));
        }
        let id = claims
            .sub
            .strip_prefix("#P_")
            .ok_or(bad("subject is not a provider"))?;
        let provider = self
            .store
            .provider(id)
            .await?
            .ok_or(bad("unknown provider"))?;
        if provider.status == ProviderStatus::Suspended {
            return Err(bad("provider is suspended"));
        }
        Ok(provider)
    }
}
