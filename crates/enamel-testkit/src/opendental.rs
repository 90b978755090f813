//! A local server that speaks Open Dental's REST API as its documentation shows it
//! (docs/opendental.md): `ODFHIR` authorization, pages of at most 100 items with
//! `Limit` and `Offset`, `DateTStamp` and `SecDateTEdit` filters, `serverDateTime`
//! on each item of the lists that return it, 401, 404, 400, 429 with `Retry-After`,
//! 5xx, and the write-backs (`Break`, moving an appointment, a recall's status).
//!
//! It is a stand-in for the vendor in tests and benchmarks, not a copy of Open
//! Dental: its server clock starts at a fixed time and ticks one second per change,
//! so a test can change a record between two syncs and know it is newer.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};

/// One item as the API returns it.
pub type Item = Map<String, Value>;

/// The lists this server holds, by path, with their key field and stamp field.
const LISTS: &[(&str, &str, Option<&str>)] = &[
    ("patients", "PatNum", Some("DateTStamp")),
    ("providers", "ProvNum", Some("DateTStamp")),
    ("operatories", "OperatoryNum", None),
    ("appointmenttypes", "AppointmentTypeNum", None),
    ("appointments", "AptNum", Some("DateTStamp")),
    ("recalltypes", "RecallTypeNum", None),
    ("recalls", "RecallNum", Some("DateTStamp")),
    ("carriers", "CarrierNum", None),
    ("insplans", "PlanNum", None),
    ("inssubs", "InsSubNum", Some("SecDateTEdit")),
    ("patplans", "PatPlanNum", Some("SecDateTEdit")),
];

#[derive(Debug, Default)]
struct Tables {
    lists: HashMap<&'static str, Vec<Item>>,
    /// The server's clock, in seconds after its start.
    tick: i64,
    /// Statuses to answer the next requests with, before serving them.
    failures: VecDeque<u16>,
    requests: Vec<String>,
    writes: Vec<(String, Value)>,
}

impl Tables {
    fn now(&self) -> String {
        let start = time::macros::datetime!(2026-11-30 08:00:00);
        let at = start + time::Duration::seconds(self.tick);
        let format =
            time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
        at.format(&format).unwrap_or_default()
    }

    fn stamp(&mut self, list: &str, item: &mut Item) {
        self.tick += 1;
        if let Some((_, _, Some(field))) = LISTS.iter().find(|(name, _, _)| *name == list) {
            item.insert((*field).to_owned(), Value::String(self.now()));
        }
    }

    fn position(&self, list: &str, key: i64) -> Option<usize> {
        let (_, field, _) = LISTS.iter().find(|(name, _, _)| *name == list)?;
        self.lists
            .get(list)?
            .iter()
            .position(|item| item.get(*field).and_then(Value::as_i64) == Some(key))
    }

    fn find(&mut self, list: &str, key: i64) -> Option<&mut Item> {
        let at = self.position(list, key)?;
        self.lists.get_mut(list)?.get_mut(at)
    }

    /// Changes an item and stamps it now; returns the changed item.
    fn update(
        &mut self,
        list: &'static str,
        key: i64,
        change: impl FnOnce(&mut Item),
    ) -> Option<Item> {
        let at = self.position(list, key)?;
        let mut item = self.lists.get(list)?.get(at)?.clone();
        change(&mut item);
        self.stamp(list, &mut item);
        let slot = self.lists.get_mut(list)?.get_mut(at)?;
        slot.clone_from(&item);
        Some(item)
    }
}

/// A running fake Open Dental.
#[derive(Clone, Debug)]
pub struct FakeOpenDental {
    tables: Arc<Mutex<Tables>>,
    authorization: String,
    /// Its API root, to use as the adapter's base URL.
    pub url: url::Url,
}

