//! `certmail account|cert …` work the same on a stopped daemon (they open the store) and on
//! a running one (they go through the admin socket, owner-only), with `--json` for scripts
//! and exit codes they can rely on.

use std::os::unix::fs::PermissionsExt as _;

use certmail_tests::fixtures;

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

#[test]
fn accounts_and_certificates_offline_and_live() -> anyhow::Result<()> {
    let fx = fixtures::Installation::new()?;
    let cert = fx.user_cert.to_str().expect("utf-8").to_string();

    // Daemon stopped: the CLI opens the store itself.
    let (code, out, err) = fx.certmail(&[
        "account",
        "add",
        "hong",
        "--name",
        "홍길동",
        "--organisation",
        "교육부",
        "--address",
        "hong@test.go.kr",
        "--json",
    ])?;
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    assert_eq!(v["data"]["account"]["state"], "pending approval");
    let temp = v["data"]["temporary_password"]
        .as_str()
        .expect("a generated password is returned once")
        .to_string();
    assert_eq!(temp.len(), 16);

    // The same id again: refused, with a code scripts can test.
    let (code, out, _) = fx.certmail(&[
        "account",
        "add",
        "hong",
        "--name",
        "홍길동",
        "--address",
        "hong2@test.go.kr",
        "--json",
    ])?;
    assert_eq!(code, 1);
    assert_eq!(json(&out)["code"], "exists");

    let (code, _, err) = fx.certmail(&["cert", "bind", "hong", &cert])?;
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = fx.certmail(&["cert", "list", "--json"])?;
    assert_eq!(code, 0);
    let certs = json(&out)["data"]["certificates"]
        .as_array()
        .expect("list")
        .clone();
    assert_eq!(certs.len(), 1);
    assert_eq!(certs[0]["account"], "hong");
    let spki = certs[0]["spki_sha256"].as_str().expect("hex").to_string();

    // Daemon running: the store is locked, so success proves the admin socket is used.
    let daemon = fx.start()?;
    let socket = fx.dir.path().join("data/admin.sock");
    assert_eq!(
        std::fs::metadata(&socket)?.permissions().mode() & 0o777,
        0o600,
        "admin socket is owner-only"
    );

    let (code, out, err) = fx.certmail(&["account", "approve", "hong"])?;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("active"), "{out}");
    let (code, out, _) = fx.certmail(&[
        "account",
        "add",
        "kim",
        "--name",
        "김철수",
        "--address",
        "kim@test.go.kr",
        "--approve",
    ])?;
    assert_eq!(code, 0);
    assert!(out.contains("temporary password"), "{out}");
    let (code, out, _) = fx.certmail(&["account", "list"])?;
    assert_eq!(code, 0);
    assert!(
        out.lines()
            .any(|h| h.starts_with("ID") && h.contains("STATE")),
        "a table: {out}"
    );
    assert!(
        out.contains("hong")
            && out.contains("홍길동")
            && out.contains("kim")
            && out.contains("김철수"),
        "{out}"
    );

    let (code, out, _) = fx.certmail(&["account", "show", "hong", "--json"])?;
    assert_eq!(code, 0);
    let v = json(&out);
    assert_eq!(v["data"]["account"]["state"], "active");
    assert_eq!(v["data"]["certificates"][0]["spki_sha256"], spki.as_str());

    // A certificate binds to one account only.
    let (code, _, err) = fx.certmail(&["cert", "bind", "kim", &cert])?;
    assert_eq!(code, 1);
    assert!(err.contains("already bound to account hong"), "{err}");

    let (code, out, _) = fx.certmail(&["account", "passwd", "hong", "--json"])?;
    assert_eq!(code, 0);
    assert_ne!(
        json(&out)["data"]["temporary_password"].as_str(),
        Some(temp.as_str())
    );

    let (code, _, _) = fx.certmail(&["cert", "unbind", "hong", &spki])?;
    assert_eq!(code, 0);
    let (code, _, err) = fx.certmail(&["cert", "unbind", "hong", &spki])?;
    assert_eq!(code, 1, "unbinding twice fails");
    assert!(err.contains("not_found"), "{err}");

    let (code, out, _) = fx.certmail(&["account", "disable", "kim"])?;
    assert_eq!(code, 0);
    assert!(out.contains("disabled"));
    let (code, _, err) = fx.certmail(&["account", "show", "nobody"])?;
    assert_eq!(code, 1);
    assert!(err.contains("no account nobody"), "{err}");
    drop(daemon);
    Ok(())
}

