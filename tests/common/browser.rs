//! Debian's Chromium driven over WebDriver, for the browser tests: `chromedriver` on a free
//! loopback port as a child process, one headless session with a fresh profile, both ended
//! when the [`Browser`] is.

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use tempfile::TempDir;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long a page may take to load, or to show what a test waits for.
pub const WAIT: Duration = Duration::from_secs(10);

/// What a page that never comes back over loopback most likely means.
const STALLED: &str = " Over HTTP/1.1 Chromium opens at most 6 connections to one host: a \
request waits while earlier pages still hold theirs (an EventSource of a page kept in the \
back/forward cache, unless the page closes it on pagehide).";

/// Whether Chromium and its driver are installed. When they are not, a run that requires them
/// (`SCRIBE_TEST_BROWSER=required`, as CI sets) fails; any other says the tests were skipped.
pub fn available() -> bool {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|path| !Path::new(path).exists())
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var("SCRIBE_TEST_BROWSER").as_deref() != Ok("required"),
        "SCRIBE_TEST_BROWSER=required, but {} is missing: apt-get install chromium chromium-driver",
        missing.join(" and ")
    );
    // Straight to stderr: the harness swallows the output of passing tests, and a skipped
    // suite must not pass unnoticed.
    std::io::stderr()
        .write_all(b"SKIPPED: chromium and chromedriver not installed; browser tests not run\n")
        .unwrap();
    false
}

/// One headless Chromium session, with its own driver and profile.
pub struct Browser {
    client: Option<Client>,
    driver: Child,
    /// Chromium's profile, and the driver's log.
    dir: TempDir,
}

impl Browser {
    pub async fn start() -> Browser {
        let dir = tempfile::tempdir().expect("a temp dir");
        let profile = dir.path().join("profile");
        let log = dir.path().join("chromedriver.log");
        let port = free_port();
        let mut command = Command::new(CHROMEDRIVER);
        command
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // A process group of its own, so that ending it ends the browsers it started too.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let driver = command.spawn().expect("chromedriver starts");
        let mut browser = Browser {
            client: None,
            driver,
            dir,
        };
        let url = format!("http://127.0.0.1:{port}");
        browser.wait_until_ready(&url).await;
        let capabilities = json!({
            "timeouts": {"pageLoad": WAIT.as_millis(), "script": WAIT.as_millis()},
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--window-size=1280,1000",
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&url)
            .await
            .unwrap_or_else(|e| panic!("a Chromium session: {e}\n{}", browser.driver_log()));
        browser.client = Some(client);
        browser
    }

    /// Waits until the driver answers `/status` as ready.
    async fn wait_until_ready(&mut self, url: &str) {
        let start = Instant::now();
        let http = reqwest::Client::new();
        loop {
            if let Ok(response) = http.get(format!("{url}/status")).send().await
                && let Ok(status) = response.json::<serde_json::Value>().await
                && status["value"]["ready"] == true
            {
                return;
            }
            if let Ok(Some(exit)) = self.driver.try_wait() {
                panic!("chromedriver exited ({exit}):\n{}", self.driver_log());
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "chromedriver did not answer on {url}:\n{}",
                self.driver_log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn driver_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("chromedriver.log")).unwrap_or_default()
    }

    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("a session")
    }

    /// Ends the session (Chromium quits), then the driver.
    pub async fn close(mut self) {
        if let Some(client) = self.client.take() {
            client.close().await.expect("the session ends");
        }
    }

    /// Waits until an element `xpath` finds is on the page.
    pub async fn wait_for(&self, what: &str, xpath: &str) -> fantoccini::elements::Element {
        match self
            .client()
            .wait()
            .at_most(WAIT)
            .for_element(Locator::XPath(xpath))
            .await
        {
            Ok(element) => element,
            Err(e) => {
                let url = self.client().current_url().await.map(String::from);
                let page = self.client().source().await.unwrap_or_default();
                panic!("waited {WAIT:?} for {what} ({xpath}) on {url:?}: {e}\n{page}")
            }
        }
    }

    /// Marks the page, runs `act` (a click that submits a form or follows a link), and waits
    /// until another page has loaded in its place.
    pub async fn navigates<F, Fut>(&self, what: &str, act: F)
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<(), fantoccini::error::CmdError>>,
    {
        self.client()
            .execute("document.documentElement.dataset.stale = 'yes'", vec![])
            .await
            .unwrap();
        act().await.unwrap_or_else(|e| {
            panic!("{what}: the next page did not load within {WAIT:?} ({e}).{STALLED}")
        });
        self.wait_for(
            &format!("the page after {what}.{STALLED}"),
            "/html[not(@data-stale)]/body",
        )
        .await;
        let ready = "return document.readyState";
        let start = Instant::now();
        while self.client().execute(ready, vec![]).await.unwrap() != "complete" {
            assert!(
                start.elapsed() < WAIT,
                "{what}: the page did not finish loading.{STALLED}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The whole group: the driver and any browser it left behind.
        let group = -i32::try_from(self.driver.id()).expect("a pid");
        // SAFETY: kill(2) with a process group id this browser's driver leads.
        unsafe {
            libc::kill(group, libc::SIGKILL);
        }
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}
