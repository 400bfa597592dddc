//! Routing before round robin: a team's account owners (JSON, or CSV with a header row
//! `domain,agent_email`) and its custom rules.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app::App;
use crate::domain::routing::{Condition, Rule};
use crate::error::{AppError, AppResult};
use crate::http::auth::Admin;
use crate::http::extract::{parse_json, read_body};
use crate::usecase::admin::{
    self, AccountInput, AccountOwner, AccountRow, ConditionInput, ReplaceAccountsError,
    ReplaceRulesError, RuleInput,
};

/// Largest account list accepted (about 40,000 CSV rows): an import is bigger than other requests.
pub const ACCOUNTS_MAX_BODY: usize = 2 * 1024 * 1024;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountsInput {
    pub accounts: Vec<AccountInput>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccountView {
    pub domain: String,
    pub agent_id: Uuid,
    pub agent_email: String,
    pub agent_name: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccountsView {
    /// Sorted by domain.
    pub accounts: Vec<AccountView>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RulesInput {
    /// In priority order: the first matching rule with a free agent takes the meeting.
    pub rules: Vec<RuleInput>,
}

impl From<ReplaceAccountsError> for AppError {
    fn from(e: ReplaceAccountsError) -> Self {
        match e {
            ReplaceAccountsError::NotFound => AppError::NotFound("team"),
            ReplaceAccountsError::Invalid(errors) => errors.into(),
            ReplaceAccountsError::Store(e) => e.into(),
        }
    }
}

impl From<ReplaceRulesError> for AppError {
    fn from(e: ReplaceRulesError) -> Self {
        match e {
            ReplaceRulesError::NotFound => AppError::NotFound("team"),
            ReplaceRulesError::Invalid(errors) => errors.into(),
            ReplaceRulesError::Store(e) => e.into(),
        }
    }
}

fn wants_csv(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/csv"))
}

fn sent_csv(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/csv"))
}

fn accounts_answer(req: &HttpRequest, accounts: Vec<AccountOwner>) -> AppResult<HttpResponse> {
    if wants_csv(req) {
        let mut w = csv::Writer::from_writer(Vec::new());
        let csv_err = |e: csv::Error| AppError::Internal(e.into());
        w.write_record(["domain", "agent_email"]).map_err(csv_err)?;
        for a in &accounts {
            w.write_record([&a.domain, &a.agent_email])
                .map_err(csv_err)?;
        }
        let body = w.into_inner().map_err(|e| AppError::Internal(e.into()))?;
        return Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .body(body));
    }
    Ok(HttpResponse::Ok().json(AccountsView {
        accounts: accounts
            .into_iter()
            .map(|a| AccountView {
                domain: a.domain,
                agent_id: a.agent_id,
                agent_email: a.agent_email,
                agent_name: a.agent_name,
            })
            .collect(),
    }))
}

/// Rows of an account CSV: a header row naming `domain` and `agent_email` (or `agent_id`), then one
/// account a row. Blank rows are skipped; a row is named by its line.
fn csv_rows(raw: &[u8]) -> AppResult<Vec<AccountRow>> {
    let bad = |field: String, why: String| AppError::Validation(vec![(field, why)]);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(raw);
    let headers = reader
        .headers()
        .map_err(|e| bad("line 1".into(), format!("not CSV: {e}")))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(domain), email, id) = (column("domain"), column("agent_email"), column("agent_id"))
    else {
        return Err(bad(
            "line 1".into(),
            "the header row must be `domain,agent_email`".into(),
        ));
    };
    if email.is_none() && id.is_none() {
        return Err(bad(
            "line 1".into(),
            "the header row must be `domain,agent_email`".into(),
        ));
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            bad(format!("line {line}"), format!("not CSV: {e}"))
        })?;
        if record.iter().all(str::is_empty) {
            continue;
        }
        let line = record.position().map_or(0, |p| p.line());
        let cell = |i: Option<usize>| {
            i.and_then(|i| record.get(i))
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        rows.push(AccountRow {
            at: format!("line {line}"),
            input: AccountInput {
                domain: cell(Some(domain)).unwrap_or_default(),
                agent_email: cell(email),
                agent_id: if email.is_some() && cell(email).is_some() {
                    None
                } else {
                    cell(id)
                },
            },
        });
    }
    Ok(rows)
}

