//! Prometheus metrics. Labels are bounded and PHI-free by construction: a method
//! from a fixed list, a route template, and a status code.

use std::sync::atomic::AtomicI64;
use std::time::Duration;

use axum::http::Method;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

/// The process's metrics and their registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram, fn() -> Histogram>,
    in_flight: Gauge<i64, AtomicI64>,
    recovery: RecoveryGauges,
    /// Audit entries appended but not yet in the query index (read when scraped).
    audit_index_lag: Gauge<i64, AtomicI64>,
}

/// No-show recovery's figures, read from the database when scraped (the waves run
/// in whichever worker claims them): runs and offers by status, time to fill, and
/// patients who opted out. Fill rate is filled runs over closed ones; offers per
/// fill is offers sent over filled runs.
#[derive(Debug, Default)]
struct RecoveryGauges {
    runs: Family<[(&'static str, String); 1], Gauge<i64, AtomicI64>>,
    offers: Family<[(&'static str, String); 1], Gauge<i64, AtomicI64>>,
    fill_seconds: Gauge<f64, std::sync::atomic::AtomicU64>,
    opted_out: Gauge<i64, AtomicI64>,
    stopped: Gauge<i64, AtomicI64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// A method as a label: the standard ones by name, anything else as `other`, so a
/// client cannot grow the label set.
pub(crate) fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Decrements the in-flight gauge when the request is done, however it ends.
pub(crate) struct InFlight<'a>(&'a Gauge<i64, AtomicI64>);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Metrics {
    /// A registry with the HTTP metrics and build information.
    #[must_use]
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("enamel");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        let durations: Family<RouteLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.000_5, 2.0, 16)));
        registry.register(
            "http_request_duration_seconds",
            "Time to answer HTTP requests",
            durations.clone(),
        );
        let in_flight = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "http_requests_in_flight",
            "Requests being answered",
            in_flight.clone(),
        );
        let build = Family::<[(&'static str, &'static str); 1], Gauge<i64, AtomicI64>>::default();
        build
            .get_or_create(&[("version", env!("CARGO_PKG_VERSION"))])
            .set(1);
        registry.register("build_info", "The running version", build);
        let recovery = RecoveryGauges::default();
        registry.register(
            "recovery_runs",
            "No-show recovery runs by status",
            recovery.runs.clone(),
        );
        registry.register(
            "recovery_offers",
            "No-show recovery offers by status",
            recovery.offers.clone(),
        );
        registry.register(
            "recovery_fill_seconds_sum",
            "Seconds from a slot's opening to its booking, summed over filled runs",
            recovery.fill_seconds.clone(),
        );
        registry.register(
            "recovery_opted_out_offers",
            "Offers not sent because the patient had opted out",
            recovery.opted_out.clone(),
        );
        registry.register(
            "recovery_stopped_entries",
            "Waitlist entries whose patient asked for no more offers",
            recovery.stopped.clone(),
        );
        let audit_index_lag = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "audit_index_lag_entries",
            "Audit entries appended but not yet in the query index (queries scan them)",
            audit_index_lag.clone(),
        );
        Self {
            registry,
            requests,
            durations,
            in_flight,
            recovery,
            audit_index_lag,
        }
    }

    /// Sets recovery's gauges from the database's figures.
    pub(crate) fn set_recovery(&self, totals: &enamel_store::RecoveryTotals) {
        self.recovery.runs.clear();
        for (status, count) in &totals.runs {
            self.recovery
                .runs
                .get_or_create(&[("status", status.clone())])
                .set(*count);
        }
        self.recovery.offers.clear();
        for (status, count) in &totals.offers {
            self.recovery
                .offers
                .get_or_create(&[("status", status.clone())])
                .set(*count);
        }
        self.recovery.fill_seconds.set(totals.fill_seconds);
        self.recovery.opted_out.set(totals.opted_out);
        self.recovery.stopped.set(totals.stopped);
    }

    /// Sets the audit query index's lag from the database's figure.
    pub(crate) fn set_audit_index_lag(&self, entries: u64) {
        self.audit_index_lag
            .set(i64::try_from(entries).unwrap_or(i64::MAX));
    }

    pub(crate) fn in_flight(&self) -> InFlight<'_> {
        self.in_flight.inc();
        InFlight(&self.in_flight)
    }

    pub(crate) fn observe(
        &self,
        method: &'static str,
        route: &str,
        status: u16,
        elapsed: Duration,
    ) {
        let route = route.to_owned();
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route: route.clone(),
                status,
            })
            .inc();
        self.durations
            .get_or_create(&RouteLabels { method, route })
            .observe(elapsed.as_secs_f64());
    }

    /// The metrics in the OpenMetrics text format.
    #[must_use]
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}
