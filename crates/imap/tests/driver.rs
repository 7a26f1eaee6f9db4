//! The imap-next driver: greeting on 993 but not after STARTTLS, literal accounting against
//! the shared pool, APPENDLIMIT, and split input.

use certmail_imap::proto::{
    driver::{Driver, DriverEvent, DriverLimits},
    literal::LiteralPool,
    response::ok,
};
use imap_next::{Interrupt, Io, State, server::Event};

/// Runs the driver over `chunks`, answering every command with `<tag> OK <NAME> done` and
/// noting its literal size; returns the transcript (server output plus event notes).
fn run(driver: &mut Driver, chunks: &[&[u8]], pool: &LiteralPool) -> String {
    let mut out = String::new();
    let mut chunks = chunks.iter();
    loop {
        match driver.next() {
            Ok(DriverEvent::Imap(Event::CommandReceived { command })) => {
                let name = command.body.name();
                out.push_str(&format!("[{name} pool={}]", pool.in_use()));
                if name == "LOGIN" {
                    // As the connection does once the session has signed in.
                    driver.set_signed_in(true);
                }
                driver
                    .server()
                    .enqueue_status(ok(command.tag, None, &format!("{name} done")));
            }
            Ok(DriverEvent::Extended(command)) => {
                let name = command.body.name();
                out.push_str(&format!("[ext {name} pool={}]", pool.in_use()));
                driver
                    .server()
                    .enqueue_status(ok(command.tag, None, &format!("{name} done")));
            }
            Ok(_) => {}
            Err(Interrupt::Io(Io::Output(bytes))) => out.push_str(&String::from_utf8_lossy(&bytes)),
            Err(Interrupt::Io(Io::NeedMoreInput)) => match chunks.next() {
                Some(chunk) => driver.enqueue_input(chunk),
                None => return out,
            },
            Err(Interrupt::Error(e)) => out.push_str(&format!("[error {e}]")),
        }
    }
}

fn limits() -> DriverLimits {
    DriverLimits::for_append_limit(100)
}

#[test]
fn implicit_tls_greets_with_capabilities() {
    let pool = LiteralPool::new(1000);
    let mut driver = Driver::new(limits(), pool.clone(), "certmail ready", false);
    let out = run(&mut driver, &[b"a1 NOOP\r\n"], &pool);
    assert!(
        out.starts_with("* OK [CAPABILITY IMAP4REV1 IMAP4rev2 LITERAL+ ID "),
        "{out}"
    );
    assert!(
        out.contains("APPENDLIMIT=100 ESEARCH CONTEXT=SEARCH CONTEXT=SORT NOTIFY SEARCHRES LIST-EXTENDED LIST-STATUS CREATE-SPECIAL-USE STATUS=SIZE SASL-IR AUTH=PLAIN] certmail ready\r\n"),
        "{out}"
    );
    assert!(out.ends_with("[NOOP pool=0]a1 OK NOOP done\r\n"), "{out}");
}

#[test]
fn no_greeting_after_starttls() {
    let pool = LiteralPool::new(1000);
    let mut driver = Driver::new(limits(), pool.clone(), "certmail ready", true);
    let out = run(&mut driver, &[b"a1 CAPABILITY\r\n"], &pool);
    assert_eq!(out, "[CAPABILITY pool=0]a1 OK CAPABILITY done\r\n");
}

