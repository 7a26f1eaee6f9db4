//! Fuzzes certmail-managesieve's protocol layer: the input, as a client's bytes, is framed
//! (lines, `{n+}`/`{n}` literals, quoted strings, limits) and each complete frame parsed as
//! a command and as a SASL response. Nothing may panic, and the input fed in two parts (cut
//! where its first byte says) must give the same frames as fed whole.
#![no_main]

use certmail_managesieve::proto::{Frame, FrameLimits, Framer, parse, parse_sasl_response};
use libfuzzer_sys::fuzz_target;

const LIMITS: FrameLimits = FrameLimits {
    max_line: 256,
    max_literal: 1024,
};

fn frames(parts: &[&[u8]]) -> Vec<Frame> {
    let mut framer = Framer::new(LIMITS);
    let mut out = Vec::new();
    for part in parts {
        framer.feed(part);
        while let Some(frame) = framer.next_frame() {
            let long = matches!(frame, Frame::LineTooLong { .. });
            out.push(frame);
            if long {
                // The driver closes here: framing is lost.
                return out;
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let whole = frames(&[data]);
    let cut = data.first().map_or(0, |&b| usize::from(b) % (data.len() + 1));
    let split = frames(&[&data[..cut], &data[cut..]]);
    assert_eq!(whole, split, "framing depends on how the input arrives");
    for frame in whole {
        if let Frame::Tokens(tokens) = frame {
            let _ = parse(tokens.clone());
            let _ = parse_sasl_response(tokens);
        }
    }
});
