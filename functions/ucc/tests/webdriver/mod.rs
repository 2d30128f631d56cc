//! A small W3C WebDriver client over reqwest, enough to drive the Integrations page in
//! headless Chromium through chromedriver: sessions, navigation, elements, keys, script,
//! window size and screenshots. Waiting is always a bounded poll on a DOM condition.

// Test code: a failed expectation is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used, dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

/// How long any condition may take before the test fails (a page step, not a sleep).
pub const WAIT: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(50);
/// W3C's element reference key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A server process on a loopback port, started from `cmd` (whose stdout or stderr, as
/// `from_stderr` says, is piped) once it has printed a line containing `ready`; killed when
/// dropped. The rest of its output is drained so it never blocks on a full pipe.
pub struct Process {
    child: Child,
    pub base: String,
}

impl Process {
    pub fn start(mut cmd: Command, port: u16, from_stderr: bool, ready: &str) -> Process {
        if from_stderr {
            cmd.stderr(Stdio::piped()).stdout(Stdio::null());
        } else {
            cmd.stdout(Stdio::piped()).stderr(Stdio::null());
        }
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        let out: Box<dyn std::io::Read + Send> = if from_stderr {
            Box::new(child.stderr.take().expect("stderr"))
        } else {
            Box::new(child.stdout.take().expect("stdout"))
        };
        let mut lines = BufReader::new(out).lines();
        let started = lines
            .by_ref()
            .map_while(Result::ok)
            .any(|l| l.contains(ready));
        assert!(started, "{cmd:?} did not print {ready:?}");
        std::thread::spawn(move || for _ in lines.by_ref() {});
        Process {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// chromedriver on a free port; it says "… started successfully" once it listens.
pub fn chromedriver(path: &str) -> Process {
    let port = free_port();
    let mut cmd = Command::new(path);
    cmd.arg(format!("--port={port}"));
    Process::start(cmd, port, false, "started successfully")
}

#[derive(Clone)]
pub struct Browser {
    http: reqwest::Client,
    session: String,
}

#[derive(Clone, Debug)]
pub struct El(pub String);

impl Browser {
    /// A headless Chromium session whose window is `width` × `height` CSS pixels.
    pub async fn open(driver: &Process, chromium: &str, width: u32, height: u32) -> Browser {
        let http = reqwest::Client::new();
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--no-first-run", "--disable-extensions", "--hide-scrollbars",
                         "--force-device-scale-factor=1",
                         format!("--window-size={width},{height}")]
            }
        }}});
        let v: Value = http
            .post(format!("{}/session", driver.base))
            .json(&caps)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("session answer");
        let session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_owned();
        Browser {
            http,
            session: format!("{}/session/{session}", driver.base),
        }
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.session));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req
            .send()
            .await
            .expect("webdriver call")
            .json()
            .await
            .expect("webdriver answer");
        v["value"].clone()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.cmd(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn close(&self) {
        let _ = self.http.delete(&self.session).send().await.map(|_| ());
    }

    pub async fn goto(&self, url: &str) {
        let v = self.post("/url", json!({ "url": url })).await;
        assert!(v.is_null(), "navigate to {url}: {v}");
    }

    /// A Chrome DevTools command through chromedriver (e.g. device metrics for a phone).
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        let v = self
            .post("/goog/cdp/execute", json!({ "cmd": cmd, "params": params }))
            .await;
        assert!(v.get("error").is_none(), "{cmd}: {v}");
        v
    }

    pub async fn set_size(&self, width: u32, height: u32) {
        self.post("/window/rect", json!({ "width": width, "height": height }))
            .await;
    }

    /// Runs `script` (a function body; `arguments` as in WebDriver) and returns its value.
    pub async fn js(&self, script: &str, args: Value) -> Value {
        let v = self
            .post("/execute/sync", json!({ "script": script, "args": args }))
            .await;
        if v.get("error").is_some() {
            panic!("script failed: {v}\n{script}");
        }
        v
    }

    /// The first element matching a CSS selector, if any.
    pub async fn find(&self, css: &str) -> Option<El> {
        let v = self
            .post("/element", json!({ "using": "css selector", "value": css }))
            .await;
        v.get(ELEMENT)
            .and_then(Value::as_str)
            .map(|s| El(s.to_owned()))
    }

    /// Polls `cond` (a JS expression) until it is truthy, failing after [`WAIT`] with `what`.
    pub async fn wait_js(&self, cond: &str, what: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        let script = format!("try {{ return ({cond}) || null; }} catch (e) {{ return null; }}");
        loop {
            let v = self.js(&script, json!([])).await;
            if !v.is_null() && v != Value::Bool(false) {
                return v;
            }
            if Instant::now() > deadline {
                let text = self.text_of("body").await;
                panic!("timed out waiting for {what} ({cond}); the page says:\n{text}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits for a visible element matching `css`.
    pub async fn wait(&self, css: &str) -> El {
        let cond = format!(
            "(() => {{ const e = document.querySelector({}); return e && e.offsetParent !== null; }})()",
            serde_json::to_string(css).unwrap()
        );
        self.wait_js(&cond, css).await;
        let v = self
            .post("/element", json!({ "using": "css selector", "value": css }))
            .await;
        match v.get(ELEMENT).and_then(Value::as_str) {
            Some(id) => El(id.to_owned()),
            None => panic!("{css}: {v}"),
        }
    }

    /// Waits until the element matching `css` contains `text`.
    pub async fn wait_text(&self, css: &str, text: &str) {
        let cond = format!(
            "(() => {{ const e = document.querySelector({}); return e && e.offsetParent !== null && e.textContent.includes({}); }})()",
            serde_json::to_string(css).unwrap(),
            serde_json::to_string(text).unwrap()
        );
        self.wait_js(&cond, &format!("{text:?} in {css}")).await;
    }

    pub async fn text_of(&self, css: &str) -> String {
        let v = self
            .js(
                "const e = document.querySelector(arguments[0]); return e ? e.innerText : null;",
                json!([css]),
            )
            .await;
        v.as_str().unwrap_or("").to_owned()
    }

    pub async fn click(&self, css: &str) {
        let el = self.wait(css).await;
        let v = self
            .post(&format!("/element/{}/click", el.0), json!({}))
            .await;
        assert!(v.is_null(), "click {css}: {v}");
    }

    pub async fn clear(&self, css: &str) {
        let el = self.wait(css).await;
        self.post(&format!("/element/{}/clear", el.0), json!({}))
            .await;
    }

    /// Types into the element (real key events).
    pub async fn type_into(&self, css: &str, text: &str) {
        let el = self.wait(css).await;
        let v = self
            .post(&format!("/element/{}/value", el.0), json!({ "text": text }))
            .await;
        assert!(v.is_null(), "type into {css}: {v}");
    }

    /// Replaces a field's value (clear, then type).
    pub async fn fill(&self, css: &str, text: &str) {
        self.clear(css).await;
        self.type_into(css, text).await;
    }

    /// Key presses to whatever has focus (e.g. `\u{E004}` Tab, `\u{E014}` ArrowRight).
    pub async fn keys(&self, keys: &str) {
        let actions: Vec<Value> = keys
            .chars()
            .flat_map(|c| {
                [
                    json!({"type": "keyDown", "value": c.to_string()}),
                    json!({"type": "keyUp", "value": c.to_string()}),
                ]
            })
            .collect();
        self.post(
            "/actions",
            json!({ "actions": [{ "type": "key", "id": "kbd", "actions": actions }] }),
        )
        .await;
        self.cmd(reqwest::Method::DELETE, "/actions", None).await;
    }

    /// The id of the focused element.
    pub async fn focused_id(&self) -> String {
        self.js(
            "return document.activeElement ? document.activeElement.id : '';",
            json!([]),
        )
        .await
        .as_str()
        .unwrap_or("")
        .to_owned()
    }

    pub async fn screenshot(&self, path: &std::path::Path) {
        let v = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("screenshot data"))
            .expect("base64 png");
        std::fs::write(path, png).expect("write screenshot");
    }
}

pub const TAB: &str = "\u{E004}";
pub const ENTER: &str = "\u{E007}";
pub const ARROW_LEFT: &str = "\u{E012}";
pub const ARROW_RIGHT: &str = "\u{E014}";
pub const HOME: &str = "\u{E011}";
pub const END: &str = "\u{E010}";
