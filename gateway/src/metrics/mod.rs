//! The gateway's Prometheus metrics, kept in prometheus-client's families: HTTP requests by matched
//! route and status class, brokered requests by provider, sign-ins and charges by outcome. The
//! component that sees the event owns its family (`App::http_metrics`, `Broker::metrics`,
//! `Accounts::sign_ins`, `Accounting::charges`); `http::metrics` gathers them with what is read at
//! scrape time (`scrape.rs`: caches, manifests, listeners, the database pool, `process.rs`) into
//! one registry and encodes it.

pub mod process;
pub mod scrape;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::Duration;

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// The status classes, in the order `class_index` numbers them.
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

fn class_index(status: u16) -> usize {
    match status {
        ..=199 => 0,
        200..=299 => 1,
        300..=399 => 2,
        400..=499 => 3,
        _ => 4,
    }
}

/// A response status's class, the `status` label of `gateway_http_requests_total`.
pub fn status_class(status: u16) -> &'static str {
    CLASSES[class_index(status)]
}

/// One label value's series (a counter per status class, created at its first use, and the
/// latency histogram): handles into the families, which share their values with them.
struct Series {
    classes: [OnceLock<Counter>; 5],
    latency: Histogram,
}

impl Series {
    fn count(&self, status: u16, elapsed: Duration, counter: impl FnOnce(&'static str) -> Counter) {
        self.classes[class_index(status)]
            .get_or_init(|| counter(status_class(status)))
            .inc();
        self.latency.observe(elapsed.as_secs_f64());
    }
}

/// The series by label value (a route, a provider id: bounded sets), resolved once per value, so
/// counting a request allocates no label and takes no family lock — only this map's read lock.
#[derive(Clone, Default)]
struct Resolved(Arc<RwLock<crate::hashing::FastMap<Box<str>, Series>>>);

impl Resolved {
    /// Counts one request labelled `value`; `latency` and `counter` resolve the handles the first
    /// time a value (and a value's status class) is seen.
    fn observe(
        &self,
        value: &str,
        status: u16,
        elapsed: Duration,
        latency: impl FnOnce() -> Histogram,
        counter: impl FnOnce(&'static str) -> Counter,
    ) {
        let known = self.0.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(series) = known.get(value) {
            return series.count(status, elapsed, counter);
        }
        drop(known);
        let mut all = self.0.write().unwrap_or_else(PoisonError::into_inner);
        all.entry(value.into())
            .or_insert_with(|| Series {
                classes: Default::default(),
                latency: latency(),
            })
            .count(status, elapsed, counter);
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteStatus {
    route: String,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Route {
    route: String,
}

fn http_histogram() -> Histogram {
    Histogram::new([
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
}

/// Public-listener requests by matched route (`access_log::UNMATCHED` for the fallback, so the
/// label set stays the router's) and status class, and their latency. Fed by `access_log`.
#[derive(Clone)]
pub struct HttpMetrics {
    requests: Family<RouteStatus, Counter>,
    duration: Histograms<Route>,
    resolved: Resolved,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            duration: Family::new_with_constructor(http_histogram),
            resolved: Resolved::default(),
        }
    }
}

impl HttpMetrics {
    pub fn observe(&self, route: &str, status: u16, latency: Duration) {
        self.resolved.observe(
            route,
            status,
            latency,
            || {
                let label = Route {
                    route: route.to_owned(),
                };
                self.duration.get_or_create(&label).clone()
            },
            |status| {
                let label = RouteStatus {
                    route: route.to_owned(),
                    status,
                };
                self.requests.get_or_create(&label).clone()
            },
        );
    }

    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "gateway_http_requests",
            "Requests on the public listener by matched route and status class",
            self.requests.clone(),
        );
        registry.register(
            "gateway_http_request_duration_seconds",
            "Time to the response head, by matched route",
            self.duration.clone(),
        );
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderClass {
    provider: String,
    class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabel {
    provider: String,
}

fn broker_histogram() -> Histogram {
    Histogram::new([
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
    ])
}

/// Brokered requests per provider by the status class the client was answered with, and the
/// latency to the provider's response headers.
#[derive(Clone)]
pub struct BrokerMetrics {
    requests: Family<ProviderClass, Counter>,
    latency: Histograms<ProviderLabel>,
    resolved: Resolved,
}

impl Default for BrokerMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            latency: Family::new_with_constructor(broker_histogram),
            resolved: Resolved::default(),
        }
    }
}

impl BrokerMetrics {
    pub fn record(&self, provider: &str, status: u16, latency: Duration) {
        self.resolved.observe(
            provider,
            status,
            latency,
            || {
                let label = ProviderLabel {
                    provider: provider.to_owned(),
                };
                self.latency.get_or_create(&label).clone()
            },
            |class| {
                let label = ProviderClass {
                    provider: provider.to_owned(),
                    class,
                };
                self.requests.get_or_create(&label).clone()
            },
        );
    }

    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "gateway_broker_requests",
            "Brokered requests by provider and status class",
            self.requests.clone(),
        );
        registry.register(
            "gateway_broker_response_seconds",
            "Time until the provider's response headers",
            self.latency.clone(),
        );
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

/// How a sign-in ended: the `outcome` label of `gateway_sign_ins_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInOutcome {
    /// A password sign-in opened a session.
    Ok,
    /// Unknown user or wrong password.
    WrongPassword,
    /// Refused by the sign-in throttle (429).
    Throttled,
    /// The password was right; the account awaits an admin's approval.
    PendingApproval,
    /// The password was right; the account is suspended, expired or disabled.
    Inactive,
    /// An OpenID Connect sign-in opened a session.
    Oidc,
    /// An OpenID Connect sign-in was refused (state, token, claims or account).
    OidcRefused,
    /// The gateway failed (database, hashing).
    Error,
}

impl SignInOutcome {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::WrongPassword => "wrongPassword",
            Self::Throttled => "throttled",
            Self::PendingApproval => "pendingApproval",
            Self::Inactive => "inactive",
            Self::Oidc => "oidc",
            Self::OidcRefused => "oidcRefused",
            Self::Error => "error",
        }
    }
}