impl FakeOpenDental {
    /// Serves an empty Open Dental on a loopback port that accepts these keys.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start(developer_key: &str, customer_key: &str) -> Self {
        let tables = Arc::new(Mutex::new(Tables::default()));
        let fake = Self {
            tables: Arc::clone(&tables),
            authorization: format!("ODFHIR {developer_key}/{customer_key}"),
            url: url::Url::parse("http://127.0.0.1/").unwrap_or_else(|_| unreachable!()),
        };
        let app = Router::new()
            .route("/api/v1/{*path}", get(list).put(write))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("a bound address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: url::Url::parse(&format!("http://{addr}/api/v1/"))
                .unwrap_or_else(|_| unreachable!()),
            ..fake
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds an item to `list` (`patients`, `appointments`, …), stamped now.
    ///
    /// # Panics
    /// If `item` is not a JSON object.
    pub fn insert(&self, list: &'static str, item: Value) {
        let Value::Object(mut item) = item else {
            panic!("an item is a JSON object");
        };
        let mut tables = self.lock();
        tables.stamp(list, &mut item);
        tables.lists.entry(list).or_default().push(item);
    }

    /// Changes the item of `list` whose key is `key`, stamping it now. Returns
    /// whether there was one.
    pub fn change(&self, list: &'static str, key: i64, change: impl FnOnce(&mut Item)) -> bool {
        self.lock().update(list, key, change).is_some()
    }

    /// A copy of the item of `list` whose key is `key`.
    #[must_use]
    pub fn item(&self, list: &'static str, key: i64) -> Option<Item> {
        self.lock().find(list, key).map(|item| item.clone())
    }

    /// Answers the next requests with these statuses (429 with `Retry-After: 0`,
    /// or any other) before serving requests again.
    pub fn fail_next(&self, statuses: &[u16]) {
        self.lock().failures.extend(statuses);
    }

    /// The requests served so far, as `METHOD path?query`.
    #[must_use]
    pub fn requests(&self) -> Vec<String> {
        self.lock().requests.clone()
    }

    /// The write-backs received so far: path and body.
    #[must_use]
    pub fn writes(&self) -> Vec<(String, Value)> {
        self.lock().writes.clone()
    }

    /// How many items `list` holds.
    #[must_use]
    pub fn len(&self, list: &'static str) -> usize {
        self.lock().lists.get(list).map_or(0, Vec::len)
    }

    /// Whether it holds nothing at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.lock().lists.values().all(Vec::is_empty)
    }

    fn check(&self, headers: &HeaderMap, line: String) -> Result<(), Box<Response>> {
        let mut tables = self.lock();
        tables.requests.push(line);
        let authorized = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == self.authorization);
        if !authorized {
            return Err(Box::new(
                (
                    StatusCode::UNAUTHORIZED,
                    "Invalid Authorization header. Format: ODFHIR DeveloperKey/CustomerKey",
                )
                    .into_response(),
            ));
        }
        if let Some(status) = tables.failures.pop_front() {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = (status, "Try again later").into_response();
            if status == StatusCode::TOO_MANY_REQUESTS {
                response
                    .headers_mut()
                    .insert("retry-after", axum::http::HeaderValue::from_static("0"));
            }
            return Err(Box::new(response));
        }
        Ok(())
    }
}

fn bad_request(why: &str) -> Response {
    (StatusCode::BAD_REQUEST, why.to_owned()).into_response()
}

async fn list(
    State(fake): State<FakeOpenDental>,
    Path(path): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut line = format!("GET {path}");
    let mut pairs: Vec<_> = query.iter().collect();
    pairs.sort();
    for (i, (k, v)) in pairs.iter().enumerate() {
        line.push(if i == 0 { '?' } else { '&' });
        let _ = write!(line, "{k}={v}");
    }
    if let Err(refused) = fake.check(&headers, line) {
        return *refused;
    }
    let (name, asap) = match path.as_str() {
        "patients/Simple" => ("patients", false),
        "appointments/ASAP" => ("appointments", true),
        other => match LISTS.iter().find(|(n, _, _)| *n == other) {
            Some((n, _, _)) => (*n, false),
            None => return (StatusCode::NOT_FOUND, "Resource not found").into_response(),
        },
    };
    let limit = match query.get("Limit").map(|l| l.parse::<usize>()) {
        None => 100,
        Some(Ok(l)) => l.clamp(1, 100),
        Some(Err(_)) => return bad_request("Limit is invalid"),
    };
    let offset = match query.get("Offset").map(|o| o.parse::<usize>()) {
        None => 0,
        Some(Ok(o)) => o,
        Some(Err(_)) => return bad_request("Offset is invalid"),
    };
    let since = query
        .get("DateTStamp")
        .or_else(|| query.get("SecDateTEdit"))
        .cloned();
    let mut tables = fake.lock();
    // The server's clock moves on between requests, as a real one does.
    tables.tick += 1;
    let stamp_field = LISTS
        .iter()
        .find(|(n, _, _)| *n == name)
        .and_then(|(_, _, s)| *s);
    let server_time = tables.now();
    let with_server_time = matches!(name, "patients" | "providers" | "appointments");
    let items: Vec<Value> = tables
        .lists
        .get(name)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|item| !asap || item.get("Priority").and_then(Value::as_str) == Some("ASAP"))
        // Appointments of one day (`date`), in one operatory (`Op`).
        .filter(|item| {
            query.get("date").is_none_or(|day| {
                item.get("AptDateTime")
                    .and_then(Value::as_str)
                    .is_some_and(|at| at.starts_with(day.as_str()))
            }) && query.get("Op").is_none_or(|op| {
                item.get("Op").map(ToString::to_string).as_deref() == Some(op.as_str())
            })
        })
        .filter(|item| match (&since, stamp_field) {
            (Some(since), Some(field)) => item
                .get(field)
                .and_then(Value::as_str)
                // "Altered after": strictly later.
                .is_some_and(|stamp| stamp > since.as_str()),
            _ => true,
        })
        .skip(offset)
        .take(limit)
        .map(|item| {
            let mut item = item.clone();
            if with_server_time {
                item.insert("serverDateTime".into(), Value::String(server_time.clone()));
            }
            Value::Object(item)
        })
        .collect();
    axum::Json(Value::Array(items)).into_response()
}

