//! The base subject of RFC 5256 §2.1, which SORT SUBJECT and THREAD compare: the decoded
//! subject without "Re:", "Fwd:", `[list]` prefixes and "(fwd)" trailers.

/// The base subject of a decoded (RFC 2047) subject, and whether anything marking a reply
/// or forward was removed (RFC 5256 §2.1 steps 2–5; THREAD uses the latter).
pub fn base_subject(subject: &str) -> (String, bool) {
    // Step 1: whitespace runs become one space.
    let mut s: String = subject.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut reply = false;
    loop {
        // Step 2: trailing "(fwd)" and whitespace.
        loop {
            let trimmed = s.trim_end();
            if trimmed.to_ascii_lowercase().ends_with("(fwd)") {
                s = trimmed[..trimmed.len() - 5].to_string();
                reply = true;
            } else {
                s = trimmed.to_string();
                break;
            }
        }
        // Steps 3 and 4, until neither changes anything.
        loop {
            let before = s.clone();
            s = s.trim_start().to_string();
            if let Some(rest) = strip_leader(&s) {
                s = rest.to_string();
                reply = true;
            }
            if let Some(rest) = strip_blob(&s)
                && !rest.is_empty()
            {
                s = rest.to_string();
            }
            if s == before {
                break;
            }
        }
        // Step 5: "[fwd:" subject "]".
        if s.len() > 5 && s.as_bytes()[..5].eq_ignore_ascii_case(b"[fwd:") && s.ends_with(']') {
            s = s[5..s.len() - 1].to_string();
            reply = true;
            continue;
        }
        return (s, reply);
    }
}

/// `subj-blob = "[" *BLOBCHAR "]" *WSP`: the rest after one, if `s` starts with one.
fn strip_blob(s: &str) -> Option<&str> {
    let inner = s.strip_prefix('[')?;
    let end = inner.find(']')?;
    if inner[..end].contains('[') {
        return None;
    }
    Some(inner[end + 1..].trim_start())
}

/// `subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"`: the rest after one.
fn strip_refwd(s: &str) -> Option<&str> {
    // ASCII prefixes, so the byte offsets below are character boundaries.
    let b = s.as_bytes();
    let starts = |p: &[u8]| b.len() >= p.len() && b[..p.len()].eq_ignore_ascii_case(p);
    let rest = if starts(b"fwd") {
        &s[3..]
    } else if starts(b"fw") || starts(b"re") {
        &s[2..]
    } else {
        return None;
    };
    let rest = rest.trim_start();
    let rest = strip_blob(rest).unwrap_or(rest);
    rest.strip_prefix(':')
}

/// `subj-leader = (*subj-blob subj-refwd) / WSP` (leading WSP is trimmed by the caller).
fn strip_leader(s: &str) -> Option<&str> {
    let mut rest = s;
    loop {
        if let Some(after) = strip_refwd(rest) {
            return Some(after);
        }
        rest = strip_blob(rest)?;
    }
}

#[cfg(test)]
mod tests {
    use super::base_subject;

    #[test]
    fn prefixes_and_trailers_go() {
        for (subject, base, reply) in [
            ("회의 안내", "회의 안내", false),
            ("Re: 회의 안내", "회의 안내", true),
            ("RE: Fwd: re:회의   안내", "회의 안내", true),
            ("[행정안전부] Re: 회의 안내 (fwd)", "회의 안내", true),
            ("Re [2]: Report", "Report", true),
            ("[Fwd: Re: 예산안]", "예산안", true),
            ("[공지]", "[공지]", false),
            ("Report", "Report", false),
            ("Fw: Fwd:x", "x", true),
            ("", "", false),
        ] {
            assert_eq!(
                base_subject(subject),
                (base.to_string(), reply),
                "{subject}"
            );
        }
    }
}
