//! A local stand-in for Utility Cloud and Microsoft Entra, served over real HTTP on loopback.
//!
//! Neither service has a public sandbox, yet delivery is exactly where the connector must be
//! right: exactly-once posting, settling ambiguous outcomes with a GET, waiting out a bad
//! secret. So the stand-in behaves like the real thing where the connector depends on it
//! (client-credentials tokens that expire, bearer checks, schema validation of every body,
//! 409 on a second POST of an accepted id, credits that must reference a delivered
//! transaction) and lets a test inject the failures the delivery state machine must survive:
//! 5xx, 429 with `Retry-After` (any raw header value), redirects, accepted-but-timed-out
//! posts, stalls, 401 windows and rotated secrets. Everything it saw is kept for assertions;
//! secrets never are.
//!
//! Used by the end-to-end tests and by `ucc run-scenario`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use jsonschema::paths::Location;
use jsonschema::{Keyword, ValidationError, Validator};
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};
use tokio::task::JoinHandle;

const TRANSACTION_SCHEMA: &str = include_str!("../../shared/schemas/uc-transaction.schema.json");
const METER_VALUES_SCHEMA: &str = include_str!("../../shared/schemas/uc-meter-values.schema.json");

/// The directory (tenant) segment of [`StandIn::token_url`]; any segment is accepted.
pub const ENTRA_TENANT: &str = "ucc-standin-tenant";
pub const TRANSACTION_PATH: &str = "/se/invoicelineimport/v1/transaction";
pub const METER_VALUES_PATH: &str = "/v1/se/general-mv-adapter/CreateMeterValuesSeries";
const TOKEN_SUFFIX: &str = "/oauth2/v2.0/token";
/// Where [`Fault::Redirect`] points: any method answers 200 here, so a client that follows
/// a redirect is seen (and would believe it succeeded). The original path is appended.
pub const REDIRECT_TARGET_PATH: &str = "/ucc-standin/redirect-target";

/// Schema keyword for "at most N decimal places", judged on the number's exact text.
/// Float-based validators' `multipleOf` refuses e.g. 0.07 as a multiple of 0.01, so the
/// published schemas state the rule on the number's decimal text instead.
pub const DECIMALS_KEYWORD: &str = "x-maxDecimalPlaces";

/// A charger cannot deliver more than this; a quantity implying more is a unit or scale bug.
const MAX_PLAUSIBLE_KW: i64 = 1000;

#[derive(Clone)]
pub struct StandInConfig {
    pub client_id: String,
    pub client_secret: String,
    /// When set, token requests must ask for exactly this scope.
    pub scope: Option<String>,
    pub token_lifetime_secs: u64,
    /// 0 picks any free port.
    pub port: u16,
}

impl Default for StandInConfig {
    fn default() -> Self {
        StandInConfig {
            client_id: "ucc-standin-client".to_owned(),
            client_secret: "ucc-standin-secret".to_owned(),
            scope: None,
            token_lifetime_secs: 3599,
            port: 0,
        }
    }
}

impl fmt::Debug for StandInConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StandInConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("scope", &self.scope)
            .field("token_lifetime_secs", &self.token_lifetime_secs)
            .field("port", &self.port)
            .finish()
    }
}

/// The endpoints a fault can be queued on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    Token,
    PostTransaction,
    GetTransaction,
    PostMeterValues,
}

/// A one-shot misbehaviour, consumed by the next request on its route that gets past the
/// bearer check (faults model UC's backend, not its front door; the token route has none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer this status without accepting anything.
    Status(u16),
    /// 429 with a `Retry-After` header.
    TooManyRequests { retry_after_secs: u64 },
    /// This status with exactly this raw `Retry-After` value (e.g. `99999999999999`, `-5`,
    /// `abc` or an HTTP-date), for what a broken or hostile UC might send.
    RetryAfter { status: u16, value: String },
    /// Answer exactly this status and JSON body (e.g. a token answer with an absurd
    /// `expires_in`), without acting on the request.
    Answer { status: u16, body: Value },
    /// A redirect (301/302/303/307/308) whose `Location` is [`REDIRECT_TARGET_PATH`] on this
    /// stand-in followed by the original path: a target that answers 200 to anything and
    /// records that it was reached. Nothing is accepted on the original route.
    Redirect(u16),
    /// Handle the request normally (a POST is accepted and stored), then hold the answer
    /// this long: the client times out not knowing that UC has the transaction.
    AcceptThenStall(Duration),
    /// Hold the request this long, then answer 504 without having accepted it.
    Stall(Duration),
    /// Behave normally: lets a test queue a random mix of faults and normal answers.
    Pass,
}

/// One request as the stand-in saw it. The `Authorization` value is never kept, and a
/// token request's `client_secret` is replaced by `[redacted]` in `body`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The answer's status; 0 while a stalled answer is still being held.
    pub status: u16,
    pub had_bearer: bool,
    pub body: String,
    /// `transactionId` / `TransactionId` of a POST, or the id in a GET's path.
    pub transaction_id: Option<String>,
}

