//! DynamoDB backend of the store port: one table, single-table design.
//!
//! Attributes: `pk`, `sk` (keys), `doc` (S, the JSON document; omitted when empty because
//! older DynamoDB Local builds refuse empty strings) or, for a document that deflates to
//! fewer bytes, `z` (B, the deflated document: DynamoDB bills writes per KB of item, and the
//! payload-carrying delivery records and log entries shrink to about a third), `ver` (N), `ttl` (N, optional) and
//! `ipk`/`isk` (S, optional; the sparse global secondary index `due`).
//!
//! DynamoDB removes expired items lazily (up to days later), so every read and every
//! condition treats `ttl <= now` as absent itself: that is what makes this backend behave
//! exactly like the embedded one.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::describe_table::DescribeTableError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, GlobalSecondaryIndex,
    IndexStatus, KeySchemaElement, KeyType, Projection, ProjectionType, Put, ScalarAttributeType,
    TableStatus, TimeToLiveSpecification, TimeToLiveStatus, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;

use super::{
    now_unix, validate_item, validate_key, validate_ops, Condition, IndexEntry, IndexQuery, Item,
    Key, Page, Query, SkRange, Store, StoreError, WriteOp, MAX_ITEM_BYTES,
};

const PK: &str = "pk";
const SK: &str = "sk";
const DOC: &str = "doc";
/// The document, deflated (raw DEFLATE, RFC 1951); present instead of `doc`.
const ZDOC: &str = "z";
/// Documents shorter than this are stored as text: compressing them cannot save a KB.
const COMPRESS_FROM: usize = 700;
/// The count of a counter item (`WriteOp::Add`).
const COUNT: &str = "n";
const VER: &str = "ver";
const TTL: &str = "ttl";
const IPK: &str = "ipk";
const ISK: &str = "isk";
/// Name of the sparse global secondary index on (`ipk`, `isk`).
pub const DUE_INDEX: &str = "due";

/// Region used against a local endpoint when none is configured: DynamoDB Local ignores it,
/// but the SDK will not sign a request without one.
const LOCAL_REGION: &str = "eu-north-1";

/// How long `create_table_if_missing` waits for the table and its index to become ACTIVE
/// (real DynamoDB takes seconds to a few minutes; DynamoDB Local is immediate).
const TABLE_ACTIVE_TIMEOUT: Duration = Duration::from_secs(300);

/// Bounds every request so that a stalled connection surfaces as `Unavailable` well before
/// a Lambda's own timeout, instead of hanging the invocation.
fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(10))
        .operation_timeout(Duration::from_secs(30))
        .build()
}

