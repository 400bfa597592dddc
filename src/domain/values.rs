//! Value types parsed once at the edge ("parse, don't validate"): code past HTTP never re-checks them.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{NaiveDate, NaiveTime, Timelike, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Why a value was refused; the message is shown to the client next to the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

fn invalid<T>(msg: impl Into<String>) -> Result<T, Invalid> {
    Err(Invalid(msg.into()))
}

/// A team's URL name: lowercase letters, digits and hyphens, 1–63 characters, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct TeamSlug(String);

impl TeamSlug {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let ok_len = (1..=63).contains(&s.len());
        let ok_chars = s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok_len || !ok_chars || s.starts_with('-') {
            return invalid(
                "must be 1-63 characters of lowercase letters, digits and hyphens, not starting with a hyphen",
            );
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TeamSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The name of a team or an agent as people read it: 1 to 200 characters, kept trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let s = s.trim();
        if s.is_empty() || s.chars().count() > 200 {
            return invalid("must be 1 to 200 characters");
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An IANA time zone name known to chrono-tz (`Europe/Amsterdam`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IanaZone(Tz);

impl IanaZone {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match Tz::from_str(s.trim()) {
            Ok(tz) => Ok(Self(tz)),
            Err(_) => invalid(format!(
                "`{s}` is not an IANA time zone name (like Europe/Amsterdam)"
            )),
        }
    }
    pub fn tz(self) -> Tz {
        self.0
    }
    pub fn name(self) -> &'static str {
        self.0.name()
    }
}

/// As its name (`"Europe/Amsterdam"`), like the string it was parsed from.
impl Serialize for IanaZone {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl From<Tz> for IanaZone {
    fn from(tz: Tz) -> Self {
        Self(tz)
    }
}

impl fmt::Display for IanaZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name())
    }
}

/// Longest address rondo takes: SMTP's path is 256 octets with its angle brackets (RFC 5321 §4.5.3.1.3).
pub const MAX_EMAIL_LEN: usize = 254;

/// An email address of a visitor or an agent (one type for both), accepted only when the mail transport can
/// use it: lettre reads it as an `Address`, and as the mailbox of a `To`/`Reply-To` header both bare and after
/// a display name (what the email job builds), giving back the same address each time. On top of that: no
/// whitespace or control characters (nothing that could break a header), at most 254 characters, and a host
/// name with a dot for the domain (no address literals or single-label hosts, which no relay delivers to
/// from the internet). An address that passes here is one an invitation can be sent to; one that does not is
/// refused at the edge instead of booking a meeting whose email job can only die (issue 13). Stored as given
/// but with the domain lowercased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let s = s.trim();
        let bad = || Invalid("must be an email address like name@example.com".into());
        if s.is_empty()
            || s.len() > MAX_EMAIL_LEN
            || s.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(bad());
        }
        let (local, domain) = s.rsplit_once('@').ok_or_else(bad)?;
        let text = format!("{local}@{}", domain.to_lowercase());
        let address = lettre::Address::from_str(&text).map_err(|_| bad())?;
        let domain = address.domain();
        let numeric_tld = domain
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()));
        // RFC 5322 lets a domain hold any atom (`x=y.org`); a host name holds letters, digits and hyphens.
        let host_name = domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.');
        if !host_name || !domain.contains('.') || numeric_tld {
            return Err(bad());
        }
        // The email job parses the `To` header from "name <address>" (falling back to the bare address) and
        // the `Reply-To` from the bare address: both must read back this very address.
        for header in [text.clone(), format!("Visitor <{text}>")] {
            match header.parse::<lettre::message::Mailbox>() {
                Ok(m) if m.email == address => {}
                _ => return Err(bad()),
            }
        }
        Ok(Self(text))
    }
    /// An address as the store holds it, taken as it is: it passed `parse` (or an older, looser check) when
    /// it was written, and a stored meeting stays readable even if the rules have tightened since.
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Longest meeting rondo books.
pub const MAX_MEETING_MINUTES: u32 = 480;

/// A meeting's length in whole minutes, 5 to 480 (8 hours).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct MeetingLength(u32);

impl MeetingLength {
    pub fn parse(minutes: i64) -> Result<Self, Invalid> {
        if !(5..=MAX_MEETING_MINUTES as i64).contains(&minutes) {
            return invalid(format!(
                "must be between 5 and {MAX_MEETING_MINUTES} minutes"
            ));
        }
        Ok(Self(minutes as u32))
    }
    pub fn minutes(self) -> u32 {
        self.0
    }
}

/// A span of local wall-clock time within one day, in minutes after midnight; `end` may be 1440 ("24:00").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocalSpan {
    start: u16,
    end: u16,
}

