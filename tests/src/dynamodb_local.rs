//! A private DynamoDB Local that a test may crash and restart: its tables live on disk
//! (`-dbPath`) and it comes back on the same port, so a client built before the crash keeps
//! working once it is up again. Driven through `scripts/dynamodb-local.sh`, the same script
//! `make test` uses, so a test finds the download the Makefile already cached.
//!
//! Separate from the shared instance of `make test`: other tests run against that one in
//! parallel and must not see it die.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

pub struct PrivateDynamoDbLocal {
    dir: TempDir,
    endpoint: String,
    port: String,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/dynamodb-local.sh")
}

impl PrivateDynamoDbLocal {
    /// Starts an instance persisting to a fresh temporary directory.
    pub fn start() -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("cannot create a temp dir: {e}"))?;
        let mut me = PrivateDynamoDbLocal {
            dir,
            endpoint: String::new(),
            port: String::new(),
        };
        me.endpoint = me.run("start", None)?;
        me.port = me
            .endpoint
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .to_owned();
        Ok(me)
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// SIGKILL: no shutdown hook runs, as when the host dies.
    pub fn crash(&self) -> Result<(), String> {
        self.run("crash", None).map(drop)
    }

    /// Starts it again on the same port over the same data directory; returns once it
    /// answers.
    pub fn restart(&self) -> Result<(), String> {
        let endpoint = self.run("start", Some(&self.port))?;
        if endpoint == self.endpoint {
            Ok(())
        } else {
            Err(format!(
                "restarted on {endpoint}, expected {}",
                self.endpoint
            ))
        }
    }

    fn run(&self, cmd: &str, port: Option<&str>) -> Result<String, String> {
        let mut c = Command::new(script());
        c.arg(cmd)
            .env("UCC_DYNAMODB_LOCAL_STATE", self.dir.path().join("state"))
            .env("UCC_DYNAMODB_LOCAL_DB_PATH", self.dir.path().join("data"));
        if let Some(p) = port {
            c.env("UCC_DYNAMODB_LOCAL_PORT", p);
        }
        let out = c
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script().display()))?;
        if !out.status.success() {
            return Err(format!(
                "dynamodb-local.sh {cmd} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }
}

impl Drop for PrivateDynamoDbLocal {
    fn drop(&mut self) {
        let _ = self.run("stop", None);
    }
}
