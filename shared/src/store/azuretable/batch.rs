//! Entity group transactions (`$batch`) as text: the multipart/mixed request with one
//! change set, and the 202 answer parsed into one status per operation. Pure, so the wire
//! format is tested without a server.

use serde_json::{Map, Value};

/// One entity operation of a change set.
#[derive(Debug, Clone, PartialEq)]
pub enum EntityOp {
    /// POST: fails (409) if the entity exists.
    Insert {
        row: String,
        props: Map<String, Value>,
    },
    /// PUT with `If-Match`: fails (412) if the entity changed since `etag` was read.
    Replace {
        row: String,
        props: Map<String, Value>,
        etag: String,
    },
    /// PUT without `If-Match`: insert or replace.
    Upsert {
        row: String,
        props: Map<String, Value>,
    },
    /// DELETE with `If-Match` (`*`: whatever version; 404 if absent).
    Delete { row: String, etag: String },
    /// MERGE of nothing with `If-Match`: fails unless the entity is still at `etag`, and
    /// otherwise changes only its ETag. How a transaction checks an item it does not write.
    Touch { row: String, etag: String },
}

impl EntityOp {
    pub fn row(&self) -> &str {
        match self {
            EntityOp::Insert { row, .. }
            | EntityOp::Replace { row, .. }
            | EntityOp::Upsert { row, .. }
            | EntityOp::Delete { row, .. }
            | EntityOp::Touch { row, .. } => row,
        }
    }
}

/// Single quotes doubled, for a key inside an OData literal.
pub fn quote(s: &str) -> String {
    s.replace('\'', "''")
}

/// The URL of one entity: `{table_url}(PartitionKey='…',RowKey='…')`, keys percent-encoded.
pub fn entity_url(table_url: &str, partition: &str, row: &str) -> String {
    format!(
        "{table_url}(PartitionKey='{}',RowKey='{}')",
        encode(&quote(partition)),
        encode(&quote(row))
    )
}

/// Percent-encodes everything but unreserved characters and the quote (keys are printable
/// ASCII after escaping, but `%`, space, `[`, … are not URL-safe).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~'".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The request body and its content type for a change set of `ops` on one partition.
pub fn request(
    table_url: &str,
    partition: &str,
    ops: &[EntityOp],
    boundary_id: &str,
) -> (String, String) {
    let batch = format!("batch_{boundary_id}");
    let changeset = format!("changeset_{boundary_id}");
    let mut body = String::new();
    body.push_str(&format!(
        "--{batch}\r\nContent-Type: multipart/mixed; boundary={changeset}\r\n\r\n"
    ));
    for (i, op) in ops.iter().enumerate() {
        body.push_str(&format!(
            "--{changeset}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        ));
        let url = entity_url(table_url, partition, op.row());
        let with_body = |props: &Map<String, Value>| {
            let mut entity = props.clone();
            entity.insert("PartitionKey".into(), Value::String(partition.to_owned()));
            entity.insert("RowKey".into(), Value::String(op.row().to_owned()));
            Value::Object(entity).to_string()
        };
        let (line, if_match, payload) = match op {
            EntityOp::Insert { props, .. } => (
                format!("POST {table_url} HTTP/1.1"),
                None,
                Some(with_body(props)),
            ),
            EntityOp::Replace { props, etag, .. } => (
                format!("PUT {url} HTTP/1.1"),
                Some(etag.as_str()),
                Some(with_body(props)),
            ),
            EntityOp::Upsert { props, .. } => {
                (format!("PUT {url} HTTP/1.1"), None, Some(with_body(props)))
            }
            EntityOp::Delete { etag, .. } => {
                (format!("DELETE {url} HTTP/1.1"), Some(etag.as_str()), None)
            }
            EntityOp::Touch { etag, .. } => (
                format!("MERGE {url} HTTP/1.1"),
                Some(etag.as_str()),
                Some("{}".to_owned()),
            ),
        };
        body.push_str(&line);
        body.push_str(&format!("\r\nContent-ID: {}\r\n", i + 1));
        body.push_str("Accept: application/json;odata=minimalmetadata\r\n");
        body.push_str("DataServiceVersion: 3.0;\r\n");
        if let Some(e) = if_match {
            body.push_str(&format!("If-Match: {e}\r\n"));
        }
        match payload {
            Some(p) => {
                body.push_str("Content-Type: application/json\r\nPrefer: return-no-content\r\n");
                body.push_str(&format!("Content-Length: {}\r\n\r\n{p}\r\n", p.len()));
            }
            None => body.push_str("\r\n"),
        }
    }
    body.push_str(&format!("--{changeset}--\r\n--{batch}--\r\n"));
    (format!("multipart/mixed; boundary={batch}"), body)
}

/// What a 202 answer to a change set says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every operation succeeded; the new ETag of each, in order (None for deletes).
    Committed(Vec<Option<String>>),
    /// Nothing was applied: operation `index` (0-based, when the answer names it) failed
    /// with `status` and the service's error `code`.
    Failed {
        index: Option<usize>,
        status: u16,
        code: String,
    },
}

/// Parses the multipart answer: every `HTTP/1.1 NNN` part line is one operation's status.
/// A failed change set answers with a single part for the failing operation, whose error
/// message starts with its 0-based index (`"2:The update condition…"`).
pub fn parse_response(body: &str) -> Result<Outcome, String> {
    let mut statuses: Vec<(u16, Option<String>, String)> = Vec::new();
    let mut lines = body.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(rest) = line.trim_end().strip_prefix("HTTP/1.1 ") else {
            continue;
        };
        let status: u16 = rest
            .get(..3)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("unreadable status line {line:?} in a batch answer"))?;
        let mut etag = None;
        let mut part_body = String::new();
        // Headers up to the blank line, then the part's body up to the next boundary.
        for h in lines.by_ref() {
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((name, value)) = h.split_once(':') {
                if name.trim().eq_ignore_ascii_case("etag") {
                    etag = Some(value.trim().to_owned());
                }
            }
        }
        while let Some(l) = lines.peek() {
            if l.starts_with("--") {
                break;
            }
            part_body.push_str(l);
            lines.next();
        }
        statuses.push((status, etag, part_body));
    }
    if statuses.is_empty() {
        return Err("a batch answer without any operation status".into());
    }
    if let Some((status, _, body)) = statuses.iter().find(|(s, _, _)| !(200..300).contains(s)) {
        let (code, message) = error_of(body);
        let index = message
            .split_once(':')
            .and_then(|(n, _)| n.trim().parse::<usize>().ok());
        return Ok(Outcome::Failed {
            index,
            status: *status,
            code,
        });
    }
    Ok(Outcome::Committed(
        statuses.into_iter().map(|(_, e, _)| e).collect(),
    ))
}

