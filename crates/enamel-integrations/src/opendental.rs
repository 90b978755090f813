//! Open Dental's REST API (docs/opendental.md): reading a practice's schedule page
//! by page, and the write-backs the practice agents need.
//!
//! - Authorization: `Authorization: ODFHIR {DeveloperKey}/{CustomerKey}`. The
//!   developer key is Enamel's (one per deployment); the customer key is the
//!   practice's, held sealed in its vendor credentials.
//! - Lists come in pages of at most 100 items (`Limit`, `Offset`): a page shorter
//!   than 100 is the last.
//! - Incremental reads: resources that take `DateTStamp` (or `SecDateTEdit`) return
//!   only what changed after it; each item carries `serverDateTime`, the time to ask
//!   from next run.
//! - 429 and 5xx are retried a few times after `Retry-After` (or a doubling pause);
//!   other errors are returned by status only, never with the vendor's message,
//!   which may quote the record.

use std::time::Duration;

use enamel_domain::VendorName;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Map, Value};
use url::Url;

use crate::notify::{SetupError, check_api_url, http_client};

/// The vendor name of this adapter, for the BAA registry.
pub const VENDOR: &str = "open-dental";
/// Open Dental's hosted API (requests reach the office through its eConnector).
pub const DEFAULT_BASE_URL: &str = "https://api.opendental.com/api/v1/";
/// The most items Open Dental returns in one page.
pub const PAGE_SIZE: usize = 100;
/// Tries of one request that was rate limited or failed on the server's side.
const TRIES: u32 = 4;
/// The longest pause a `Retry-After` may ask for before the run gives up for now.
const LONGEST_PAUSE: Duration = Duration::from_mins(1);

/// One item of a list, as Open Dental returns it.
pub type Item = Map<String, Value>;

/// The lists Enamel reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Resource {
    /// `GET /patients/Simple`, which takes `DateTStamp`.
    Patients,
    Providers,
    Operatories,
    AppointmentTypes,
    Appointments,
    /// `GET /appointments/ASAP`: the ASAP list.
    Asap,
    RecallTypes,
    Recalls,
    Carriers,
    InsPlans,
    InsSubs,
    PatPlans,
}

impl Resource {
    /// In the order a sync reads them: what others refer to first.
    pub const ALL: [Self; 12] = [
        Self::Providers,
        Self::Operatories,
        Self::AppointmentTypes,
        Self::RecallTypes,
        Self::Patients,
        Self::Appointments,
        Self::Asap,
        Self::Recalls,
        Self::Carriers,
        Self::InsPlans,
        Self::InsSubs,
        Self::PatPlans,
    ];

    /// The path under the API root.
    #[must_use]
    pub const fn path(self) -> &'static str {
        match self {
            Self::Patients => "patients/Simple",
            Self::Providers => "providers",
            Self::Operatories => "operatories",
            Self::AppointmentTypes => "appointmenttypes",
            Self::Appointments => "appointments",
            Self::Asap => "appointments/ASAP",
            Self::RecallTypes => "recalltypes",
            Self::Recalls => "recalls",
            Self::Carriers => "carriers",
            Self::InsPlans => "insplans",
            Self::InsSubs => "inssubs",
            Self::PatPlans => "patplans",
        }
    }

    /// A short name for logs, reports and the sync's state.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Patients => "patients",
            Self::Providers => "providers",
            Self::Operatories => "operatories",
            Self::AppointmentTypes => "appointment-types",
            Self::Appointments => "appointments",
            Self::Asap => "asap",
            Self::RecallTypes => "recall-types",
            Self::Recalls => "recalls",
            Self::Carriers => "carriers",
            Self::InsPlans => "insplans",
            Self::InsSubs => "inssubs",
            Self::PatPlans => "patplans",
        }
    }

    /// The query parameter that asks for changes only, where the API takes one.
    #[must_use]
    pub const fn changed_since(self) -> Option<&'static str> {
        match self {
            Self::Patients | Self::Providers | Self::Appointments => Some("DateTStamp"),
            Self::InsSubs => Some("SecDateTEdit"),
            _ => None,
        }
    }

    /// The item's own last-changed stamp, where it has one.
    #[must_use]
    pub const fn stamp_field(self) -> Option<&'static str> {
        match self {
            Self::Patients | Self::Providers | Self::Appointments | Self::Asap | Self::Recalls => {
                Some("DateTStamp")
            }
            Self::InsSubs | Self::PatPlans => Some("SecDateTEdit"),
            _ => None,
        }
    }
}

