//! Requests on the public listener by matched route and status class, and their latency: counted
//! by `http::access_log`, rendered by the metrics listener (`http::metrics`). A component of `App`,
//! so it knows nothing of axum.

use http::StatusCode;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// A response status's class, the `status` label of `gateway_http_requests_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StatusClass {
    Informational,
    Success,
    Redirection,
    ClientError,
    ServerError,
}

impl StatusClass {
    pub fn of(status: StatusCode) -> Self {
        match status.as_u16() {
            ..=199 => Self::Informational,
            200..=299 => Self::Success,
            300..=399 => Self::Redirection,
            400..=499 => Self::ClientError,
            _ => Self::ServerError,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Informational => "1xx",
            Self::Success => "2xx",
            Self::Redirection => "3xx",
            Self::ClientError => "4xx",
            Self::ServerError => "5xx",
        }
    }
}

/// Upper bounds of the latency histogram's buckets, seconds.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Latency {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum_secs: f64,
}

#[derive(Default)]
struct HttpCounts {
    requests: BTreeMap<(String, StatusClass), u64>,
    latency: BTreeMap<String, Latency>,
}

/// Public-listener requests by matched route (`access_log::UNMATCHED` for the fallback, so the
/// label set stays the router's) and status class, and their latency. Fed by `access_log`.
#[derive(Default)]
pub struct HttpMetrics(Mutex<HttpCounts>);

impl HttpMetrics {
    pub fn observe(&self, route: &str, status: StatusCode, latency: Duration) {
        let Ok(mut c) = self.0.lock() else { return };
        *c.requests
            .entry((route.to_owned(), StatusClass::of(status)))
            .or_default() += 1;
        let l = c.latency.entry(route.to_owned()).or_default();
        let secs = latency.as_secs_f64();
        for (n, bound) in l.buckets.iter_mut().zip(BUCKETS) {
            if secs <= bound {
                *n += 1;
            }
        }
        l.count += 1;
        l.sum_secs += secs;
    }

    pub fn render(&self, out: &mut String) {
        let Ok(c) = self.0.lock() else { return };
        out.push_str("# HELP gateway_http_requests_total Requests on the public listener by matched route and status class.\n# TYPE gateway_http_requests_total counter\n");
        for ((route, class), n) in &c.requests {
            let _ = writeln!(
                out,
                "gateway_http_requests_total{{route=\"{}\",status=\"{}\"}} {n}",
                escape(route),
                class.label()
            );
        }
        out.push_str("# HELP gateway_http_request_duration_seconds Time to the response head, by matched route.\n# TYPE gateway_http_request_duration_seconds histogram\n");
        for (route, l) in &c.latency {
            let route = escape(route);
            for (n, bound) in l.buckets.iter().zip(BUCKETS) {
                let _ = writeln!(
                    out,
                    "gateway_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "gateway_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}\n\
                 gateway_http_request_duration_seconds_sum{{route=\"{route}\"}} {}\n\
                 gateway_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                l.count, l.sum_secs, l.count
            );
        }
    }
}

/// A Prometheus label value: backslash, quote and newline escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
