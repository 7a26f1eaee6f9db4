//! Realistic test messages: a MIME text/plain message in Korean, of an exact size.
//!
//! Every message is different (sequence number, Message-ID, a random choice of
//! paragraphs), because the store keeps one copy of identical bodies and identical
//! messages would flatter it.

/// SplitMix64: a small, seedable generator, plenty for choosing sentences and recipients
/// (nothing here needs cryptographic randomness).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose sequence is fixed by `seed`.
    pub fn seeded(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// One element of `items`, or None when it is empty.
    pub fn choose<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            return None;
        }
        // The modulo bias is below 2^-50 for the lengths used here.
        items.get((self.next_u64() % items.len() as u64) as usize)
    }
}

/// Sentences of an ordinary government office memo, picked at random to fill a body.
const SENTENCES: &[&str] = &[
    "안녕하십니까, 행정안전부 디지털정부국입니다.",
    "다음 주 화요일 오전 10시에 정부세종청사 6동 대회의실에서 업무 협의회를 개최합니다.",
    "첨부한 자료를 미리 검토하시고 의견이 있으시면 금요일까지 회신하여 주시기 바랍니다.",
    "2026년도 예산 집행 계획에 따라 각 기관의 정보화 사업 추진 현황을 점검하고자 합니다.",
    "개인정보 보호를 위하여 메일 본문에 주민등록번호를 기재하지 않도록 유의하여 주십시오.",
    "행정전자서명 인증서의 유효기간이 만료되기 전에 갱신하여 주시기 바랍니다.",
    "회의 참석이 어려우신 경우 대리 참석자의 성명과 연락처를 알려 주십시오.",
    "관련 문의는 디지털정부국 정보보호정책과 김철수 주무관(044-205-1234)에게 하시기 바랍니다.",
    "지난 회의에서 논의된 개선 과제 열두 건 가운데 아홉 건이 완료되었습니다.",
    "남은 과제는 다음 분기까지 마무리할 예정이며 진행 상황을 매주 공유하겠습니다.",
    "Please find the English summary of the agenda in the attached file.",
    "보안 점검 결과 일부 기관에서 오래된 암호 알고리즘을 사용하는 것으로 확인되었습니다.",
    "해당 기관은 이달 말까지 조치 계획을 제출하여 주시기 바랍니다.",
    "협조하여 주셔서 감사합니다.",
];

/// Display names for senders and recipients (Korean, as on the certificates).
const SURNAMES: &[&str] = &["김", "이", "박", "최", "정", "강", "조", "윤", "장", "임"];
const GIVEN_FIRST: &[&str] = &[
    "민", "서", "도", "지", "하", "시", "예", "수", "준", "우", "은", "현", "성", "영", "재", "동",
    "태", "혜", "유", "진",
];
const GIVEN_SECOND: &[&str] = &[
    "준", "연", "윤", "우", "은", "원", "호", "진", "아", "현", "희", "빈", "석", "민", "영", "철",
    "수", "경", "훈", "주",
];

/// The `n`th distinct Korean personal name (4000 before they repeat).
pub fn korean_name(n: usize) -> String {
    let s = SURNAMES[n % SURNAMES.len()];
    let rest = n / SURNAMES.len();
    let g1 = GIVEN_FIRST[rest % GIVEN_FIRST.len()];
    let g2 = GIVEN_SECOND[(rest / GIVEN_FIRST.len()) % GIVEN_SECOND.len()];
    format!("{s}{g1}{g2}")
}

/// A person in a header: display name and address.
#[derive(Debug, Clone, Copy)]
pub struct Person<'a> {
    /// The display name (RFC 2047-encoded in the header).
    pub name: &'a str,
    /// The address.
    pub addr: &'a str,
}

impl<'a> From<&'a crate::install::Account> for Person<'a> {
    fn from(account: &'a crate::install::Account) -> Self {
        Self {
            name: &account.name,
            addr: &account.address,
        }
    }
}

/// Who sends a message (also the From: header), to whom, and its sequence number.
#[derive(Debug, Clone)]
pub struct Envelope<'a> {
    /// The sender.
    pub from: Person<'a>,
    /// The recipient.
    pub to: Person<'a>,
    /// A number unique within the run.
    pub seq: u64,
    /// The domain for the Message-ID.
    pub domain: &'a str,
}

/// RFC 2047 B-encoding of a UTF-8 phrase: encoded words of at most 75 characters
/// (§2), split at character boundaries and folded onto continuation lines.
fn encoded_word(text: &str) -> String {
    use base64::Engine as _;
    const MAX_BYTES: usize = 39; // 52 base64 characters + 12 of framing = 64
    let mut words = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let mut end = (start + MAX_BYTES).min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let chunk = &text.as_bytes()[start..end];
        words.push(format!(
            "=?UTF-8?B?{}?=",
            base64::engine::general_purpose::STANDARD.encode(chunk)
        ));
        start = end;
    }
    words.join("\r\n ")
}

