//! A small iCalendar (RFC 5545) writer for invitation emails: one VEVENT with a stable UID per meeting, a
//! SEQUENCE raised by every change, `METHOD:REQUEST` for invitations and updates and `METHOD:CANCEL` (same
//! UID) for cancellations. Text is escaped and lines are folded at 75 octets.

use chrono::{DateTime, Utc};

pub struct IcsEvent<'a> {
    pub uid: &'a str,
    pub sequence: i64,
    pub stamp: DateTime<Utc>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub summary: &'a str,
    pub description: &'a str,
    pub location: Option<&'a str>,
    pub organizer: (&'a str, &'a str),
    pub attendee: (&'a str, &'a str),
    pub cancelled: bool,
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends one content line, folded so no line exceeds 75 octets (never inside a UTF-8 sequence).
fn line(out: &mut String, content: &str) {
    let mut width = 0;
    for c in content.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// Quotes a parameter value (a display name) when it holds characters that would end it.
fn param(v: &str) -> String {
    let clean: String = v.chars().filter(|c| *c != '"' && !c.is_control()).collect();
    format!("\"{clean}\"")
}

pub fn write(e: &IcsEvent) -> String {
    let mut out = String::new();
    line(&mut out, "BEGIN:VCALENDAR");
    line(&mut out, "VERSION:2.0");
    line(&mut out, "PRODID:-//rondo//meetings//EN");
    line(
        &mut out,
        if e.cancelled {
            "METHOD:CANCEL"
        } else {
            "METHOD:REQUEST"
        },
    );
    line(&mut out, "BEGIN:VEVENT");
    line(&mut out, &format!("UID:{}", e.uid));
    line(&mut out, &format!("SEQUENCE:{}", e.sequence));
    line(&mut out, &format!("DTSTAMP:{}", stamp(e.stamp)));
    line(&mut out, &format!("DTSTART:{}", stamp(e.start)));
    line(&mut out, &format!("DTEND:{}", stamp(e.end)));
    line(&mut out, &format!("SUMMARY:{}", escape(e.summary)));
    line(&mut out, &format!("DESCRIPTION:{}", escape(e.description)));
    if let Some(l) = e.location {
        line(&mut out, &format!("LOCATION:{}", escape(l)));
    }
    line(
        &mut out,
        &format!(
            "ORGANIZER;CN={}:mailto:{}",
            param(e.organizer.0),
            e.organizer.1
        ),
    );
    line(
        &mut out,
        &format!(
            "ATTENDEE;CN={};ROLE=REQ-PARTICIPANT;RSVP=TRUE:mailto:{}",
            param(e.attendee.0),
            e.attendee.1
        ),
    );
    line(
        &mut out,
        if e.cancelled {
            "STATUS:CANCELLED"
        } else {
            "STATUS:CONFIRMED"
        },
    );
    line(&mut out, "END:VEVENT");
    line(&mut out, "END:VCALENDAR");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(cancelled: bool) -> String {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        write(&IcsEvent {
            uid: "abc@rondo",
            sequence: 2,
            stamp: t("2026-11-23T06:00:00Z"),
            start: t("2026-11-23T10:00:00Z"),
            end: t("2026-11-23T10:30:00Z"),
            summary: "Meeting with Vera; Acme, Inc.",
            description: &format!("Line one\nLine two {}", "é".repeat(60)),
            location: Some("https://video.test/x"),
            organizer: ("Ann \"A\" Smith", "ann@example.com"),
            attendee: ("Vera", "vera@example.com"),
            cancelled,
        })
    }

    #[test]
    fn escapes_folds_and_says_what_it_is() {
        let ics = event(false);
        assert!(ics.contains("SUMMARY:Meeting with Vera\\; Acme\\, Inc.\r\n"));
        assert!(ics.contains("DESCRIPTION:Line one\\nLine two"));
        assert!(ics.contains("METHOD:REQUEST\r\n"));
        assert!(ics.contains("DTSTART:20261123T100000Z\r\n"));
        assert!(ics.contains("ORGANIZER;CN=\"Ann A Smith\":mailto:ann@example.com"));
        for l in ics.split("\r\n") {
            assert!(l.len() <= 75, "{l}");
        }
        let cancel = event(true);
        assert!(cancel.contains("METHOD:CANCEL\r\n") && cancel.contains("STATUS:CANCELLED\r\n"));
        assert!(cancel.contains("UID:abc@rondo\r\n"));
    }
}
