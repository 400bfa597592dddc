//! A real HTTP webhook receiver on 127.0.0.1: records every request (headers and raw body) and answers
//! with scripted statuses (200 once the script runs out).

use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};

#[derive(Default)]
struct State {
    got: Mutex<Vec<(http::HeaderMap, Vec<u8>)>>,
    replies: Mutex<Vec<(u16, Option<&'static str>)>>,
}

pub struct Receiver {
    pub url: String,
    state: Arc<State>,
}

async fn receive(req: HttpRequest, body: web::Bytes, state: web::Data<State>) -> HttpResponse {
    let mut headers = http::HeaderMap::new();
    for (name, value) in req.headers() {
        headers.append(
            http::HeaderName::from_bytes(name.as_str().as_bytes()).unwrap(),
            http::HeaderValue::from_bytes(value.as_bytes()).unwrap(),
        );
    }
    state.got.lock().unwrap().push((headers, body.to_vec()));
    let reply = {
        let mut r = state.replies.lock().unwrap();
        (!r.is_empty()).then(|| r.remove(0))
    };
    let (status, retry_after) = reply.unwrap_or((200, None));
    let mut resp = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
    if let Some(ra) = retry_after {
        resp.insert_header(("retry-after", ra));
    }
    resp.finish()
}

impl Receiver {
    pub async fn start() -> Self {
        let state = Arc::new(State::default());
        let data = web::Data::from(state.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(receive))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        Self {
            url: format!("http://127.0.0.1:{port}/hooks"),
            state,
        }
    }

    /// The next answers, in order: (status, Retry-After).
    pub fn reply_with(&self, replies: &[(u16, Option<&'static str>)]) {
        self.state
            .replies
            .lock()
            .unwrap()
            .extend_from_slice(replies);
    }

    pub fn received(&self) -> Vec<(http::HeaderMap, Vec<u8>)> {
        self.state.got.lock().unwrap().clone()
    }
}
