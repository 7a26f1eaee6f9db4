//! `/healthz` on the metrics listener, for a load balancer: ready (200) when the store
//! answers, every listener of the configuration is bound and every CRL in force is fresh;
//! otherwise 503 with one line per check that fails, naming what to fix.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::context::Daemon;

/// How long the store may take to answer the probe read before it counts as down.
const STORE_PROBE: Duration = Duration::from_secs(2);

/// The checks' outcome: the failures, each a sentence (empty when ready), and a summary of
/// what holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// One sentence per failed check.
    pub problems: Vec<String>,
    /// What was checked, for the 200 body.
    pub summary: String,
}

impl Health {
    /// Whether the daemon is ready for traffic.
    pub fn ready(&self) -> bool {
        self.problems.is_empty()
    }

    /// The response body: `ok: …` or `not ready: …`, one line per problem.
    pub fn body(&self) -> String {
        if self.ready() {
            format!("ok: {}\n", self.summary)
        } else {
            let mut out = String::from("not ready:\n");
            for p in &self.problems {
                out.push_str("- ");
                out.push_str(p);
                out.push('\n');
            }
            out
        }
    }
}

/// Runs every check against the running daemon.
pub async fn check(daemon: &Daemon) -> Health {
    let mut problems = Vec::new();
    // A point read of an id no account can have (ids hold no spaces): it touches the store
    // (a query on PostgreSQL) without reading much. Not a NUL: PostgreSQL refuses it in
    // text, which made every probe on that backend fail.
    match tokio::time::timeout(STORE_PROBE, daemon.store.account("health probe")).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => problems.push(format!("the mail store does not answer: {e}")),
        Err(_) => problems.push(format!(
            "the mail store did not answer within {} s",
            STORE_PROBE.as_secs()
        )),
    }
    if !daemon.listeners_bound.load(Ordering::Acquire) {
        problems.push("the mail listeners are not bound yet (the daemon is starting)".into());
    }
    let crls = daemon.tls.current().pki.crls();
    let grace = daemon.config().pki.crl_grace_secs;
    problems.extend(crl_problems(&crls, grace, certmail_auth::now()));
    let summary = format!(
        "store open, listeners bound, {} fresh",
        counted_crls(crls.len())
    );
    Health { problems, summary }
}

fn counted_crls(n: usize) -> String {
    if n == 1 {
        "1 CRL".to_string()
    } else {
        format!("{n} CRLs")
    }
}

/// The CRLs past their nextUpdate plus `grace_secs` at `now` (sign-ins under them fail
/// with `revocation_unknown`), or a sentence when none is loaded at all.
fn crl_problems(
    crls: &[std::sync::Arc<certmail_pki::crl::LoadedCrl>],
    grace_secs: u64,
    now: i64,
) -> Vec<String> {
    if crls.is_empty() {
        return vec![
            "no CRL is loaded from [pki] crl_dir: every certificate sign-in fails; run `certmail crl fetch`".into(),
        ];
    }
    let grace = i64::try_from(grace_secs).unwrap_or(i64::MAX);
    crls.iter()
        .filter(|c| now > c.next_update.saturating_add(grace))
        .map(|c| {
            format!(
                "the CRL {} of {} expired (nextUpdate {}, [pki] crl_grace_secs {grace_secs}); run `certmail crl fetch`",
                c.path.display(),
                c.issuer_dn,
                c.next_update_text
            )
        })
        .collect()
}
