//! Reading the daemon's `/metrics` as a monitoring system would: over HTTP with curl.

use std::process::Command;

use crate::DaemonProcess;
use crate::fixtures::{Installation, LISTENERS};

/// Starts the daemon of `fx` with a metrics listener on a loopback port (`[http]` is added
/// to its config).
pub fn start_with_metrics(fx: &Installation) -> anyhow::Result<DaemonProcess> {
    fx.append_config("[http]\nmetrics_listen = [\"127.0.0.1:0\"]")?;
    let mut expect = LISTENERS.to_vec();
    expect.push("metrics");
    let config = fx.config_path.to_str().expect("utf-8 temp path");
    DaemonProcess::start(&["serve", "--config", config], &[], &expect)
}

/// GETs `url` with curl: the body and the HTTP status code.
pub fn curl(url: &str) -> anyhow::Result<(String, String)> {
    curl_with(&[], url)
}

/// POSTs `body` to `url` as `content_type` with curl: the body and the HTTP status code.
pub fn curl_post(url: &str, content_type: &str, body: &str) -> anyhow::Result<(String, String)> {
    let header = format!("Content-Type: {content_type}");
    curl_with(&["-H", &header, "--data-binary", body], url)
}

/// curl with `args` before `url`, bounded to 10 s.
fn curl_with(args: &[&str], url: &str) -> anyhow::Result<(String, String)> {
    let out = Command::new("curl")
        .args([
            "--silent",
            "--max-time",
            "10",
            "--write-out",
            "\n%{http_code}",
        ])
        .args(args)
        .arg(url)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or((&text, ""));
    Ok((body.to_string(), code.to_string()))
}

/// The daemon's `/metrics` text (it must answer 200).
pub fn scrape(daemon: &DaemonProcess) -> anyhow::Result<String> {
    let (body, code) = curl(&format!("http://{}/metrics", daemon.addr("metrics")))?;
    anyhow::ensure!(code == "200", "/metrics answered {code}: {body}");
    Ok(body)
}

/// The value of the sample named exactly `series` (name and labels), or so named once the
/// `node` label of a daemon on PostgreSQL is taken away ([`without_node_label`]).
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (s, v) = l.rsplit_once(' ')?;
        (s == series || without_node_label(s) == series)
            .then(|| v.parse().ok())
            .flatten()
    })
}

/// A sample's name and labels without the `node="…"` label a daemon on PostgreSQL puts first
/// (`a{node="n"}` is `a`, `a{node="n",b="c"}` is `a{b="c"}`), so a test reads its metrics
/// the same on either backend.
pub fn without_node_label(series: &str) -> String {
    let Some((name, rest)) = series.split_once("{node=\"") else {
        return series.to_owned();
    };
    let Some((_, after)) = rest.split_once('"') else {
        return series.to_owned();
    };
    match after.strip_prefix(',') {
        Some(labels) => format!("{name}{{{labels}"),
        None => format!("{name}{}", after.strip_prefix('}').unwrap_or(after)),
    }
}

#[cfg(test)]
mod tests {
    use super::{sample, without_node_label};

    #[test]
    fn the_node_label_is_taken_away_and_nothing_else() {
        assert_eq!(without_node_label("a{node=\"node-a\"}"), "a");
        assert_eq!(
            without_node_label("b{node=\"node-a\",listener=\"imaps\"}"),
            "b{listener=\"imaps\"}"
        );
        assert_eq!(
            without_node_label("c{listener=\"imaps\"}"),
            "c{listener=\"imaps\"}"
        );
        assert_eq!(without_node_label("d"), "d");
        let text = "# TYPE a counter\na{node=\"node-a\"} 3\nb{node=\"node-a\",l=\"x\"} 4\n";
        assert_eq!(sample(text, "a"), Some(3.0));
        assert_eq!(sample(text, "a{node=\"node-a\"}"), Some(3.0));
        assert_eq!(sample(text, "b{l=\"x\"}"), Some(4.0));
    }
}
