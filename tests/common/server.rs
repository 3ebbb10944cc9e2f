//! `scribe serve` as a child process on a random port, and requests signed as Slack signs them.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Sandbox;

pub const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
pub const BOT_TOKEN: &str = "xoxb-test-bot-token-7f3a";
pub const API_TOKEN: &str = "scribe-api-token-for-tests";
pub const APP_TOKEN: &str = "xapp-1-A0001-1000-test-app-token-3c9e";

pub struct Server {
    child: Child,
    reader: Option<std::thread::JoinHandle<()>>,
    pub base: String,
    log: Arc<Mutex<Vec<String>>>,
    http: reqwest::Client,
}

impl Server {
    /// Starts `scribe serve` in `sandbox` with Slack configured against `slack_api`, and waits
    /// until it listens.
    pub fn start(sandbox: &Sandbox, slack_api: &str) -> Server {
        Self::start_with(sandbox, &[("SCRIBE__SLACK__API_BASE_URL", slack_api)])
    }

    pub fn start_with(sandbox: &Sandbox, env: &[(&str, &str)]) -> Server {
        let mut command = sandbox.scribe();
        command
            .arg("serve")
            .env("SCRIBE__SERVER__LISTEN", "127.0.0.1:0")
            .env("SLACK_SIGNING_SECRET", SIGNING_SECRET)
            .env("SLACK_BOT_TOKEN", BOT_TOKEN)
            .env("SCRIBE_API_TOKEN", API_TOKEN)
            .env("RUST_LOG", "info,scribe=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("scribe serve starts");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    // Text or JSON logs: the address runs to the next space or quote.
                    if let Some(rest) = line.split("listening on ").nth(1) {
                        let addr: String = rest
                            .chars()
                            .take_while(|c| !c.is_whitespace() && *c != '"')
                            .collect();
                        let _ = tx.send(addr);
                    }
                    log.lock().unwrap().push(line);
                }
            })
        };
        let base = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                panic!(
                    "scribe serve did not start:\n{}",
                    log.lock().unwrap().join("\n")
                )
            });
        Server {
            child,
            reader: Some(reader),
            base,
            log,
            http: reqwest::Client::new(),
        }
    }

    /// Starts `scribe serve` in Socket Mode against the fake Slack at `slack_api`: with the app
    /// and bot tokens but no signing secret, so that Slack's HTTP routes are off and only the
    /// WebSocket can bring events. (An empty variable counts as unset.)
    pub fn start_socket_mode(sandbox: &Sandbox, slack_api: &str) -> Server {
        Self::start_with(
            sandbox,
            &[
                ("SCRIBE__SLACK__API_BASE_URL", slack_api),
                ("SLACK_APP_TOKEN", APP_TOKEN),
                ("SLACK_SIGNING_SECRET", ""),
            ],
        )
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// A request signed with `secret` at `timestamp` (Slack's v0 scheme).
    pub async fn post_signed(
        &self,
        path: &str,
        content_type: &str,
        body: &str,
        secret: &str,
        timestamp: i64,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let signature =
            scribe::adapters::slack::signature::sign(secret.as_bytes(), timestamp, body.as_bytes());
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .header("x-slack-request-timestamp", timestamp.to_string())
            .header("x-slack-signature", signature)
            .body(body.to_string());
        for (key, value) in extra {
            request = request.header(*key, *value);
        }
        request.send().await.expect("request sent")
    }

    /// A slash command as Slack sends it, signed now.
    pub async fn command(
        &self,
        channel: &str,
        user: &str,
        command: &str,
        text: &str,
        trigger: &str,
    ) -> serde_json::Value {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", "deprecated")
            .append_pair("team_id", "T0001")
            .append_pair("team_domain", "acme")
            .append_pair("channel_id", channel)
            .append_pair("channel_name", "inc-checkout")
            .append_pair("user_id", user)
            .append_pair("user_name", &user.to_lowercase())
            .append_pair("command", command)
            .append_pair("text", text)
            .append_pair("api_app_id", "A0001")
            .append_pair(
                "response_url",
                "https://hooks.slack.com/commands/T0001/1/abc",
            )
            .append_pair("trigger_id", trigger)
            .finish();
        let response = self
            .post_signed(
                "/slack/commands",
                "application/x-www-form-urlencoded",
                &body,
                SIGNING_SECRET,
                now(),
                &[],
            )
            .await;
        assert_eq!(response.status(), 200, "{command} {text}");
        response.json().await.expect("a JSON answer")
    }

    /// An Events API callback carrying `event`, signed now.
    pub async fn event(&self, event_id: &str, event: serde_json::Value) -> reqwest::Response {
        self.event_with(event_id, event, &[]).await
    }

    pub async fn event_with(
        &self,
        event_id: &str,
        event: serde_json::Value,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let body = event_callback(event_id, event).to_string();
        self.post_signed(
            "/slack/events",
            "application/json",
            &body,
            SIGNING_SECRET,
            now(),
            headers,
        )
        .await
    }

    /// `GET path` with the API token.
    pub async fn api(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(API_TOKEN)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn incidents(&self) -> Vec<serde_json::Value> {
        let response = self.api("/api/incidents").await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// The one incident the server knows.
    pub async fn the_incident(&self) -> serde_json::Value {
        let incidents = self.incidents().await;
        assert_eq!(incidents.len(), 1, "{incidents:#?}");
        incidents.into_iter().next().unwrap()
    }

    /// `GET /metrics`, as text.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.base))
            .await
            .expect("request sent")
            .text()
            .await
            .expect("a text body")
    }

    /// Polls `check` until it holds, for at most `timeout`.
    pub async fn eventually<F, Fut>(&self, timeout: Duration, what: &str, check: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let start = Instant::now();
        while !check().await {
            assert!(
                start.elapsed() < timeout,
                "timed out waiting for {what}; server log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no chance to clean up, as in a crash.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An Events API `event_callback` envelope around `event`, as Slack sends it.
pub fn event_callback(event_id: &str, event: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "token": "deprecated",
        "team_id": "T0001",
        "api_app_id": "A0001",
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": now(),
        "authorizations": [{"team_id": "T0001", "user_id": "U0BOT", "is_bot": true}],
    })
}

/// Slack message timestamps: now, with microseconds, never twice the same.
#[derive(Default)]
pub struct Clock(i64);

impl Clock {
    pub fn next(&mut self) -> String {
        let micros = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros() as i64;
        self.0 = micros.max(self.0 + 1);
        format!("{}.{:06}", self.0 / 1_000_000, self.0 % 1_000_000)
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The texts of the entries people made (not the incident's own state changes).
pub fn entry_texts(incident: &serde_json::Value) -> Vec<String> {
    incident["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["source"] != "event")
        .map(|e| e["text"].as_str().unwrap().to_string())
        .collect()
}