/// The team's account owners: JSON, or CSV (`domain,agent_email`) with `Accept: text/csv`.
#[utoipa::path(
    get,
    path = "/admin/api/teams/{team}/accounts",
    tag = "admin",
    params(("team" = String, Path)),
    responses(
        (status = 200, content((AccountsView = "application/json"), (String = "text/csv"))),
        (status = 404, content_type = "application/problem+json")
    ),
    security(("admin_token" = []))
)]
pub async fn get_accounts(
    app: web::Data<App>,
    _a: Admin,
    req: HttpRequest,
    team: web::Path<String>,
) -> AppResult<HttpResponse> {
    let accounts = admin::list_accounts(&app, &team).await?;
    accounts_answer(&req, accounts)
}

/// Replaces the team's account owners: JSON `{"accounts":[{"domain","agent_id"}]}` (or `agent_email`), or
/// `Content-Type: text/csv` with a header row `domain,agent_email`. A bad row: 422 naming it
/// (`accounts[3].domain`, `line 4.agent_email`), and nothing changes.
#[utoipa::path(
    put,
    path = "/admin/api/teams/{team}/accounts",
    tag = "admin",
    params(("team" = String, Path)),
    request_body(content((AccountsInput = "application/json"), (String = "text/csv"))),
    responses(
        (status = 200, content((AccountsView = "application/json"), (String = "text/csv"))),
        (status = 400, content_type = "application/problem+json"),
        (status = 404, content_type = "application/problem+json"),
        (status = 413, content_type = "application/problem+json"),
        (status = 422, content_type = "application/problem+json")
    ),
    security(("admin_token" = []))
)]
pub async fn put_accounts(
    app: web::Data<App>,
    _a: Admin,
    req: HttpRequest,
    team: web::Path<String>,
    body: web::Payload,
) -> AppResult<HttpResponse> {
    let raw = read_body(body, ACCOUNTS_MAX_BODY).await?;
    let rows = if sent_csv(&req) {
        csv_rows(&raw)?
    } else {
        parse_json::<AccountsInput>(&raw)?
            .accounts
            .into_iter()
            .enumerate()
            .map(|(i, input)| AccountRow {
                at: format!("accounts[{i}]"),
                input,
            })
            .collect()
    };
    let accounts = admin::replace_accounts(&app, &team, rows).await?;
    accounts_answer(&req, accounts)
}

fn rules_view(rules: Vec<Rule>) -> RulesInput {
    RulesInput {
        rules: rules
            .into_iter()
            .map(|r| RuleInput {
                name: r.name,
                when: r
                    .when
                    .into_iter()
                    .map(|c| {
                        let (op, value) = match &c {
                            Condition::Equals { value, .. } => ("equals", Some(value.clone())),
                            Condition::In { values, .. } => {
                                ("in", Some(serde_json::Value::Array(values.clone())))
                            }
                            Condition::Exists { .. } => ("exists", None),
                        };
                        ConditionInput {
                            attribute: c.attribute().to_owned(),
                            op: op.to_owned(),
                            value,
                        }
                    })
                    .collect(),
                agents: r.agents.iter().map(Uuid::to_string).collect(),
            })
            .collect(),
    }
}

#[utoipa::path(
    get,
    path = "/admin/api/teams/{team}/rules",
    tag = "admin",
    params(("team" = String, Path)),
    responses((status = 200, body = RulesInput), (status = 404, content_type = "application/problem+json")),
    security(("admin_token" = []))
)]
pub async fn get_rules(
    app: web::Data<App>,
    _a: Admin,
    team: web::Path<String>,
) -> AppResult<web::Json<RulesInput>> {
    Ok(web::Json(rules_view(admin::list_rules(&app, &team).await?)))
}

/// Replaces the team's custom rules (ordered; `op` is `equals`, `in` or `exists`; all conditions of a rule
/// must hold). Unknown agents, an empty `when` or `agents`: 422 naming the field, and nothing changes.
#[utoipa::path(
    put,
    path = "/admin/api/teams/{team}/rules",
    tag = "admin",
    params(("team" = String, Path)),
    request_body = RulesInput,
    responses(
        (status = 200, body = RulesInput),
        (status = 400, content_type = "application/problem+json"),
        (status = 404, content_type = "application/problem+json"),
        (status = 413, content_type = "application/problem+json"),
        (status = 422, content_type = "application/problem+json")
    ),
    security(("admin_token" = []))
)]
pub async fn put_rules(
    app: web::Data<App>,
    _a: Admin,
    team: web::Path<String>,
    body: crate::http::extract::ApiJson<RulesInput>,
) -> AppResult<web::Json<RulesInput>> {
    let rules = admin::replace_rules(&app, &team, &body.value.rules).await?;
    Ok(web::Json(rules_view(rules)))
}
