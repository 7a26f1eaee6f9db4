//! `certmail account totp enable|show`: the otpauth:// URI as a QR code drawn with Unicode
//! half blocks, so an authenticator app scans it from the terminal.

use serde_json::Value;

use crate::admin::Response;

/// Prints a TOTP answer: JSON as it is; otherwise the message and, when the answer carries
/// an otpauth:// URI, its QR code. Returns the exit code.
pub fn print_totp(resp: &Response, json: bool) -> u8 {
    crate::cli::output::print(resp, json);
    if !json
        && resp.ok
        && let Some(uri) = resp.data.get("otpauth_uri").and_then(Value::as_str)
    {
        match render(uri) {
            Some(code) => println!("\n{code}"),
            None => eprintln!("(the URI is too long for a QR code; type it in instead)"),
        }
    }
    crate::cli::output::exit_code(resp)
}

/// `text` as a QR code: two modules per character cell (upper and lower half blocks). Light
/// modules and the quiet zone are drawn as blocks (the terminal's light text colour) and dark
/// modules as blank cells, so the code reads right on the usual dark terminal background.
pub fn render(text: &str) -> Option<String> {
    use qrcode::render::unicode::Dense1x2;
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    Some(
        code.render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_uri_renders_as_half_block_rows() {
        let uri =
            "otpauth://totp/mail.test.go.kr:hong?secret=JBSWY3DPEHPK3PXP&issuer=mail.test.go.kr";
        let code = super::render(uri).expect("a short URI fits");
        let rows: Vec<&str> = code.lines().collect();
        // Every row has the same width, and only block characters and spaces appear.
        let width = rows[0].chars().count();
        assert!(rows.iter().all(|r| r.chars().count() == width));
        assert!(code.chars().all(|c| " ▀▄█\n".contains(c)), "{code}");
        // A version 5+ code with its quiet zone: at least 37 modules wide.
        assert!(width >= 37, "{width}");
        assert_eq!(rows.len(), width.div_ceil(2));
    }
}