/// Why a call to Open Dental failed. Never carries the vendor's message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenDentalError {
    /// 401 or 403: the keys were refused, or the office disabled its key.
    #[error("Open Dental refused the API keys (HTTP {0})")]
    Unauthorized(u16),
    /// Still rate limited or failing on the server's side after retrying.
    #[error("Open Dental is unavailable for now (HTTP {0})")]
    Unavailable(u16),
    /// The record does not exist there (404).
    #[error("Open Dental has no such record")]
    NotFound,
    /// Any other refusal (400 with an explanation, which is not kept).
    #[error("Open Dental refused the request (HTTP {0})")]
    Refused(u16),
    /// No answer: a timeout or a refused connection.
    #[error("Open Dental did not answer ({0})")]
    Unreachable(&'static str),
    /// An answer that is not the documented JSON.
    #[error("Open Dental's answer was not readable")]
    Unreadable,
}

impl OpenDentalError {
    /// Worth trying again at the next run.
    #[must_use]
    pub const fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Unreachable(_))
    }

    /// A short code for logs and the sync's report.
    #[must_use]
    pub fn code(&self) -> String {
        match self {
            Self::Unauthorized(s) => format!("opendental-unauthorized-{s}"),
            Self::Unavailable(s) => format!("opendental-unavailable-{s}"),
            Self::NotFound => "opendental-not-found".to_owned(),
            Self::Refused(s) => format!("opendental-refused-{s}"),
            Self::Unreachable(kind) => format!("opendental-{kind}"),
            Self::Unreadable => "opendental-unreadable".to_owned(),
        }
    }
}

/// Where and with which keys to reach a practice's Open Dental.
#[derive(Clone, Debug)]
pub struct OpenDentalSettings {
    /// [`DEFAULT_BASE_URL`] in production; a local server in tests.
    pub base_url: Url,
    /// Enamel's developer key.
    pub developer_key: SecretString,
    /// The practice's customer key.
    pub customer_key: SecretString,
    /// The first pause before retrying a rate-limited or failed request without
    /// `Retry-After`; later pauses double.
    pub first_pause: Duration,
}

/// One page of a list.
#[derive(Clone, Default)]
pub struct Page {
    pub items: Vec<Item>,
    /// The `serverDateTime` the items carry (Open Dental's own clock), if any.
    pub server_time: Option<String>,
}

impl std::fmt::Debug for Page {
    /// How many items, never what they hold (patients' details).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Page")
            .field("items", &self.items.len())
            .field("server_time", &self.server_time)
            .finish()
    }
}

/// How an appointment was broken, as Open Dental's `breakType` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakType {
    /// The patient did not come (a no-show).
    Missed,
    /// The patient cancelled.
    Cancelled,
}

/// A client of one practice's Open Dental.
#[derive(Clone, Debug)]
pub struct OpenDental {
    client: reqwest::Client,
    base: Url,
    authorization: SecretString,
    first_pause: Duration,
    vendor: VendorName,
}