pub struct StandIn {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for StandIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StandIn").field("addr", &self.addr).finish()
    }
}

impl StandIn {
    pub async fn start(config: StandInConfig) -> std::io::Result<StandIn> {
        let validators = Validators::new().map_err(std::io::Error::other)?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            addr,
            validators,
            inner: Mutex::new(Inner::new(config)),
            changed: tokio::sync::Notify::new(),
        });
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "UC stand-in stopped");
            }
        });
        Ok(StandIn {
            addr,
            shared,
            task: Some(task),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The UC API root, e.g. `http://127.0.0.1:41234`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn token_url(&self) -> String {
        format!("http://{}/{ENTRA_TENANT}{TOKEN_SUFFIX}", self.addr)
    }

    pub fn client_id(&self) -> String {
        self.shared.lock().client_id.clone()
    }

    /// Bodies UC accepted (answered 2xx) on the transaction route, in order.
    pub fn accepted_transactions(&self) -> Vec<Value> {
        self.shared.lock().transactions.clone()
    }

    /// The accepted transaction with this id, as a GET would return it.
    pub fn transaction(&self, transaction_id: &str) -> Option<Value> {
        let inner = self.shared.lock();
        inner
            .transaction_index
            .get(transaction_id)
            .and_then(|i| inner.transactions.get(*i))
            .cloned()
    }

    pub fn accepted_meter_series(&self) -> Vec<Value> {
        self.shared.lock().meter_series.clone()
    }

    /// The accepted meter value series for this transaction id.
    pub fn meter_series(&self, transaction_id: &str) -> Option<Value> {
        let inner = self.shared.lock();
        inner
            .meter_series_index
            .get(transaction_id)
            .and_then(|i| inner.meter_series.get(*i))
            .cloned()
    }

    /// Every POST (transaction or meter values) carrying this id, whatever the answer.
    pub fn post_attempts(&self, transaction_id: &str) -> usize {
        self.shared
            .lock()
            .attempts
            .get(transaction_id)
            .copied()
            .unwrap_or(0)
    }

    /// POSTs of an id UC had already accepted (answered 409): each one is a connector bug.
    pub fn duplicate_posts(&self) -> usize {
        self.shared.lock().duplicate_posts
    }

    /// One readable line per body refused with 400: schema violations and the consistency
    /// checks (incl = excl + VAT, consecutive intervals covering Start..End).
    pub fn schema_violations(&self) -> Vec<String> {
        self.shared.lock().violations.clone()
    }

    /// Waits until `done(self)` holds, re-checking whenever a request arrives or is answered
    /// (e.g. until a stalled answer has been sent). Tests wait on this, never on time.
    pub async fn wait_until(&self, done: impl Fn(&StandIn) -> bool) {
        loop {
            let changed = self.shared.changed.notified();
            tokio::pin!(changed);
            // Registered before the check, so a change in between is not missed.
            changed.as_mut().enable();
            if done(self) {
                return;
            }
            changed.await;
        }
    }

    pub fn token_requests(&self) -> usize {
        self.shared.lock().token_requests
    }

    /// Every access token this Entra stand-in has issued (valid or not), so tests can prove
    /// none of them was ever stored or logged by the connector.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.shared.lock().tokens.keys().cloned().collect()
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Requests that reached the redirect target: each one is a client following a redirect.
    pub fn redirect_target_hits(&self) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.starts_with(REDIRECT_TARGET_PATH))
            .collect()
    }

    /// Requests anywhere but the token route whose body carried the Entra client secret
    /// (raw or form-encoded): each one is the secret sent where it does not belong.
    pub fn secret_sent_elsewhere(&self) -> usize {
        self.shared.lock().secret_elsewhere
    }

    pub fn push_fault(&self, route: Route, fault: Fault) {
        self.shared
            .lock()
            .faults
            .entry(route)
            .or_default()
            .push_back(fault);
    }

    /// Drops every queued fault: UC behaves again (a test's fault-free settling phase).
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Faults queued on `route` and not yet consumed.
    pub fn pending_faults(&self, route: Route) -> usize {
        self.shared
            .lock()
            .faults
            .get(&route)
            .map_or(0, VecDeque::len)
    }

    /// Rotates the secret Entra accepts; tokens already issued stay valid, as in Entra.
    pub fn set_client_secret(&self, secret: &str) {
        secret.clone_into(&mut self.shared.lock().client_secret);
    }

    /// While on, every UC API call answers 401, whatever its token.
    pub fn set_unauthorized(&self, on: bool) {
        let routes: &[Route] = if on {
            &[
                Route::PostTransaction,
                Route::GetTransaction,
                Route::PostMeterValues,
            ]
        } else {
            &[]
        };
        self.set_unauthorized_routes(routes);
    }

    /// Only calls on these routes answer 401 (e.g. the invoice-line routes, which only the
    /// costed tenants call: a 401 window on one tenant while the other carries on).
    pub fn set_unauthorized_routes(&self, routes: &[Route]) {
        self.shared.lock().unauthorized = routes.iter().copied().collect();
    }

    pub fn expire_tokens(&self) {
        self.shared.lock().tokens.clear();
    }

    pub async fn shutdown(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            // Cancelled is the expected outcome; there is nothing else to report.
            let _ = task.await;
        }
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        // Aborting the accept loop also drops its watch receiver, which tells every open
        // connection to close gracefully: pooled keep-alive clients see the server go.
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