/// The DynamoDB implementation of [`Store`].
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
        }
    }

    /// A store talking to DynamoDB Local (or another emulator) at `endpoint`, signing with
    /// dummy credentials: emulators accept any.
    pub fn local(endpoint: &str, table: impl Into<String>) -> Self {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(Region::new(LOCAL_REGION))
            .credentials_provider(dummy_credentials())
            .timeout_config(timeouts())
            .build();
        DynamoStore::new(Client::from_conf(config), table)
    }

    /// A store configured from the environment the way every AWS SDK is (region,
    /// credentials, `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL`).
    ///
    /// When an endpoint override is set (DynamoDB Local), a missing region defaults to
    /// `eu-north-1` and missing credentials to dummy ones, so `ucc` runs locally without
    /// any AWS setup. Without an override nothing is invented: real AWS needs real config.
    pub async fn from_env(table: &str) -> Result<DynamoStore, StoreError> {
        let endpoint_override = env_set("AWS_ENDPOINT_URL_DYNAMODB") || env_set("AWS_ENDPOINT_URL");
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts());
        if endpoint_override {
            if !env_set("AWS_REGION") && !env_set("AWS_DEFAULT_REGION") && !env_set("AWS_PROFILE") {
                loader = loader.region(Region::new(LOCAL_REGION));
            }
            if !credentials_in_env() {
                loader = loader.credentials_provider(dummy_credentials());
            }
        }
        let sdk = loader.load().await;
        if sdk.region().is_none() {
            return Err(StoreError::Invalid(
                "no AWS region configured for DynamoDB (set AWS_REGION)".into(),
            ));
        }
        Ok(DynamoStore::new(Client::new(&sdk), table))
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table (on-demand billing, the `due` index, TTL on `ttl`) unless it
    /// exists, and waits until it is usable. For local runs and tests; production tables
    /// come from Terraform.
    pub async fn create_table_if_missing(&self) -> Result<(), StoreError> {
        let exists = match self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
        {
            Ok(_) => true,
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), DescribeTableError::ResourceNotFoundException(_)) =>
            {
                false
            }
            Err(e) => return Err(sdk_error("DescribeTable", e)),
        };
        if !exists {
            self.create_table().await?;
        }
        self.wait_until_active().await?;
        self.enable_ttl().await
    }

    async fn create_table(&self) -> Result<(), StoreError> {
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build_error)
        };
        let key = |name: &str, key_type: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(key_type)
                .build()
                .map_err(build_error)
        };
        let due = GlobalSecondaryIndex::builder()
            .index_name(DUE_INDEX)
            .key_schema(key(IPK, KeyType::Hash)?)
            .key_schema(key(ISK, KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .map_err(build_error)?;
        let result = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr(PK)?)
            .attribute_definitions(attr(SK)?)
            .attribute_definitions(attr(IPK)?)
            .attribute_definitions(attr(ISK)?)
            .key_schema(key(PK, KeyType::Hash)?)
            .key_schema(key(SK, KeyType::Range)?)
            .global_secondary_indexes(due)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Someone else created it between our describe and create: that is success.
            Err(e) if service_code(&e) == Some("ResourceInUseException") => Ok(()),
            Err(e) => Err(sdk_error("CreateTable", e)),
        }
    }

    async fn wait_until_active(&self) -> Result<(), StoreError> {
        let deadline = tokio::time::Instant::now() + TABLE_ACTIVE_TIMEOUT;
        loop {
            let out = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(|e| sdk_error("DescribeTable", e))?;
            let ready = out.table().is_some_and(|t| {
                t.table_status() == Some(&TableStatus::Active)
                    && t.global_secondary_indexes()
                        .iter()
                        .all(|i| i.index_status() == Some(&IndexStatus::Active))
            });
            if ready {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(StoreError::Unavailable(format!(
                    "table {} did not become ACTIVE within {} s",
                    self.table,
                    TABLE_ACTIVE_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn enable_ttl(&self) -> Result<(), StoreError> {
        let out = self
            .client
            .describe_time_to_live()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| sdk_error("DescribeTimeToLive", e))?;
        let status = out
            .time_to_live_description()
            .and_then(|d| d.time_to_live_status());
        // Enabling twice is an error in DynamoDB, so only ask when it is off.
        if matches!(
            status,
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        ) {
            return Ok(());
        }
        let spec = TimeToLiveSpecification::builder()
            .attribute_name(TTL)
            .enabled(true)
            .build()
            .map_err(build_error)?;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(spec)
            .send()
            .await
            .map_err(|e| sdk_error("UpdateTimeToLive", e))?;
        Ok(())
    }
}

fn env_set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty())
}

fn credentials_in_env() -> bool {
    [
        "AWS_ACCESS_KEY_ID",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ]
    .iter()
    .any(|v| env_set(v))
}

fn dummy_credentials() -> Credentials {
    Credentials::new("ucc-local", "ucc-local", None, None, "ucc-dynamodb-local")
}

// ---------------------------------------------------------------------------------------
// Item mapping

type Attrs = HashMap<String, AttributeValue>;

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn key_attrs(key: &Key) -> Attrs {
    HashMap::from([(PK.to_owned(), s(&key.pk)), (SK.to_owned(), s(&key.sk))])
}

fn item_attrs(item: &Item) -> Attrs {
    let mut attrs = key_attrs(&item.key);
    match deflate_doc(&item.doc) {
        Some(z) => {
            attrs.insert(ZDOC.to_owned(), AttributeValue::B(z.into()));
        }
        None if !item.doc.is_empty() => {
            attrs.insert(DOC.to_owned(), s(&item.doc));
        }
        None => {}
    }
    attrs.insert(VER.to_owned(), n(item.version));
    if let Some(t) = item.expires_at {
        attrs.insert(TTL.to_owned(), n(t));
    }
    if let Some(i) = &item.index {
        attrs.insert(IPK.to_owned(), s(&i.partition));
        attrs.insert(ISK.to_owned(), s(&i.sort));
    }
    attrs
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Unavailable(format!("dynamodb: corrupt record: {what}"))
}

fn get_s<'a>(attrs: &'a Attrs, name: &str) -> Result<Option<&'a str>, StoreError> {
    match attrs.get(name) {
        None => Ok(None),
        Some(AttributeValue::S(v)) => Ok(Some(v)),
        Some(_) => Err(corrupt(&format!("attribute {name} is not a string"))),
    }
}

