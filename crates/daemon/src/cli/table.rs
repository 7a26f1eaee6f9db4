//! Human-readable tables for admin answers (`--json` prints the data as it is).

use serde_json::Value;
use unicode_width::{UnicodeWidthChar as _, UnicodeWidthStr as _};

/// Prints the well-known parts of a response's data as aligned tables or key/value lines.
pub fn print(data: &Value) {
    accounts(data);
    account(data);
    certificates(data);
    sessions(data);
    devices(data);
    aliases(data);
    checks(data);
    inspection(data);
}

/// The `accounts` list as a table.
fn accounts(data: &Value) {
    if let Some(list) = data.get("accounts").and_then(Value::as_array) {
        rows(
            &["ID", "NAME", "STATE", "ADDRESSES", "ORGANISATION"],
            list,
            |a| {
                vec![
                    s(a, "id"),
                    s(a, "name"),
                    s(a, "state"),
                    join(a, "addresses"),
                    s(a, "organisation"),
                ]
            },
        );
    }
}

/// One `account` as key/value lines.
fn account(data: &Value) {
    if let Some(a) = data.get("account") {
        for key in ["id", "name", "organisation", "state"] {
            println!("  {key:<14} {}", s(a, key));
        }
        println!("  {:<14} {}", "addresses", join(a, "addresses"));
        if a.get("failed_logins").is_some() {
            println!("  {:<14} {}", "failed logins", s(a, "failed_logins"));
            println!("  {:<14} {}", "locked until", date(a.get("locked_until")));
            println!("  {:<14} {}", "totp", s(a, "totp"));
            println!("  {:<14} {}", "networks", s(a, "networks"));
        }
    }
}

/// The `certificates` list as a table.
fn certificates(data: &Value) {
    if let Some(list) = data.get("certificates").and_then(Value::as_array) {
        rows(
            &["ACCOUNT", "SUBJECT", "SPKI SHA-256", "NOT AFTER"],
            list,
            |b| {
                vec![
                    s(b, "account"),
                    s(b, "subject"),
                    s(b, "spki_sha256"),
                    date(b.get("not_after")),
                ]
            },
        );
    }
}

/// The `sessions` list as a table; in a cluster (sessions name their node) with a NODE
/// column first.
fn sessions(data: &Value) {
    let Some(list) = data.get("sessions").and_then(Value::as_array) else {
        return;
    };
    let cluster = list
        .iter()
        .any(|x| x.get("node").is_some_and(Value::is_string));
    let mut head = vec![
        "ACCOUNT",
        "DEVICE (CERT@ADDRESS)",
        "PROTOCOLS",
        "CONNECTIONS",
        "SINCE",
    ];
    if cluster {
        head.insert(0, "NODE");
    }
    rows(&head, list, |x| {
        let mut row = vec![
            s(x, "account"),
            s(x, "device"),
            join(x, "protocols"),
            s(x, "connections"),
            date_time(x.get("since")),
        ];
        if cluster {
            row.insert(0, s(x, "node"));
        }
        row
    });
}

/// The `devices` list as a table.
fn devices(data: &Value) {
    if let Some(list) = data.get("devices").and_then(Value::as_array) {
        let head = [
            "DEVICE (CERT@NETWORK)",
            "CLIENT",
            "FIRST SEEN",
            "LAST SEEN",
            "TOTP",
        ];
        rows(&head, list, |d| {
            vec![
                s(d, "id"),
                s(d, "client"),
                date(d.get("first_seen")),
                date(d.get("last_seen")),
                date(d.get("totp_at")),
            ]
        });
    }
}

/// The `aliases` list as a table.
fn aliases(data: &Value) {
    if let Some(list) = data.get("aliases").and_then(Value::as_array) {
        rows(&["ALIAS", "MEMBERS"], list, |a| {
            vec![s(a, "address"), join(a, "members")]
        });
    }
}

/// The `checks` of `cert inspect`, one line each.
fn checks(data: &Value) {
    if let Some(checks) = data.get("checks").and_then(Value::as_array) {
        for c in checks {
            println!(
                "  {:<4} {:<22} {}",
                if c.get("ok").and_then(Value::as_bool) == Some(true) {
                    "ok"
                } else {
                    "FAIL"
                },
                s(c, "check"),
                s(c, "detail")
            );
        }
    }
}

/// `cert inspect`: the certificate's fields, then the decision's steps.
fn inspection(data: &Value) {
    if let Some(c) = data.get("certificate").filter(|c| c.is_object()) {
        for (label, key) in [
            ("subject", "subject"),
            ("issuer", "issuer"),
            ("serial", "serial"),
            ("not before", "not_before"),
            ("not after", "not_after"),
        ] {
            println!("  {label:<14} {}", s(c, key));
        }
        println!("  {:<14} {}", "policies", join(c, "policies"));
        println!("  {:<14} {}", "CRL DP", join(c, "crl_distribution_points"));
    }
    if let Some(steps) = data.get("steps").and_then(Value::as_array) {
        rows(&["STEP", "RESULT", "DETAIL"], steps, |x| {
            vec![s(x, "step"), s(x, "result"), s(x, "detail")]
        });
    }
}