async fn write(
    State(fake): State<FakeOpenDental>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(refused) = fake.check(&headers, format!("PUT {path}")) {
        return *refused;
    }
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&body) else {
        return bad_request("The body is not a JSON object");
    };
    let parts: Vec<&str> = path.split('/').collect();
    let key = |raw: &str| raw.parse::<i64>().ok();
    let mut tables = fake.lock();
    tables
        .writes
        .push((path.clone(), Value::Object(body.clone())));
    let (list, num) = match parts.as_slice() {
        ["appointments", num, "Break"] | ["appointments", num] => ("appointments", key(num)),
        ["recalls", num] => ("recalls", key(num)),
        _ => return (StatusCode::NOT_FOUND, "Resource not found").into_response(),
    };
    let Some(num) = num else {
        return bad_request("The id in the URL is invalid");
    };
    let Some(item) = tables.find(list, num) else {
        return (StatusCode::NOT_FOUND, "Not found").into_response();
    };
    let breaking = parts.last() == Some(&"Break");
    if breaking {
        if item.get("AptStatus").and_then(Value::as_str) != Some("Scheduled") {
            return bad_request("Only scheduled appointments can be broken");
        }
        if !matches!(
            body.get("breakType").and_then(Value::as_str),
            Some("Missed" | "Cancelled")
        ) {
            return bad_request("breakType must be Missed or Cancelled");
        }
    }
    let changed = tables.update(list, num, |item| {
        if breaking {
            item.insert("AptStatus".into(), json!("Broken"));
        } else {
            for (field, value) in &body {
                item.insert(field.clone(), value.clone());
            }
        }
    });
    axum::Json(changed.map_or(Value::Null, Value::Object)).into_response()
}