fn get_n<T: std::str::FromStr>(attrs: &Attrs, name: &str) -> Result<Option<T>, StoreError> {
    match attrs.get(name) {
        None => Ok(None),
        Some(AttributeValue::N(v)) => v
            .parse()
            .map(Some)
            .map_err(|_| corrupt(&format!("attribute {name} is not an integer"))),
        Some(_) => Err(corrupt(&format!("attribute {name} is not a number"))),
    }
}

fn item_from(attrs: &Attrs) -> Result<Item, StoreError> {
    let pk = get_s(attrs, PK)?.ok_or_else(|| corrupt("missing pk"))?;
    let sk = get_s(attrs, SK)?.ok_or_else(|| corrupt("missing sk"))?;
    let index = match (get_s(attrs, IPK)?, get_s(attrs, ISK)?) {
        (Some(p), Some(s)) => Some(IndexEntry {
            partition: p.to_owned(),
            sort: s.to_owned(),
        }),
        (None, None) => None,
        _ => return Err(corrupt("half an index entry")),
    };
    Ok(Item {
        key: Key::new(pk, sk),
        // A counter (`WriteOp::Add`) keeps its count in a number attribute.
        doc: match get_n::<i64>(attrs, COUNT)? {
            Some(n) => n.to_string(),
            None => match attrs.get(ZDOC) {
                Some(AttributeValue::B(z)) => inflate_doc(z.as_ref())?,
                Some(_) => return Err(corrupt("attribute z is not binary")),
                None => get_s(attrs, DOC)?.unwrap_or_default().to_owned(),
            },
        },
        version: get_n(attrs, VER)?.ok_or_else(|| corrupt("missing ver"))?,
        expires_at: get_n(attrs, TTL)?,
        index,
    })
}

/// The item's size as DynamoDB bills it: [`Item::size`] with the document as it is stored
/// (deflated where that is smaller). The cost model counts units with this.
pub fn billed_size(item: &Item) -> usize {
    let stored = deflate_doc(&item.doc).map_or(item.doc.len(), |z| z.len());
    item.size() - item.doc.len() + stored
}

/// The deflated document, when that is smaller than its text.
fn deflate_doc(doc: &str) -> Option<Vec<u8>> {
    use std::io::Write;
    if doc.len() < COMPRESS_FROM {
        return None;
    }
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(doc.as_bytes()).ok()?;
    let z = z.finish().ok()?;
    (z.len() < doc.len()).then_some(z)
}

/// Inflates a stored document; never more than an item can hold, so a corrupt attribute
/// cannot make a read allocate without bound.
fn inflate_doc(z: &[u8]) -> Result<String, StoreError> {
    use std::io::Read;
    let mut text = String::new();
    let limit = u64::try_from(MAX_ITEM_BYTES).unwrap_or(u64::MAX) + 1;
    flate2::read::DeflateDecoder::new(z)
        .take(limit)
        .read_to_string(&mut text)
        .map_err(|e| corrupt(&format!("attribute z does not inflate to text: {e}")))?;
    if text.len() > MAX_ITEM_BYTES {
        return Err(corrupt("attribute z inflates past the item limit"));
    }
    Ok(text)
}

// ---------------------------------------------------------------------------------------
// Conditions

/// A condition expression with the names and values it uses (DynamoDB rejects unused ones).
struct Expr {
    text: String,
    names: HashMap<String, String>,
    values: Attrs,
}

/// "Live" mirrors [`Item::is_live`]: no ttl, or ttl strictly in the future.
const LIVE: &str = "attribute_exists(#pk) AND (attribute_not_exists(#ttl) OR #ttl > :now)";

fn condition_expr(condition: Condition, now: i64) -> Option<Expr> {
    let names = |list: &[&str]| {
        list.iter()
            .map(|n| (format!("#{n}"), (*n).to_owned()))
            .collect::<HashMap<_, _>>()
    };
    let now_value = || HashMap::from([(":now".to_owned(), n(now))]);
    match condition {
        Condition::Always => None,
        Condition::NotExists => Some(Expr {
            text: "attribute_not_exists(#pk) OR #ttl <= :now".into(),
            names: names(&[PK, TTL]),
            values: now_value(),
        }),
        Condition::Exists => Some(Expr {
            text: LIVE.into(),
            names: names(&[PK, TTL]),
            values: now_value(),
        }),
        Condition::Version(v) => {
            let mut values = now_value();
            values.insert(":v".into(), n(v));
            Some(Expr {
                text: format!("{LIVE} AND #ver = :v"),
                names: names(&[PK, TTL, VER]),
                values,
            })
        }
    }
}