/// The `code` and message text of an OData error body (JSON), or empty strings.
pub fn error_of(body: &str) -> (String, String) {
    let v: Value = serde_json::from_str(body.trim()).unwrap_or(Value::Null);
    let err = &v["odata.error"];
    let code = err["code"].as_str().unwrap_or_default().to_owned();
    let message = err["message"]["value"]
        .as_str()
        .or_else(|| err["message"].as_str())
        .unwrap_or_default()
        .to_owned();
    (code, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_has_one_changeset_with_every_operation() {
        let mut props = Map::new();
        props.insert("V".into(), Value::String("1".into()));
        let ops = vec![
            EntityOp::Insert {
                row: "i a".into(),
                props: props.clone(),
            },
            EntityOp::Delete {
                row: "x'b".into(),
                etag: "W/\"1\"".into(),
            },
        ];
        let (ct, body) = request("http://h/acct/t", "T$01", &ops, "42");
        assert_eq!(ct, "multipart/mixed; boundary=batch_42");
        assert!(body
            .starts_with("--batch_42\r\nContent-Type: multipart/mixed; boundary=changeset_42\r\n"));
        assert!(body.contains("POST http://h/acct/t HTTP/1.1\r\n"));
        assert!(body
            .contains("DELETE http://h/acct/t(PartitionKey='T%2401',RowKey='x''b') HTTP/1.1\r\n"));
        assert!(body.contains("If-Match: W/\"1\"\r\n"));
        assert!(body.contains("\"RowKey\":\"i a\""));
        assert!(body.ends_with("--changeset_42--\r\n--batch_42--\r\n"));
    }

    #[test]
    fn committed_answer_gives_each_etag() {
        let body = "--batchresponse_1\r\nContent-Type: multipart/mixed; boundary=changesetresponse_1\r\n\r\n--changesetresponse_1\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 204 No Content\r\nContent-ID: 1\r\nETag: W/\"datetime'1'\"\r\n\r\n\r\n--changesetresponse_1\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 204 No Content\r\nContent-ID: 2\r\n\r\n\r\n--changesetresponse_1--\r\n--batchresponse_1--\r\n";
        assert_eq!(
            parse_response(body).unwrap(),
            Outcome::Committed(vec![Some("W/\"datetime'1'\"".into()), None])
        );
    }

    #[test]
    fn failed_answer_names_the_operation() {
        let body = "--batchresponse_1\r\nContent-Type: multipart/mixed; boundary=changesetresponse_1\r\n\r\n--changesetresponse_1\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 412 Precondition Failed\r\nContent-ID: 3\r\nContent-Type: application/json\r\n\r\n{\"odata.error\":{\"code\":\"UpdateConditionNotSatisfied\",\"message\":{\"lang\":\"en-US\",\"value\":\"2:The update condition specified in the request was not satisfied.\\nRequestId:x\"}}}\r\n--changesetresponse_1--\r\n--batchresponse_1--\r\n";
        assert_eq!(
            parse_response(body).unwrap(),
            Outcome::Failed {
                index: Some(2),
                status: 412,
                code: "UpdateConditionNotSatisfied".into()
            }
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_commit() {
        assert!(parse_response("").is_err());
        assert!(parse_response("HTTP/1.1 2x").is_err());
    }
}