struct Shared {
    addr: SocketAddr,
    validators: Validators,
    inner: Mutex<Inner>,
    /// Fired whenever a request is recorded or its answer sent, so tests wait on events.
    changed: tokio::sync::Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A test that panicked mid-assertion must not take every later request down too.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct Inner {
    client_id: String,
    client_secret: String,
    scope: Option<String>,
    token_lifetime: Duration,
    tokens: HashMap<String, Instant>,
    unauthorized: HashSet<Route>,
    faults: HashMap<Route, VecDeque<Fault>>,
    transactions: Vec<Value>,
    transaction_index: HashMap<String, usize>,
    /// original transaction id → the credit that reversed it.
    credited: HashMap<String, String>,
    meter_series: Vec<Value>,
    meter_series_index: HashMap<String, usize>,
    attempts: HashMap<String, usize>,
    duplicate_posts: usize,
    violations: Vec<String>,
    token_requests: usize,
    requests: Vec<RecordedRequest>,
    secret_elsewhere: usize,
}

impl Inner {
    fn new(config: StandInConfig) -> Self {
        Inner {
            client_id: config.client_id,
            client_secret: config.client_secret,
            scope: config.scope,
            token_lifetime: Duration::from_secs(config.token_lifetime_secs),
            tokens: HashMap::new(),
            unauthorized: HashSet::new(),
            faults: HashMap::new(),
            transactions: Vec::new(),
            transaction_index: HashMap::new(),
            credited: HashMap::new(),
            meter_series: Vec::new(),
            meter_series_index: HashMap::new(),
            attempts: HashMap::new(),
            duplicate_posts: 0,
            violations: Vec::new(),
            token_requests: 0,
            requests: Vec::new(),
            secret_elsewhere: 0,
        }
    }
}

/// A routed request: the public [`Route`] plus what its path carried.
enum Call {
    Token,
    PostTransaction,
    GetTransaction(String),
    PostMeterValues,
}

impl Call {
    fn route(&self) -> Route {
        match self {
            Call::Token => Route::Token,
            Call::PostTransaction => Route::PostTransaction,
            Call::GetTransaction(_) => Route::GetTransaction,
            Call::PostMeterValues => Route::PostMeterValues,
        }
    }
}

fn route(method: &Method, path: &str) -> Result<Call, StatusCode> {
    let known = |ok: bool, call: Call| {
        if ok {
            Ok(call)
        } else {
            Err(StatusCode::METHOD_NOT_ALLOWED)
        }
    };
    if path.len() > TOKEN_SUFFIX.len() + 1 && path.ends_with(TOKEN_SUFFIX) {
        return known(method == Method::POST, Call::Token);
    }
    if path == TRANSACTION_PATH {
        return known(method == Method::POST, Call::PostTransaction);
    }
    if path == METER_VALUES_PATH {
        return known(method == Method::POST, Call::PostMeterValues);
    }
    if let Some(id) = path
        .strip_prefix(TRANSACTION_PATH)
        .and_then(|rest| rest.strip_prefix('/'))
        .filter(|id| !id.is_empty() && !id.contains('/'))
    {
        return known(
            method == Method::GET,
            Call::GetTransaction(percent_decode(id, false)),
        );
    }
    Err(StatusCode::NOT_FOUND)
}

/// What to answer, and how long to hold the answer first.
struct Answer {
    status: StatusCode,
    body: Value,
    retry_after: Option<HeaderValue>,
    location: Option<HeaderValue>,
    www_authenticate: bool,
    delay: Option<Duration>,
}

impl Answer {
    fn new(status: StatusCode, body: Value) -> Self {
        Answer {
            status,
            body,
            retry_after: None,
            location: None,
            www_authenticate: false,
            delay: None,
        }
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        let headers = response.headers_mut();
        if let Some(value) = self.retry_after {
            headers.insert(header::RETRY_AFTER, value);
        }
        if let Some(value) = self.location {
            headers.insert(header::LOCATION, value);
        }
        if self.www_authenticate {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        response
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Own task: a client that gives up on a stall drops this future, but the stand-in must
    // still finish the request and record the status it answered.
    let task = tokio::spawn(serve_one(shared, method, uri, headers, body));
    match task.await {
        Ok(response) => response,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn serve_one(
    shared: Arc<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let bearer = bearer_token(&headers);
    let redirected = path.starts_with(REDIRECT_TARGET_PATH);
    // The target's path ends in the original one: it must not be routed as that.
    let call = if redirected {
        Err(StatusCode::NOT_FOUND)
    } else {
        route(&method, &path)
    };
    let parsed: Option<Value> = match call {
        Ok(Call::PostTransaction | Call::PostMeterValues) => serde_json::from_slice(&body).ok(),
        _ => None,
    };
    let transaction_id = match &call {
        Ok(Call::PostTransaction) => json_str(parsed.as_ref(), "transactionId"),
        Ok(Call::PostMeterValues) => json_str(parsed.as_ref(), "TransactionId"),
        Ok(Call::GetTransaction(id)) => Some(id.clone()),
        _ => None,
    };
    // A client following a redirect may send the token form anywhere: never keep a secret.
    let recorded_body = if redirected || matches!(call, Ok(Call::Token)) {
        redact_form(&body)
    } else {
        String::from_utf8_lossy(&body).into_owned()
    };

    let (index, answer) = {
        let mut inner = shared.lock();
        if !matches!(call, Ok(Call::Token)) && carries_secret(&body, &inner.client_secret) {
            inner.secret_elsewhere += 1;
        }
        inner.requests.push(RecordedRequest {
            method: method.to_string(),
            path: path.clone(),
            status: 0,
            had_bearer: bearer.is_some(),
            body: recorded_body,
            transaction_id: transaction_id.clone(),
        });
        let index = inner.requests.len() - 1;
        if let (Ok(Call::PostTransaction | Call::PostMeterValues), Some(id)) =
            (&call, &transaction_id)
        {
            *inner.attempts.entry(id.clone()).or_default() += 1;
        }
        let answer = match call {
            _ if redirected => Answer::new(
                StatusCode::OK,
                json!({"redirected": true, "message": "a redirect was followed to this target"}),
            ),
            Err(status) => Answer::new(
                status,
                json!({
                    "error": if status == StatusCode::METHOD_NOT_ALLOWED { "method_not_allowed" } else { "not_found" },
                    "message": format!("{method} {path} is not a route of this stand-in"),
                }),
            ),
            Ok(call) => decide(
                &shared.validators,
                &mut inner,
                &Request {
                    call: &call,
                    path: &path,
                    host: shared.addr,
                    bearer: bearer.as_deref(),
                    body: &body,
                },
                parsed,
            ),
        };
        (index, answer)
    };
    shared.changed.notify_waiters();

    if let Some(delay) = answer.delay {
        tokio::time::sleep(delay).await;
    }
    if let Some(r) = shared.lock().requests.get_mut(index) {
        r.status = answer.status.as_u16();
    }
    shared.changed.notify_waiters();
    answer.into_response()
}

/// What [`decide`] needs to know about one request.
struct Request<'a> {
    call: &'a Call,
    path: &'a str,
    /// This stand-in's address, for the `Location` of a redirect.
    host: SocketAddr,
    bearer: Option<&'a str>,
    body: &'a [u8],
}

fn decide(
    validators: &Validators,
    inner: &mut Inner,
    req: &Request<'_>,
    parsed: Option<Value>,
) -> Answer {
    let Request {
        call, bearer, body, ..
    } = *req;
    if let Call::Token = call {
        inner.token_requests += 1;
    } else {
        if inner.unauthorized.contains(&call.route()) {
            return unauthorized("the caller is not authorized (401 window)");
        }
        let valid = bearer
            .and_then(|t| inner.tokens.get(t))
            .is_some_and(|expiry| *expiry > Instant::now());
        if !valid {
            return unauthorized(if bearer.is_some() {
                "the access token is invalid or expired"
            } else {
                "a Bearer access token is required"
            });
        }
    }
    let route = call.route();
    let mut delay = None;
    match inner.faults.get_mut(&route).and_then(VecDeque::pop_front) {
        Some(Fault::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Answer::new(status, injected_error(route, status));
        }
        Some(Fault::TooManyRequests { retry_after_secs }) => {
            let mut a = Answer::new(
                StatusCode::TOO_MANY_REQUESTS,
                json!({"error": "too_many_requests", "message": "rate limit exceeded"}),
            );
            a.retry_after = Some(HeaderValue::from(retry_after_secs));
            return a;
        }
        Some(Fault::RetryAfter { status, value }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
            let mut a = Answer::new(status, injected_error(route, status));
            a.retry_after = HeaderValue::from_str(&value).ok();
            return a;
        }
        Some(Fault::Answer { status, body }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            return Answer::new(status, body);
        }
        Some(Fault::Redirect(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::FOUND);
            let mut a = Answer::new(
                status,
                json!({"error": "moved", "message": "fault injected by the stand-in: redirect"}),
            );
            a.location = HeaderValue::from_str(&format!(
                "http://{}{REDIRECT_TARGET_PATH}{}",
                req.host, req.path
            ))
            .ok();
            return a;
        }
        Some(Fault::Stall(d)) => {
            let mut a = Answer::new(
                StatusCode::GATEWAY_TIMEOUT,
                json!({"error": "gateway_timeout", "message": "the backend did not answer in time"}),
            );
            a.delay = Some(d);
            return a;
        }
        Some(Fault::AcceptThenStall(d)) => delay = Some(d),
        Some(Fault::Pass) | None => {}
    }
    let mut answer = match call {
        Call::Token => issue_token(inner, body),
        Call::PostTransaction => post_transaction(validators, inner, parsed),
        Call::GetTransaction(id) => match inner.transaction_index.get(id) {
            Some(i) => Answer::new(
                StatusCode::OK,
                inner.transactions.get(*i).cloned().unwrap_or(Value::Null),
            ),
            None => Answer::new(
                StatusCode::NOT_FOUND,
                json!({"error": "not_found", "message": format!("transaction {id} does not exist")}),
            ),
        },
        Call::PostMeterValues => post_meter_values(validators, inner, parsed),
    };
    answer.delay = delay;
    answer
}

fn unauthorized(message: &str) -> Answer {
    let mut a = Answer::new(
        StatusCode::UNAUTHORIZED,
        json!({"error": "invalid_token", "message": message}),
    );
    a.www_authenticate = true;
    a
}

fn injected_error(route: Route, status: StatusCode) -> Value {
    match (route, status.as_u16()) {
        (Route::Token, 400 | 401) => entra_error(
            "invalid_client",
            7000215,
            "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
        ),
        (Route::Token, _) => entra_error(
            "temporarily_unavailable",
            50196,
            "AADSTS50196: The server is temporarily unavailable.",
        ),
        _ => json!({"error": "injected", "status": status.as_u16(), "message": "fault injected by the stand-in"}),
    }
}

fn entra_error(error: &str, code: u32, description: &str) -> Value {
    json!({
        "error": error,
        "error_description": format!("{description} Trace ID: 00000000-0000-0000-0000-000000000000 Timestamp: {}", Utc::now().format("%Y-%m-%d %H:%M:%SZ")),
        "error_codes": [code],
        "timestamp": Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string(),
    })
}

fn issue_token(inner: &mut Inner, body: &[u8]) -> Answer {
    let form = parse_form(body);
    let get = |k: &str| {
        form.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    if get("grant_type") != Some("client_credentials") {
        return Answer::new(
            StatusCode::BAD_REQUEST,
            entra_error(
                "unsupported_grant_type",
                70003,
                "AADSTS70003: The app requested an unsupported grant type.",
            ),
        );
    }
    if get("client_id") != Some(inner.client_id.as_str()) {
        return Answer::new(
            StatusCode::UNAUTHORIZED,
            entra_error(
                "invalid_client",
                700016,
                "AADSTS700016: Application was not found in the directory.",
            ),
        );
    }
    if get("client_secret") != Some(inner.client_secret.as_str()) {
        return Answer::new(
            StatusCode::UNAUTHORIZED,
            entra_error(
                "invalid_client",
                7000215,
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
            ),
        );
    }
    if let Some(expected) = &inner.scope {
        if get("scope") != Some(expected.as_str()) {
            return Answer::new(
                StatusCode::BAD_REQUEST,
                entra_error(
                    "invalid_scope",
                    70011,
                    "AADSTS70011: The provided value for the input parameter 'scope' is not valid.",
                ),
            );
        }
    }
    let mut raw = [0u8; 32];
    if getrandom::fill(&mut raw).is_err() {
        return Answer::new(
            StatusCode::SERVICE_UNAVAILABLE,
            entra_error(
                "temporarily_unavailable",
                50196,
                "AADSTS50196: The server is temporarily unavailable.",
            ),
        );
    }
    let token = hex::encode(raw);
    inner
        .tokens
        .insert(token.clone(), Instant::now() + inner.token_lifetime);
    let secs = inner.token_lifetime.as_secs();
    Answer::new(
        StatusCode::OK,
        json!({"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": token}),
    )
}

fn post_transaction(validators: &Validators, inner: &mut Inner, parsed: Option<Value>) -> Answer {
    let Some(body) = parsed else {
        return refuse(
            inner,
            TRANSACTION_PATH,
            None,
            vec!["body is not JSON".into()],
        );
    };
    let mut problems = validators.transaction_errors(&body);
    if problems.is_empty() {
        problems.extend(transaction_consistency(&body));
    }
    let id = json_str(Some(&body), "transactionId");
    if !problems.is_empty() {
        return refuse(inner, TRANSACTION_PATH, id.as_deref(), problems);
    }
    let Some(id) = id else {
        return refuse(
            inner,
            TRANSACTION_PATH,
            None,
            vec!["/transactionId: is required".into()],
        );
    };
    if inner.transaction_index.contains_key(&id) {
        inner.duplicate_posts += 1;
        return Answer::new(
            StatusCode::CONFLICT,
            json!({"error": "duplicate", "message": format!("transaction {id} already exists")}),
        );
    }
    if let Some(original_id) = json_str(Some(&body), "creditReferenceTransactionId") {
        if let Err(message) = check_credit(inner, &original_id, &id, &body) {
            return Answer::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"error": "invalid_credit", "message": message}),
            );
        }
        inner.credited.insert(original_id, id.clone());
    }
    inner.transaction_index.insert(id, inner.transactions.len());
    inner.transactions.push(body.clone());
    Answer::new(StatusCode::CREATED, body)
}

/// SPEC §6: a credit is the full reversal of a transaction UC has, at most once.
fn check_credit(inner: &Inner, original_id: &str, id: &str, credit: &Value) -> Result<(), String> {
    let original = inner
        .transaction_index
        .get(original_id)
        .and_then(|i| inner.transactions.get(*i))
        .ok_or_else(|| {
            format!("credit {id} references transaction {original_id}, which does not exist")
        })?;
    if let Some(earlier) = inner.credited.get(original_id) {
        return Err(format!(
            "transaction {original_id} was already credited by {earlier}"
        ));
    }
    let mut wrong = Vec::new();
    for field in [
        "fullConsumptionKWh",
        "totalCostInclVat",
        "totalCostExclVat",
        "totalVat",
    ] {
        let (c, o) = (decimal_at(credit, field), decimal_at(original, field));
        if c.is_none() || c.map(|c| -c) != o {
            wrong.push(field);
        }
    }
    for field in ["transactionOwnerId", "currency"] {
        if credit.get(field) != original.get(field) {
            wrong.push(field);
        }
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "credit {id} is not the full reversal of {original_id}: {} differ",
            wrong.join(", ")
        ))
    }
}

