//! A small browser for tests: follows redirects across hosts (rondo → provider → rondo) the way a browser
//! does, keeps cookies per host and path, submits forms, and reads links out of pages.

use std::collections::HashMap;
use std::sync::Mutex;

use reqwest::{Client, Url};

pub struct Page {
    pub status: u16,
    pub url: String,
    pub body: String,
}

impl Page {
    /// The `href` of the first link whose address contains `part` (HTML entities undone).
    pub fn link(&self, part: &str) -> Option<String> {
        self.body
            .split("href=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .map(unescape)
            .find(|href| href.contains(part))
    }

    pub fn has(&self, text: &str) -> bool {
        unescape(&self.body).contains(text)
    }
}

pub fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// (host:port) → [(name, value, path)]
type Jar = HashMap<String, Vec<(String, String, String)>>;

pub struct Browser {
    client: Client,
    jar: Mutex<Jar>,
    /// Every address requested, in order.
    pub visited: Mutex<Vec<String>>,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

fn origin(url: &Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    )
}

impl Browser {
    pub fn new() -> Self {
        Self {
            client: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            jar: Mutex::default(),
            visited: Mutex::default(),
        }
    }

    fn cookie_header(&self, url: &Url) -> Option<String> {
        let jar = self.jar.lock().unwrap();
        let cookies = jar.get(&origin(url))?;
        let pairs: Vec<String> = cookies
            .iter()
            .filter(|(_, _, path)| url.path().starts_with(path.as_str()))
            .map(|(n, v, _)| format!("{n}={v}"))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    fn keep_cookies(&self, url: &Url, resp: &reqwest::Response) {
        let mut jar = self.jar.lock().unwrap();
        let cookies = jar.entry(origin(url)).or_default();
        for h in resp.headers().get_all("set-cookie") {
            let raw = h.to_str().unwrap();
            let mut parts = raw.split(';').map(str::trim);
            let (name, value) = parts.next().unwrap().split_once('=').unwrap();
            let mut path = "/".to_owned();
            let mut removed = value.is_empty();
            for attr in parts {
                let lower = attr.to_ascii_lowercase();
                if let Some(p) = lower.strip_prefix("path=") {
                    path = p.to_owned();
                }
                if lower == "max-age=0" || lower.starts_with("expires=thu, 01 jan 1970") {
                    removed = true;
                }
            }
            cookies.retain(|(n, _, p)| !(n == name && *p == path));
            if !removed {
                cookies.push((name.to_owned(), value.to_owned(), path));
            }
        }
    }

    /// One request, no redirect followed: (status, Location, body).
    pub async fn fetch(&self, url: &str) -> (u16, Option<String>, String) {
        let parsed = Url::parse(url).unwrap();
        self.visited.lock().unwrap().push(url.to_owned());
        let mut req = self.client.get(parsed.clone());
        if let Some(c) = self.cookie_header(&parsed) {
            req = req.header("cookie", c);
        }
        let resp = req.send().await.unwrap();
        self.keep_cookies(&parsed, &resp);
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .map(|l| parsed.join(l.to_str().unwrap()).unwrap().to_string());
        (status, location, resp.text().await.unwrap())
    }

    /// GET, following redirects like a browser.
    pub async fn get(&self, url: &str) -> Page {
        let mut url = url.to_owned();
        for _ in 0..10 {
            let (status, location, body) = self.fetch(&url).await;
            match location {
                Some(next) if (300..400).contains(&status) => url = next,
                _ => return Page { status, url, body },
            }
        }
        panic!("too many redirects from {url}");
    }

    /// Submits a form (application/x-www-form-urlencoded) and returns the page it answers.
    pub async fn post_form(&self, url: &str, fields: &[(&str, &str)]) -> Page {
        let parsed = Url::parse(url).unwrap();
        let mut req = self
            .client
            .post(parsed.clone())
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(c) = self.cookie_header(&parsed) {
            req = req.header("cookie", c);
        }
        let resp = req
            .body(serde_urlencoded::to_string(fields).unwrap())
            .send()
            .await
            .unwrap();
        self.keep_cookies(&parsed, &resp);
        Page {
            status: resp.status().as_u16(),
            url: url.to_owned(),
            body: resp.text().await.unwrap(),
        }
    }
}
