//! The driver hands the commands imap-codec cannot parse (SEARCH RETURN, extended LIST,
//! CREATE (USE)) to our own parser: whole, with their literals, whatever way the input is
//! split; `+` for their synchronizing literals; BAD for what the ABNF refuses; framing kept.

use certmail_imap::fuzzing::XorShift;
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

/// The same property as fuzz/fuzz_targets/imap_ext_parse.rs, over generated commands: a
/// command the parser reads whole is exactly what the driver hands over, however split;
/// one it refuses (with no line break inside) is never handed over.
#[test]
fn the_driver_frames_what_the_parser_reads() {
    use certmail_imap::proto::ext;
    const HEADS: [&str; 4] = [
        "a1 LIST ",
        "a1 CREATE ",
        "a1 SEARCH RETURN ",
        "a1 UID SEARCH RETURN (",
    ];
    const TOKENS: [&str; 22] = [
        "(",
        ")",
        " ",
        " ",
        "\"\"",
        "\"*\"",
        "%",
        "INBOX",
        "SUBSCRIBED",
        "RECURSIVEMATCH",
        "RETURN",
        "STATUS",
        "(MESSAGES SIZE)",
        "\\Drafts",
        "USE",
        "{3}\r\nabc",
        "{6+}\r\n보관",
        "MIN",
        "ALL",
        "SUBJECT",
        "\"a\\\"b\"",
        "{0}\r\n",
    ];
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    let (mut parsed_count, mut refused_count) = (0, 0);
    for _ in 0..3000 {
        let mut command = rng.pick(&HEADS).to_owned();
        for _ in 0..(rng.next() % 8) {
            command.push_str(rng.pick(&TOKENS));
        }
        command.push_str("\r\n");
        let bytes = command.as_bytes();
        let direct = ext::parse(bytes);
        let cut = (rng.next() % bytes.len() as u64) as usize + 1;
        let (_, framed) = run(bytes, cut);
        match direct {
            Ok(parsed) => {
                parsed_count += 1;
                assert_eq!(framed, vec![parsed], "{command:?}");
            }
            Err(_) => {
                refused_count += 1;
                if !command.trim_end().contains('\n') {
                    assert!(framed.is_empty(), "{command:?}");
                }
            }
        }
    }
    // The generator reaches both sides of the property.
    assert!(
        parsed_count > 100 && refused_count > 100,
        "{parsed_count} / {refused_count}"
    );
}

/// F3 of the hostile-input issue: fuzz input `0a 35 7d 0a 20 24` of the imap_ext_parse
/// target. The parser once read `a1 SEARCH TEXT {5}\n $\r\n` as a `$` command while the
/// driver (like imap-next) took `{5}` before the bare LF as a literal; now both refuse
/// the bare LF, and what the driver hands over is what the parser reads.
#[test]
fn bare_lf_after_a_literal_announcement_is_framed_and_parsed_alike() {
    use certmail_imap::proto::ext::parse;
    let input = b"a1 SEARCH TEXT {5}\n $\r\n";
    assert!(parse(input).is_err(), "parsed {:?}", parse(input));
    for chunk in [1, 3, input.len()] {
        let (out, parsed) = run(input, chunk);
        assert!(parsed.is_empty(), "driver handed over {parsed:?}");
        // The driver waits for the literal's fifth octet, as imap-next would.
        assert_eq!(out, "+ Ready for literal data\r\n");
    }
    // With the literal complete, the driver hands the command over and it is refused.
    let input = b"a1 SEARCH TEXT {1}\nx $\r\na2 NOOP\r\n";
    assert!(parse(&input[..input.len() - 9]).is_err());
    for chunk in [1, 4, input.len()] {
        let (out, parsed) = run(input, chunk);
        assert!(parsed.is_empty(), "driver handed over {parsed:?}");
        assert!(out.ends_with("[NOOP]a2 OK done\r\n"), "{out}");
        assert!(out.contains("[error"), "the bare LF is refused: {out}");
    }
}