fn transaction_consistency(body: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if let (Some(incl), Some(excl), Some(vat)) = (
        decimal_at(body, "totalCostInclVat"),
        decimal_at(body, "totalCostExclVat"),
        decimal_at(body, "totalVat"),
    ) {
        if incl != excl + vat {
            problems.push(format!(
                "/totalCostInclVat: {incl} is not totalCostExclVat {excl} + totalVat {vat}"
            ));
        }
    }
    if let (Some(start), Some(end)) = (
        time_at(body, "timestampStart"),
        time_at(body, "timestampEnd"),
    ) {
        if end < start {
            problems.push(format!(
                "/timestampEnd: {end} is before timestampStart {start}"
            ));
        }
    }
    problems
}

fn post_meter_values(validators: &Validators, inner: &mut Inner, parsed: Option<Value>) -> Answer {
    let Some(body) = parsed else {
        return refuse(
            inner,
            METER_VALUES_PATH,
            None,
            vec!["body is not JSON".into()],
        );
    };
    let mut problems = validators.meter_values_errors(&body);
    if problems.is_empty() {
        problems.extend(series_consistency(&body));
    }
    let id = json_str(Some(&body), "TransactionId");
    if !problems.is_empty() {
        return refuse(inner, METER_VALUES_PATH, id.as_deref(), problems);
    }
    let Some(id) = id else {
        return refuse(
            inner,
            METER_VALUES_PATH,
            None,
            vec!["/TransactionId: is required".into()],
        );
    };
    if inner.meter_series_index.contains_key(&id) {
        inner.duplicate_posts += 1;
        return Answer::new(
            StatusCode::CONFLICT,
            json!({"error": "duplicate", "message": format!("a meter value series for transaction {id} already exists")}),
        );
    }
    inner
        .meter_series_index
        .insert(id, inner.meter_series.len());
    inner.meter_series.push(body.clone());
    Answer::new(StatusCode::CREATED, body)
}

