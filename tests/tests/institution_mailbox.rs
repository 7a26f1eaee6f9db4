//! An institution's mailbox (대표 메일, issue 20): `certmail account add --kind
//! institution`. Its staff read it through shared access with their own certificates; a
//! personal certificate does not sign in to it, even one whose name matches; its
//! special-purpose (특수목적) certificate does, and only where `[pki]
//! allow_special_purpose = true`.

use std::sync::OnceLock;

use certmail_pki::config::OID_GPKI_SPECIAL;
use certmail_pki::testpki::UserSpec;
use certmail_tests::cert_kinds::{CertKinds, write_pem};
use certmail_tests::matrix_setup::{self, PASSWORD};
use certmail_tests::signin_client::{self, Auth, Proto};
use certmail_tests::tls::ClientCert;
use futures::StreamExt as _;

fn kinds() -> &'static CertKinds {
    static K: OnceLock<CertKinds> = OnceLock::new();
    K.get_or_init(|| CertKinds::generate().expect("test PKI (needs the openssl CLI)"))
}

/// 통계청대표's IMAP sign-in (AUTHENTICATE PLAIN over TLS 1.3) at `imap` with `cert`:
/// the tagged answer.
async fn sign_in_to(
    fx: &certmail_tests::fixtures::Installation,
    imap: std::net::SocketAddr,
    cert: &certmail_pki::testpki::UserCert,
) -> anyhow::Result<String> {
    let client = Some(ClientCert::of_user(cert)?);
    let plain = Auth::Plain("daepyo", PASSWORD);
    let tls13 = &rustls::version::TLS13;
    signin_client::sign_in(&fx.server_ca, imap, Proto::Imap, tls13, client, plain).await
}

/// The department's name, on both its certificates and its account.
const NAME: &str = "통계청대표";

#[tokio::test(flavor = "multi_thread")]
async fn staff_reach_it_by_sharing_and_only_its_special_certificate_signs_in() -> anyhow::Result<()>
{
    let k = kinds();
    let mut fx = matrix_setup::installation(k).await?;
    let certs = fx.dir.path().join("institution");
    std::fs::create_dir_all(&certs)?;
    let personal = k
        .pki
        .issue(&k.pki.gpki_ca, &UserSpec::gpki(NAME, k.now), &certs)?;
    let special_spec = UserSpec {
        policies: vec![OID_GPKI_SPECIAL.into()],
        ..UserSpec::gpki(NAME, k.now)
    };
    let special = k.pki.issue(&k.pki.gpki_ca, &special_spec, &certs)?;
    fx.account_add(
        &[
            "account",
            "add",
            "daepyo",
            "--name",
            NAME,
            "--organisation",
            "통계청",
            "--address",
            "daepyo@test.go.kr",
            "--approve",
            "--kind",
            "institution",
            "--password-stdin",
        ],
        PASSWORD,
    )?;
    let (personal_pem, _) = write_pem(&certs, "personal", &personal)?;
    fx.bind("daepyo", &personal_pem)?;
    let (code, out, err) = fx.certmail(&["account", "show", "daepyo", "--json"])?;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(r#""kind": "institution""#), "{out}");

    let daemon = fx.start()?;
    let imap = daemon.addr(Proto::Imap.listener());
    let sign_in = async |cert| sign_in_to(&fx, imap, cert).await;
    let reply = sign_in(&personal).await?;
    assert!(reply.starts_with("a1 NO ["), "{reply}");
    assert!(
        reply.contains("institution's mailbox") && reply.contains("Other Users/daepyo"),
        "the refusal says where to find it: {reply}"
    );
    let reply = sign_in(&special).await?;
    assert!(
        reply.starts_with("a1 NO [") && reply.contains("special-purpose"),
        "off by default: {reply}"
    );

    // Mail to the department, then 김철수 reads it with his own certificate once shared.
    certmail_tests::outside::swaks_to(daemon.addr("smtp"), "daepyo@test.go.kr", "기관 공문")?;
    let share = [
        "mailbox",
        "share",
        "daepyo/INBOX",
        "--to",
        "kim",
        "--rights",
        "lr",
    ];
    let (code, out, err) = fx.certmail(&share)?;
    assert_eq!(code, 0, "{out}{err}");
    let (kim_cert, kim_key) = write_pem(&certs, "kim", &k.people.gpki_ecdsa)?;
    let tls = fx.tls_for(&kim_cert, &kim_key)?;
    let mut kim = certmail_tests::imap_session::login(imap, tls, "kim", PASSWORD).await?;
    let shared = kim.examine("Other Users/daepyo/INBOX").await?;
    assert_eq!(shared.exists, 1, "the department's message is there");
    let fetched: Vec<_> = kim
        .fetch("1", "BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
        .await?
        .collect()
        .await;
    let header = fetched
        .first()
        .and_then(|f| f.as_ref().ok())
        .and_then(|f| f.header().map(<[u8]>::to_vec))
        .unwrap_or_default();
    assert!(
        String::from_utf8_lossy(&header).starts_with("Subject:"),
        "the message's header came back: {header:?}"
    );
    kim.logout().await?;
    drop(daemon);

    // Where special-purpose certificates are accepted, the department's own signs in.
    fx.edit_config(|c| c.pki.allow_special_purpose = true)?;
    let (special_pem, _) = write_pem(&certs, "special", &special)?;
    fx.bind("daepyo", &special_pem)?;
    let daemon = fx.start()?;
    let imap = daemon.addr(Proto::Imap.listener());
    let sign_in = async |cert| sign_in_to(&fx, imap, cert).await;
    let reply = sign_in(&special).await?;
    assert!(reply.starts_with("a1 OK"), "{reply}");
    let reply = sign_in(&personal).await?;
    assert!(
        reply.contains("institution's mailbox"),
        "a personal certificate still does not: {reply}"
    );
    Ok(())
}