impl OpenDental {
    /// Checks the settings and builds the HTTP client.
    pub fn new(settings: OpenDentalSettings) -> Result<Self, SetupError> {
        check_api_url("opendental.base_url", &settings.base_url)?;
        let key_ok = |key: &str| {
            !key.is_empty()
                && key.len() <= 64
                && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if !key_ok(settings.developer_key.expose_secret()) {
            return Err(SetupError::invalid(
                "opendental.developer_key",
                "must be letters and digits",
            ));
        }
        if !key_ok(settings.customer_key.expose_secret()) {
            return Err(SetupError::invalid(
                "customer_key",
                "must be letters and digits",
            ));
        }
        let mut base = settings.base_url;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        Ok(Self {
            client: http_client("Open Dental")?,
            base,
            authorization: SecretString::from(format!(
                "ODFHIR {}/{}",
                settings.developer_key.expose_secret(),
                settings.customer_key.expose_secret()
            )),
            first_pause: settings.first_pause,
            vendor: VendorName::parse(VENDOR).map_err(|_| SetupError::invalid("vendor", "bad"))?,
        })
    }

    /// `open-dental`, for the BAA gate.
    #[must_use]
    pub fn vendor(&self) -> &VendorName {
        &self.vendor
    }

    fn url(&self, path: &str) -> Result<Url, OpenDentalError> {
        self.base
            .join(path)
            .map_err(|_| OpenDentalError::Refused(0))
    }

    /// Sends a request, retrying 429 (and 5xx, for a request that may be repeated)
    /// after `Retry-After` or a doubling pause; returns the body of a 2xx answer.
    async fn send(
        &self,
        build: impl Fn() -> reqwest::RequestBuilder,
        repeatable: bool,
    ) -> Result<bytes::Bytes, OpenDentalError> {
        let mut pause = self.first_pause;
        for attempt in 1..=TRIES {
            let response = build()
                .header(
                    reqwest::header::AUTHORIZATION,
                    self.authorization.expose_secret(),
                )
                .send()
                .await
                .map_err(|err| {
                    OpenDentalError::Unreachable(if err.is_timeout() {
                        "timeout"
                    } else {
                        "connect"
                    })
                })?;
            let status = response.status();
            if status.is_success() {
                return response
                    .bytes()
                    .await
                    .map_err(|_| OpenDentalError::Unreachable("body"));
            }
            let code = status.as_u16();
            let retry = status == reqwest::StatusCode::TOO_MANY_REQUESTS
                || (repeatable && status.is_server_error());
            if status.is_server_error() && !retry {
                return Err(OpenDentalError::Unavailable(code));
            }
            if !retry {
                return Err(match code {
                    401 | 403 => OpenDentalError::Unauthorized(code),
                    404 => OpenDentalError::NotFound,
                    _ => OpenDentalError::Refused(code),
                });
            }
            let asked = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            if attempt == TRIES || asked.is_some_and(|a| a > LONGEST_PAUSE) {
                return Err(OpenDentalError::Unavailable(code));
            }
            let wait = asked.unwrap_or(pause);
            tracing::debug!(
                status = code,
                attempt,
                "Open Dental asked to wait; retrying"
            );
            tokio::time::sleep(wait).await;
            pause = pause.saturating_mul(2);
        }
        Err(OpenDentalError::Unavailable(0))
    }

    /// One page of `resource` from item `offset`, changed after `since` where the
    /// resource takes that filter.
    pub async fn page(
        &self,
        resource: Resource,
        since: Option<&str>,
        offset: usize,
    ) -> Result<Page, OpenDentalError> {
        let mut url = self.url(resource.path())?;
        {
            let mut query = url.query_pairs_mut();
            if let (Some(param), Some(since)) = (resource.changed_since(), since) {
                query.append_pair(param, since);
            }
            query.append_pair("Limit", &PAGE_SIZE.to_string());
            if offset > 0 {
                query.append_pair("Offset", &offset.to_string());
            }
        }
        let body = self.send(|| self.client.get(url.clone()), true).await?;
        let items: Vec<Item> =
            serde_json::from_slice(&body).map_err(|_| OpenDentalError::Unreadable)?;
        let server_time = items
            .first()
            .and_then(|item| item.get("serverDateTime"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(Page { items, server_time })
    }

    /// Reads `resource` page by page: call [`Pages::next`] until it returns `None`.
    #[must_use]
    pub const fn pages<'a>(&'a self, resource: Resource, since: Option<&'a str>) -> Pages<'a> {
        Pages {
            client: self,
            resource,
            since,
            offset: 0,
            done: false,
        }
    }

    /// A write; `repeatable` when sending it twice does what sending it once does.
    async fn put(&self, path: &str, body: &Value, repeatable: bool) -> Result<(), OpenDentalError> {
        let url = self.url(path)?;
        self.send(|| self.client.put(url.clone()).json(body), repeatable)
            .await
            .map(|_| ())
    }

    /// Marks an appointment broken (`PUT /appointments/{AptNum}/Break`), leaving it
    /// off the unscheduled list: the practice agents offer the slot instead.
    pub async fn break_appointment(
        &self,
        apt_num: &str,
        kind: BreakType,
    ) -> Result<(), OpenDentalError> {
        let break_type = match kind {
            BreakType::Missed => "Missed",
            BreakType::Cancelled => "Cancelled",
        };
        self.put(
            &format!("appointments/{}/Break", number(apt_num)?),
            &serde_json::json!({ "sendToUnscheduledList": "false", "breakType": break_type }),
            // Not repeated after a server error: the first may have broken it, and a
            // second would be refused as breaking a broken appointment.
            false,
        )
        .await
    }

    /// Moves an appointment into a slot (`PUT /appointments/{AptNum}`): its local
    /// start in the practice's time zone, and optionally its operatory and provider.
    pub async fn move_appointment(
        &self,
        apt_num: &str,
        local_start: time::PrimitiveDateTime,
        operatory: Option<&str>,
        provider: Option<&str>,
    ) -> Result<(), OpenDentalError> {
        let format =
            time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
        let start = local_start
            .format(&format)
            .map_err(|_| OpenDentalError::Refused(0))?;
        let mut body = Map::new();
        body.insert("AptDateTime".into(), Value::String(start));
        // An appointment on the unscheduled list goes back on the schedule.
        body.insert("AptStatus".into(), Value::String("Scheduled".into()));
        if let Some(op) = operatory {
            body.insert("Op".into(), Value::from(number(op)?));
        }
        if let Some(prov) = provider {
            body.insert("ProvNum".into(), Value::from(number(prov)?));
        }
        self.put(
            &format!("appointments/{}", number(apt_num)?),
            &Value::Object(body),
            true,
        )
        .await
    }

    /// The appointments of one local day in one operatory (`GET /appointments` with
    /// `date` and `Op`), every page: to see whether a slot is still free there
    /// before Enamel books it.
    pub async fn appointments_on(
        &self,
        date: time::Date,
        operatory: &str,
    ) -> Result<Vec<Item>, OpenDentalError> {
        let op = number(operatory)?;
        let mut found = Vec::new();
        loop {
            let mut url = self.url(Resource::Appointments.path())?;
            url.query_pairs_mut()
                .append_pair("date", &date.to_string())
                .append_pair("Op", &op.to_string())
                .append_pair("Limit", &PAGE_SIZE.to_string())
                .append_pair("Offset", &found.len().to_string());
            let body = self.send(|| self.client.get(url.clone()), true).await?;
            let items: Vec<Item> =
                serde_json::from_slice(&body).map_err(|_| OpenDentalError::Unreadable)?;
            let full = items.len() == PAGE_SIZE;
            found.extend(items);
            if !full {
                return Ok(found);
            }
        }
    }

    /// Sets a recall's status (`PUT /recalls/{RecallNum}`): `status` is the
    /// practice's definition number for it (Definitions: Recall/Unsched Status).
    pub async fn set_recall_status(
        &self,
        recall_num: &str,
        status: i64,
    ) -> Result<(), OpenDentalError> {
        self.put(
            &format!("recalls/{}", number(recall_num)?),
            &serde_json::json!({ "RecallStatus": status }),
            true,
        )
        .await
    }
}

/// Whether an appointment read from Open Dental holds chair time overlapping
/// `[from, to)` (local times): scheduled or complete (not broken, not on the
/// unscheduled list, not planned), starting at `AptDateTime`, as long as its
/// `Pattern` (a character per five minutes). An appointment whose time cannot be
/// read is taken to hold the slot.
#[must_use]
pub fn holds(item: &Item, from: time::PrimitiveDateTime, to: time::PrimitiveDateTime) -> bool {
    let status = text(item, "AptStatus").unwrap_or_default();
    if !matches!(status.as_str(), "Scheduled" | "Complete" | "ASAP") {
        return false;
    }
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let Some(start) = text(item, "AptDateTime")
        .and_then(|raw| time::PrimitiveDateTime::parse(&raw, &format).ok())
    else {
        return true;
    };
    let slots = text(item, "Pattern").map_or(0, |p| p.chars().count());
    let end = start + time::Duration::minutes(5 * i64::try_from(slots.max(1)).unwrap_or(1));
    start < to && from < end
}

/// An Open Dental primary key: a positive integer.
fn number(raw: &str) -> Result<i64, OpenDentalError> {
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or(OpenDentalError::Refused(0))
}

/// A list read page by page (see [`OpenDental::pages`]).
#[derive(Debug)]
pub struct Pages<'a> {
    client: &'a OpenDental,
    resource: Resource,
    since: Option<&'a str>,
    offset: usize,
    done: bool,
}

impl Pages<'_> {
    /// The next page, or `None` after the last.
    pub async fn next(&mut self) -> Result<Option<Page>, OpenDentalError> {
        if self.done {
            return Ok(None);
        }
        let page = self
            .client
            .page(self.resource, self.since, self.offset)
            .await?;
        self.offset += page.items.len();
        self.done = page.items.len() < PAGE_SIZE;
        if page.items.is_empty() {
            return Ok(None);
        }
        Ok(Some(page))
    }
}

/// An item's field as text: strings as they are, numbers written out, `true` and
/// `false`; `None` for null, absent or empty.
#[must_use]
pub fn text(item: &Item, field: &str) -> Option<String> {
    match item.get(field)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(base: &str) -> OpenDentalSettings {
        OpenDentalSettings {
            base_url: Url::parse(base).unwrap(),
            developer_key: SecretString::from("NFF6i0KrXrxDkZHt"),
            customer_key: SecretString::from("VzkmZEaUWOjnQX2z"),
            first_pause: Duration::from_millis(1),
        }
    }

    #[test]
    fn the_base_must_be_https_and_the_keys_plain() {
        assert!(OpenDental::new(settings(DEFAULT_BASE_URL)).is_ok());
        assert!(OpenDental::new(settings("http://api.opendental.com/api/v1/")).is_err());
        let mut bad = settings(DEFAULT_BASE_URL);
        bad.customer_key = SecretString::from("a key/with a slash");
        assert!(matches!(
            OpenDental::new(bad),
            Err(SetupError::Invalid {
                setting: "customer_key",
                ..
            })
        ));
    }

    #[test]
    fn paths_join_under_the_api_root_with_or_without_its_slash() {
        let od = OpenDental::new(settings("https://api.opendental.com/api/v1")).unwrap();
        assert_eq!(
            od.url(Resource::Patients.path()).unwrap().as_str(),
            "https://api.opendental.com/api/v1/patients/Simple"
        );
    }

    #[test]
    fn fields_read_as_text_whatever_their_json_type() {
        let item: Item = serde_json::from_str(
            r#"{"AptNum": 18, "IsHygiene": "false", "Note": "", "Op": null, "Flag": true}"#,
        )
        .unwrap();
        assert_eq!(text(&item, "AptNum").as_deref(), Some("18"));
        assert_eq!(text(&item, "IsHygiene").as_deref(), Some("false"));
        assert_eq!(text(&item, "Note"), None);
        assert_eq!(text(&item, "Op"), None);
        assert_eq!(text(&item, "Flag").as_deref(), Some("true"));
        assert_eq!(number("0"), Err(OpenDentalError::Refused(0)));
        assert_eq!(number(" 42 "), Ok(42));
    }
}
