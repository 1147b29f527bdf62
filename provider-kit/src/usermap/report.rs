//! The seam between the usermap flow and the gateway (SPEC §4 step 4): a mapping is reported through
//! `MappingReporter`, which `GatewayClient` implements with `POST /api/providers/usermap/{id}`; tests
//! put a double in its place.

use std::future::Future;
use std::pin::Pin;

use crate::client::{ClientError, GatewayClient};
use crate::protocol::{MappingReport, MappingReportAnswer};

/// What `MappingReporter::report` returns: the gateway's answer (with the completion code for a
/// report with a nonce).
pub type ReportFuture<'a> =
    Pin<Box<dyn Future<Output = Result<MappingReportAnswer, ClientError>> + Send + 'a>>;

/// Tells the gateway that a gateway user has (or waits for) a local account here.
pub trait MappingReporter: Send + Sync {
    fn report<'a>(&'a self, report: &'a MappingReport) -> ReportFuture<'a>;
}

impl MappingReporter for GatewayClient {
    fn report<'a>(&'a self, report: &'a MappingReport) -> ReportFuture<'a> {
        Box::pin(self.report_mapping(report))
    }
}