impl LocalSpan {
    pub fn new(start_minute: u16, end_minute: u16) -> Result<Self, Invalid> {
        if end_minute > 1440 || start_minute >= 1440 {
            return invalid("times must lie between 00:00 and 24:00");
        }
        if end_minute <= start_minute {
            return invalid(format!(
                "{} - {}: the end must come after the start",
                fmt_minute(start_minute),
                fmt_minute(end_minute)
            ));
        }
        Ok(Self {
            start: start_minute,
            end: end_minute,
        })
    }
    /// Parses `["09:00","17:00"]`-style strings; `24:00` is accepted as an end.
    pub fn parse(start: &str, end: &str) -> Result<Self, Invalid> {
        Self::new(parse_hhmm(start)?, parse_hhmm(end)?)
    }
    pub fn start_minute(self) -> u16 {
        self.start
    }
    pub fn end_minute(self) -> u16 {
        self.end
    }
    pub fn start_time(self) -> NaiveTime {
        minute_to_time(self.start)
    }
    pub fn as_strings(self) -> [String; 2] {
        [fmt_minute(self.start), fmt_minute(self.end)]
    }
}

fn minute_to_time(m: u16) -> NaiveTime {
    NaiveTime::from_hms_opt((m / 60) as u32 % 24, (m % 60) as u32, 0).expect("valid minute")
}

/// `HH:MM` (or `24:00`) to minutes after midnight.
pub fn parse_hhmm(s: &str) -> Result<u16, Invalid> {
    let bad = || Invalid(format!("`{s}` is not a time of day like 09:30"));
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u16 = h.parse().map_err(|_| bad())?;
    let m: u16 = m.parse().map_err(|_| bad())?;
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

pub fn fmt_minute(m: u16) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// Sorts spans and refuses overlapping ones (touching is fine: 09:00-12:00 and 12:00-17:00).
fn sorted_disjoint(mut spans: Vec<LocalSpan>) -> Result<Vec<LocalSpan>, Invalid> {
    spans.sort();
    for pair in spans.windows(2) {
        if pair[1].start < pair[0].end {
            return invalid(format!(
                "{} - {} overlaps {} - {}",
                fmt_minute(pair[0].start),
                fmt_minute(pair[0].end),
                fmt_minute(pair[1].start),
                fmt_minute(pair[1].end)
            ));
        }
    }
    Ok(spans)
}

pub const WEEKDAY_KEYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Working hours for each day of the week, in the agent's own zone. Spans within a day are sorted and
/// disjoint.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WeeklyHours {
    days: [Vec<LocalSpan>; 7],
}

impl WeeklyHours {
    /// From `{"mon":[["09:00","17:00"]],…}`; missing days are days off. The error names the day at fault.
    pub fn parse(map: &BTreeMap<String, Vec<[String; 2]>>) -> Result<Self, (String, Invalid)> {
        let mut days: [Vec<LocalSpan>; 7] = Default::default();
        for (key, spans) in map {
            let Some(idx) = WEEKDAY_KEYS.iter().position(|d| d == key) else {
                return Err((
                    key.clone(),
                    Invalid(format!(
                        "`{key}` is not a day; use mon, tue, wed, thu, fri, sat, sun"
                    )),
                ));
            };
            let parsed = spans
                .iter()
                .map(|[a, b]| LocalSpan::parse(a, b))
                .collect::<Result<Vec<_>, _>>()
                .and_then(sorted_disjoint)
                .map_err(|e| (key.clone(), e))?;
            days[idx] = parsed;
        }
        Ok(Self { days })
    }
    pub fn from_days(days: [Vec<LocalSpan>; 7]) -> Result<Self, Invalid> {
        let mut out: [Vec<LocalSpan>; 7] = Default::default();
        for (i, d) in days.into_iter().enumerate() {
            out[i] = sorted_disjoint(d)?;
        }
        Ok(Self { days: out })
    }
    pub fn on(&self, day: Weekday) -> &[LocalSpan] {
        &self.days[day.num_days_from_monday() as usize]
    }
    pub fn to_map(&self) -> BTreeMap<String, Vec<[String; 2]>> {
        WEEKDAY_KEYS
            .iter()
            .zip(self.days.iter())
            .filter(|(_, spans)| !spans.is_empty())
            .map(|(k, spans)| {
                (
                    k.to_string(),
                    spans.iter().map(|s| s.as_strings()).collect(),
                )
            })
            .collect()
    }
    pub fn is_empty(&self) -> bool {
        self.days.iter().all(|d| d.is_empty())
    }
}

/// Dated exceptions to the weekly hours: a day off (no spans) or other hours that day.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DateOverrides(BTreeMap<NaiveDate, Vec<LocalSpan>>);