#[test]
fn literal_is_reserved_while_the_command_is_handled() {
    let pool = LiteralPool::new(1000);
    let mut driver = Driver::new(limits(), pool.clone(), "x", true);
    driver.set_signed_in(true);
    let out = run(
        &mut driver,
        &[b"a1 APPEND INBOX {5}\r\n", b"hello\r\n", b"a2 NOOP\r\n"],
        &pool,
    );
    assert_eq!(
        out,
        "+ Ready for literal data\r\n[ext APPEND pool=5]a1 OK APPEND done\r\n[NOOP pool=0]a2 OK NOOP done\r\n"
    );
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn exhausted_pool_refuses_sync_literal_without_continuation() {
    let pool = LiteralPool::new(10);
    let mut driver = Driver::new(limits(), pool.clone(), "x", true);
    driver.set_signed_in(true);
    let out = run(
        &mut driver,
        &[
            b"a1 APPEND INBOX {20}\r\n",
            b"a2 APPEND INBOX {4}\r\n",
            b"abcd\r\n",
        ],
        &pool,
    );
    assert_eq!(
        out,
        "a1 NO [LIMIT] Server is busy with other uploads, try again shortly\r\n\
         + Ready for literal data\r\n[ext APPEND pool=4]a2 OK APPEND done\r\n"
    );
}

#[test]
fn exhausted_pool_swallows_a_non_sync_literal() {
    let pool = LiteralPool::new(10);
    let mut driver = Driver::new(limits(), pool.clone(), "x", true);
    driver.set_signed_in(true);
    // The refused literal's bytes look like a command: they must never run.
    let input: &[&[u8]] = &[b"a1 APPEND INBOX {22+}\r\nb1 LOGOUT\r\nb2 LOGOUT\r\n\r\na2 NOOP\r\n"];
    let out = run(&mut driver, input, &pool);
    assert_eq!(
        out,
        "a1 NO [LIMIT] Server is busy with other uploads, try again shortly\r\n[NOOP pool=0]a2 OK NOOP done\r\n"
    );
}

#[test]
fn literal_over_appendlimit_is_refused() {
    let pool = LiteralPool::new(1000);
    let mut driver = Driver::new(limits(), pool.clone(), "x", true);
    let out = run(
        &mut driver,
        &[b"a1 APPEND INBOX {101}\r\n", b"a2 NOOP\r\n"],
        &pool,
    );
    assert_eq!(
        out,
        "a1 NO [TOOBIG] The message is larger than APPENDLIMIT (100 octets)\r\n[NOOP pool=0]a2 OK NOOP done\r\n"
    );
    assert_eq!(pool.in_use(), 0);
}

/// RFC 3502: several messages in one APPEND, each literal reserved; one over APPENDLIMIT
/// or the whole over `max_command` is refused `NO [TOOBIG]` and its bytes never run.
#[test]
fn multiappend_literals_are_bounded_each_and_in_all() {
    let pool = LiteralPool::new(10_000);
    let mut limits = limits();
    limits.max_command = 150;
    let mut driver = Driver::new(limits, pool.clone(), "x", true);
    driver.set_signed_in(true);
    let out = run(
        &mut driver,
        &[
            b"a1 APPEND INBOX (\\Seen) {5}\r\n",
            b"hello {6+}\r\nworld! {2}\r\n",
            b"hi\r\n",
            // Over APPENDLIMIT (100): the non-sync literal is swallowed with the command.
            b"a2 APPEND INBOX {3+}\r\nabc {101+}\r\n",
            &[b'x'; 101],
            b" {11+}\r\nb1 LOGOUT\r\n\r\n",
            // 90 + 90 octets: each within APPENDLIMIT, together over max_command (150).
            b"a3 APPEND INBOX {90}\r\n",
            &[b'y'; 90],
            b" {90}\r\n",
            b"a4 NOOP\r\n",
        ],
        &pool,
    );
    assert_eq!(
        out,
        "+ Ready for literal data\r\n+ Ready for literal data\r\n[ext APPEND pool=13]a1 OK APPEND done\r\n\
         a2 NO [TOOBIG] The message is larger than APPENDLIMIT (100 octets)\r\n\
         + Ready for literal data\r\n\
         a3 NO [TOOBIG] The messages of one APPEND may hold 150 octets in all; append them one at a time\r\n\
         [NOOP pool=0]a4 OK NOOP done\r\n"
    );
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn split_input_gives_the_same_transcript() {
    let input: &[u8] = b"a1 LOGIN {5+}\r\nhong1 {6+}\r\nsecret\r\na2 APPEND INBOX (\\Seen) {11}\r\nhello world\r\na3 NOOP\r\n";
    let whole = {
        let pool = LiteralPool::new(1000);
        let mut driver = Driver::new(limits(), pool.clone(), "x", true);
        run(&mut driver, &[input], &pool)
    };
    let pool = LiteralPool::new(1000);
    let mut driver = Driver::new(limits(), pool.clone(), "x", true);
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    let split = run(&mut driver, &bytes, &pool);
    assert_eq!(split, whole);
    assert_eq!(
        whole,
        "[LOGIN pool=0]a1 OK LOGIN done\r\n+ Ready for literal data\r\n[ext APPEND pool=11]a2 OK APPEND done\r\n[NOOP pool=0]a3 OK NOOP done\r\n"
    );
}

#[test]
fn dropping_the_driver_returns_reservations() {
    let pool = LiteralPool::new(1000);
    {
        let mut driver = Driver::new(limits(), pool.clone(), "x", true);
        driver.set_signed_in(true);
        let _ = run(
            &mut driver,
            &[b"a1 APPEND INBOX {50}\r\n", b"only part"],
            &pool,
        );
        assert_eq!(pool.in_use(), 50);
    }
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn overlong_command_line_is_refused_without_buffering_it() {
    let pool = LiteralPool::new(1000);
    let mut driver = Driver::new(limits(), pool.clone(), "x", true);
    let long = format!("a1 APPEND INBOX {} {{11+}}\r\n", "x".repeat(200_000));
    let mut input = long.into_bytes();
    // The non-sync literal announced at the end of the dropped line is dropped too: its
    // bytes look like a command and must not run.
    input.extend_from_slice(b"b1 LOGOUT\r\n\r\na2 NOOP\r\n");
    let chunks: Vec<&[u8]> = input.chunks(4096).collect();
    let mut most_pending = 0;
    let mut out = String::new();
    let mut chunks = chunks.into_iter();
    loop {
        most_pending = most_pending.max(driver.pending_input());
        match driver.next() {
            Ok(DriverEvent::Imap(Event::CommandReceived { command })) => {
                out.push_str(&format!("[{}]", command.body.name()));
                driver
                    .server()
                    .enqueue_status(ok(command.tag, None, "done"));
            }
            Ok(_) => {}
            Err(Interrupt::Io(Io::Output(bytes))) => out.push_str(&String::from_utf8_lossy(&bytes)),
            Err(Interrupt::Io(Io::NeedMoreInput)) => match chunks.next() {
                Some(chunk) => driver.enqueue_input(chunk),
                None => break,
            },
            Err(Interrupt::Error(e)) => out.push_str(&format!("[error {e}]")),
        }
    }
    assert_eq!(out, "[error Command is too long][NOOP]a2 OK done\r\n");
    assert!(
        most_pending < 64 * 1024 + 2 * 4096,
        "buffered {most_pending} octets"
    );
}

#[test]
fn literals_of_our_own_commands_count_against_the_pool() {
    let pool = LiteralPool::new(10);
    let mut driver = Driver::new(limits(), pool.clone(), "x", true);
    driver.set_signed_in(true);
    let out = run(
        &mut driver,
        &[
            // Our own parser reads CREATE: its literal is reserved like APPEND's.
            b"a1 CREATE {20}\r\n",
            b"a2 CREATE {12+}\r\nb1 LOGOUT\r\n (USE (\\Drafts))\r\n",
            "a3 CREATE {6}\r\n".as_bytes(),
            "당근\r\n".as_bytes(),
            b"a4 NOOP\r\n",
        ],
        &pool,
    );
    assert_eq!(
        out,
        "a1 NO [LIMIT] Server is busy with other uploads, try again shortly\r\n\
         a2 NO [LIMIT] Server is busy with other uploads, try again shortly\r\n\
         + Ready for literal data\r\n[ext CREATE pool=6]a3 OK CREATE done\r\n\
         [NOOP pool=0]a4 OK NOOP done\r\n"
    );
    assert_eq!(pool.in_use(), 0);
}

/// F2 of the hostile-input issue: before sign-in a client without a certificate announced
/// `{49000000}` and got `+`, reserving the pool signed-in users' APPENDs need.
#[test]
fn large_sync_literal_before_sign_in_is_refused_without_continuation() {
    let pool = LiteralPool::new(100_000);
    let mut limits = DriverLimits::for_append_limit(50_000);
    limits.max_literal_before_login = 1024;
    let mut driver = Driver::new(limits, pool.clone(), "x", true);
    let out = run(
        &mut driver,
        &[
            b"p LOGIN {49000000}\r\n",
            b"q LOGIN hong {2000}\r\n",
            b"a NOOP\r\n",
        ],
        &pool,
    );
    assert_eq!(
        out,
        "p NO [TOOBIG] Literals before sign-in are limited to 1024 octets; sign in first\r\n\
         q NO [TOOBIG] Literals before sign-in are limited to 1024 octets; sign in first\r\n\
         [NOOP pool=0]a OK NOOP done\r\n"
    );
    assert!(
        !out.contains('+'),
        "no continuation for a refused literal: {out}"
    );
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn large_non_sync_literal_before_sign_in_is_swallowed_then_refused() {
    let pool = LiteralPool::new(100_000);
    let mut limits = DriverLimits::for_append_limit(50_000);
    limits.max_literal_before_login = 1024;
    let mut driver = Driver::new(limits, pool.clone(), "x", true);
    let big = vec![b'a'; 3000];
    let mut input = b"p LOGIN {3000+}\r\n".to_vec();
    input.extend_from_slice(&big);
    input.extend_from_slice(b" {3+}\r\nxyz\r\na NOOP\r\n");
    let whole = run(&mut driver, &[&input], &pool);
    assert_eq!(
        whole,
        "p NO [TOOBIG] Literals before sign-in are limited to 1024 octets; sign in first\r\n\
         [NOOP pool=0]a OK NOOP done\r\n"
    );
    let mut driver = Driver::new(limits, pool.clone(), "x", true);
    let bytes: Vec<&[u8]> = input.chunks(7).collect();
    assert_eq!(run(&mut driver, &bytes, &pool), whole);
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn small_literals_before_sign_in_are_read_but_not_from_the_pool() {
    let pool = LiteralPool::new(10);
    let mut driver = Driver::new(limits(), pool.clone(), "x", true);
    // The pool could not hold these 20 octets: before sign-in it is not asked.
    let out = run(
        &mut driver,
        &[
            "a1 LOGIN {9}\r\n".as_bytes(),
            "홍길동 {11}\r\n".as_bytes(),
            b"Gpki-Pass-1\r\n",
        ],
        &pool,
    );
    assert_eq!(
        out,
        "+ Ready for literal data\r\n+ Ready for literal data\r\n[LOGIN pool=0]a1 OK LOGIN done\r\n"
    );
}
