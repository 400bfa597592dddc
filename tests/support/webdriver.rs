//! A real browser for the console tests: Debian's `chromium`, headless, driven over WebDriver by
//! `chromedriver` (started per test on a free port) through the `fantoccini` client.
//!
//! Without chromedriver a test is skipped with a note, except under `CI=true`, where a missing browser is a
//! failure (`.ci/run` installs `chromium` and `chromium-driver`).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};

use super::app::{TestApp, ADMIN};
use super::process::free_port;

pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// A headless Chromium session; the driver process is killed when this is dropped.
pub struct Chrome {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
    /// The app's base address (`http://127.0.0.1:port`).
    base: String,
}

impl Drop for Chrome {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Starts Chromium for `app`; None (with a note) when no browser is installed and this is not CI.
pub async fn chrome(app: &TestApp) -> Option<Chrome> {
    let installed =
        std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists();
    if !installed {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true but {CHROMEDRIVER} or {CHROMIUM} is missing: .ci/run installs chromium and chromium-driver");
        }
        eprintln!("skipped: no {CHROMEDRIVER} here (apt-get install chromium chromium-driver)");
        return None;
    }
    let port = free_port();
    let driver = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let profile = tempfile::tempdir().unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.path().display()),
            ],
        }),
    );
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let client = loop {
        let mut builder =
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        match builder.capabilities(caps.clone()).connect(&url).await {
            Ok(c) => break c,
            Err(e) if Instant::now() > deadline => panic!("chromedriver did not answer: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    Some(Chrome {
        client,
        driver,
        _profile: profile,
        base: app.address.clone(),
    })
}

impl Chrome {
    /// Opens a console path (`/admin/meetings`) or a full address.
    pub async fn open(&self, path: &str) {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        self.client.goto(&url).await.unwrap();
    }

    /// Signs in with the test admin token (from the sign-in page, as a person does).
    pub async fn sign_in(&self) {
        self.open("/admin/sign-in").await;
        self.fill("#token", ADMIN).await;
        self.navigate("button[type=submit]").await;
        self.wait_for("nav").await;
    }

    /// The element matching `css`, waited for up to 10 s.
    pub async fn find(&self, css: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
        {
            Ok(e) => e,
            Err(e) => {
                let url = self.client.current_url().await.map(|u| u.to_string());
                let source = self.client.source().await.unwrap_or_default();
                panic!("no `{css}` on the page ({e}); at {url:?}:\n{source}")
            }
        }
    }

    pub async fn wait_for(&self, css: &str) {
        self.find(css).await;
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap();
    }

    /// Clicks what loads another page (a link, a form's button) and waits until that page has loaded, so
    /// what the test reads next is the new page: a message the old page already showed ("Settings saved.")
    /// cannot stand in for the answer to this click.
    pub async fn navigate(&self, css: &str) {
        let e = self.find(css).await;
        self.client
            .execute("window.__rondoOldPage = true", vec![])
            .await
            .unwrap();
        e.click().await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // A script may fail while the next page is loading; that is "not yet".
            let loaded = self
                .client
                .execute(
                    "return window.__rondoOldPage === undefined && document.readyState === 'complete'",
                    vec![],
                )
                .await;
            if matches!(loaded, Ok(serde_json::Value::Bool(true))) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "clicking `{css}` loaded no new page within 10 s (at {:?})",
                    self.client.current_url().await.map(|u| u.to_string())
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Picks the option with this visible text in a `<select>`.
    pub async fn select(&self, css: &str, label: &str) {
        self.find(css)
            .await
            .select_by_label(label)
            .await
            .unwrap_or_else(|e| panic!("no option `{label}` in `{css}`: {e}"));
    }

    /// The page's visible text.
    pub async fn text(&self) -> String {
        // One script call: no element handle to go stale while a page loads.
        let v = self
            .client
            .execute(
                "return document.body ? document.body.innerText : ''",
                vec![],
            )
            .await
            .unwrap();
        v.as_str().unwrap_or_default().to_owned()
    }

    /// Polls until the page's text contains `needle` (10 s at most).
    pub async fn wait_for_text(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = self.text().await;
            if text.contains(needle) {
                return;
            }
            if Instant::now() > deadline {
                panic!("`{needle}` never showed; the page says:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The value of the input matching `css` (empty when it has none).
    pub async fn value(&self, css: &str) -> String {
        self.find(css)
            .await
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default()
    }

    /// Polls the text of the element matching `css` until `ok` holds (10 s at most); returns it.
    pub async fn wait_for_element_text(&self, css: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = self.find(css).await.text().await.unwrap_or_default();
            if ok(&text) {
                return text;
            }
            if Instant::now() > deadline {
                panic!("`{css}` never got there; it says: {text:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn url(&self) -> String {
        self.client.current_url().await.unwrap().to_string()
    }

    /// Saves a screenshot of the page as `target/screenshots/{name}.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.unwrap();
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Saves a screenshot as on a phone (390×844), scrolled to the first element matching `css`; the
    /// window is then back at its usual 1280×900.
    pub async fn screenshot_phone(&self, name: &str, css: &str) -> PathBuf {
        self.client.set_window_size(390, 844).await.unwrap();
        self.client
            .execute(
                "document.querySelector(arguments[0]).scrollIntoView()",
                vec![css.into()],
            )
            .await
            .unwrap();
        let path = self.screenshot(name).await;
        self.client.set_window_size(1280, 900).await.unwrap();
        path
    }

    /// The session's cookies as `name=value` pairs (to fetch a download the way this browser would).
    pub async fn cookie_header(&self) -> String {
        self.client
            .get_all_cookies()
            .await
            .unwrap()
            .iter()
            .map(|c| format!("{}={}", c.name(), c.value()))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn close(self) {
        let Chrome { client, .. } = &self;
        let _ = client.clone().close().await;
    }
}