/// What a schema cannot say: the intervals tile Start..End on UTC resolution boundaries,
/// and no interval carries more energy than a charger could deliver in it.
fn series_consistency(body: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let (Some(start), Some(end)) = (time_at(body, "Start"), time_at(body, "End")) else {
        return vec!["/Start, /End: not RFC 3339 times".into()];
    };
    if end < start {
        problems.push(format!("/End: {end} is before Start {start}"));
    }
    let step: i64 = match body.get("Resolution").and_then(Value::as_str) {
        Some("PT15M") => 900,
        _ => 3600,
    };
    let values = body
        .get("Values")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut expected_from = start;
    for (i, v) in values.iter().enumerate() {
        let (Some(from), Some(to), Some(quantity)) = (
            time_at(v, "From"),
            time_at(v, "To"),
            decimal_at(v, "Quantity"),
        ) else {
            problems.push(format!("/Values/{i}: From, To or Quantity unreadable"));
            continue;
        };
        if from != expected_from {
            problems.push(format!(
                "/Values/{i}/From: {from} does not continue from {expected_from}"
            ));
        }
        if to < from {
            problems.push(format!("/Values/{i}/To: {to} is before From {from}"));
        }
        let seconds = (to - from).num_seconds();
        if seconds > step {
            problems.push(format!(
                "/Values/{i}: {from}..{to} is longer than the resolution"
            ));
        }
        let last = i + 1 == values.len();
        if !last && (to.timestamp().rem_euclid(step) != 0 || to.timestamp_subsec_nanos() != 0) {
            problems.push(format!(
                "/Values/{i}/To: {to} is not on a UTC resolution boundary"
            ));
        }
        // kWh a charger at the plausible maximum could deliver, with a minute of grace for
        // short tails.
        let budget =
            Decimal::from(MAX_PLAUSIBLE_KW) * Decimal::from(seconds.max(60)) / Decimal::from(3600);
        if quantity > budget {
            problems.push(format!(
                "/Values/{i}/Quantity: {quantity} kWh in {seconds} s exceeds {MAX_PLAUSIBLE_KW} kW"
            ));
        }
        expected_from = to;
    }
    if expected_from != end {
        problems.push(format!(
            "/Values: the intervals end at {expected_from}, not at End {end}"
        ));
    }
    problems
}

