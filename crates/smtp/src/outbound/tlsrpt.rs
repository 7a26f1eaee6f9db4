//! SMTP TLS Reporting (RFC 8460): the results of outbound TLS sessions, per recipient
//! (policy) domain and UTC day, kept in `<data_dir>/tls-reports/<day>.json` (rewritten
//! whole after each session, through a temporary file and a rename), and the daily
//! aggregate JSON report built from them ([`report_json`]); [`super::tlsrpt_send`] looks up
//! `_smtp._tls.<domain>` and mails it.
//!
//! What one session counts: a connection that came up with TLS under the policy is a
//! success; a connection refused for a TLS reason (no STARTTLS where TLS is required, a
//! failed handshake, a certificate the policy refuses, a failed TLSA lookup) is a failure
//! with its RFC 8460 §4.3 result type; a delivery in cleartext without a policy is a
//! `starttls-not-supported` failure of `no-policy-found`. Network trouble (no answer, a
//! refusing greeting) is no TLS result and is not counted.
//!
//! One book per directory in a process ([`TlsReportBook::open`]), so the transports a
//! reload builds write to the same book. In a cluster each node keeps and sends its own
//! sessions (its host name is in the report id).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use serde::{Deserialize, Serialize};

/// The policy a session ran under (RFC 8460 §4.4 `policy`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PolicyKey {
    /// `tlsa`, `sts` or `no-policy-found`.
    pub kind: String,
    /// The TLSA records (`3 1 1 …`) or the MTA-STS policy's lines; empty for no policy.
    pub strings: Vec<String>,
}

/// A failure detail's identity (RFC 8460 §4.4 `failure-details`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FailureKey {
    /// The result type, e.g. `certificate-host-mismatch`, `tlsa-invalid`.
    pub result_type: String,
    /// The MX host.
    pub mx_host: String,
    /// The reason as the relay logged it.
    pub reason: String,
}

/// Counts of one policy of one domain on one day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyCounts {
    /// MX hosts sessions went to.
    pub mx_hosts: Vec<String>,
    /// Sessions that came up with TLS as the policy required.
    pub successes: u64,
    /// Failed sessions by detail (a list: JSON object keys must be strings).
    pub failures: Vec<(FailureKey, u64)>,
}

/// Results of one domain on one day, by policy.
pub type DomainDay = BTreeMap<String, (PolicyKey, PolicyCounts)>;

/// One session's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// TLS as the policy asked.
    Success,
    /// A TLS failure: (result type, reason).
    Failure(String, String),
}

/// The book of one directory: day → domain → policy → counts.
#[derive(Debug)]
pub struct TlsReportBook {
    dir: PathBuf,
    max_domains: usize,
    days: Mutex<BTreeMap<String, BTreeMap<String, DomainDay>>>,
}

type Books = Mutex<HashMap<PathBuf, Weak<TlsReportBook>>>;

fn books() -> &'static Books {
    static BOOKS: std::sync::OnceLock<Books> = std::sync::OnceLock::new();
    BOOKS.get_or_init(Books::default)
}

/// The UTC day (`YYYY-MM-DD`) of a unix time.
pub fn day_of(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
}

impl TlsReportBook {
    /// The book kept in `dir` (created when missing), recording at most `max_domains`
    /// domains a day (sessions to further domains are not counted, and logged).
    pub fn open(dir: &Path, max_domains: usize) -> std::io::Result<Arc<TlsReportBook>> {
        let mut open = books().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(book) = open.get(dir).and_then(Weak::upgrade) {
            return Ok(book);
        }
        std::fs::create_dir_all(dir)?;
        let mut days = BTreeMap::new();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let Some(day) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let Some(day) = day.strip_suffix(".json") else {
                continue;
            };
            match serde_json::from_slice(&std::fs::read(&path)?) {
                Ok(domains) => {
                    days.insert(day.to_string(), domains);
                }
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "TLS report file unreadable; ignored")
                }
            }
        }
        let book = Arc::new(TlsReportBook {
            dir: dir.to_path_buf(),
            max_domains,
            days: Mutex::new(days),
        });
        open.insert(dir.to_path_buf(), Arc::downgrade(&book));
        Ok(book)
    }

    /// Counts one session to `mx_host` for `domain` under `policy`, at `now`.
    pub fn record(
        &self,
        now: i64,
        domain: &str,
        policy: &PolicyKey,
        mx_host: &str,
        outcome: Outcome,
    ) {
        let day = day_of(now);
        let mut days = self.days.lock().unwrap_or_else(|e| e.into_inner());
        let domains = days.entry(day.clone()).or_default();
        if !domains.contains_key(domain) && domains.len() >= self.max_domains {
            tracing::warn!(
                domain,
                limit = self.max_domains,
                "TLS report: too many domains today ([relay] tls_reports_max_domains); session not counted"
            );
            return;
        }
        let policies = domains.entry(domain.to_string()).or_default();
        let key = format!("{}|{}", policy.kind, policy.strings.join("|"));
        let (_, counts) = policies
            .entry(key)
            .or_insert_with(|| (policy.clone(), PolicyCounts::default()));
        if !counts.mx_hosts.iter().any(|h| h == mx_host) {
            counts.mx_hosts.push(mx_host.to_string());
        }
        match outcome {
            Outcome::Success => counts.successes += 1,
            Outcome::Failure(result_type, reason) => {
                let key = FailureKey {
                    result_type,
                    mx_host: mx_host.to_string(),
                    reason,
                };
                match counts.failures.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, n)) => *n += 1,
                    None => counts.failures.push((key, 1)),
                }
            }
        }
        if let Err(e) = self.write_day(&day, domains) {
            tracing::error!(error = %e, "writing the TLS report file failed");
        }
    }

    fn write_day(&self, day: &str, domains: &BTreeMap<String, DomainDay>) -> std::io::Result<()> {
        let path = self.dir.join(format!("{day}.json"));
        if domains.is_empty() {
            return match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            };
        }
        let tmp = self.dir.join(format!(".{day}.json.tmp"));
        let bytes = serde_json::to_vec(domains).map_err(std::io::Error::other)?;
        let file = std::fs::File::create(&tmp)?;
        std::io::Write::write_all(&mut &file, &bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)
    }

    /// The recorded days up to and including `last_day`, each with its domains.
    pub fn days_through(&self, last_day: &str) -> Vec<(String, BTreeMap<String, DomainDay>)> {
        let days = self.days.lock().unwrap_or_else(|e| e.into_inner());
        days.iter()
            .filter(|(d, _)| d.as_str() <= last_day)
            .map(|(d, v)| (d.clone(), v.clone()))
            .collect()
    }

    /// Forgets `domain` on `day` (its report was sent, or it asks for none).
    pub fn forget(&self, day: &str, domain: &str) {
        let mut days = self.days.lock().unwrap_or_else(|e| e.into_inner());
        let Some(domains) = days.get_mut(day) else {
            return;
        };
        domains.remove(domain);
        if let Err(e) = self.write_day(day, domains) {
            tracing::error!(error = %e, "writing the TLS report file failed");
        }
        if domains.is_empty() {
            days.remove(day);
        }
    }
}

