//! Fuzzes our own IMAP command parser (certmail_imap::proto::ext): the raw input, the
//! input behind each command head it claims, and the same bytes framed by the driver
//! (split in two at a point the input chooses), after ENABLE IMAP4rev2 and before. Nothing
//! may panic, and a command the driver hands over must be exactly what the parser makes of
//! the whole command; before IMAP4rev2 the driver refuses a quoted string holding 8-bit
//! octets (RFC 3501: 7-bit only), and otherwise frames as after.
#![no_main]

use certmail_imap::proto::{
    driver::{Driver, DriverEvent, DriverLimits},
    ext::{self, ExtCommand},
    literal::LiteralPool,
    utf8_quoted::quoted_to_literals,
};
use imap_next::{Interrupt, Io, State};
use libfuzzer_sys::fuzz_target;

const HEADS: [&[u8]; 14] = [
    b"a1 LIST ",
    b"a1 CREATE ",
    b"a1 SEARCH RETURN ",
    b"a1 UID SEARCH RETURN (",
    // A literal on the first line: collected whole, with or without `$` after it.
    b"a1 SEARCH TEXT {",
    b"a1 UID SEARCH CHARSET UTF-8 SUBJECT {",
    // APPEND (one message, several: RFC 3502, CATENATE: RFC 4469), ESORT and contexts
    // (RFC 5267), NOTIFY (RFC 5465).
    b"a1 APPEND INBOX ",
    b"a1 APPEND INBOX (\\Seen) CATENATE (",
    b"a1 UID SORT RETURN (",
    b"a1 NOTIFY SET ",
    b"a1 CANCELUPDATE ",
    // URLAUTH (RFC 4467) and its extended URLFETCH (RFC 5524).
    b"a1 GENURLAUTH ",
    b"a1 RESETKEY ",
    b"a1 URLFETCH (",
];

/// The commands the driver reports for `input`, cut once at `cut`, in an IMAP4rev2
/// session (`utf8`) or an IMAP4rev1 one.
fn through_driver(input: &[u8], cut: usize, utf8: bool) -> Vec<ExtCommand> {
    let pool = LiteralPool::new(1 << 20);
    let mut driver = Driver::new(
        DriverLimits::for_append_limit(64 * 1024),
        pool.clone(),
        "fuzz",
        true,
    );
    driver.set_utf8_quoted(utf8);
    let (a, b) = input.split_at(cut.min(input.len()));
    let mut chunks = [a, b].into_iter();
    let mut found = Vec::new();
    for _ in 0..100_000 {
        match driver.next() {
            Ok(DriverEvent::Extended(command)) => found.push(command),
            Ok(_) | Err(Interrupt::Io(Io::Output(_))) | Err(Interrupt::Error(_)) => {}
            Err(Interrupt::Io(Io::NeedMoreInput)) => match chunks.next() {
                Some(chunk) => driver.enqueue_input(chunk),
                None => break,
            },
        }
    }
    drop(driver);
    assert_eq!(pool.in_use(), 0);
    found
}

fuzz_target!(|data: &[u8]| {
    let _ = ext::parse(data);
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let mut command = HEADS[usize::from(selector) % HEADS.len()].to_vec();
    command.extend_from_slice(rest);
    command.extend_from_slice(b"\r\n");
    let direct = ext::parse(&command);
    if !ext::claims(&command) {
        return;
    }
    let framed = through_driver(&command, usize::from(selector), true);
    let rev1 = through_driver(&command, usize::from(selector), false);
    let eight_bit_quoted = command
        .split_inclusive(|&b| b == b'\n')
        .any(|line| quoted_to_literals(line).is_some());
    if !eight_bit_quoted {
        assert_eq!(rev1, framed);
    }
    match direct {
        // A complete command the parser reads is framed exactly so by the driver.
        Ok(parsed) => assert_eq!(framed, vec![parsed]),
        // Without a line break inside, the input is one command the driver cannot hand
        // over either.
        Err(_) if !rest.contains(&b'\n') => assert!(framed.is_empty()),
        Err(_) => {}
    }
});