fn refuse(inner: &mut Inner, path: &str, id: Option<&str>, problems: Vec<String>) -> Answer {
    inner.violations.push(format!(
        "POST {path} (transaction {}): {}",
        id.unwrap_or("?"),
        problems.join("; ")
    ));
    Answer::new(
        StatusCode::BAD_REQUEST,
        json!({"error": "validation_failed", "message": "the body does not match the schema", "violations": problems}),
    )
}

struct Validators {
    transaction: Validator,
    meter_values: Validator,
}

impl Validators {
    fn new() -> Result<Self, String> {
        Ok(Validators {
            transaction: compile(TRANSACTION_SCHEMA)?,
            meter_values: compile(METER_VALUES_SCHEMA)?,
        })
    }

    fn transaction_errors(&self, body: &Value) -> Vec<String> {
        errors(&self.transaction, body)
    }

    fn meter_values_errors(&self, body: &Value) -> Vec<String> {
        errors(&self.meter_values, body)
    }
}

/// Compiles one of our published UC schemas with the checks they rely on: `format`
/// (annotation-only by default in 2020-12) and the decimal-places keyword.
pub fn compile(schema_text: &str) -> Result<Validator, String> {
    let schema: Value = serde_json::from_str(schema_text).map_err(|e| e.to_string())?;
    jsonschema::options()
        .should_validate_formats(true)
        .with_keyword(DECIMALS_KEYWORD, max_decimals_keyword)
        .build(&schema)
        .map_err(|e| e.to_string())
}

