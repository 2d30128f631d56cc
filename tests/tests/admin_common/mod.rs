//! Shared by the admin API suites: the delivery environment (both tenants, the UC stand-in)
//! with the admin router served on loopback, and a raw HTTP/1.1 client that sends request
//! targets exactly as written (reqwest would normalise `..` and percent-escapes away).

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use ucc_functions::admin::{self, AdminKeys};
use ucc_shared::store::Store;
use ucc_tests::delivery_env::Env;
use ucc_tests::fixtures::{NORDLYS, SVEA};

pub const PLATFORM_KEY: &str = "platform-key-for-tests-0123456789abcdef";

/// Panics raised by non-test code (handlers, core) while a suite runs.
pub static SERVER_PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_server_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let at = info
                .location()
                .map(|l| l.file().to_owned())
                .unwrap_or_default();
            if at.contains("functions/common") || at.contains("shared/src") {
                SERVER_PANICS.fetch_add(1, Ordering::SeqCst);
            }
            prev(info);
        }));
    });
}

pub struct Api {
    pub env: Env,
    pub addr: SocketAddr,
    pub base: String,
    pub http: reqwest::Client,
    /// Tenant keys issued through the API.
    pub nordlys_key: String,
    pub svea_key: String,
}

impl Api {
    /// Nordlys history with one of each: `delivered` goes through, `rejected` meets a 422,
    /// and a contract event (`event_id`, at `time`) with an invalid accounting point is
    /// parked.
    pub async fn seed_one_of_each(
        &self,
        delivered: &str,
        rejected: &str,
        event_id: &str,
        time: &str,
    ) {
        use ucc_standins::uc::{Fault, Route};
        use ucc_tests::delivery_env::{session, COSTED_CUSTOMER, RFID};
        self.env
            .send(&session(delivered, COSTED_CUSTOMER, RFID, None))
            .await;
        self.env
            .standin
            .push_fault(Route::PostTransaction, Fault::Status(422));
        self.env
            .send(&session(rejected, COSTED_CUSTOMER, RFID, None))
            .await;
        let bad = ucc_tests::fixtures::event(
            NORDLYS,
            "ContractActivated",
            event_id,
            time,
            "bad ap!",
            serde_json::json!({}),
        );
        self.env.contract(bad).await;
    }

    pub async fn start(store: Arc<dyn Store>) -> Api {
        count_server_panics();
        let env = Env::new(store).await;
        let app = admin::router(env.d.clone(), AdminKeys::with_platform_key(PLATFORM_KEY));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let mut api = Api {
            env,
            addr,
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            nordlys_key: String::new(),
            svea_key: String::new(),
        };
        api.nordlys_key = api.rotate(NORDLYS, PLATFORM_KEY).await;
        api.svea_key = api.rotate(SVEA, PLATFORM_KEY).await;
        api
    }

    pub async fn rotate(&self, gln: &str, key: &str) -> String {
        let (status, body) = self
            .call(
                "POST",
                &format!("/api/tenants/{gln}/api-key"),
                Some(key),
                None,
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["apiKey"].as_str().unwrap().to_owned()
    }

    /// A JSON request through reqwest; answers the status and the JSON body (Null if none).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(m, format!("{}{path}", self.base));
        if let Some(k) = key {
            req = req.header("x-api-key", k);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A raw HTTP/1.1 request: the target goes on the wire byte for byte.
    pub async fn raw(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, String) {
        let mut s = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let mut req = format!(
            "{method} {target} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\ncontent-length: {}\r\n",
            self.addr,
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        s.write_all(body).await.unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out).await;
        let text = String::from_utf8_lossy(&out).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }
}

/// Fills a route template's parameters.
pub fn fill(path: &str, gln: &str, id: &str) -> String {
    path.replace("{gln}", gln)
        .replace("{id}", id)
        .replace("{transactionId}", id)
        .replace("{accountingPoint}", id)
        .replace("{file}", "app.js")
        .replace("{area}", "NO1")
        .replace("{day}", "2026-10-25")
}
