//! The meetings report in the browser (the seeds' "Meetings": the lead's email, the agent, the time, and
//! whether the meeting took place), its CSV, marking a no-show, and a person's page.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use chrono::{NaiveDate, TimeZone, Utc};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::{local_time, message, page, see_other, trouble, Console};
use crate::app::App;
use crate::domain::EmailAddress;
use crate::error::AppError;
use crate::http::admin::meetings::{
    agents_of, brief, csv_download, encode_cursor, filter_of, mark_took_place, MeetingsQuery,
};
use crate::store::ActivityFilter;

/// Meetings a page shows.
const PAGE_SIZE: u32 = 25;

/// The filters as the form sends them: dates (in the admin's zone) rather than instants.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct Filters {
    #[serde(default)]
    team: String,
    #[serde(default)]
    agent: String,
    #[serde(default)]
    status: String,
    /// First day shown, `YYYY-MM-DD`.
    #[serde(default)]
    from: String,
    /// Last day shown, `YYYY-MM-DD`.
    #[serde(default)]
    to: String,
    #[serde(default)]
    lead_email: String,
    #[serde(default)]
    cursor: String,
}

impl Filters {
    /// The query of the admin API these filters mean; a date that is not one is a problem on its field.
    fn query(&self, c: &Console) -> Result<MeetingsQuery, (String, String)> {
        let day = |field: &str, s: &str, next: bool| -> Result<Option<String>, (String, String)> {
            let s = s.trim();
            if s.is_empty() {
                return Ok(None);
            }
            let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
                (
                    field.to_owned(),
                    "must be a date like 2026-11-23".to_owned(),
                )
            })?;
            let date = if next {
                date.succ_opt().unwrap_or(date)
            } else {
                date
            };
            let midnight = date.and_hms_opt(0, 0, 0).expect("midnight");
            let at = c
                .zone
                .from_local_datetime(&midnight)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_else(|| Utc.from_utc_datetime(&midnight));
            Ok(Some(at.to_rfc3339()))
        };
        let some = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        Ok(MeetingsQuery {
            team: some(&self.team),
            agent: some(&self.agent),
            status: some(&self.status),
            from: day("from", &self.from, false)?,
            to: day("to", &self.to, true)?,
            lead_email: some(&self.lead_email),
            cursor: some(&self.cursor),
            limit: Some(PAGE_SIZE.to_string()),
        })
    }

    /// The filters as a query string (without the cursor), for links.
    fn link(&self) -> String {
        let plain = Filters {
            cursor: String::new(),
            ..self.clone()
        };
        serde_urlencoded::to_string(&plain).unwrap_or_default()
    }
}

#[derive(Debug, Serialize)]
struct Row {
    id: String,
    when: String,
    lead_email: String,
    /// The email as a query value, for the person's page link.
    lead_q: String,
    lead_name: String,
    agent: String,
    team: String,
    status: String,
    /// `yes`, `no-show`, `cancelled` or `` (not ended).
    took_place: &'static str,
    ended: bool,
}

#[get("/admin")]
pub async fn home(_c: Console) -> HttpResponse {
    see_other("/admin/meetings")
}

#[get("/admin/meetings")]
pub async fn list(app: web::Data<App>, c: Console, f: web::Query<Filters>) -> HttpResponse {
    let f = f.into_inner();
    let teams = app.store.list_teams().await.unwrap_or_default();
    let agents = app.store.list_agents().await.unwrap_or_default();
    let team_options: Vec<_> = teams
        .iter()
        .map(|t| context! { value => t.slug.to_string(), label => t.name.clone() })
        .collect();
    let agent_options: Vec<_> = agents
        .iter()
        .map(|a| context! { value => a.id.to_string(), label => a.name.clone() })
        .collect();
    let mut problems: BTreeMap<String, String> = BTreeMap::new();
    let mut rows = Vec::new();
    let mut next = None;
    match f.query(&c) {
        Err((field, why)) => {
            problems.insert(field, why);
        }
        Ok(q) => match filter_of(&app, &q, PAGE_SIZE).await {
            Err(AppError::Validation(fields)) => problems.extend(fields),
            Err(e) => return trouble(&c, "Meetings", "meetings page", e),
            Ok(filter) => {
                let found = match app.store.list_meetings(&filter).await {
                    Ok(found) => found,
                    Err(e) => return trouble(&c, "Meetings", "meetings page", e),
                };
                let by_id = agents_of(&app, &found.meetings).await.unwrap_or_default();
                let now = app.now();
                rows = found
                    .meetings
                    .iter()
                    .map(|m| Row {
                        id: m.id.to_string(),
                        when: local_time(m.start, c.zone),
                        lead_email: m.visitor.email.to_string(),
                        lead_q: url::form_urlencoded::byte_serialize(
                            m.visitor.email.as_str().as_bytes(),
                        )
                        .collect(),
                        lead_name: m.visitor.name.clone().unwrap_or_default(),
                        agent: brief(&by_id, m.agent_id).name,
                        team: m.team_name.clone(),
                        status: m.status.as_str().to_owned(),
                        took_place: match (m.status.as_str(), m.took_place_at(now)) {
                            ("cancelled", _) => "cancelled",
                            (_, Some(true)) => "yes",
                            (_, Some(false)) => "no-show",
                            _ => "",
                        },
                        ended: now >= m.end,
                    })
                    .collect();
                next = found.next.map(encode_cursor);
            }
        },
    }
    let link = f.link();
    page(
        "meetings.html",
        context! {
            console => c.view(),
            title => "Meetings",
            nav => "meetings",
            f, rows, problems, team_options, agent_options, link,
            next => next.map(|n| format!("{}{}cursor={n}", link, if link.is_empty() { "" } else { "&" })),
        },
        StatusCode::OK,
    )
}