fn errors(validator: &Validator, body: &Value) -> Vec<String> {
    validator
        .iter_errors(body)
        .map(|e| {
            let path = e.instance_path().to_string();
            format!("{}: {e}", if path.is_empty() { "/" } else { &path })
        })
        .collect()
}

struct MaxDecimals {
    places: u32,
}

// The signature is jsonschema's keyword factory; its error type is not ours to shrink.
#[allow(clippy::result_large_err)]
fn max_decimals_keyword<'a>(
    _parent: &'a Map<String, Value>,
    value: &'a Value,
    _location: Location,
) -> Result<Box<dyn for<'i> Keyword<'i>>, ValidationError<'a>> {
    match value.as_u64().and_then(|n| u32::try_from(n).ok()) {
        Some(places) => Ok(Box::new(MaxDecimals { places })),
        None => Err(ValidationError::custom(format!(
            "{DECIMALS_KEYWORD} must be a non-negative integer"
        ))),
    }
}

impl MaxDecimals {
    /// Decimal places of the number as written, ignoring trailing zeros (2.10 has 1).
    fn places_of(n: &serde_json::Number) -> Option<u32> {
        let text = n.to_string();
        Decimal::from_str(&text)
            .or_else(|_| Decimal::from_scientific(&text))
            .ok()
            .map(|d| d.normalize().scale())
    }
}