/// A ConditionCheck must carry an expression; for `Always` use a tautology so that the
/// operation keeps its place and indexes in cancellation reasons stay aligned with `ops`.
fn check_expr(condition: Condition, now: i64) -> Expr {
    condition_expr(condition, now).unwrap_or_else(|| Expr {
        text: "attribute_exists(#pk) OR attribute_not_exists(#pk)".into(),
        names: HashMap::from([("#pk".to_owned(), PK.to_owned())]),
        values: HashMap::new(),
    })
}

// ---------------------------------------------------------------------------------------
// Errors: never echo request contents or credentials, only codes and service messages.

fn build_error(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Invalid(format!("dynamodb request: {e}"))
}

fn service_code<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> Option<&str> {
    match e {
        SdkError::ServiceError(se) => se.err().code(),
        _ => None,
    }
}

fn truncated(message: &str) -> String {
    const MAX: usize = 300;
    match message.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &message[..i]),
        None => message.to_owned(),
    }
}

fn is_throttling(code: &str) -> bool {
    matches!(
        code,
        "ProvisionedThroughputExceededException"
            | "ProvisionedThroughputExceeded"
            | "RequestLimitExceeded"
            | "ThrottlingException"
            | "ThrottlingError"
            | "LimitExceededException"
            | "InternalServerError"
            | "ServiceUnavailable"
            | "ServiceUnavailableException"
    )
}

fn classify(op: &str, code: Option<&str>, message: Option<&str>) -> StoreError {
    let code = code.unwrap_or("unknown");
    match code {
        "TransactionConflictException" => StoreError::Conflict,
        "ValidationException" => StoreError::Invalid(format!(
            "dynamodb {op}: {}",
            truncated(message.unwrap_or(code))
        )),
        "ResourceNotFoundException" => {
            StoreError::Unavailable(format!("dynamodb {op}: table or index not found"))
        }
        // Authentication and authorisation messages can name the caller's principal, so
        // only the code is reported.
        "UnrecognizedClientException"
        | "MissingAuthenticationTokenException"
        | "MissingAuthenticationToken"
        | "InvalidSignatureException"
        | "AccessDeniedException"
        | "ExpiredTokenException"
        | "IncompleteSignatureException" => {
            StoreError::Unavailable(format!("dynamodb {op}: not authorised ({code})"))
        }
        c if is_throttling(c) => StoreError::Unavailable(format!("dynamodb {op}: {c}")),
        c => StoreError::Unavailable(format!("dynamodb {op}: {c}")),
    }
}

