//! Invitation emails: subject, text and HTML from the templates in templates/email/<locale>/ (minijinja,
//! embedded in the binary; English and Dutch, English for any other locale), plus the ICS part.

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::Message;
use minijinja::{context, Environment};

use super::ics::{self, IcsEvent};
use super::sandbox;
use crate::domain::model::{Agent, Invitation, Meeting};
use crate::domain::settings::{Field, FieldErrors};

/// The variables invitation templates may use (documented in README).
pub const VARIABLES: [&str; 12] = [
    "kind",
    "visitor_name",
    "agent_name",
    "agent_email",
    "team",
    "date",
    "time",
    "end_time",
    "timezone",
    "video_link",
    "cancel_link",
    "reschedule_link",
];

/// One email's texts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Renders the subject, text and HTML: from the agent's own templates when it has them (the HTML part is
/// then its text, escaped), else from the bundled ones for `lang`. Each part is at most
/// `sandbox::MAX_PART_BYTES`, and an agent's template must keep to the sandbox's language (a template saved
/// before that rule fails here, and the caller falls back to the bundled text).
pub fn render_parts(
    env: &Environment,
    own: Option<&Invitation>,
    lang: &str,
    ctx: &minijinja::Value,
) -> Result<Rendered, minijinja::Error> {
    let (subject, text, html) = match own {
        Some(i) => {
            let text = render_own(env, &i.body, ctx)?;
            let html = html_of_text(&text);
            (render_own(env, &i.subject, ctx)?, text, html)
        }
        None => {
            let render =
                |part: &str| sandbox::render(&env.get_template(&format!("{lang}/{part}"))?, ctx);
            (render("subject")?, render("text")?, render("html")?)
        }
    };
    if html.len() > sandbox::MAX_PART_BYTES {
        return Err(sandbox::too_long());
    }
    Ok(Rendered {
        subject: subject.trim().to_owned(),
        text,
        html,
    })
}

fn render_own(
    env: &Environment,
    source: &str,
    ctx: &minijinja::Value,
) -> Result<String, minijinja::Error> {
    sandbox::check_language(source)
        .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e))?;
    sandbox::render(&env.template_from_str(source)?, ctx)
}

/// The HTML part of an agent's own text: the text, escaped, lines kept.
fn html_of_text(text: &str) -> String {
    format!(
        "<!doctype html>\n<html><body style=\"font-family: sans-serif\"><p>{}</p></body></html>\n",
        minijinja::HtmlEscape(text)
            .to_string()
            .replace('\n', "<br>\n")
    )
}

/// How much work one render may do; the bundled templates use a few hundred units.
pub const TEMPLATE_FUEL: u64 = 50_000;

/// Checks a template an agent wants to save: it must keep to the sandbox's language, parse, use only
/// `VARIABLES`, and render (within its fuel and the size limits) for every kind of email with sample data in
/// both languages; for a `body`, its HTML part must fit too. The message names the line at fault.
pub fn check_template(env: &Environment, source: &str, is_body: bool) -> Result<(), String> {
    sandbox::check_language(source)?;
    let template = env.template_from_str(source).map_err(|e| match e.line() {
        Some(line) => format!("line {line}: {}", e.detail().unwrap_or("syntax error")),
        None => e.to_string(),
    })?;
    let mut unknown: Vec<String> = template
        .undeclared_variables(false)
        .into_iter()
        .filter(|v| !VARIABLES.contains(&v.as_str()))
        .collect();
    unknown.sort();
    if let Some(v) = unknown.first() {
        let line = source
            .lines()
            .position(|l| l.contains(v.as_str()))
            .map(|i| i + 1)
            .unwrap_or(1);
        return Err(format!(
            "line {line}: unknown variable `{v}`; the variables are {}",
            VARIABLES.join(", ")
        ));
    }
    for kind in [
        MailKind::Invitation,
        MailKind::Update,
        MailKind::Cancellation,
    ] {
        for lang in ["en", "nl"] {
            let text =
                sandbox::render(&template, &sample_context(kind, lang)).map_err(|e| {
                    match (e.line(), e.detail()) {
                        (Some(line), detail) => {
                            format!("line {line}: {}", detail.unwrap_or("does not render"))
                        }
                        (None, Some(detail)) => detail.to_owned(),
                        (None, None) => format!("does not render: {e}"),
                    }
                })?;
            if is_body && html_of_text(&text).len() > sandbox::MAX_PART_BYTES {
                return Err(format!(
                    "its HTML part renders to more than {} KB",
                    sandbox::MAX_PART_BYTES / 1024
                ));
            }
        }
    }
    Ok(())
}

/// Longest subject and body template an agent may save, in characters.
const MAX_SUBJECT_CHARS: usize = 500;
const MAX_BODY_CHARS: usize = 20_000;

