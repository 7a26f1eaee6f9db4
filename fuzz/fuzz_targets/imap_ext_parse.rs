//! Fuzzes our own IMAP command parser (certmail_imap::proto::ext): the raw input, the
//! input behind each command head it claims, and the same bytes framed by the driver
//! (split in two at a point the input chooses). Nothing may panic, and a command the
//! driver hands over must be exactly what the parser makes of the whole command.
#![no_main]

use certmail_imap::proto::{
    driver::{Driver, DriverEvent, DriverLimits},
    ext::{self, ExtCommand},
    literal::LiteralPool,
};
use imap_next::{Interrupt, Io, State};
use libfuzzer_sys::fuzz_target;

const HEADS: [&[u8]; 4] = [
    b"a1 LIST ",
    b"a1 CREATE ",
    b"a1 SEARCH RETURN ",
    b"a1 UID SEARCH RETURN (",
];

/// The commands the driver reports for `input`, cut once at `cut`.
fn through_driver(input: &[u8], cut: usize) -> Vec<ExtCommand> {
    let pool = LiteralPool::new(1 << 20);
    let mut driver = Driver::new(DriverLimits::for_append_limit(64 * 1024), pool.clone(), "fuzz", true);
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
    let framed = through_driver(&command, usize::from(selector));
    match direct {
        // A complete command the parser reads is framed exactly so by the driver.
        Ok(parsed) => assert_eq!(framed, vec![parsed]),
        // Without a line break inside, the input is one command the driver cannot hand
        // over either.
        Err(_) if !rest.contains(&b'\n') => assert!(framed.is_empty()),
        Err(_) => {}
    }
});