impl<'i> Keyword<'i> for MaxDecimals {
    fn validate(&self, instance: &'i Value) -> Result<(), ValidationError<'i>> {
        if self.is_valid(instance) {
            return Ok(());
        }
        Err(ValidationError::custom(format!(
            "{instance} has more than {} decimal places",
            self.places
        )))
    }

    fn is_valid(&self, instance: &'i Value) -> bool {
        match instance {
            Value::Number(n) => Self::places_of(n).is_some_and(|p| p <= self.places),
            _ => true,
        }
    }
}

fn json_str(v: Option<&Value>, key: &str) -> Option<String> {
    v?.get(key)?.as_str().map(str::to_owned)
}

fn decimal_at(v: &Value, key: &str) -> Option<Decimal> {
    match v.get(key)? {
        Value::Number(n) => {
            let text = n.to_string();
            Decimal::from_str(&text)
                .or_else(|_| Decimal::from_scientific(&text))
                .ok()
        }
        _ => None,
    }
}

fn time_at(v: &Value, key: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v.get(key)?.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// `application/x-www-form-urlencoded` pairs, decoded.
fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect()
}

/// The form as sent, with the secret's value replaced.
fn redact_form(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .split('&')
        .map(|pair| {
            let key = pair.split_once('=').map_or(pair, |(k, _)| k);
            if percent_decode(key, true) == "client_secret" {
                format!("{key}=[redacted]")
            } else {
                pair.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Whether a body carries `secret`, as raw text or as a form value.
fn carries_secret(body: &[u8], secret: &str) -> bool {
    if secret.is_empty() {
        return false;
    }
    String::from_utf8_lossy(body).contains(secret)
        || parse_form(body).iter().any(|(_, v)| v.contains(secret))
}

fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex_byte = || {
            let hi = (*bytes.get(i + 1)? as char).to_digit(16)?;
            let lo = (*bytes.get(i + 2)? as char).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        };
        match b {
            b'%' => match hex_byte() {
                Some(decoded) => {
                    out.push(decoded);
                    i += 3;
                    continue;
                }
                None => out.push(b),
            },
            b'+' if plus_is_space => out.push(b' '),
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_and_secrets_are_redacted() {
        let body = b"grant_type=client_credentials&client_id=a%2Fb&client_secret=s%3Dx+y&scope=api%3A%2F%2Fuc%2F.default";
        let form = parse_form(body);
        assert_eq!(form[1], ("client_id".into(), "a/b".into()));
        assert_eq!(form[2], ("client_secret".into(), "s=x y".into()));
        assert_eq!(form[3].1, "api://uc/.default");
        let redacted = redact_form(body);
        assert!(!redacted.contains("s%3Dx"));
        assert!(redacted.contains("client_secret=[redacted]"));
        assert!(redacted.starts_with("grant_type=client_credentials&client_id=a%2Fb&"));
    }

    #[test]
    fn percent_decoding_tolerates_garbage() {
        assert_eq!(percent_decode("%", true), "%");
        assert_eq!(percent_decode("%zz1", true), "%zz1");
        assert_eq!(percent_decode("a%2", false), "a%2");
        assert_eq!(percent_decode("a+b", false), "a+b");
    }

    #[test]
    fn routes() {
        assert!(matches!(
            route(&Method::POST, "/tenant-x/oauth2/v2.0/token"),
            Ok(Call::Token)
        ));
        assert_eq!(
            route(&Method::POST, "/oauth2/v2.0/token").err(),
            Some(StatusCode::NOT_FOUND)
        );
        assert!(matches!(
            route(&Method::GET, "/se/invoicelineimport/v1/transaction/88812345-C1"),
            Ok(Call::GetTransaction(id)) if id == "88812345-C1"
        ));
        assert_eq!(
            route(&Method::GET, TRANSACTION_PATH).err(),
            Some(StatusCode::METHOD_NOT_ALLOWED)
        );
        assert!(matches!(
            route(&Method::POST, METER_VALUES_PATH),
            Ok(Call::PostMeterValues)
        ));
    }

    #[test]
    fn decimal_places_are_judged_on_the_exact_text() {
        let v = compile(TRANSACTION_SCHEMA).unwrap();
        let mut body: Value = serde_json::from_str(
            r#"{"transactionId":"1","transactionOwnerId":"ap","siteId":-1,"authorizedTag":"t",
            "timestampStart":"2026-11-20T16:42:10Z","timestampEnd":"2026-11-20T21:03:55Z",
            "fullConsumptionKWh":22.750,"currency":"NOK","vatPercent":25,
            "totalCostInclVat":0.07,"totalCostExclVat":0.06,"totalVat":0.01,
            "creditReferenceTransactionId":null}"#,
        )
        .unwrap();
        assert_eq!(errors(&v, &body), Vec::<String>::new());
        body["totalVat"] = serde_json::from_str("0.015").unwrap();
        body["fullConsumptionKWh"] = serde_json::from_str("-1.2345").unwrap();
        let errs = errors(&v, &body);
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs.iter().any(|e| e.starts_with("/totalVat")));
    }

    #[test]
    fn published_schemas_are_valid_2020_12_schemas() {
        for text in [TRANSACTION_SCHEMA, METER_VALUES_SCHEMA] {
            let schema: Value = serde_json::from_str(text).unwrap();
            assert_eq!(
                schema["$schema"],
                "https://json-schema.org/draft/2020-12/schema"
            );
            jsonschema::meta::validate(&schema).unwrap();
            // A plain validator (no custom keyword) accepts them too: publishable as is.
            jsonschema::validator_for(&schema).unwrap();
        }
    }
}
