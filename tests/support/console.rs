//! The admin console over plain HTTP, for what a browser does not show: status codes, redirects, forms
//! without the session's CSRF token. Nothing here follows a redirect (the console answers a form, or a
//! request without a session, with a 303, which is what the tests check).

use reqwest::{Client, RequestBuilder, Response};

use super::app::{TestApp, ADMIN};

/// A console client: signed out, or signed in with a session (its cookie and its CSRF token).
pub struct ConsoleHttp {
    client: Client,
    /// The app's base address (`http://127.0.0.1:port`).
    base: String,
    /// The session cookie as a `cookie` header (`rondo_admin=…`); `None` when signed out.
    pub cookie: Option<String>,
    /// The session's CSRF token, as its pages' forms carry it; empty when signed out or not yet read.
    pub csrf: String,
}

impl ConsoleHttp {
    /// Without a session: every page and form answers with a 303 to the sign-in page.
    pub fn signed_out(app: &TestApp) -> Self {
        Self {
            client: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.address.clone(),
            cookie: None,
            csrf: String::new(),
        }
    }

    /// With the session of this cookie (`name=value`, as `session_cookie` reads it off a sign-in).
    pub fn with_cookie(app: &TestApp, cookie: String) -> Self {
        Self {
            cookie: Some(cookie),
            ..Self::signed_out(app)
        }
    }

    /// Signs in with the admin token (times in UTC), and reads the session's CSRF token off the page the
    /// sign-in leads to.
    pub async fn sign_in(app: &TestApp) -> Self {
        let r = Self::signed_out(app)
            .post_form("/admin/sign-in", &[("token", ADMIN), ("zone", "UTC")])
            .await;
        assert_eq!(r.status(), 303, "signed in");
        let mut console = Self::with_cookie(app, session_cookie(&r));
        let landing = console.get(r.headers()["location"].to_str().unwrap()).await;
        assert_eq!(landing.status(), 200, "the page after signing in");
        let page = landing.text().await.unwrap();
        console.csrf = page
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("the page's forms carry the CSRF token")
            .to_owned();
        console
    }

    /// GET `path` (with the session's cookie, if any).
    pub async fn get(&self, path: &str) -> Response {
        self.send(self.client.get(self.url(path))).await
    }

    /// POST `form` to `path` as a browser's form does (with the session's cookie, if any); a key may repeat.
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.send(self.client.post(self.url(path)).form(form)).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    async fn send(&self, request: RequestBuilder) -> Response {
        match &self.cookie {
            Some(cookie) => request.header("cookie", cookie),
            None => request,
        }
        .send()
        .await
        .unwrap()
    }
}

/// A sign-in answer's session cookie as a `cookie` header: its name and value, without the attributes.
pub fn session_cookie(r: &Response) -> String {
    r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// Asserts that `r` (to `what`, sent without a session) is a 303 to the sign-in page.
pub fn assert_to_sign_in(r: &Response, what: &str) {
    assert_eq!(r.status(), 303, "{what}");
    let location = r.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("/admin/sign-in?next="),
        "{what}: to {location}"
    );
}
