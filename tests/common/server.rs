//! Scribe's server for end-to-end tests: [`Server`] runs the application in this process on
//! port 0 (its own runtime, so a test may block), [`Process`] runs `scribe serve` as a child
//! process for the tests that kill or signal it; both are driven through [`Client`], which
//! signs requests as Slack signs them.

use std::io::{BufRead, BufReader};
use std::ops::Deref;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use scribe::app::App;
use scribe::config::{Config, Secrets};
use scribe::startup::Application;

use super::Sandbox;

pub const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
pub const BOT_TOKEN: &str = "xoxb-test-bot-token-7f3a";
pub const API_TOKEN: &str = "scribe-api-token-for-tests";
pub const APP_TOKEN: &str = "xapp-1-A0001-1000-test-app-token-3c9e";

/// How long a test waits for the job queue to settle before it fails.
const SETTLE: Duration = Duration::from_secs(60);

/// What every server of the tests is given, before a test's own settings.
fn base_env() -> Vec<(String, String)> {
    [
        ("SCRIBE__SERVER__LISTEN", "127.0.0.1:0"),
        ("SLACK_SIGNING_SECRET", SIGNING_SECRET),
        ("SLACK_BOT_TOKEN", BOT_TOKEN),
        ("SCRIBE_API_TOKEN", API_TOKEN),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Requests to a running server, and what it logged.
pub struct Client {
    pub base: String,
    http: reqwest::Client,
    log: Arc<dyn Fn() -> String + Send + Sync>,
}

impl Client {
    fn new(base: String, log: Arc<dyn Fn() -> String + Send + Sync>) -> Self {
        Client {
            base,
            http: reqwest::Client::new(),
            log,
        }
    }

    /// Everything the server logged so far (in-process: everything this test binary's
    /// servers logged).
    pub fn log(&self) -> String {
        (self.log)()
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
        self.command_in("T0001", channel, user, command, text, trigger)
            .await
    }

    /// [`Client::command`] from the workspace (Slack team) `team`.
    pub async fn command_in(
        &self,
        team: &str,
        channel: &str,
        user: &str,
        command: &str,
        text: &str,
        trigger: &str,
    ) -> serde_json::Value {
        let body = command_body(
            channel,
            "inc-checkout",
            user,
            &user.to_lowercase(),
            command,
            text,
            trigger,
        )
        .replace("team_id=T0001", &format!("team_id={team}"));
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

    /// An interactivity request carrying `payload`, signed now.
    pub async fn interaction(&self, payload: &serde_json::Value) -> reqwest::Response {
        self.post_signed(
            "/slack/interactions",
            "application/x-www-form-urlencoded",
            &interaction_body(payload),
            SIGNING_SECRET,
            now(),
            &[],
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
}

/// The lines every in-process server of this test binary logged, as `scribe serve` writes
/// them (the text format, no colours).
fn captured_log() -> Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let writer = Arc::clone(&log);
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info,scribe=debug"))
            .with_ansi(false)
            .with_writer(move || Capture(Arc::clone(&writer)))
            .try_init();
        log
    })
    .clone()
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The application, in this process, on a runtime of its own.
pub struct Server {
    client: Client,
    pub app: Arc<App>,
    runtime: Option<tokio::runtime::Runtime>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    ended: Option<std::sync::mpsc::Receiver<Result<(), String>>>,
}

impl Deref for Server {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Server {
    /// Starts the application in `sandbox` with Slack configured against `slack_api`.
    pub fn start(sandbox: &Sandbox, slack_api: &str) -> Server {
        Self::start_with(sandbox, &[("SCRIBE__SLACK__API_BASE_URL", slack_api)])
    }

    /// Starts the application with `env` over the tests' base settings, as if it were the
    /// environment of `scribe serve` run in `sandbox`: relative paths are the sandbox's.
    pub fn start_with(sandbox: &Sandbox, env: &[(&str, &str)]) -> Server {
        Self::start_with_clock(sandbox, env, scribe::clock::Clock::System)
    }

    /// [`Server::start_with`], reading the time from `clock` (a shifted one moves forward when
    /// the test says, so nothing waits for real time to pass).
    pub fn start_with_clock(
        sandbox: &Sandbox,
        env: &[(&str, &str)],
        clock: scribe::clock::Clock,
    ) -> Server {
        let log = captured_log();
        let mut vars = base_env();
        vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let mut config = Config::load_from(None, vars.clone()).expect("a valid configuration");
        let root = sandbox.path();
        config.data_dir = root.join(&config.data_dir);
        config.drafting.output_dir = root.join(&config.drafting.output_dir);
        config.publish.files.dir = root.join(&config.publish.files.dir);
        let secrets = Secrets::from_vars(vars);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let handle = runtime.handle().clone();
        let application = std::thread::spawn(move || {
            handle.block_on(Application::build_with_clock(config, secrets, true, clock))
        })
        .join()
        .expect("the build does not panic")
        .expect("the application builds");
        let base = format!("http://127.0.0.1:{}", application.port());
        let app = Arc::clone(application.app());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (end, ended) = std::sync::mpsc::channel();
        runtime.spawn(async move {
            let result = application
                .run_until_stopped(async {
                    let _ = stopped.await;
                })
                .await;
            let _ = end.send(result.map_err(|e| format!("{e:#}")));
        });
        let shown = Arc::clone(&log);
        Server {
            client: Client::new(
                base,
                Arc::new(move || String::from_utf8_lossy(&shown.lock().unwrap()).into_owned()),
            ),
            app,
            runtime: Some(runtime),
            stop: Some(stop),
            ended: Some(ended),
        }
    }

    /// Starts the application in Socket Mode against the fake Slack at `slack_api`: with the
    /// app and bot tokens but no signing secret, so that Slack's HTTP routes are off and only
    /// the WebSocket can bring events. (An empty variable counts as unset.)
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

    /// Waits until a look for work begun now finds no job due: every job queued so far has
    /// ended or waits for a retry.
    pub async fn settled(&self) {
        if tokio::time::timeout(SETTLE, self.app.jobs.settled())
            .await
            .is_err()
        {
            panic!("the job queue did not settle; log:\n{}", self.log());
        }
    }

    /// The runtime dropped with everything on it: no chance to clean up, as in a crash.
    pub fn kill(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }

    /// [`Server::kill`], returning only once the runtime's threads have stopped: nothing of the
    /// killed application (a worker between two looks for work) runs after this, which a
    /// test that moves the clock next relies on. Blocks: call it in `block_in_place`.
    pub fn kill_and_wait(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(10));
        }
    }

    /// A graceful stop, as on SIGTERM: whether the application stopped without error.
    pub fn terminate(&mut self) -> Result<(), String> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let ended = self.ended.take().expect("not stopped before");
        let result = ended
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|e| Err(format!("did not stop: {e}")));
        self.kill();
        result
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `scribe serve` as a child process on a random port.
pub struct Process {
    client: Client,
    child: Child,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Deref for Process {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Process {
    /// Starts `scribe serve` in `sandbox` with Slack configured against `slack_api`, and waits
    /// until it listens.
    pub fn start(sandbox: &Sandbox, slack_api: &str) -> Process {
        Self::start_with(sandbox, &[("SCRIBE__SLACK__API_BASE_URL", slack_api)])
    }

    pub fn start_with(sandbox: &Sandbox, env: &[(&str, &str)]) -> Process {
        Self::launch(sandbox, env, true)
    }

    /// Starts `scribe serve` and closes its standard error once it listens: every later log
    /// line meets a closed pipe.
    pub fn start_then_close_stderr(sandbox: &Sandbox, env: &[(&str, &str)]) -> Process {
        Self::launch(sandbox, env, false)
    }

    fn launch(sandbox: &Sandbox, env: &[(&str, &str)], keep_stderr: bool) -> Process {
        let mut command = sandbox.scribe();
        command
            .arg("serve")
            .envs(base_env())
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
                let mut lines = BufReader::new(stderr).lines().map_while(Result::ok);
                while let Some(line) = lines.next() {
                    // Text or JSON logs: the address runs to the next space or quote.
                    if let Some(rest) = line.split("listening on ").nth(1) {
                        let addr: String = rest
                            .chars()
                            .take_while(|c| !c.is_whitespace() && *c != '"')
                            .collect();
                        if !keep_stderr {
                            // Closed before the test is told the address: every line the
                            // test's requests cause finds it closed.
                            drop(lines);
                            log.lock().unwrap().push("(standard error closed)".into());
                            let _ = tx.send(addr);
                            return;
                        }
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
        let shown = Arc::clone(&log);
        Process {
            client: Client::new(base, Arc::new(move || shown.lock().unwrap().join("\n"))),
            child,
            reader: Some(reader),
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

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A slash command's form body, as Slack sends it.
pub fn command_body(
    channel: &str,
    channel_name: &str,
    user: &str,
    user_name: &str,
    command: &str,
    text: &str,
    trigger: &str,
) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("token", "deprecated")
        .append_pair("team_id", "T0001")
        .append_pair("team_domain", "acme")
        .append_pair("channel_id", channel)
        .append_pair("channel_name", channel_name)
        .append_pair("user_id", user)
        .append_pair("user_name", user_name)
        .append_pair("command", command)
        .append_pair("text", text)
        .append_pair("api_app_id", "A0001")
        .append_pair(
            "response_url",
            "https://hooks.slack.com/commands/T0001/1/abc",
        )
        .append_pair("trigger_id", trigger)
        .finish()
}

/// An interactivity request's form body, as Slack sends it: the payload's JSON in `payload`.
pub fn interaction_body(payload: &serde_json::Value) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish()
}

/// The message shortcut "Add to timeline" used by `user` on `message` (as Slack shows a
/// message: `type`, `user`, `text`, `ts`) in `channel`, as Slack sends its `message_action`.
pub fn message_action(
    channel: &str,
    user: &str,
    message: serde_json::Value,
    trigger: &str,
    action_ts: &str,
    response_url: &str,
) -> serde_json::Value {
    serde_json::json!({
        "type": "message_action",
        "token": "deprecated",
        "action_ts": action_ts,
        "team": {"id": "T0001", "domain": "acme"},
        "user": {"id": user, "username": user.to_lowercase(), "name": user.to_lowercase(),
                 "team_id": "T0001"},
        "channel": {"id": channel, "name": "inc-checkout"},
        "is_enterprise_install": false,
        "enterprise": null,
        "callback_id": "add_to_timeline",
        "trigger_id": trigger,
        "response_url": response_url,
        "message_ts": message["ts"],
        "message": message,
    })
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