/// An agent's invitation text as sent: a subject and a body, each within its length and passing
/// `check_template`; or neither, for the bundled templates (`Ok(None)`). Problems name `subject` or `body`.
pub fn check_invitation(
    env: &Environment,
    subject: Option<&str>,
    body: Option<&str>,
) -> Result<Option<Invitation>, FieldErrors> {
    let both = "give both subject and body (or neither, for the defaults)";
    match (subject, body) {
        (None, None) => Ok(None),
        (Some(subject), Some(body)) => {
            let mut errors = FieldErrors::default();
            for (field, source, max) in [
                (Field::Subject, subject, MAX_SUBJECT_CHARS),
                (Field::Body, body, MAX_BODY_CHARS),
            ] {
                if source.trim().is_empty() || source.chars().count() > max {
                    errors.add(field, format!("must be 1 to {max} characters"));
                } else if let Err(e) = check_template(env, source, field == Field::Body) {
                    errors.add(field, e);
                }
            }
            errors.or_ok(Some(Invitation {
                subject: subject.to_owned(),
                body: body.to_owned(),
            }))
        }
        (None, Some(_)) => Err(FieldErrors::one(Field::Subject, both)),
        (Some(_), None) => Err(FieldErrors::one(Field::Body, both)),
    }
}

/// Example values for previews.
pub fn sample_context(kind: MailKind, lang: &str) -> minijinja::Value {
    let nl = lang == "nl";
    context! {
        kind => kind.as_str(),
        visitor_name => "Vera Visitor",
        agent_name => "Ann Agent",
        agent_email => "ann@example.com",
        team => "sales",
        date => if nl { "maandag 23 november 2026" } else { "Monday 23 November 2026" },
        time => "10:00",
        end_time => "10:30",
        timezone => "Europe/Amsterdam",
        video_link => "https://meet.example.com/abc-defg-hij",
        cancel_link => "https://rondo.example.com/m/sample/cancel",
        reschedule_link => "https://rondo.example.com/m/sample/reschedule",
    }
}

/// Which email of a meeting's life this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    Invitation,
    Update,
    Cancellation,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::Invitation => "invitation",
            MailKind::Update => "update",
            MailKind::Cancellation => "cancellation",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "invitation" => Some(Self::Invitation),
            "update" => Some(Self::Update),
            "cancellation" => Some(Self::Cancellation),
            _ => None,
        }
    }
}

const TEMPLATES: [(&str, &str); 6] = [
    (
        "en/subject",
        include_str!("../../templates/email/en/subject.j2"),
    ),
    (
        "en/text",
        include_str!("../../templates/email/en/body.txt.j2"),
    ),
    (
        "en/html",
        include_str!("../../templates/email/en/body.html.j2"),
    ),
    (
        "nl/subject",
        include_str!("../../templates/email/nl/subject.j2"),
    ),
    (
        "nl/text",
        include_str!("../../templates/email/nl/body.txt.j2"),
    ),
    (
        "nl/html",
        include_str!("../../templates/email/nl/body.html.j2"),
    ),
];

/// The template environment: strict about undefined variables, HTML auto-escaped in the HTML part.
pub fn environment() -> Environment<'static> {
    let mut env = sandbox::environment();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    // Agents write templates: bound the work one render may do (loops, recursion).
    env.set_fuel(Some(TEMPLATE_FUEL));
    env.set_auto_escape_callback(|name| {
        if name.ends_with("/html") {
            minijinja::AutoEscape::Html
        } else {
            minijinja::AutoEscape::None
        }
    });
    for (name, source) in TEMPLATES {
        env.add_template(name, source)
            .expect("bundled templates parse");
    }
    env
}

/// Weekday names from Monday, per language (English, Dutch).
pub(crate) const DAYS: [[&str; 7]; 2] = [
    [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ],
    [
        "maandag",
        "dinsdag",
        "woensdag",
        "donderdag",
        "vrijdag",
        "zaterdag",
        "zondag",
    ],
];
const MONTHS: [[&str; 12]; 2] = [
    [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    [
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ],
];

/// `en` or `nl` from a visitor's locale tag (`nl-BE` → `nl`); English otherwise.
pub fn language(locale: Option<&str>) -> &'static str {
    match locale.map(|l| {
        l.split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase()
    }) {
        Some(l) if l == "nl" => "nl",
        _ => "en",
    }
}

fn date_text(t: DateTime<Tz>, lang: &str) -> String {
    let i = usize::from(lang == "nl");
    format!(
        "{} {} {} {}",
        DAYS[i][t.weekday().num_days_from_monday() as usize],
        t.day(),
        MONTHS[i][t.month0() as usize],
        t.year()
    )
}

