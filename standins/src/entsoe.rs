//! A loopback stand-in of the ENTSO-E Transparency Platform REST API (day-ahead prices,
//! `GET /api?securityToken=…&documentType=A44&in_Domain=…&out_Domain=…&periodStart=yyyyMMddHHmm&periodEnd=yyyyMMddHHmm`)
//! and of the ECB's `eurofxref-daily.xml`, serving recorded documents.
//!
//! It checks a request as the real API does: the token (401 otherwise), `documentType=A44`,
//! `in_Domain` = `out_Domain` (a bidding zone's prices), and the period in `yyyyMMddHHmm`
//! (400 with an `Acknowledgement_MarketDocument` otherwise). A period nothing is recorded
//! for answers the "no matching data" acknowledgement, as the real API does before
//! publication. Tests add documents while it runs (the afternoon publication).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;

struct Shared {
    token: String,
    /// (in_Domain, periodStart) → the A44 document.
    documents: Mutex<BTreeMap<(String, String), String>>,
    ecb: Mutex<Option<String>>,
    /// Every request's query, the token replaced by `***` (for assertions).
    requests: Mutex<Vec<String>>,
}

pub struct EntsoeStandIn {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for EntsoeStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn acknowledgement(code: &str, text: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Acknowledgement_MarketDocument xmlns=\"urn:iec62325.351:tc57wg16:451-1:acknowledgementdocument:7:0\"><mRID>ack</mRID><Reason><code>{code}</code><text>{text}</text></Reason></Acknowledgement_MarketDocument>"
    )
}

fn is_period(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

async fn serve(State(s): State<Arc<Shared>>, uri: Uri) -> Response {
    if uri.path() == "/ecb/eurofxref-daily.xml" {
        return match s.ecb.lock().map(|g| g.clone()).ok().flatten() {
            Some(doc) => (StatusCode::OK, doc).into_response(),
            None => (StatusCode::NOT_FOUND, "").into_response(),
        };
    }
    if uri.path() != "/api" {
        return (StatusCode::NOT_FOUND, "").into_response();
    }
    let q: BTreeMap<String, String> =
        url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let mut shown = q.clone();
    if shown.contains_key("securityToken") {
        shown.insert("securityToken".into(), "***".into());
    }
    if let Ok(mut r) = s.requests.lock() {
        r.push(
            shown
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&"),
        );
    }
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or_default();
    if get("securityToken") != s.token {
        return (
            StatusCode::UNAUTHORIZED,
            "<html><body>Unauthorized</body></html>",
        )
            .into_response();
    }
    let bad = |text: &str| (StatusCode::BAD_REQUEST, acknowledgement("999", text)).into_response();
    if get("documentType") != "A44" {
        return bad("documentType must be A44 for day-ahead prices");
    }
    if get("in_Domain").is_empty() || get("in_Domain") != get("out_Domain") {
        return bad("in_Domain and out_Domain must name the same bidding zone");
    }
    if !is_period(get("periodStart")) || !is_period(get("periodEnd")) {
        return bad("periodStart and periodEnd must be yyyyMMddHHmm");
    }
    let key = (get("in_Domain").to_owned(), get("periodStart").to_owned());
    match s.documents.lock().ok().and_then(|d| d.get(&key).cloned()) {
        Some(doc) => (StatusCode::OK, doc).into_response(),
        None => (
            StatusCode::OK,
            acknowledgement(
                "999",
                "No matching data found for Data item Day-ahead Prices",
            ),
        )
            .into_response(),
    }
}

impl EntsoeStandIn {
    /// Serves on a free loopback port, accepting `token` as `securityToken`.
    pub async fn start(token: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            token: token.to_owned(),
            documents: Mutex::new(BTreeMap::new()),
            ecb: Mutex::new(None),
            requests: Mutex::new(Vec::new()),
        });
        let app = Router::new().fallback(serve).with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(EntsoeStandIn { addr, shared, task })
    }

    /// For `UCC_ENTSOE_URL`.
    pub fn api_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// For `UCC_ECB_URL`.
    pub fn ecb_url(&self) -> String {
        format!("http://{}/ecb/eurofxref-daily.xml", self.addr)
    }

    /// Publishes `doc` for requests of `in_domain` (EIC) starting at `period_start` (yyyyMMddHHmm).
    pub fn publish(&self, in_domain: &str, period_start: &str, doc: &str) {
        if let Ok(mut d) = self.shared.documents.lock() {
            d.insert(
                (in_domain.to_owned(), period_start.to_owned()),
                doc.to_owned(),
            );
        }
    }

    pub fn publish_ecb(&self, doc: &str) {
        if let Ok(mut e) = self.shared.ecb.lock() {
            *e = Some(doc.to_owned());
        }
    }

    /// Every A44 request so far, its token shown as `***`.
    pub fn requests(&self) -> Vec<String> {
        self.shared
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }
}
