//! The broker (SPEC §3): `ANY /ucloud/{id}/{path}` from a signed-in user to the provider, in four
//! phases (STYLE 16): **gate** — the raw path (`raw_path`), then the access gate of `policy`
//! (account, provider, project; the feature the path needs (`features`); agreements, connection,
//! two-factor, assurance), the same evaluation `GET /api/providers/{id}/access` explains; **prepare** — the
//! request-header policy (`request_headers`) with a cached service token carrying the principal;
//! **forward** (`proxy`); **filter** — the response-header policy (`response_headers`).
//! Everything on this path reads memory only (provider, manifest and token caches); the database is
//! touched just when a cache misses.

mod client;
mod features;
mod h1;
mod header_rules;
pub mod pool;
mod proxy;
pub mod raw_path;
pub mod request_headers;
pub mod response_headers;
mod token_cache;

pub use crate::metrics::BrokerMetrics;
pub use client::Upstreams;
pub use features::{Route, route};
pub use proxy::ProxyError;
pub use raw_path::InvalidPath;
pub use request_headers::{X_REQUEST_ID, is_websocket_upgrade};
pub use token_cache::ServiceTokenCache;

use crate::accounts::principal;
use crate::clock::SharedClock;
use crate::config::BrokerConfig;
use crate::keys::KeyRing;
use crate::model::User;
use crate::policy::{Check, Gate, Refusal};
use crate::tokens::Tokens;
use http::{HeaderValue, Request, Response};
use provider_kit::protocol::{Manifest, TYP_SERVICE};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error(transparent)]
    InvalidPath(#[from] InvalidPath),
    /// The access gate said no; `issuer` is the base of its way out.
    #[error("{}", .refusal.reason())]
    Refused { refusal: Refusal, issuer: String },
    #[error("provider {provider} does not offer {feature}")]
    FeatureNotSupported {
        provider: String,
        feature: &'static str,
    },
    #[error("no such endpoint at provider {0}")]
    NotFound(String),
    #[error(transparent)]
    Proxy(#[from] ProxyError),
    #[error("internal: {0}")]
    Internal(String),
}

/// What the broker answers with.
pub enum Brokered {
    /// `GET /ucloud/{id}/manifest`, from the cache.
    Manifest(Arc<Manifest>),
    /// The provider's own response, streaming, its headers filtered.
    Upstream(Response<pool::UpstreamBody>),
}

/// What the broker needs besides its client, handed over at construction.
pub struct Deps {
    pub gate: Gate,
    pub keys: Arc<KeyRing>,
    pub tokens: Tokens,
    pub clock: SharedClock,
}

pub struct Broker {
    deps: Deps,
    upstreams: Upstreams,
    config: BrokerConfig,
    /// The gateway's public URL: the base `Location`s resolve against.
    public: url::Url,
    /// The same, as the issuer text: the base of every way out of a refusal.
    issuer: String,
    origin: request_headers::PublicOrigin,
    pub tokens: ServiceTokenCache,
    pub metrics: BrokerMetrics,
}

/// One brokered request, as the HTTP layer hands it over: the request exactly as received (its URI's
/// path is what the gate reads).
pub struct Call<'a, B> {
    pub user: &'a User,
    pub project: Option<&'a str>,
    /// The caller's peer address, when the listener knows it.
    pub peer: Option<IpAddr>,
    /// From `request_id`; returned to the caller and logged.
    pub request_id: &'a HeaderValue,
    pub request: Request<B>,
}

/// The id of a brokered request (SPEC §3 step 4): the caller's `X-Request-Id` when it is safe, else
/// a new one.
pub fn request_id(headers: &http::HeaderMap) -> HeaderValue {
    request_headers::request_id(headers, || {
        // Owned by the header value's buffer: one allocation, and clones share it.
        HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(crate::secrets::correlation_id()))
            .unwrap_or_else(|_| HeaderValue::from_static("-"))
    })
}

impl Broker {
    /// `public_url` is the gateway's issuer (already validated by the config).
    pub fn new(config: BrokerConfig, upstreams: Upstreams, public_url: &str, deps: Deps) -> Self {
        let public = url::Url::parse(public_url)
            .unwrap_or_else(|_| url::Url::parse("http://localhost").expect("a valid URL"));
        Self {
            deps,
            issuer: public_url.trim_end_matches('/').to_owned(),
            upstreams,
            config,
            origin: request_headers::PublicOrigin::new(&public),
            public,
            tokens: ServiceTokenCache::default(),
            metrics: BrokerMetrics::default(),
        }
    }