fn rows(head: &[&str], list: &[Value], f: impl Fn(&Value) -> Vec<String>) {
    let body: Vec<Vec<String>> = list.iter().map(f).collect();
    for line in render(head, &body) {
        println!("{line}");
    }
}

/// Widest cell in terminal columns; a longer one is cut with `…` (`--json` has it whole).
const MAX_CELL: usize = 48;

/// The lines of a table, each column padded to its widest cell in terminal columns (a
/// Hangul syllable takes two), cells wider than [`MAX_CELL`] cut with an ellipsis.
fn render(head: &[&str], body: &[Vec<String>]) -> Vec<String> {
    let cut: Vec<Vec<String>> = std::iter::once(head.iter().map(|h| h.to_string()).collect())
        .chain(body.iter().cloned())
        .map(|r: Vec<String>| r.iter().map(|c| truncate(c, MAX_CELL)).collect())
        .collect();
    let mut width = vec![0; head.len()];
    for r in &cut {
        for (i, c) in r.iter().enumerate() {
            width[i] = width[i].max(c.width());
        }
    }
    cut.iter()
        .map(|r| {
            let parts: Vec<String> = r
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{c}{}", " ".repeat(width[i] - c.width())))
                .collect();
            parts.join("  ").trim_end().to_string()
        })
        .collect()
}

/// `text` cut to at most `max` terminal columns, ending in `…` when cut.
fn truncate(text: &str, max: usize) -> String {
    if text.width() <= max {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for ch in text.chars() {
        let w = ch.width().unwrap_or(0);
        if used + w + 1 > max {
            break;
        }
        out.push(ch);
        used += w;
    }
    out.push('…');
    out
}

fn s(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(x)) => x.clone(),
        Some(Value::Null) | None => "-".into(),
        Some(other) => other.to_string(),
    }
}

fn join(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

/// A Unix time as a UTC date (YYYY-MM-DD).
fn date(v: Option<&Value>) -> String {
    v.and_then(Value::as_i64)
        .map_or_else(|| "-".into(), crate::dates::day)
}

/// A Unix time as UTC date and minute (`2026-11-22 09:05Z`): a session's start needs the
/// time of day.
fn date_time(v: Option<&Value>) -> String {
    v.and_then(Value::as_i64)
        .map_or_else(|| "-".into(), crate::dates::day_minute)
}

#[cfg(test)]
mod tests {
    use unicode_width::UnicodeWidthStr as _;

    /// Hangul names take two columns a syllable: the next column still starts at one
    /// place on every line, measured in terminal columns.
    #[test]
    fn columns_line_up_by_display_width_with_hangul_names() {
        let body = vec![
            vec![
                "kim".to_string(),
                "김민수".to_string(),
                "active".to_string(),
            ],
            vec![
                "ahn".to_string(),
                "Ahn Ji".to_string(),
                "locked".to_string(),
            ],
            vec![
                "namgung".to_string(),
                "남궁 지혜".to_string(),
                "pending approval".to_string(),
            ],
        ];
        let lines = super::render(&["ID", "NAME", "STATE"], &body);
        let state_column = |line: &str| {
            let at = ["STATE", "active", "locked", "pending"]
                .iter()
                .find_map(|w| line.find(w))
                .expect("a state on every line");
            line[..at].width()
        };
        let columns: Vec<usize> = lines.iter().map(|l| state_column(l)).collect();
        assert_eq!(columns, vec![columns[0]; 4], "{lines:#?}");
        assert_eq!(columns[0], "namgung".len() + 2 + "남궁 지혜".width() + 2);
    }

    #[test]
    fn a_long_cell_is_cut_with_an_ellipsis_by_columns() {
        let name = "대한민국정부전자문서유통지원센터".repeat(3);
        let cut = super::truncate(&name, super::MAX_CELL);
        assert!(cut.ends_with('…'), "{cut}");
        assert!(cut.width() <= super::MAX_CELL, "{cut}: {}", cut.width());
        assert!(cut.width() >= super::MAX_CELL - 1, "{cut}: {}", cut.width());
        assert_eq!(super::truncate("이서연", super::MAX_CELL), "이서연");
    }

    #[test]
    fn dates() {
        assert_eq!(super::date(Some(&serde_json::json!(0))), "1970-01-01");
        assert_eq!(
            super::date(Some(&serde_json::json!(1_795_305_600))),
            "2026-11-22"
        );
        assert_eq!(
            super::date_time(Some(&serde_json::json!(
                1_795_305_600 + 9 * 3600 + 5 * 60 + 7
            ))),
            "2026-11-22 09:05Z"
        );
    }
}
