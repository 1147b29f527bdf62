//! Broker metrics in the Prometheus text format: per provider, requests by status class and the
//! latency to response headers; service-token cache hits and misses.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Upper bounds of the latency histogram, seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
pub struct ProviderMetrics {
    by_class: [AtomicU64; 5],
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

#[derive(Default)]
pub struct BrokerMetrics {
    providers: RwLock<BTreeMap<String, Arc<ProviderMetrics>>>,
}

impl BrokerMetrics {
    pub fn record(&self, provider: &str, status: u16, latency: Duration) {
        let m = self.provider(provider);
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        m.by_class[class].fetch_add(1, Ordering::Relaxed);
        let secs = latency.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            m.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        m.count.fetch_add(1, Ordering::Relaxed);
        m.sum_micros.fetch_add(
            u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    fn provider(&self, provider: &str) -> Arc<ProviderMetrics> {
        if let Some(m) = self
            .providers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(provider)
        {
            return m.clone();
        }
        self.providers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(provider.to_owned())
            .or_default()
            .clone()
    }

    /// Appends the broker's series to `out`.
    pub fn render(&self, out: &mut String, token_hits: u64, token_misses: u64) {
        let providers = self.providers.read().unwrap_or_else(|p| p.into_inner());
        out.push_str("# HELP gateway_broker_requests_total Brokered requests by provider and status class.\n");
        out.push_str("# TYPE gateway_broker_requests_total counter\n");
        for (id, m) in providers.iter() {
            for (i, n) in m.by_class.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "gateway_broker_requests_total{{provider=\"{id}\",class=\"{}xx\"}} {}",
                    i + 1,
                    n.load(Ordering::Relaxed)
                );
            }
        }
        out.push_str(
            "# HELP gateway_broker_response_seconds Time until the provider's response headers.\n",
        );
        out.push_str("# TYPE gateway_broker_response_seconds histogram\n");
        for (id, m) in providers.iter() {
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(&m.buckets) {
                cumulative += n.load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "gateway_broker_response_seconds_bucket{{provider=\"{id}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let count = m.count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "gateway_broker_response_seconds_bucket{{provider=\"{id}\",le=\"+Inf\"}} {count}"
            );
            let sum = m.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(
                out,
                "gateway_broker_response_seconds_sum{{provider=\"{id}\"}} {sum}"
            );
            let _ = writeln!(
                out,
                "gateway_broker_response_seconds_count{{provider=\"{id}\"}} {count}"
            );
        }
        out.push_str("# HELP gateway_service_token_cache_total Service-token cache lookups.\n");
        out.push_str("# TYPE gateway_service_token_cache_total counter\n");
        let _ = writeln!(
            out,
            "gateway_service_token_cache_total{{result=\"hit\"}} {token_hits}"
        );
        let _ = writeln!(
            out,
            "gateway_service_token_cache_total{{result=\"miss\"}} {token_misses}"
        );
    }
}
