//! The driver hands the commands imap-codec cannot parse (SEARCH RETURN, extended LIST,
//! CREATE (USE)) to our own parser: whole, with their literals, whatever way the input is
//! split; `+` for their synchronizing literals; BAD for what the ABNF refuses; framing kept.

use certmail_imap::proto::{
    driver::{Driver, DriverEvent, DriverLimits},
    ext::{ExtBody, ExtCommand},
    literal::LiteralPool,
    response::ok,
};
use imap_next::{Interrupt, Io, State, server::Event};

/// Runs the driver over `input` cut into `chunk`-octet pieces; answers every command OK
/// and notes our own commands with what they parsed to.
fn run(input: &[u8], chunk: usize) -> (String, Vec<ExtCommand>) {
    let pool = LiteralPool::new(10_000);
    let mut driver = Driver::new(
        DriverLimits::for_append_limit(1000),
        pool.clone(),
        "x",
        true,
    );
    let mut out = String::new();
    let mut parsed = Vec::new();
    let mut chunks = input.chunks(chunk);
    loop {
        match driver.next() {
            Ok(DriverEvent::Imap(Event::CommandReceived { command })) => {
                let name = command.body.name();
                out.push_str(&format!("[{name}]"));
                driver
                    .server()
                    .enqueue_status(ok(command.tag, None, "done"));
            }
            Ok(DriverEvent::Extended(command)) => {
                out.push_str(&format!("[ext {}]", command.body.name()));
                driver
                    .server()
                    .enqueue_status(ok(command.tag.clone(), None, "done"));
                parsed.push(command);
            }
            Ok(_) => {}
            Err(Interrupt::Io(Io::Output(bytes))) => out.push_str(&String::from_utf8_lossy(&bytes)),
            Err(Interrupt::Io(Io::NeedMoreInput)) => match chunks.next() {
                Some(c) => driver.enqueue_input(c),
                None => break,
            },
            Err(Interrupt::Error(e)) => {
                out.push_str(&format!("[error {e}]"));
            }
        }
    }
    drop(driver);
    assert_eq!(pool.in_use(), 0, "literal octets left reserved");
    (out, parsed)
}

const SESSION: &[u8] = b"a1 NOOP\r\n\
a2 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (\"INBOX\" {9}\r\n\xeb\xb3\xb4\xea\xb4\x80\xed\x95\xa8 \"Sent/%\") RETURN (CHILDREN STATUS (MESSAGES SIZE))\r\n\
a3 CREATE {12+}\r\n\xec\x9e\x84\xec\x8b\x9c\xeb\xb3\xb4\xea\xb4\x80 (USE (\\Drafts))\r\n\
a4 UID SEARCH RETURN (MIN MAX COUNT) CHARSET UTF-8 SUBJECT {9}\r\n\xed\x99\x8d\xea\xb8\xb8\xeb\x8f\x99\r\n\
a5 SEARCH ALL\r\n\
a6 LSUB \"\" *\r\n";

#[test]
fn our_commands_arrive_whole_however_the_input_is_split() {
    let (whole, parsed) = run(SESSION, SESSION.len());
    assert_eq!(
        whole,
        "[NOOP]a1 OK done\r\n\
         + Ready for literal data\r\n[ext LIST]a2 OK done\r\n\
         [ext CREATE]a3 OK done\r\n\
         + Ready for literal data\r\n[ext SEARCH]a4 OK done\r\n\
         [SEARCH]a5 OK done\r\n[LSUB]a6 OK done\r\n"
    );
    let ExtBody::List(list) = &parsed[0].body else {
        panic!("not LIST")
    };
    assert_eq!(list.patterns[1], "보관함".as_bytes());
    assert!(list.selection.recursive_match && list.returns.children);
    let ExtBody::Create(create) = &parsed[1].body else {
        panic!("not CREATE")
    };
    assert_eq!(create.mailbox, "임시보관".as_bytes());
    assert_eq!(create.special_use, ["\\Drafts"]);
    for chunk in [1, 2, 3, 7, 64] {
        let (split, again) = run(SESSION, chunk);
        assert_eq!(split, whole, "split every {chunk} octets");
        assert_eq!(again, parsed, "split every {chunk} octets");
    }
}

#[test]
fn what_the_abnf_refuses_is_bad_and_framing_holds() {
    let input = b"b1 LIST (BOGUS) \"\" *\r\nb2 CREATE x (USE (Drafts))\r\nb3 NOOP\r\n";
    for chunk in [1, input.len()] {
        let (out, parsed) = run(input, chunk);
        assert!(parsed.is_empty());
        assert_eq!(
            out,
            "[error Received malformed message][error Received malformed message][NOOP]b3 OK done\r\n",
            "chunk {chunk}"
        );
    }
}

#[test]
fn an_oversized_literal_in_our_commands_is_refused_unread() {
    // A sync literal over the limit: no "+", the client never sends it.
    let (out, _) = run(b"c1 LIST \"\" {70000}\r\nc2 NOOP\r\n", 5);
    assert_eq!(out, "[error Command is too long][NOOP]c2 OK done\r\n");
    // A non-sync one is already on its way: swallowed with the rest of the command.
    let mut input = b"c1 CREATE {70000+}\r\n".to_vec();
    input.extend(std::iter::repeat_n(b'x', 70_000));
    input.extend_from_slice(b" (USE (\\Sent))\r\nc2 NOOP\r\n");
    let (out, _) = run(&input, 4096);
    assert_eq!(out, "[error Command is too long][NOOP]c2 OK done\r\n");
}