/// Builds a message of exactly `size` bytes (CRLF line endings, no line over 998 bytes,
/// no line starting with a dot), or of its minimal size when `size` is smaller than the
/// headers plus one line of text.
pub fn build(env: &Envelope<'_>, size: usize, rng: &mut Rng) -> Vec<u8> {
    let subject = format!("[업무협조] 정보화 사업 추진 현황 점검 요청 ({}번)", env.seq);
    let mut out = format!(
        "From: {} <{}>\r\nTo: {} <{}>\r\nSubject: {}\r\nDate: Sun, 22 Nov 2026 09:00:00 +0900\r\n\
         Message-ID: <bench.{}.{:016x}@{}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=UTF-8; format=flowed\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n",
        encoded_word(env.from.name),
        env.from.addr,
        encoded_word(env.to.name),
        env.to.addr,
        encoded_word(&subject),
        env.seq,
        rng.next_u64(),
        env.domain,
    )
    .into_bytes();
    let opening = format!(
        "{}님께,\r\n\r\n문서번호 디지털정부-{}\r\n",
        env.to.name, env.seq
    );
    out.extend_from_slice(opening.as_bytes());
    let closing = format!("\r\n{} 드림\r\n", env.from.name);
    while out.len() + closing.len() < size {
        let sentence = rng.choose(SENTENCES).expect("SENTENCES is not empty");
        let room = size - closing.len() - out.len();
        if sentence.len() + 2 <= room {
            out.extend_from_slice(sentence.as_bytes());
            out.extend_from_slice(b"\r\n");
        } else {
            // Fill the last few bytes with ASCII so the total is exact.
            let pad = room.saturating_sub(2);
            out.extend(std::iter::repeat_n(b'-', pad));
            out.extend_from_slice(b"\r\n");
            break;
        }
    }
    out.extend_from_slice(closing.as_bytes());
    out
}

/// The message as the DATA command sends it: dot-stuffed (RFC 5321 §4.5.2), ending with
/// CRLF if it does not, then the terminating `.` line.
pub fn data_payload(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 64);
    let mut at_line_start = true;
    for &b in message {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
    }
    if !message.is_empty() && !message.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope() -> Envelope<'static> {
        Envelope {
            from: Person {
                name: "홍길동",
                addr: "sender01@test.go.kr",
            },
            to: Person {
                name: "김철수",
                addr: "user001@test.go.kr",
            },
            seq: 7,
            domain: "test.go.kr",
        }
    }

    #[test]
    fn message_has_the_requested_size_and_sane_lines() {
        let mut rng = Rng::seeded(1);
        for size in [1500, 4096, 10_240, 100_000] {
            let m = build(&envelope(), size, &mut rng);
            assert_eq!(m.len(), size, "size {size}");
            let text = std::str::from_utf8(&m).expect("valid UTF-8");
            assert!(text.ends_with("홍길동 드림\r\n"));
            for line in text.split("\r\n") {
                assert!(line.len() <= 998, "line too long: {line}");
                assert!(!line.starts_with('.'));
                assert!(!line.contains('\n') && !line.contains('\r'));
            }
        }
    }

    #[test]
    fn message_headers_name_sender_and_recipient() {
        let mut rng = Rng::seeded(2);
        let m = String::from_utf8(build(&envelope(), 10_240, &mut rng)).expect("UTF-8");
        let (head, body) = m.split_once("\r\n\r\n").expect("header/body separator");
        assert!(head.starts_with("From: =?UTF-8?B?"));
        assert!(head.contains("<sender01@test.go.kr>\r\nTo: "));
        assert!(head.contains("<user001@test.go.kr>"));
        assert!(head.contains("Message-ID: <bench.7."));
        assert!(head.is_ascii(), "headers are 7-bit (RFC 2047 words)");
        for line in head.split("\r\n") {
            assert!(line.len() <= 78, "header line too long: {line}");
        }
        assert!(body.starts_with("김철수님께"));
    }

    #[test]
    fn two_messages_differ() {
        let mut rng = Rng::seeded(3);
        let a = build(&envelope(), 10_240, &mut rng);
        let b = build(&envelope(), 10_240, &mut rng);
        assert_ne!(a, b);
    }

    #[test]
    fn tiny_size_gives_the_minimal_message() {
        let mut rng = Rng::seeded(4);
        let m = build(&envelope(), 10, &mut rng);
        assert!(m.len() > 10);
        assert!(m.ends_with("홍길동 드림\r\n".as_bytes()));
    }

    #[test]
    fn data_payload_stuffs_dots_and_terminates() {
        assert_eq!(
            data_payload(b"a\r\n.b\r\n..\r\n"),
            b"a\r\n..b\r\n...\r\n.\r\n"
        );
        assert_eq!(data_payload(b".x"), b"..x\r\n.\r\n");
        assert_eq!(data_payload(b"no newline"), b"no newline\r\n.\r\n");
        assert_eq!(data_payload(b""), b".\r\n");
    }

    #[test]
    fn rng_is_deterministic_and_covers_every_choice() {
        let (mut a, mut b) = (Rng::seeded(9), Rng::seeded(9));
        assert_eq!(a.next_u64(), b.next_u64());
        assert_ne!(Rng::seeded(1).next_u64(), Rng::seeded(2).next_u64());
        let items = [0usize, 1, 2, 3, 4];
        let mut seen = [0u32; 5];
        for _ in 0..5000 {
            seen[*a.choose(&items).expect("not empty")] += 1;
        }
        assert!(seen.iter().all(|&n| n > 800), "roughly uniform: {seen:?}");
        assert_eq!(a.choose::<u8>(&[]), None);
    }

    #[test]
    fn korean_names_are_distinct() {
        let names: std::collections::HashSet<String> = (0..4000).map(korean_name).collect();
        assert_eq!(names.len(), 4000);
        assert_eq!(korean_name(0), "김민준");
    }
}
