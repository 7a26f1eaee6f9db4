//! Responses to bytes (RFC 5804 §1.3, §4): `OK`/`NO`/`BYE` with a response code and a
//! human-readable string, and the strings of data lines (quoted when short and plain,
//! literals otherwise).

/// A response code (RFC 5804 §1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    /// `AUTH-TOO-WEAK`.
    AuthTooWeak,
    /// `ENCRYPT-NEEDED`: sign-in needs STARTTLS first.
    EncryptNeeded,
    /// `QUOTA/MAXSCRIPTS`.
    QuotaMaxScripts,
    /// `QUOTA/MAXSIZE`.
    QuotaMaxSize,
    /// `NONEXISTENT`.
    NonExistent,
    /// `ACTIVE`.
    Active,
    /// `ALREADYEXISTS`.
    AlreadyExists,
    /// `TRYLATER`: our side cannot answer now.
    TryLater,
    /// `TAG {string}` of NOOP.
    Tag(Vec<u8>),
}

impl Code {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(b'(');
        let name: &[u8] = match self {
            Code::AuthTooWeak => b"AUTH-TOO-WEAK",
            Code::EncryptNeeded => b"ENCRYPT-NEEDED",
            Code::QuotaMaxScripts => b"QUOTA/MAXSCRIPTS",
            Code::QuotaMaxSize => b"QUOTA/MAXSIZE",
            Code::NonExistent => b"NONEXISTENT",
            Code::Active => b"ACTIVE",
            Code::AlreadyExists => b"ALREADYEXISTS",
            Code::TryLater => b"TRYLATER",
            Code::Tag(tag) => {
                out.extend_from_slice(b"TAG ");
                string(out, tag);
                out.push(b')');
                return;
            }
        };
        out.extend_from_slice(name);
        out.push(b')');
    }
}

/// The kind of a final response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Done.
    Ok,
    /// Refused; the connection goes on.
    No,
    /// The server closes the connection.
    Bye,
}

/// A final response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// OK, NO or BYE.
    pub status: Status,
    /// The response code, if any.
    pub code: Option<Code>,
    /// The sentence for the user.
    pub text: String,
}

impl Response {
    /// `OK` with `text`.
    pub fn ok(text: impl Into<String>) -> Self {
        Self::new(Status::Ok, None, text)
    }

    /// `NO` with `text`.
    pub fn no(text: impl Into<String>) -> Self {
        Self::new(Status::No, None, text)
    }

    /// `NO (code)` with `text`.
    pub fn no_code(code: Code, text: impl Into<String>) -> Self {
        Self::new(Status::No, Some(code), text)
    }

    /// `BYE` with `text`.
    pub fn bye(text: impl Into<String>) -> Self {
        Self::new(Status::Bye, None, text)
    }

    /// A response of any kind.
    pub fn new(status: Status, code: Option<Code>, text: impl Into<String>) -> Self {
        Self {
            status,
            code,
            text: text.into(),
        }
    }

    /// Appends the response line to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(match self.status {
            Status::Ok => b"OK",
            Status::No => b"NO",
            Status::Bye => b"BYE",
        });
        if let Some(code) = &self.code {
            out.push(b' ');
            code.encode(out);
        }
        if !self.text.is_empty() {
            out.push(b' ');
            string(out, self.text.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
    }

    /// The response line alone.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

/// Appends `bytes` as a string: quoted when short and free of CR, LF and NUL, a literal
/// `{n}` otherwise (RFC 5804 §4).
pub fn string(out: &mut Vec<u8>, bytes: &[u8]) {
    let plain = bytes.len() <= 1024 && !bytes.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0));
    if plain {
        out.push(b'"');
        for &b in bytes {
            if matches!(b, b'"' | b'\\') {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(format!("{{{}}}\r\n", bytes.len()).as_bytes());
        out.extend_from_slice(bytes);
    }
}

/// Appends one data line of strings separated by spaces (capabilities, LISTSCRIPTS), with
/// `suffix` (e.g. ` ACTIVE`) before its CRLF.
pub fn data_line(out: &mut Vec<u8>, strings: &[&[u8]], suffix: &str) {
    for (i, s) in strings.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        string(out, s);
    }
    out.extend_from_slice(suffix.as_bytes());
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_as_the_rfc_writes_them() {
        let r = Response::no_code(Code::QuotaMaxSize, "too big");
        assert_eq!(r.to_bytes(), b"NO (QUOTA/MAXSIZE) \"too big\"\r\n");
        assert_eq!(Response::ok("").to_bytes(), b"OK\r\n");
        let tag = Response::new(
            Status::Ok,
            Some(Code::Tag(b"STARTTLS-SYNC-42".to_vec())),
            "Done",
        );
        assert_eq!(
            tag.to_bytes(),
            b"OK (TAG \"STARTTLS-SYNC-42\") \"Done\"\r\n"
        );
        let mut out = Vec::new();
        string(&mut out, "줄1\r\n줄2".as_bytes());
        assert_eq!(out, "{10}\r\n줄1\r\n줄2".as_bytes());
    }
}