impl DateOverrides {
    /// From `{"2026-12-24":[], "2026-12-31":[["09:00","12:00"]]}`; keys must be ISO dates (`YYYY-MM-DD`).
    pub fn parse(map: &BTreeMap<String, Vec<[String; 2]>>) -> Result<Self, (String, Invalid)> {
        let mut out = BTreeMap::new();
        for (key, spans) in map {
            let date = NaiveDate::parse_from_str(key, "%Y-%m-%d").map_err(|_| {
                (
                    key.clone(),
                    Invalid(format!("`{key}` is not a date like 2026-12-24")),
                )
            })?;
            let parsed = spans
                .iter()
                .map(|[a, b]| LocalSpan::parse(a, b))
                .collect::<Result<Vec<_>, _>>()
                .and_then(sorted_disjoint)
                .map_err(|e| (key.clone(), e))?;
            out.insert(date, parsed);
        }
        Ok(Self(out))
    }
    pub fn from_map(map: BTreeMap<NaiveDate, Vec<LocalSpan>>) -> Result<Self, Invalid> {
        let mut out = BTreeMap::new();
        for (d, spans) in map {
            out.insert(d, sorted_disjoint(spans)?);
        }
        Ok(Self(out))
    }
    pub fn get(&self, date: NaiveDate) -> Option<&[LocalSpan]> {
        self.0.get(&date).map(|v| v.as_slice())
    }
    pub fn to_map(&self) -> BTreeMap<String, Vec<[String; 2]>> {
        self.0
            .iter()
            .map(|(d, spans)| {
                (
                    d.format("%Y-%m-%d").to_string(),
                    spans.iter().map(|s| s.as_strings()).collect(),
                )
            })
            .collect()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// How a team offers slots (DESIGN.md "Round robin").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TeamMode {
    /// The union of every candidate's free slots.
    #[default]
    Pooled,
    /// Only the first candidate in rotation order who has any free slot in the window.
    Strict,
}

impl TeamMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TeamMode::Pooled => "pooled",
            TeamMode::Strict => "strict",
        }
    }
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s {
            "pooled" => Ok(Self::Pooled),
            "strict" => Ok(Self::Strict),
            _ => invalid("must be `pooled` or `strict`"),
        }
    }
}

