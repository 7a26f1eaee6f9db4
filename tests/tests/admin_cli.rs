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