/// Input an administrator gets wrong is refused with the fix: host bits in a network, an
/// address outside the local domains; a single-label local domain is a mail domain.
#[test]
fn networks_and_addresses_are_checked_before_they_are_stored() -> anyhow::Result<()> {
    let fx = fixtures::Installation::new()?;
    let config = std::fs::read_to_string(&fx.config_path)?;
    let with_localhost = config.replace(
        "local_domains = [\"test.go.kr\"]",
        "local_domains = [\"test.go.kr\", \"localhost\"]",
    );
    assert_ne!(config, with_localhost, "the fixture names its local domain");
    std::fs::write(&fx.config_path, with_localhost)?;
    let add = |id: &str, name: &str, address: &str, extra: &[&str]| {
        let mut args = vec!["account", "add", id, "--name", name, "--address", address];
        args.extend_from_slice(extra);
        fx.certmail(&args)
    };

    let (code, _, err) = add("park", "박지훈", "park@elsewhere.example", &[])?;
    assert_eq!(code, 1, "an address outside local_domains is refused");
    assert!(
        err.contains("park@elsewhere.example")
            && err.contains("test.go.kr")
            && err.contains("--foreign"),
        "{err}"
    );
    let (code, _, err) = add("park", "박지훈", "park@elsewhere.example", &["--foreign"])?;
    assert_eq!(code, 0, "--foreign keeps it: {err}");
    let (_, out, _) = fx.certmail(&["account", "list"])?;
    assert!(
        out.starts_with("1 account\n"),
        "one account, in the singular: {out}"
    );
    let (code, _, err) = add("choi", "최유진", "choi@localhost", &[])?;
    assert_eq!(
        code, 0,
        "a single-label local domain is a mail domain: {err}"
    );

    let (code, _, err) = fx.certmail(&["account", "networks", "choi", "10.1.0.5/16"])?;
    assert_eq!(code, 1, "host bits set");
    assert!(err.contains("10.1.0.0/16"), "names the network: {err}");
    let (code, out, _) = fx.certmail(&["account", "show", "choi", "--json"])?;
    assert_eq!(code, 0);
    assert!(
        json(&out)["data"]["account"]["networks"].is_null(),
        "nothing stored: {out}"
    );
    let (code, out, err) = fx.certmail(&["account", "networks", "choi", "10.1.0.0/16"])?;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("10.1.0.0/16"), "{out}");
    Ok(())
}

/// `account list` lines up its columns in terminal columns: Hangul names take two each.
#[test]
fn account_list_pads_hangul_names_by_display_width() -> anyhow::Result<()> {
    use unicode_width::UnicodeWidthStr as _;
    let fx = fixtures::Installation::new()?;
    for (id, name) in [
        ("hong", "홍길동"),
        ("namgung", "남궁 지혜 (교육부)"),
        ("lee", "Lee"),
    ] {
        let address = format!("{id}@test.go.kr");
        let (code, _, err) =
            fx.certmail(&["account", "add", id, "--name", name, "--address", &address])?;
        assert_eq!(code, 0, "{err}");
    }
    let (code, out, _) = fx.certmail(&["account", "list"])?;
    assert_eq!(code, 0);
    assert!(out.contains("3 accounts"), "{out}");
    let starts: Vec<usize> = out
        .lines()
        .filter_map(|l| {
            let at = l.find("STATE").or_else(|| l.find("pending"))?;
            Some(l[..at].width())
        })
        .collect();
    assert_eq!(starts.len(), 4, "a header and three rows: {out}");
    assert!(
        starts.iter().all(|s| *s == starts[0]),
        "{starts:?} in\n{out}"
    );
    Ok(())
}