fn time_text(t: DateTime<Tz>) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// The email for this moment of the meeting's life, with a stable Message-ID per (meeting, version).
#[allow(clippy::too_many_arguments)]
pub fn meeting_email(
    env: &Environment,
    m: &Meeting,
    agent: &Agent,
    kind: MailKind,
    version: i64,
    from: &Mailbox,
    manage_url: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Message> {
    let tz: Tz = m.visitor.timezone.unwrap_or(agent.zone).tz();
    let lang = language(m.visitor.locale.as_deref());
    let (start, end) = (m.start.with_timezone(&tz), m.end.with_timezone(&tz));
    let visitor_name = m
        .visitor
        .name
        .clone()
        .unwrap_or_else(|| m.visitor.email.to_string());
    let ctx = context! {
        kind => kind.as_str(),
        visitor_name => visitor_name,
        agent_name => agent.name,
        agent_email => agent.email,
        team => m.team_slug,
        date => date_text(start, lang),
        time => time_text(start),
        end_time => time_text(end),
        timezone => tz.name(),
        video_link => m.video_link,
        cancel_link => format!("{manage_url}/cancel"),
        reschedule_link => format!("{manage_url}/reschedule"),
    };
    // An agent's text that fails at send time (it passed the checks on save) must not cost the visitor the
    // email: fall back to the bundled templates.
    let Rendered {
        subject,
        text,
        html,
    } = match render_parts(env, agent.invitation.as_ref(), lang, &ctx) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(agent = %agent.id, error = %e, "agent's invitation text failed; bundled text used");
            render_parts(env, None, lang, &ctx)?
        }
    };
    let cancelled = kind == MailKind::Cancellation;
    let calendar = ics::write(&IcsEvent {
        uid: &format!("{}@rondo", m.id.simple()),
        sequence: version - 1,
        stamp: now,
        start: m.start,
        end: m.end,
        summary: &subject,
        description: &text,
        location: m.video_link.as_deref(),
        organizer: (&agent.name, &agent.email),
        attendee: (&visitor_name, m.visitor.email.as_str()),
        cancelled,
    });
    let method = if cancelled { "CANCEL" } else { "REQUEST" };
    let to: Mailbox = format!(
        "{} <{}>",
        visitor_name.replace(['<', '>', '"'], ""),
        m.visitor.email
    )
    .parse()
    .or_else(|_| m.visitor.email.as_str().parse())?;
    let reply_to: Mailbox = agent.email.parse()?;
    Ok(Message::builder()
        .message_id(Some(format!("<{}.{}@rondo>", m.id.simple(), version)))
        .from(from.clone())
        .reply_to(reply_to)
        .to(to)
        .subject(subject)
        .multipart(
            MultiPart::mixed()
                .multipart(MultiPart::alternative_plain_html(text, html))
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::parse(&format!(
                            "text/calendar; method={method}; charset=UTF-8"
                        ))?)
                        .body(calendar),
                ),
        )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invitation_text_is_both_parts_or_neither() {
        let env = environment();
        assert_eq!(check_invitation(&env, None, None), Ok(None));
        let saved = check_invitation(
            &env,
            Some("Hi {{ visitor_name }}"),
            Some("See you {{ date }}."),
        );
        assert_eq!(
            saved,
            Ok(Some(Invitation {
                subject: "Hi {{ visitor_name }}".into(),
                body: "See you {{ date }}.".into(),
            }))
        );
        let only_body = check_invitation(&env, None, Some("Hello")).unwrap_err();
        assert_eq!(
            only_body.to_string(),
            "subject: give both subject and body (or neither, for the defaults)"
        );
        let only_subject = check_invitation(&env, Some("Hello"), None).unwrap_err();
        assert_eq!(
            only_subject
                .iter()
                .map(|(f, _)| f.clone())
                .collect::<Vec<_>>(),
            [Field::Body]
        );
    }

    #[test]
    fn each_part_at_fault_is_named_with_why() {
        let env = environment();
        let long = "x".repeat(501);
        let e = check_invitation(&env, Some(&long), Some("Hi\n{{ visitor_nam }}")).unwrap_err();
        let got: Vec<(Field, String)> = e.into_iter().collect();
        assert_eq!(
            got[0],
            (Field::Subject, "must be 1 to 500 characters".into())
        );
        assert_eq!(got[1].0, Field::Body);
        assert!(
            got[1]
                .1
                .starts_with("line 2: unknown variable `visitor_nam`"),
            "{}",
            got[1].1
        );
        let e = check_invitation(&env, Some(" "), Some(&"x".repeat(20_001))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "subject: must be 1 to 500 characters; body: must be 1 to 20000 characters"
        );
    }
}