fn sdk_error<E, R>(op: &str, e: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata,
{
    match &e {
        SdkError::ServiceError(se) => classify(op, se.err().code(), se.err().message()),
        SdkError::TimeoutError(_) => StoreError::Unavailable(format!("dynamodb {op}: timed out")),
        SdkError::DispatchFailure(d) => {
            let what = if d.is_timeout() {
                "timed out"
            } else if d.is_io() {
                "connection failed"
            } else if d.is_user() {
                "request rejected by the HTTP client"
            } else {
                "request could not be sent"
            };
            StoreError::Unavailable(format!("dynamodb {op}: {what}"))
        }
        SdkError::ResponseError(_) => {
            StoreError::Unavailable(format!("dynamodb {op}: unreadable response"))
        }
        // Also what a missing region or unresolvable credentials look like.
        SdkError::ConstructionFailure(_) => StoreError::Unavailable(format!(
            "dynamodb {op}: request could not be built or signed (check region and credentials)"
        )),
        _ => StoreError::Unavailable(format!("dynamodb {op}: request failed")),
    }
}

/// DynamoDB's own size accounting (attribute names, number encoding) differs slightly from
/// [`Item::size`]; if it still refuses an item, report it as the same `TooLarge`.
fn too_large_or(err: StoreError, item: Option<&Item>) -> StoreError {
    match (&err, item) {
        (StoreError::Invalid(m), Some(item)) if m.contains("Item size") => StoreError::TooLarge {
            key: item.key.clone(),
            size: item.size().max(MAX_ITEM_BYTES + 1),
        },
        _ => err,
    }
}

/// Reads the per-operation reasons of a cancelled transaction. DynamoDB sends them as a
/// structured list; some DynamoDB Local builds only put them in the message
/// ("... reasons [None, ConditionalCheckFailed]"), so fall back to that.
fn cancellation_codes(
    e: &aws_sdk_dynamodb::types::error::TransactionCanceledException,
) -> Vec<String> {
    let reasons = e.cancellation_reasons();
    if !reasons.is_empty() {
        return reasons
            .iter()
            .map(|r| r.code().unwrap_or("None").to_owned())
            .collect();
    }
    let msg = e.message().unwrap_or_default();
    match (msg.rfind('['), msg.rfind(']')) {
        (Some(a), Some(b)) if a < b => msg[a + 1..b]
            .split(',')
            .map(|c| c.trim().to_owned())
            .collect(),
        _ => Vec::new(),
    }
}

fn transaction_error(
    ops: &[WriteOp],
    e: SdkError<TransactWriteItemsError, impl Sized>,
) -> StoreError {
    let cancelled = match &e {
        SdkError::ServiceError(se) => match se.err() {
            TransactWriteItemsError::TransactionCanceledException(c) => Some(c),
            _ => None,
        },
        _ => None,
    };
    let Some(cancelled) = cancelled else {
        // A request-level size refusal does not say which item; the largest put is the one.
        let largest = ops
            .iter()
            .filter_map(|op| match op {
                WriteOp::Put { item, .. } => Some(item),
                _ => None,
            })
            .max_by_key(|item| item.size());
        return too_large_or(sdk_error("TransactWriteItems", e), largest);
    };
    let codes = cancellation_codes(cancelled);
    // A failed condition is a fact about the data; report it before any transient reason.
    if let Some(i) = codes.iter().position(|c| c == "ConditionalCheckFailed") {
        if let Some(op) = ops.get(i) {
            return StoreError::TransactionConditionFailed {
                index: i,
                key: op.key().clone(),
            };
        }
    }
    if codes.iter().any(|c| c == "TransactionConflict") {
        return StoreError::Conflict;
    }
    if let Some(c) = codes.iter().find(|c| is_throttling(c)) {
        return StoreError::Unavailable(format!("dynamodb TransactWriteItems: {c}"));
    }
    if let Some(i) = codes.iter().position(|c| c == "ValidationError") {
        let item = match ops.get(i) {
            Some(WriteOp::Put { item, .. }) => Some(item),
            _ => None,
        };
        let detail = cancelled
            .cancellation_reasons()
            .get(i)
            .and_then(|r| r.message())
            .unwrap_or("validation error");
        return too_large_or(
            StoreError::Invalid(format!(
                "dynamodb TransactWriteItems: operation {i}: {}",
                truncated(detail)
            )),
            item,
        );
    }
    StoreError::Unavailable(format!(
        "dynamodb TransactWriteItems: cancelled ({})",
        truncated(&codes.join(", "))
    ))
}

// ---------------------------------------------------------------------------------------
// Queries

/// Server-side filter hiding expired items; the client re-checks with the same `now`.
const LIVE_FILTER: &str = "attribute_not_exists(#ttl) OR #ttl > :now";

/// One logical page assembled from as many DynamoDB pages as needed: DynamoDB applies
/// `Limit` before the TTL filter, so a single request can come back short or empty while
/// live items remain.
struct PageRequest<'a> {
    index: Option<&'a str>,
    key_condition: String,
    names: HashMap<String, String>,
    values: Attrs,
    limit: usize,
    start: Option<Attrs>,
}