/// What identifies a report: who sends it and for which domain and day.
#[derive(Debug, Clone, Copy)]
pub struct ReportHeader<'a> {
    /// Our host name (organization and submitter).
    pub hostname: &'a str,
    /// The policy (recipient) domain.
    pub domain: &'a str,
    /// The UTC day, `YYYY-MM-DD`.
    pub day: &'a str,
}

impl ReportHeader<'_> {
    /// The report id (RFC 8460 §4.4): unique per day, domain and submitter.
    pub fn report_id(&self) -> String {
        format!("{}.{}@{}", self.day, self.domain, self.hostname)
    }
}

/// The RFC 8460 §4.4 JSON report of one domain's day.
pub fn report_json(header: &ReportHeader<'_>, results: &DomainDay) -> serde_json::Value {
    let policies: Vec<serde_json::Value> = results
        .values()
        .map(|(policy, counts)| {
            let failed: u64 = counts.failures.iter().map(|(_, n)| n).sum();
            let mut p = serde_json::json!({
                "policy-type": policy.kind,
                "policy-domain": header.domain,
                "mx-host": counts.mx_hosts,
            });
            if !policy.strings.is_empty() {
                p["policy-string"] = serde_json::json!(policy.strings);
            }
            serde_json::json!({
                "policy": p,
                "summary": {
                    "total-successful-session-count": counts.successes,
                    "total-failure-session-count": failed,
                },
                "failure-details": counts.failures.iter().map(|(k, n)| serde_json::json!({
                    "result-type": k.result_type,
                    "receiving-mx-hostname": k.mx_host,
                    "failed-session-count": n,
                    "failure-reason-code": k.reason,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::json!({
        "organization-name": header.hostname,
        "date-range": {
            "start-datetime": format!("{}T00:00:00Z", header.day),
            "end-datetime": format!("{}T23:59:59Z", header.day),
        },
        "contact-info": format!("postmaster@{}", header.hostname),
        "report-id": header.report_id(),
        "policies": policies,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_counted_per_day_domain_and_policy_and_survive_a_reopen() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("tls-reports");
        let dane = PolicyKey {
            kind: "tlsa".into(),
            strings: vec!["3 1 1 ab".into()],
        };
        let now = 1_796_601_600; // 2026-12-07
        {
            let book = TlsReportBook::open(&path, 10).expect("book");
            book.record(now, "dane.test", &dane, "mx.dane.test", Outcome::Success);
            book.record(
                now + 60,
                "dane.test",
                &dane,
                "mx.dane.test",
                Outcome::Success,
            );
            let bad = Outcome::Failure("tlsa-invalid".into(), "no match".into());
            book.record(now + 120, "dane.test", &dane, "mx.dane.test", bad);
        }
        let book = TlsReportBook::open(&path, 10).expect("reopened");
        let days = book.days_through("9999-12-31");
        assert_eq!(days.len(), 1);
        let (day, domains) = &days[0];
        assert_eq!(day, "2026-12-07");
        let header = ReportHeader {
            hostname: "mail.test.go.kr",
            domain: "dane.test",
            day,
        };
        let json = report_json(&header, &domains["dane.test"]);
        let summary = &json["policies"][0]["summary"];
        assert_eq!(summary["total-successful-session-count"], 2);
        assert_eq!(summary["total-failure-session-count"], 1);
        assert_eq!(
            json["policies"][0]["failure-details"][0]["result-type"],
            "tlsa-invalid"
        );
        book.forget(day, "dane.test");
        assert!(book.days_through("9999-12-31").is_empty());
        assert!(!path.join("2026-12-07.json").exists());
    }
}
