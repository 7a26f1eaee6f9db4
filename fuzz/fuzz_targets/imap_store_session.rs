//! A signed-in IMAP session end to end against a real store: the whole connection read
//! loop (`certmail_imap::server::fuzz_stream`, the daemon's code after TLS) over a sled
//! store in a temporary directory, with 홍길동's certificate standing in for the TLS
//! handshake. Each input: two octets give the length of a message taken from the input;
//! the client signs in, recreates the mailbox `fz`, APPENDs that message (NULs made
//! spaces: a literal holds none) twice, selects
//! `fz`, then sends the rest of the input as commands (FETCH, SEARCH, STORE, EXPUNGE, …
//! as the fuzzer finds them) and LOGOUT. Checks: no panic in the connection; sign-in and
//! both APPENDs succeed; the connection ends within 10 s once the input ends; every
//! literal reservation comes back.
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use certmail_imap::server::{ImapContext, ImapSettings, fuzz_stream};
use certmail_pki::{Pki, PkiConfig, testpki::DevPki};
use certmail_session::{ChangeHub, LocalRegistry, RegistryConfig};
use certmail_store::{KeyFile, SledStore, Store};
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ACCOUNT: &str = "hong";
const PASSWORD: &str = "hong-pass-2026";

struct Fixture {
    runtime: tokio::runtime::Runtime,
    ctx: Arc<ImapContext>,
    pki: Arc<Pki>,
    cert: Vec<u8>,
    _dir: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| make().expect("store, PKI and account for the fuzz target"))
}

fn make() -> Result<Fixture, Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // On tmpfs when there is one: the store's flushes then cost nothing.
    let dir = tempfile::tempdir_in("/dev/shm").or_else(|_| tempfile::tempdir())?;
    let files = DevPki::generate(&dir.path().join("pki"), "홍길동")?;
    let pki = Arc::new(Pki::load(&PkiConfig::new(
        &files.certs_dir,
        &files.crl_dir,
    ))?);
    let key = KeyFile::generate(&dir.path().join("store.key"))?;
    let store: Arc<dyn Store> = Arc::new(SledStore::open(&dir.path().join("store"), key)?);
    let cert = certmail_auth::cert_der_from_file_bytes(&std::fs::read(&files.user_cert)?)?;
    runtime.block_on(create_account(store.as_ref(), &pki, &cert))?;
    let settings = ImapSettings {
        hostname: "mail.test.go.kr".into(),
        append_limit: 64 * 1024,
        ..ImapSettings::default()
    };
    let registry = Arc::new(LocalRegistry::new(RegistryConfig::default()));
    let ctx = ImapContext::new(store, registry, ChangeHub::default(), settings);
    Ok(Fixture {
        runtime,
        ctx,
        pki,
        cert,
        _dir: dir,
    })
}

async fn create_account(
    store: &dyn Store,
    pki: &Pki,
    cert: &[u8],
) -> Result<(), Box<dyn std::error::Error>> {
    let now = certmail_auth::now();
    let new = certmail_auth::accounts::NewAccount {
        id: ACCOUNT.into(),
        name: "홍길동".into(),
        organisation: "행정안전부".into(),
        addresses: vec!["hong@test.go.kr".into()],
        approve: true,
        kind: Default::default(),
    };
    let passwords = certmail_auth::password::PasswordPool::default();
    certmail_auth::accounts::create(store, &passwords, new, Some(PASSWORD.into()), now)
        .await?
        .map_err(|e| format!("account: {e:?}"))?;
    certmail_auth::bind_certificate(store, pki, ACCOUNT, cert, now)
        .await?
        .map_err(|e| format!("binding: {e:?}"))?;
    Ok(())
}

/// The client's bytes: sign in, a fresh `fz` with `message` twice, SELECT, `commands`.
fn script(message: &[u8], commands: &[u8]) -> Vec<u8> {
    let mut out =
        format!("a LOGIN {ACCOUNT} \"{PASSWORD}\"\r\nb DELETE fz\r\nc CREATE fz\r\n").into_bytes();
    for (tag, flags) in [("d", "(\\Seen) "), ("e", "")] {
        out.extend(format!("{tag} APPEND fz {flags}{{{}+}}\r\n", message.len()).bytes());
        out.extend_from_slice(message);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"f SELECT fz\r\n");
    out.extend_from_slice(commands);
    out.extend_from_slice(b"\r\nz LOGOUT\r\n");
    out
}

fuzz_target!(|data: &[u8]| {
    let [hi, lo, rest @ ..] = data else {
        return;
    };
    let f = fixture();
    let length = usize::from(u16::from_be_bytes([*hi, *lo]) % 4096).min(rest.len());
    let (message, commands) = rest.split_at(length);
    // APPEND takes no empty message, and a plain literal holds no NUL (RFC 3501 §4.3,
    // §6.3.11): NULs become spaces so the APPENDs must succeed.
    let message: Vec<u8> = if message.is_empty() {
        b"Subject: x\r\n\r\n".to_vec()
    } else {
        message
            .iter()
            .map(|&b| if b == 0 { b' ' } else { b })
            .collect()
    };
    let input = script(&message, commands);
    let transcript = f.runtime.block_on(async {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let connection = tokio::spawn(fuzz_stream(
            f.ctx.clone(),
            f.pki.clone(),
            Some(f.cert.clone()),
            server,
        ));
        let (mut read, mut write) = tokio::io::split(client);
        let writer = async move {
            // The server may close first (LOGOUT or too many bad commands): that is fine.
            let _ = write.write_all(&input).await;
            let _ = write.shutdown().await;
        };
        let mut out = Vec::new();
        let reader = read.read_to_end(&mut out);
        let run = async { tokio::join!(writer, reader) };
        let ((), read) = tokio::time::timeout(Duration::from_secs(10), run)
            .await
            .expect("the connection ends once its input ends");
        read.expect("the server's output reads to its end");
        connection
            .await
            .expect("the connection task does not panic")
            .ok();
        out
    });
    let text = String::from_utf8_lossy(&transcript);
    assert!(text.starts_with("* OK"), "greeting: {text:.200}");
    for tag in ["a", "d", "e"] {
        assert!(
            text.contains(&format!("\r\n{tag} OK")),
            "{tag} failed: {text:.2000}"
        );
    }
    assert_eq!(f.ctx.memory_in_use().0, 0, "literal reservations come back");
});