/// Sign-ins by outcome.
#[derive(Clone, Default)]
pub struct SignIns(Family<Outcome, Counter>);

impl SignIns {
    pub fn record(&self, outcome: SignInOutcome) {
        self.0
            .get_or_create(&Outcome {
                outcome: outcome.as_str(),
            })
            .inc();
    }

    pub fn register(&self, registry: &mut Registry) {
        registry.register("gateway_sign_ins", "Sign-ins by outcome", self.0.clone());
    }
}

/// How a provider's charge ended: the `outcome` label of `gateway_charges_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChargeOutcome {
    /// Taken from the wallet.
    Ok,
    /// A `chargeId` seen before with the same body: answered again, nothing more taken.
    Duplicate,
    /// The wallet holds too little: nothing taken (402).
    InsufficientFunds,
    /// A `chargeId` reused with a different body (409).
    Conflict,
    /// A charge the gateway cannot take: bad input, unknown owner or provider.
    Invalid,
    /// The gateway failed (database).
    Error,
}

impl ChargeOutcome {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Duplicate => "duplicate",
            Self::InsufficientFunds => "insufficientFunds",
            Self::Conflict => "conflict",
            Self::Invalid => "invalid",
            Self::Error => "error",
        }
    }
}

/// Providers' charges by outcome.
#[derive(Clone, Default)]
pub struct Charges(Family<Outcome, Counter>);

impl Charges {
    pub fn record(&self, outcome: ChargeOutcome) {
        self.0
            .get_or_create(&Outcome {
                outcome: outcome.as_str(),
            })
            .inc();
    }

    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "gateway_charges",
            "Providers' charges by outcome",
            self.0.clone(),
        );
    }
}
