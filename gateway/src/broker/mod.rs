//! The broker (SPEC §3): `ANY /ucloud/{id}/{path}` from a signed-in user to the provider, gated in
//! the contract's order — provider active and visible, project membership, feature enabled in the
//! manifest, connection rule — then forwarded with a cached service token carrying the principal.
//! Everything on this path reads memory only (provider, manifest and token caches); the database is
//! touched just when a cache misses.

mod client;
mod features;
mod metrics;
mod proxy;
mod token_cache;

pub use client::Upstreams;
pub use features::{Route, route};
pub use metrics::BrokerMetrics;
pub use proxy::{ProxyError, is_websocket_upgrade};
pub use token_cache::ServiceTokenCache;

use crate::accounts::principal;
use crate::app::App;
use crate::config::BrokerConfig;
use crate::model::{ProviderStatus, User};
use crate::registry::visible_to;
use http::{Request, Response};
use provider_kit::protocol::{Manifest, TYP_SERVICE};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("no provider {0:?}")]
    NoSuchProvider(String),
    #[error("provider {provider} is {status}; it is not brokered until an admin makes it active")]
    ProviderInactive {
        provider: String,
        status: &'static str,
    },
    #[error("provider {0} has not published a valid manifest yet")]
    ManifestUnavailable(String),
    #[error("provider {provider} does not offer {feature}")]
    FeatureNotSupported {
        provider: String,
        feature: &'static str,
    },
    #[error("no such endpoint at provider {0}")]
    NotFound(String),
    #[error("provider {provider} requires you to connect your account first")]
    ConnectionRequired {
        provider: String,
        connect_url: String,
    },
    #[error("you are not a member of project {0:?}")]
    NotAMember(String),
    #[error(transparent)]
    Proxy(#[from] ProxyError),
    #[error("internal: {0}")]
    Internal(String),
}

/// What the broker answers with.
pub enum Brokered {
    /// `GET /ucloud/{id}/manifest`, from the cache.
    Manifest(Arc<Manifest>),
    /// The provider's own response, streaming.
    Upstream(Response<hyper::body::Incoming>),
}

pub struct Broker {
    upstreams: Upstreams,
    config: BrokerConfig,
    pub tokens: ServiceTokenCache,
    pub metrics: BrokerMetrics,
}

/// One brokered request, as the HTTP layer hands it over.
pub struct Call<'a, B> {
    pub user: &'a User,
    pub provider: &'a str,
    /// After `/ucloud/{id}/`, without the query.
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub project: Option<&'a str>,
    pub request: Request<B>,
}

impl Broker {
    pub fn new(config: BrokerConfig, upstreams: Upstreams) -> Self {
        Self {
            upstreams,
            config,
            tokens: ServiceTokenCache::default(),
            metrics: BrokerMetrics::default(),
        }
    }

    #[tracing::instrument(name = "broker", skip_all, fields(provider = %call.provider, status))]
    pub async fn handle<B>(&self, app: &App, call: Call<'_, B>) -> Result<Brokered, BrokerError>
    where
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<client::BoxError>,
    {
        let started = Instant::now();
        let id = call.provider;
        let provider = match app
            .registry
            .cached(id)
            .await
            .map_err(|e| BrokerError::Internal(e.to_string()))?
        {
            Some(p) if visible_to(call.user, &p) => p,
            _ => return Err(BrokerError::NoSuchProvider(id.to_owned())),
        };
        if provider.status != ProviderStatus::Active {
            return Err(BrokerError::ProviderInactive {
                provider: id.to_owned(),
                status: provider.status.as_str(),
            });
        }
        if let Some(project) = call.project {
            let member = app
                .projects
                .is_member(call.user.id, project)
                .await
                .map_err(|e| BrokerError::Internal(e.to_string()))?;
            if !member {
                return Err(BrokerError::NotAMember(project.to_owned()));
            }
        }
        let manifest = app
            .manifests
            .current(id)
            .ok_or_else(|| BrokerError::ManifestUnavailable(id.to_owned()))?;
        match route(call.path, &manifest) {
            Route::Manifest if call.request.method() == http::Method::GET => {
                return Ok(Brokered::Manifest(manifest));
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
        if manifest.users.require_explicit_mapping && !app.connections_ok(call.user, id).await {
            return Err(BrokerError::ConnectionRequired {
                provider: id.to_owned(),
                connect_url: format!("{}/connections/new?provider={id}", app.issuer),
            });
        }
        app.connections.record_brokered(call.user, id).await;

        let token = self.service_token(app, call.user, id, call.project)?;
        let request_id = crate::secrets::correlation_id();
        let traceparent = traceparent(call.request.headers(), &request_id);
        let mut uri = format!("{}/{}", provider.metadata.namespace_url(), call.path);
        if let Some(q) = call.query {
            uri.push('?');
            uri.push_str(q);
        }
        let up = proxy::Upstream {
            provider: id,
            uri,
            production: !provider.is_test(),
            service_token: &token,
            request_id: &request_id,
            traceparent: &traceparent,
            response_timeout: Duration::from_millis(self.config.response_timeout_ms),
            max_body: self.config.max_body_bytes,
        };
        let mut request = call.request;
        proxy::prepare_headers(request.headers_mut(), &up)?;
        let result = proxy::forward(&self.upstreams, &up, request).await;
        let status = match &result {
            Ok(r) => r.status().as_u16(),
            Err(ProxyError::Timeout { .. }) => 504,
            Err(ProxyError::BodyTooLarge { .. }) => 413,
            Err(_) => 502,
        };
        tracing::Span::current().record("status", status);
        self.metrics.record(id, status, started.elapsed());
        Ok(Brokered::Upstream(result?))
    }

    fn service_token(
        &self,
        app: &App,
        user: &User,
        provider: &str,
        project: Option<&str>,
    ) -> Result<http::HeaderValue, BrokerError> {
        let kid = app
            .keys
            .current_kid()
            .ok_or_else(|| BrokerError::Internal("no signing key".into()))?;
        let now = app.clock.now_secs();
        self.tokens
            .get_or_sign(provider, user.id, project, &kid, now, || {
                let claims = app.tokens.service_claims(
                    provider,
                    Some(principal(user)),
                    project.map(str::to_owned),
                );
                let exp = claims.exp;
                app.keys
                    .sign(TYP_SERVICE, &claims)
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

/// Continues the caller's W3C trace when it sent a valid `traceparent`, else starts one; the
/// gateway's hop always gets its own span id.
fn traceparent(headers: &http::HeaderMap, request_id: &str) -> String {
    let span = &request_id[..16];
    let incoming = headers.get("traceparent").and_then(|v| v.to_str().ok());
    if let Some(tp) = incoming {
        let parts: Vec<&str> = tp.split('-').collect();
        if let [version, trace, _, flags] = parts.as_slice()
            && version.len() == 2
            && trace.len() == 32
            && flags.len() == 2
            && trace.bytes().all(|b| b.is_ascii_hexdigit())
            && *trace != "00000000000000000000000000000000"
        {
            return format!("00-{}-{span}-{flags}", trace.to_ascii_lowercase());
        }
    }
    format!("00-{request_id}-{span}-01")
}
