//! Series read at scrape time from counters that live elsewhere (the service-token cache, manifest
//! fetching, the listeners) and from the database pool, taken as one snapshot and encoded as
//! prometheus-client constant metrics.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// One listener's counters.
#[derive(Debug, Clone)]
pub struct ListenerCounts {
    pub name: &'static str,
    pub open: u64,
    pub refused: u64,
    pub accept_errors: u64,
}

/// What a scrape reads, copied out at once.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub token_cache_hits: u64,
    pub token_cache_misses: u64,
    /// `(outcome, count)` of manifest fetches.
    pub manifest_fetches: Vec<(&'static str, u64)>,
    pub listeners: Vec<ListenerCounts>,
    /// Open connections of the database pool, and how many of them are idle.
    pub pool_size: u32,
    pub pool_idle: usize,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Result_ {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Listener {
    listener: &'static str,
}

/// `name` with one sample per label set.
fn family<L: EncodeLabelSet, M: EncodeMetric>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    samples: impl IntoIterator<Item = (L, M)>,
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, kind)?;
    for (labels, value) in samples {
        value.encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        family(
            &mut encoder,
            "gateway_service_token_cache",
            "Service-token cache lookups",
            MetricType::Counter,
            [
                (
                    Result_ { result: "hit" },
                    ConstCounter::new(self.token_cache_hits),
                ),
                (
                    Result_ { result: "miss" },
                    ConstCounter::new(self.token_cache_misses),
                ),
            ],
        )?;
        family(
            &mut encoder,
            "gateway_manifest_fetches",
            "Manifest fetches by outcome",
            MetricType::Counter,
            self.manifest_fetches
                .iter()
                .map(|&(outcome, n)| (Outcome { outcome }, ConstCounter::new(n))),
        )?;
        let listeners = |value: fn(&ListenerCounts) -> u64| {
            self.listeners
                .iter()
                .map(move |l| (Listener { listener: l.name }, value(l)))
        };
        family(
            &mut encoder,
            "gateway_http_connections_open",
            "Open connections per listener",
            MetricType::Gauge,
            listeners(|l| l.open).map(|(l, n)| (l, ConstGauge::new(n as i64))),
        )?;
        family(
            &mut encoder,
            "gateway_http_connections_refused",
            "Connections closed at once because the listener's connection limit was reached",
            MetricType::Counter,
            listeners(|l| l.refused).map(|(l, n)| (l, ConstCounter::new(n))),
        )?;
        family(
            &mut encoder,
            "gateway_http_accept_errors",
            "Accept errors (such as too many open files) after which the listener paused",
            MetricType::Counter,
            listeners(|l| l.accept_errors).map(|(l, n)| (l, ConstCounter::new(n))),
        )?;
        let size = ConstGauge::new(i64::from(self.pool_size));
        size.encode(encoder.encode_descriptor(
            "gateway_db_pool_connections",
            "Open connections of the database pool",
            None,
            MetricType::Gauge,
        )?)?;
        let idle = ConstGauge::new(i64::try_from(self.pool_idle).unwrap_or(i64::MAX));
        idle.encode(encoder.encode_descriptor(
            "gateway_db_pool_idle_connections",
            "Idle connections of the database pool",
            None,
            MetricType::Gauge,
        )?)?;
        Ok(())
    }
}