/// Minutes after local midnight of a time, for tests and labels.
pub fn minute_of_day(t: NaiveTime) -> u16 {
    (t.hour() * 60 + t.minute()) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(TeamSlug::parse("sales").is_ok());
        assert!(TeamSlug::parse("sales-eu-2").is_ok());
        for bad in ["", "Sales", "-x", "a b", "a/b", &"x".repeat(64)] {
            assert!(TeamSlug::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn display_names() {
        assert_eq!(
            DisplayName::parse("  Ann Smith ").unwrap().as_str(),
            "Ann Smith"
        );
        assert_eq!(
            DisplayName::parse(&"é".repeat(200))
                .unwrap()
                .into_string()
                .chars()
                .count(),
            200
        );
        // The limit counts what is kept, not the spaces around it.
        assert!(DisplayName::parse(&format!("  {}  ", "x".repeat(200))).is_ok());
        for bad in ["", "   ", "\t\n", &"x".repeat(201)] {
            assert_eq!(
                DisplayName::parse(bad).unwrap_err().0,
                "must be 1 to 200 characters",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn zones() {
        assert_eq!(
            IanaZone::parse("Europe/Amsterdam").unwrap().name(),
            "Europe/Amsterdam"
        );
        assert!(IanaZone::parse("Mars/Olympus").is_err());
        assert!(IanaZone::parse("").is_err());
    }

    #[test]
    fn emails() {
        assert_eq!(
            EmailAddress::parse("Ann@Example.COM").unwrap().as_str(),
            "Ann@example.com"
        );
        assert_eq!(EmailAddress::parse("a.b+c@x.io").unwrap().domain(), "x.io");
        assert_eq!(
            EmailAddress::parse("  o'brien@mail.example.co.uk ")
                .unwrap()
                .as_str(),
            "o'brien@mail.example.co.uk"
        );
        assert!(EmailAddress::parse(&format!("{}@example.org", "a".repeat(64))).is_ok());
        for bad in [
            "",
            "a",
            "a@b",
            "@x.io",
            "a@@x.io",
            "a b@x.io",
            "a@x..io",
            "a@.x.io",
            "a@x.io.",
            // Booked fine under the old check, but no invitation could ever be sent to them (issue 13).
            "a>b,c@example.org",
            "x@y@z.org",
            "\"x@y\"@z.org",
            "\"a\r\nBcc: x@evil.org\"@example.org",
            "a\r\nBcc: x@evil.org",
            "a@example.org\r\nBcc: x@evil.org",
            "a\u{0}@example.org",
            "<a@example.org>",
            "Ann <a@example.org>",
            "a@example.org, b@example.org",
            "a@[127.0.0.1]",
            "a@127.0.0.1",
            "a@exa mple.org",
            "a@-example.org",
            "a@x=y.org",
            "a@x_y.org",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
        }
        // Too long, as a whole and in the local part.
        let long = format!("{}@{}.org", "a".repeat(60), "b".repeat(200));
        assert!(long.len() > MAX_EMAIL_LEN);
        assert!(EmailAddress::parse(&long).is_err());
        assert!(EmailAddress::parse(&format!("{}@example.org", "a".repeat(65))).is_err());
    }

    #[test]
    fn meeting_length() {
        assert!(MeetingLength::parse(30).is_ok());
        assert!(MeetingLength::parse(480).is_ok());
        assert!(MeetingLength::parse(481).is_err());
        assert!(MeetingLength::parse(0).is_err());
        assert!(MeetingLength::parse(-30).is_err());
    }

    #[test]
    fn weekly_hours() {
        let map = |v: Vec<(&str, Vec<[&str; 2]>)>| {
            v.into_iter()
                .map(|(k, s)| {
                    (
                        k.to_string(),
                        s.into_iter()
                            .map(|[a, b]| [a.to_string(), b.to_string()])
                            .collect(),
                    )
                })
                .collect::<BTreeMap<_, _>>()
        };
        let ok = WeeklyHours::parse(&map(vec![(
            "mon",
            vec![["13:00", "17:00"], ["09:00", "12:00"]],
        )]))
        .unwrap();
        assert_eq!(ok.on(Weekday::Mon)[0].start_minute(), 540);
        assert!(ok.on(Weekday::Tue).is_empty());
        let e = WeeklyHours::parse(&map(vec![(
            "tue",
            vec![["09:00", "12:00"], ["11:00", "13:00"]],
        )]))
        .unwrap_err();
        assert_eq!(e.0, "tue");
        let e = WeeklyHours::parse(&map(vec![("wed", vec![["17:00", "09:00"]])])).unwrap_err();
        assert_eq!(e.0, "wed");
        assert!(WeeklyHours::parse(&map(vec![("funday", vec![])])).is_err());
        assert!(WeeklyHours::parse(&map(vec![("mon", vec![["9:00", "17:00"]])])).is_err());
        assert!(WeeklyHours::parse(&map(vec![("mon", vec![["20:00", "24:00"]])])).is_ok());
        assert!(WeeklyHours::parse(&map(vec![("mon", vec![["20:00", "24:30"]])])).is_err());
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn any_hhmm_round_trips(h in 0u16..24, m in 0u16..60) {
                let text = fmt_minute(h * 60 + m);
                prop_assert_eq!(parse_hhmm(&text).unwrap(), h * 60 + m);
            }

            #[test]
            fn parsed_emails_are_well_formed(local in "[a-zA-Z0-9._+-]{1,20}", domain in "[a-z0-9-]{1,20}", tld in "[a-z]{2,6}") {
                let e = EmailAddress::parse(&format!("{local}@{domain}.{tld}"));
                // lettre refuses what RFC 5322 does: dots at either end or doubled in the local part, and a
                // label starting or ending with a hyphen.
                let lettre_ok = !local.starts_with('.') && !local.ends_with('.') && !local.contains("..")
                    && !domain.starts_with('-') && !domain.ends_with('-');
                prop_assert_eq!(e.is_ok(), lettre_ok);
                if let Ok(e) = e {
                    prop_assert_eq!(e.domain(), format!("{domain}.{tld}"));
                    // Whatever was accepted is a mailbox the email job can address.
                    let to: lettre::message::Mailbox = format!("Vera <{e}>").parse().unwrap();
                    prop_assert_eq!(to.email.to_string(), e.as_str());
                }
                let spaced = format!("{local} @{domain}.{tld}");
                prop_assert!(EmailAddress::parse(&spaced).is_err());
            }

            #[test]
            fn weekly_hours_accept_exactly_the_disjoint_spans(spans in proptest::collection::vec((0u16..1440, 1u16..600), 0..5)) {
                let spans: Vec<[String; 2]> = spans
                    .iter()
                    .map(|(s, len)| [fmt_minute(*s), fmt_minute((*s + *len).min(1440))])
                    .collect();
                let mut map = BTreeMap::new();
                map.insert("mon".to_string(), spans.clone());
                let mut ranges: Vec<(u16, u16)> = spans.iter().map(|[a, b]| (parse_hhmm(a).unwrap(), parse_hhmm(b).unwrap())).collect();
                ranges.sort();
                let disjoint = ranges.windows(2).all(|w| w[1].0 >= w[0].1) && ranges.iter().all(|(a, b)| b > a);
                let parsed = WeeklyHours::parse(&map);
                prop_assert_eq!(parsed.is_ok(), disjoint);
                if let Ok(w) = parsed {
                    prop_assert!(w.on(Weekday::Mon).windows(2).all(|p| p[0].end_minute() <= p[1].start_minute()));
                }
            }
        }
    }
}
