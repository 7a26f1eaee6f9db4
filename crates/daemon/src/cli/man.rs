//! `certmail man`: the manual page (roff, section 8) generated from the clap definitions,
//! so the offline help always matches the binary. The .deb ships it as
//! /usr/share/man/man8/certmail.8.gz (scripts/test generates it before `cargo deb`).
//!
//! The page is clap_mangen's (name, synopsis, description, options, subcommands, exit
//! codes), followed by a COMMANDS section with the full `--help` text of every subcommand.

use clap::CommandFactory as _;

/// The manual page of `certmail`, as roff.
pub fn page() -> std::io::Result<Vec<u8>> {
    let mut cmd = crate::cli::args::Cli::command();
    cmd.build();
    let mut out = Vec::new();
    let man = clap_mangen::Man::new(cmd.clone())
        .section("8")
        .manual("certmail");
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    // Not clap_mangen's SUBCOMMANDS list: it points at certmail-SUBCOMMAND(8) pages that
    // are not shipped; the whole help of each command is here instead.
    out.extend_from_slice(b".SH COMMANDS\n");
    for sub in cmd.get_subcommands().filter(|s| shown(s)) {
        commands(sub, &mut out);
    }
    man.render_extra_section(&mut out)?;
    man.render_version_section(&mut out)?;
    Ok(out)
}

/// One `.SS` per command, with its long help as preformatted text, then its subcommands.
fn commands(cmd: &clap::Command, out: &mut Vec<u8>) {
    let name = cmd.get_bin_name().unwrap_or_else(|| cmd.get_name());
    out.extend_from_slice(format!(".SS \"{}\"\n.nf\n", escape(name)).as_bytes());
    let help = cmd.clone().render_long_help().to_string();
    for line in help.lines() {
        out.extend_from_slice(escape(line).as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(b".fi\n");
    for sub in cmd.get_subcommands().filter(|s| shown(s)) {
        commands(sub, out);
    }
}

/// Whether a subcommand belongs in the page (not hidden, not clap's own `help`).
fn shown(cmd: &clap::Command) -> bool {
    !cmd.is_hide_set() && cmd.get_name() != "help"
}

/// Text safe inside roff: backslashes escaped, and no line read as a request.
fn escape(line: &str) -> String {
    let line = line.replace('\\', "\\e");
    if line.starts_with('.') || line.starts_with('\'') {
        format!("\\&{line}")
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_page_is_section_8_and_documents_every_command() {
        let page = String::from_utf8(super::page().expect("renders")).expect("utf-8");
        assert!(page.contains(".TH certmail 8"), "{page:.300}");
        for command in [
            "certmail serve",
            "certmail reload",
            "certmail crl fetch",
            "certmail account add",
            "certmail queue retry",
        ] {
            assert!(
                page.contains(&format!(".SS \"{command}\"")),
                "{command} missing"
            );
        }
        assert!(
            page.contains("CERTMAIL_CONFIG"),
            "the global option is documented"
        );
        assert!(
            !page.contains(".SS \"certmail man\""),
            "the hidden command stays hidden"
        );
        assert!(
            !page.contains("certmail\\-serve(8)"),
            "no pages that are not shipped"
        );
        assert!(
            page.contains("Exit codes"),
            "the exit codes (after_help) are in"
        );
        assert!(
            page.lines()
                .filter(|l| l.starts_with('.'))
                .all(|l| l.len() >= 2 && !l.starts_with(". ")),
            "no stray request lines"
        );
    }

    #[test]
    fn help_text_cannot_inject_roff_requests() {
        assert_eq!(super::escape(".SH x"), "\\&.SH x");
        assert_eq!(super::escape("'br"), "\\&'br");
        assert_eq!(super::escape("a\\b"), "a\\eb");
    }
}
