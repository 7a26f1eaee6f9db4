//! `certmail check-config` lists every problem of a bad file in one run, naming each key.

use certmail_tests::run_certmail;

#[test]
fn every_error_is_listed_with_its_key() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        r#"
[server]
hostname = ""
log_level = "loud"
colour = "blue"

[tls]
cert = "/nonexistent/server.crt"
key = "/nonexistent/server.key"

[smtp]
max_line_length = 100
max_message_size = "big"
listen_mx = ["127.0.0.1:2525"]
listen_submission = ["127.0.0.1:2525"]

[imap]
autologout_minutes = 5

[spam]
enabled = true
"#,
    )?;
    let (code, stdout, stderr) = run_certmail(
        &["check-config", "--config", path.to_str().expect("utf-8")],
        &[],
    )?;
    assert_eq!(code, 1, "a bad file must fail; stdout: {stdout}");
    // One run lists every problem: unknown keys and sections and type errors beside the
    // range and file checks that once waited for them to be fixed.
    for needle in [
        "[server] colour",
        "[smtp] max_message_size",
        "[spam]",
        "[server] hostname",
        "[server] log_level",
        "[tls] cert",
        "[tls] key",
        "[smtp] max_line_length",
        "[imap] autologout_minutes",
        "127.0.0.1:2525 is already used",
    ] {
        assert!(stderr.contains(needle), "missing {needle:?} in:\n{stderr}");
    }
    assert!(stderr.contains("problems:"), "{stderr}");
    Ok(())
}

#[test]
fn a_missing_file_says_how_to_point_at_one() -> anyhow::Result<()> {
    let (code, _, stderr) = run_certmail(
        &["check-config", "--config", "/nonexistent/certmail.toml"],
        &[],
    )?;
    assert_eq!(code, 1);
    assert!(
        stderr.contains("--config") && stderr.contains("CERTMAIL_CONFIG"),
        "{stderr}"
    );
    Ok(())
}