    #[tracing::instrument(
        name = "broker",
        skip_all,
        fields(provider, request_id = call.request_id.to_str().unwrap_or("-"), status)
    )]
    pub async fn handle<B>(&self, call: Call<'_, B>) -> Result<Brokered, BrokerError>
    where
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<client::BoxError>,
    {
        let started = Instant::now();
        let (mut parts, body) = call.request.into_parts();
        // The URI as received stays here, read by the gate and the response filter; the request
        // itself gets the upstream URI.
        let received = std::mem::take(&mut parts.uri);

        // Phase 1: gate.
        let path = raw_path::gate(received.path())?;
        let id = path.provider.as_ref();
        tracing::Span::current().record("provider", id);
        let provider = self
            .gate(call.user, call.project, &parts.method, &path)
            .await?;
        let provider = match provider {
            Gated::Manifest(manifest) => return Ok(Brokered::Manifest(manifest)),
            Gated::Forward(provider) => provider,
        };
        // What makes a provider's report without a nonce acceptable (SPEC §4): memory after the first.
        self.deps
            .gate
            .connections
            .record_brokered(call.user, id)
            .await;

        // Phase 2: prepare.
        let token = self.service_token(call.user, id, call.project)?;
        let fresh = crate::secrets::correlation_id();
        let vouched = request_headers::Vouched {
            service_token: &token,
            request_id: call.request_id,
            traceparent: request_headers::traceparent(&parts.headers, fresh.as_str()),
            peer: call.peer,
            origin: &self.origin,
        };
        let websocket = request_headers::prepare(&mut parts.headers, vouched);
        parts.uri = provider
            .upstream
            .uri(path.raw, received.query())
            .map_err(|e| ProxyError::BadUri(e.to_string()))?;
        let up = proxy::Upstream {
            provider: id,
            production: !provider.is_test(),
            response_timeout: Duration::from_millis(self.config.response_timeout_ms),
            max_body: self.config.max_body_bytes,
        };

        // Phase 3: forward.
        let result = proxy::forward(
            &self.upstreams,
            &up,
            Request::from_parts(parts, body),
            websocket,
        )
        .await;
        let status = match &result {
            Ok(r) => r.status().as_u16(),
            Err(e) => e.code().parts().0,
        };
        tracing::Span::current().record("status", status);
        self.metrics.record(id, status, started.elapsed());
        let mut response = result?;

        // Phase 4: filter the response.
        let scope = response_headers::LocationScope {
            public: &self.public,
            provider: id,
            path: path.raw,
            query: received.query(),
        };
        let status = response.status();
        response_headers::filter(response.headers_mut(), status, &scope);
        Ok(Brokered::Upstream(response))
    }

    /// SPEC §3 steps 1–3 after the raw path: the access gate, with the feature the path needs
    /// checked between its provider and agreements checks.
    async fn gate(
        &self,
        user: &User,
        project: Option<&str>,
        method: &http::Method,
        path: &raw_path::GatedPath<'_>,
    ) -> Result<Gated, BrokerError> {
        let id = path.provider.as_ref();
        let evaluation = self
            .deps
            .gate
            .evaluate(user, id, project)
            .await
            .map_err(|e| BrokerError::Internal(e.to_string()))?;
        let refused = |refusal: &Refusal| BrokerError::Refused {
            refusal: refusal.clone(),
            issuer: self.issuer(),
        };
        if let Some(refusal) = evaluation.refused_before(Check::Agreements) {
            return Err(refused(refusal));
        }
        let (Some(provider), Some(manifest)) =
            (evaluation.provider.clone(), evaluation.manifest.clone())
        else {
            return Err(BrokerError::Internal(
                "the gate passed without a provider".into(),
            ));
        };
        match route(&path.decoded, &manifest) {
            Route::Manifest if method == http::Method::GET => {
                return Ok(Gated::Manifest(manifest));
            }
            Route::Manifest | Route::NotFound => return Err(BrokerError::NotFound(id.to_owned())),
            Route::Feature {
                name,
                enabled: false,
            } => {
                return Err(BrokerError::FeatureNotSupported {
                    provider: id.to_owned(),
                    feature: name,
                });
            }
            Route::Feature { enabled: true, .. } => {}
        }
        if let Some(refusal) = evaluation.refusal() {
            return Err(refused(refusal));
        }
        Ok(Gated::Forward(provider))
    }

    fn issuer(&self) -> String {
        self.issuer.clone()
    }

    fn service_token(
        &self,
        user: &User,
        provider: &str,
        project: Option<&str>,
    ) -> Result<http::HeaderValue, BrokerError> {
        let Deps {
            keys,
            tokens,
            clock,
            ..
        } = &self.deps;
        let signer = keys
            .current_signer()
            .ok_or_else(|| BrokerError::Internal("no signing key".into()))?;
        let now = clock.now_secs();
        self.tokens
            .get_or_sign(provider, user.id, project, &signer.kid, now, || {
                let claims = tokens.service_claims(
                    provider,
                    Some(principal(user)),
                    project.map(str::to_owned),
                );
                let exp = claims.exp;
                keys.sign(TYP_SERVICE, &claims)
                    .map(|t| (t, exp))
                    .map_err(|e| BrokerError::Internal(e.to_string()))
            })
    }

    pub fn token_cache_counts(&self) -> (u64, u64) {
        (
            self.tokens.hits.load(Ordering::Relaxed),
            self.tokens.misses.load(Ordering::Relaxed),
        )
    }
}

/// What the gate decided.
enum Gated {
    Manifest(Arc<Manifest>),
    Forward(Arc<crate::model::Provider>),
}