impl DynamoStore {
    async fn fetch_page(
        &self,
        mut req: PageRequest<'_>,
        now: i64,
        cursor_of: impl Fn(&Item) -> Result<String, StoreError>,
    ) -> Result<Page, StoreError> {
        req.names.insert("#ttl".into(), TTL.into());
        req.values.insert(":now".into(), n(now));
        // One more than a page tells us whether a next page exists.
        let wanted = req.limit.saturating_add(1);
        let mut items: Vec<Item> = Vec::new();
        let mut start = req.start.take();
        loop {
            let remaining = wanted - items.len();
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(req.index.map(str::to_owned))
                .key_condition_expression(&req.key_condition)
                .filter_expression(LIVE_FILTER)
                .set_expression_attribute_names(Some(req.names.clone()))
                .set_expression_attribute_values(Some(req.values.clone()))
                // Read-your-writes like the embedded store; GSIs cannot offer it.
                .set_consistent_read(req.index.is_none().then_some(true))
                .limit(i32::try_from(remaining).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error("Query", e))?;
            for attrs in out.items() {
                let item = item_from(attrs)?;
                if item.is_live(now) {
                    items.push(item);
                }
            }
            if items.len() >= wanted {
                break;
            }
            match out.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        let next = if items.len() > req.limit {
            items.truncate(req.limit);
            match items.last() {
                Some(last) => Some(cursor_of(last)?),
                None => None,
            }
        } else {
            None
        };
        Ok(Page { items, next })
    }
}

fn invalid_cursor(why: &str) -> StoreError {
    StoreError::Invalid(format!("invalid cursor: {why}"))
}

fn empty_page() -> Page {
    Page {
        items: Vec::new(),
        next: None,
    }
}

// ---------------------------------------------------------------------------------------
// The port

#[async_trait]
impl Store for DynamoStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        validate_key(key)?;
        let now = now_unix();
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        match out.item() {
            Some(attrs) => {
                let item = item_from(attrs)?;
                Ok(item.is_live(now).then_some(item))
            }
            None => Ok(None),
        }
    }

    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        validate_item(&item)?;
        let expr = condition_expr(condition, now_unix());
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item_attrs(&item)))
            .set_condition_expression(expr.as_ref().map(|e| e.text.clone()))
            .set_expression_attribute_names(expr.as_ref().map(|e| e.names.clone()))
            .set_expression_attribute_values(
                expr.as_ref()
                    .map(|e| e.values.clone())
                    .filter(|v| !v.is_empty()),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if service_code(&e) == Some("ConditionalCheckFailedException") => {
                Err(StoreError::ConditionFailed(item.key))
            }
            Err(e) => Err(too_large_or(sdk_error("PutItem", e), Some(&item))),
        }
    }

    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        validate_key(key)?;
        let expr = condition_expr(condition, now_unix());
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .set_condition_expression(expr.as_ref().map(|e| e.text.clone()))
            .set_expression_attribute_names(expr.as_ref().map(|e| e.names.clone()))
            .set_expression_attribute_values(
                expr.as_ref()
                    .map(|e| e.values.clone())
                    .filter(|v| !v.is_empty()),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if service_code(&e) == Some("ConditionalCheckFailedException") => {
                Err(StoreError::ConditionFailed(key.clone()))
            }
            Err(e) => Err(sdk_error("DeleteItem", e)),
        }
    }

    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        validate_ops(&ops)?;
        // One item: a conditional PutItem / DeleteItem is as atomic as a transaction of one,
        // and bills half (DynamoDB bills every item inside TransactWriteItems twice).
        if let [single] = ops.as_slice() {
            let alone = match single {
                WriteOp::Put { item, condition } => Some(self.put(item.clone(), *condition).await),
                WriteOp::Delete { key, condition } => Some(self.delete(key, *condition).await),
                WriteOp::Check { .. } | WriteOp::Add { .. } => None,
            };
            if let Some(result) = alone {
                return result.map_err(|e| match e {
                    StoreError::ConditionFailed(key) => {
                        StoreError::TransactionConditionFailed { index: 0, key }
                    }
                    other => other,
                });
            }
        }
        let now = now_unix();
        let mut items = Vec::with_capacity(ops.len());
        for op in &ops {
            let twi = match op {
                WriteOp::Put { item, condition } => {
                    let expr = condition_expr(*condition, now);
                    let put = Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(item_attrs(item)))
                        .set_condition_expression(expr.as_ref().map(|e| e.text.clone()))
                        .set_expression_attribute_names(expr.as_ref().map(|e| e.names.clone()))
                        .set_expression_attribute_values(
                            expr.map(|e| e.values).filter(|v| !v.is_empty()),
                        )
                        .build()
                        .map_err(build_error)?;
                    TransactWriteItem::builder().put(put).build()
                }
                WriteOp::Delete { key, condition } => {
                    let expr = condition_expr(*condition, now);
                    let delete = Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_attrs(key)))
                        .set_condition_expression(expr.as_ref().map(|e| e.text.clone()))
                        .set_expression_attribute_names(expr.as_ref().map(|e| e.names.clone()))
                        .set_expression_attribute_values(
                            expr.map(|e| e.values).filter(|v| !v.is_empty()),
                        )
                        .build()
                        .map_err(build_error)?;
                    TransactWriteItem::builder().delete(delete).build()
                }
                WriteOp::Add { key, delta } => {
                    let update = Update::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_attrs(key)))
                        .update_expression("ADD #n :d, #v :one")
                        .expression_attribute_names("#n", COUNT)
                        .expression_attribute_names("#v", VER)
                        .expression_attribute_values(":d", AttributeValue::N(delta.to_string()))
                        .expression_attribute_values(":one", AttributeValue::N("1".into()))
                        .build()
                        .map_err(build_error)?;
                    TransactWriteItem::builder().update(update).build()
                }
                WriteOp::Check { key, condition } => {
                    let expr = check_expr(*condition, now);
                    let check = ConditionCheck::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_attrs(key)))
                        .condition_expression(expr.text)
                        .set_expression_attribute_names(Some(expr.names))
                        .set_expression_attribute_values(
                            Some(expr.values).filter(|v| !v.is_empty()),
                        )
                        .build()
                        .map_err(build_error)?;
                    TransactWriteItem::builder().condition_check(check).build()
                }
            };
            items.push(twi);
        }
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(|e| transaction_error(&ops, e))?;
        Ok(())
    }

    async fn query(&self, q: &Query) -> Result<Page, StoreError> {
        if q.limit == 0 {
            return Err(StoreError::Invalid("query limit must be at least 1".into()));
        }
        // No stored item has an empty partition key; DynamoDB would reject the request.
        if q.pk.is_empty() {
            return Ok(empty_page());
        }
        let mut names = HashMap::from([("#pk".to_owned(), PK.to_owned())]);
        let mut values = HashMap::from([(":pk".to_owned(), s(&q.pk))]);
        let mut key_condition = "#pk = :pk".to_owned();
        // DynamoDB refuses empty strings and inverted BETWEEN bounds in key conditions, so
        // those are expressed as the equivalent weaker condition or answered here.
        match &q.range {
            SkRange::Prefix(p) if p.is_empty() => {}
            SkRange::Prefix(p) => {
                key_condition.push_str(" AND begins_with(#sk, :p)");
                names.insert("#sk".into(), SK.into());
                values.insert(":p".into(), s(p));
            }
            SkRange::Between(a, b) if a > b || b.is_empty() => return Ok(empty_page()),
            SkRange::Between(a, b) if a.is_empty() => {
                key_condition.push_str(" AND #sk <= :b");
                names.insert("#sk".into(), SK.into());
                values.insert(":b".into(), s(b));
            }
            SkRange::Between(a, b) => {
                key_condition.push_str(" AND #sk BETWEEN :a AND :b");
                names.insert("#sk".into(), SK.into());
                values.insert(":a".into(), s(a));
                values.insert(":b".into(), s(b));
            }
        }
        let start = match &q.cursor {
            None => None,
            Some(c) => {
                let in_range = !c.is_empty()
                    && match &q.range {
                        SkRange::Prefix(p) => c.starts_with(p.as_str()),
                        SkRange::Between(a, b) => a <= c && c <= b,
                    };
                if !in_range {
                    return Err(invalid_cursor("not within the query's sort-key range"));
                }
                Some(key_attrs(&Key::new(q.pk.clone(), c.clone())))
            }
        };
        self.fetch_page(
            PageRequest {
                index: None,
                key_condition,
                names,
                values,
                limit: q.limit,
                start,
            },
            now_unix(),
            |item| Ok(item.key.sk.clone()),
        )
        .await
    }

    async fn query_index(&self, q: &IndexQuery) -> Result<Page, StoreError> {
        if q.limit == 0 {
            return Err(StoreError::Invalid("query limit must be at least 1".into()));
        }
        let cursor: Option<(String, String, String)> = match &q.cursor {
            None => None,
            Some(c) => Some(
                serde_json::from_str(c).map_err(|_| invalid_cursor("malformed index cursor"))?,
            ),
        };
        // Index keys are never empty (validate_item), so these can match nothing.
        if q.partition.is_empty() || q.upto.as_deref() == Some("") {
            return Ok(empty_page());
        }
        let mut names = HashMap::from([("#ipk".to_owned(), IPK.to_owned())]);
        let mut values = HashMap::from([(":ipk".to_owned(), s(&q.partition))]);
        let mut key_condition = "#ipk = :ipk".to_owned();
        if let Some(upto) = &q.upto {
            key_condition.push_str(" AND #isk <= :upto");
            names.insert("#isk".into(), ISK.into());
            values.insert(":upto".into(), s(upto));
        }
        let start = match cursor {
            None => None,
            Some((isk, pk, sk)) => {
                if isk.is_empty() || pk.is_empty() || sk.is_empty() {
                    return Err(invalid_cursor("empty component in index cursor"));
                }
                if q.upto.as_ref().is_some_and(|u| &isk > u) {
                    return Ok(empty_page());
                }
                // A GSI page boundary is identified by the index key plus the table key.
                let mut k = key_attrs(&Key::new(pk, sk));
                k.insert(IPK.into(), s(&q.partition));
                k.insert(ISK.into(), s(&isk));
                Some(k)
            }
        };
        self.fetch_page(
            PageRequest {
                index: Some(DUE_INDEX),
                key_condition,
                names,
                values,
                limit: q.limit,
                start,
            },
            now_unix(),
            |item| {
                let sort = item.index.as_ref().map_or("", |i| i.sort.as_str());
                serde_json::to_string(&(sort, &item.key.pk, &item.key.sk))
                    .map_err(|e| StoreError::Invalid(format!("encoding cursor: {e}")))
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_round_trip_through_attributes() {
        let item = Item::new(Key::new("T#1", "A#1"), String::new(), 7)
            .with_ttl(1_700_000_000)
            .with_index("due", "2026-01-01");
        let attrs = item_attrs(&item);
        assert!(!attrs.contains_key(DOC), "empty doc must not be sent");
        assert_eq!(item_from(&attrs), Ok(item));
    }

    #[test]
    fn payload_documents_are_stored_deflated_and_read_back_exactly() {
        let body: String = (0..40)
            .map(|i| format!(r#"{{"transactionId":"51{i:02}","totalCostInclVat":12.5}},"#))
            .collect();
        let doc = format!("[{}\"ø€\"]", body);
        let item = Item::new(Key::new("T#1", "D#1"), doc.clone(), 2);
        let attrs = item_attrs(&item);
        assert!(
            !attrs.contains_key(DOC),
            "a large document is not stored as text"
        );
        let Some(AttributeValue::B(z)) = attrs.get(ZDOC) else {
            panic!("no deflated document: {attrs:?}");
        };
        assert!(
            z.as_ref().len() * 3 < doc.len(),
            "{} of {}",
            z.as_ref().len(),
            doc.len()
        );
        assert_eq!(item_from(&attrs), Ok(item.clone()));
        assert!(billed_size(&item) < item.size() / 3);
        // Short documents stay text: deflating cannot save a write unit there.
        let small = Item::new(Key::new("T#1", "D#2"), r#"{"a":1}"#.into(), 1);
        assert!(item_attrs(&small).contains_key(DOC));
        assert_eq!(billed_size(&small), small.size());
    }

    #[test]
    fn a_corrupt_or_oversized_deflated_document_is_an_error_not_a_panic() {
        let mut attrs = item_attrs(&Item::new(Key::new("T#1", "D#1"), "x".repeat(2000), 1));
        attrs.insert(
            ZDOC.into(),
            AttributeValue::B(vec![0xff, 0x00, 0x13].into()),
        );
        assert!(matches!(item_from(&attrs), Err(StoreError::Unavailable(m)) if m.contains("z")));
        // A small attribute that inflates past the item limit is refused.
        let bomb = deflate_doc(&"0".repeat(MAX_ITEM_BYTES + 10)).unwrap();
        attrs.insert(ZDOC.into(), AttributeValue::B(bomb.into()));
        assert!(
            matches!(item_from(&attrs), Err(StoreError::Unavailable(m)) if m.contains("limit"))
        );
    }

    #[test]
    fn conditions_treat_expired_items_as_absent() {
        let e = condition_expr(Condition::NotExists, 5).map(|e| e.text);
        assert_eq!(
            e.as_deref(),
            Some("attribute_not_exists(#pk) OR #ttl <= :now")
        );
        let v = condition_expr(Condition::Version(3), 5);
        assert!(v.is_some_and(|e| e.text.ends_with("#ver = :v") && e.values.len() == 2));
        assert!(condition_expr(Condition::Always, 5).is_none());
    }

    #[tokio::test]
    async fn unreachable_endpoint_is_unavailable() {
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        let store = DynamoStore::local("http://127.0.0.1:1", "t");
        let err = store.get(&Key::new("T#1", "A")).await;
        assert!(
            matches!(&err, Err(StoreError::Unavailable(m)) if m.contains("GetItem")),
            "{err:?}"
        );
        assert!(err.is_err_and(|e| e.is_transient() && !e.to_string().contains("ucc-local")));
    }

    #[test]
    fn errors_do_not_echo_auth_messages() {
        let e = classify(
            "GetItem",
            Some("AccessDeniedException"),
            Some("User: arn:aws:iam::123456789012:user/x is not authorized"),
        );
        assert!(!e.to_string().contains("123456789012"));
        assert!(e.is_transient());
    }
}