/// The current filter's meetings as CSV.
#[get("/admin/meetings.csv")]
pub async fn csv(app: web::Data<App>, c: Console, f: web::Query<Filters>) -> HttpResponse {
    let answer = match f.query(&c) {
        Ok(q) => csv_download(&app, &q).await,
        Err((field, why)) => Err(AppError::Validation(vec![(field, why)])),
    };
    answer.unwrap_or_else(|e| {
        message(
            &c,
            "Meetings",
            &format!("The download could not be made: {e}"),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    })
}

#[derive(Debug, Deserialize)]
pub struct TookPlaceForm {
    csrf: String,
    /// `yes` or `no`.
    took_place: String,
    /// Where to go back to (the list with its filters).
    #[serde(default)]
    back: String,
}

/// Marks a meeting that has ended as taken place or a no-show.
#[post("/admin/meetings/{id}/took-place")]
pub async fn took_place(
    app: web::Data<App>,
    c: Console,
    id: web::Path<String>,
    form: web::Form<TookPlaceForm>,
) -> Result<HttpResponse, super::session::NotSignedIn> {
    c.check_csrf(&form.csrf)?;
    let Ok(id) = uuid::Uuid::parse_str(&id) else {
        return Ok(message(
            &c,
            "Meeting",
            "No such meeting.",
            StatusCode::NOT_FOUND,
        ));
    };
    let value = form.took_place == "yes";
    Ok(match mark_took_place(&app, id, Some(value)).await {
        Ok(()) => {
            let back = if form.back.starts_with("/admin/") {
                form.back.as_str()
            } else {
                "/admin/meetings"
            };
            see_other(back)
        }
        Err(e) => message(
            &c,
            "Meeting",
            &e.to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    })
}

#[derive(Debug, Deserialize)]
pub struct PersonQuery {
    email: String,
}

/// A person's page: every meeting and activity of one lead email (the seeds' "Activity Log of a Person").
#[get("/admin/people")]
pub async fn person(app: web::Data<App>, c: Console, q: web::Query<PersonQuery>) -> HttpResponse {
    let Ok(email) = EmailAddress::parse(&q.email) else {
        return message(
            &c,
            "Person",
            "That is not an email address.",
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    let query = MeetingsQuery {
        lead_email: Some(email.to_string()),
        limit: Some("200".into()),
        ..Default::default()
    };
    let now = app.now();
    let meetings = match filter_of(&app, &query, 200).await {
        Ok(f) => app
            .store
            .list_meetings(&f)
            .await
            .map(|p| p.meetings)
            .unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    let by_id = agents_of(&app, &meetings).await.unwrap_or_default();
    let rows: Vec<_> = meetings
        .iter()
        .map(|m| {
            context! {
                when => local_time(m.start, c.zone),
                agent => brief(&by_id, m.agent_id).name,
                team => m.team_name.clone(),
                status => m.status.as_str(),
                took_place => match m.took_place_at(now) { Some(true) => "yes", Some(false) => "no", None => "" },
                dialogue => m.dialogue_name.clone().unwrap_or_default(),
                page_url => m.page_url.clone().unwrap_or_default(),
                step => serde_json::to_value(m.routing.step).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
            }
        })
        .collect();
    let filter = ActivityFilter {
        lead_email: Some(email.to_string()),
        ..Default::default()
    };
    let activities: Vec<_> = app
        .store
        .activities_after(crate::store::FeedCursor::default(), 500, &filter)
        .await
        .unwrap_or_default()
        .into_iter()
        .rev()
        .map(|a| {
            let d = &a.data;
            let text = |k: &str| d[k].as_str().unwrap_or("").to_owned();
            context! {
                when => local_time(a.occurred_at, c.zone),
                kind => a.kind.trim_start_matches("meeting.").to_owned(),
                agent => d["agent"]["name"].as_str().unwrap_or("").to_owned(),
                start => chrono::DateTime::parse_from_rfc3339(&text("start"))
                    .map(|t| local_time(t.with_timezone(&Utc), c.zone))
                    .unwrap_or_default(),
                page_url => text("page_url"),
                dialogue => text("dialogue_name"),
            }
        })
        .collect();
    let name = meetings
        .iter()
        .find_map(|m| m.visitor.name.clone())
        .unwrap_or_default();
    let company = meetings
        .iter()
        .find_map(|m| m.visitor.company.clone())
        .unwrap_or_default();
    page(
        "person.html",
        context! {
            console => c.view(), title => email.to_string(), nav => "meetings",
            email => email.to_string(), name, company, rows, activities,
        },
        StatusCode::OK,
    )
}