/// A synthetic practice of `patients` patients in Open Dental's shapes: three
/// providers, four operatories, four appointment types, two recall types, an
/// appointment for every third patient over the two weeks from 30 November 2026 (a
/// tenth of them broken, some on the ASAP list), a recall for each patient and
/// coverage for four in five. Names are made up from short lists.
pub fn populate(fake: &FakeOpenDental, patients: i64) {
    const FIRST: [&str; 8] = [
        "Avery", "Blake", "Casey", "Devon", "Emery", "Finley", "Harper", "Jules",
    ];
    const LAST: [&str; 8] = [
        "Abbott",
        "Brandt",
        "Castillo",
        "Dunmore",
        "Ellery",
        "Fairbanks",
        "Galloway",
        "Hollis",
    ];
    for (num, last, first, npi, hyg) in [
        (1, "Alvarado", "Ines", "1234567893", "false"),
        (2, "Okafor", "Tobi", "1245319599", "false"),
        (3, "Lindqvist", "Maren", "", "true"),
    ] {
        fake.insert("providers", json!({"ProvNum": num, "Abbr": format!("DOC{num}"), "LName": last, "FName": first, "NationalProvID": npi, "IsSecondary": hyg, "IsHidden": "false", "ProvStatus": "Active"}));
    }
    for num in 1..=4 {
        fake.insert("operatories", json!({"OperatoryNum": num, "OpName": format!("Op {num}"), "Abbrev": format!("O{num}"), "IsHidden": "false", "ProvDentist": 1, "ProvHygienist": 3}));
    }
    for (num, name, pattern, codes) in [
        (1, "Exam and cleaning", "//XXXXXX//", "D0120,D1110"),
        (2, "Crown prep", "//XXXXXXXXXX//", "D2740"),
        (3, "Filling", "/XXXX/", "D2391"),
        (4, "New patient", "//XXXXXXXX//", "D0150,D0210"),
    ] {
        fake.insert("appointmenttypes", json!({"AppointmentTypeNum": num, "AppointmentTypeName": name, "AppointmentTypeColor": "0,0,0", "Pattern": pattern, "CodeStr": codes, "IsHidden": "false"}));
    }
    fake.insert("recalltypes", json!({"RecallTypeNum": 1, "Description": "Prophy", "DefaultInterval": "6m1d", "TimePattern": "/XXXX/", "Procedures": "D0120,D1110"}));
    fake.insert("recalltypes", json!({"RecallTypeNum": 2, "Description": "Perio", "DefaultInterval": "3m", "TimePattern": "/XXXXXX/", "Procedures": "D4910"}));
    for (num, name, elect) in [
        (1, "Delta Dental", "94276"),
        (2, "MetLife", "65978"),
        (3, "Cigna Dental", "62308"),
    ] {
        fake.insert(
            "carriers",
            json!({"CarrierNum": num, "CarrierName": name, "ElectID": elect}),
        );
        fake.insert("insplans", json!({"PlanNum": num, "CarrierNum": num, "GroupName": "Employer", "GroupNum": format!("G{num:04}")}));
    }
    let start = time::macros::date!(2026 - 11 - 30);
    let mut apt = 0;
    for pat in 1..=patients {
        let i = usize::try_from(pat).unwrap_or_default();
        let birth = time::macros::date!(1950 - 01 - 01) + time::Duration::days(pat * 7 % 20_000);
        fake.insert("patients", json!({
            "PatNum": pat, "LName": LAST[i % 8], "FName": FIRST[(i / 8) % 8], "MiddleI": "",
            "Preferred": "", "PatStatus": "Patient", "Gender": "Unknown",
            "Birthdate": birth.to_string(), "HmPhone": "", "WkPhone": "",
            "WirelessPhone": format!("(512) 555-{:04}", pat % 10_000), "Email": format!("patient{pat}@example.test"),
            "PriProv": 1, "ClinicNum": 0, "Language": ""
        }));
        fake.insert(
            "recalls",
            json!({
                "RecallNum": pat, "PatNum": pat, "RecallTypeNum": 1,
                "DateDue": (start + time::Duration::days(pat % 120 - 60)).to_string(),
                "DatePrevious": (start - time::Duration::days(pat % 120 + 120)).to_string(),
                "RecallInterval": "6m1d", "RecallStatus": 0, "IsDisabled": "false",
                "DisableUntilDate": "0001-01-01", "Priority": "Normal"
            }),
        );
        if pat % 5 != 0 {
            let carrier = pat % 3 + 1;
            fake.insert("inssubs", json!({"InsSubNum": pat, "PlanNum": carrier, "Subscriber": pat, "SubscriberID": format!("M{pat:08}"), "DateEffective": "2026-01-01", "DateTerm": "0001-01-01"}));
            fake.insert("patplans", json!({"PatPlanNum": pat, "PatNum": pat, "Ordinal": 1, "IsPending": "false", "Relationship": "Self", "InsSubNum": pat}));
        }
        if pat % 3 == 0 {
            apt += 1;
            let day = start + time::Duration::days(apt % 14);
            let hour = 8 + apt / 14 % 9;
            let status = if apt % 10 == 0 { "Broken" } else { "Scheduled" };
            let priority = if apt % 7 == 0 { "ASAP" } else { "Normal" };
            fake.insert("appointments", json!({
                "AptNum": apt, "PatNum": pat, "AptStatus": status, "Pattern": "//XXXXXX//",
                "Confirmed": 19, "Op": apt % 4 + 1, "Note": "", "ProvNum": apt % 2 + 1, "ProvHyg": 0,
                "AptDateTime": format!("{day} {hour:02}:00:00"), "ProcDescript": "PerEx, Pro",
                "ClinicNum": 0, "IsHygiene": "false", "Priority": priority, "AppointmentTypeNum": 1
            }));
        }
    }
}
