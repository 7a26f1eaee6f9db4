//! Korean first, English by `Accept-Language` (RFC 9110 §12.5.4): the first of `ko` or
//! `en` by quality wins; anything else, or no header, gets Korean. Pages write each
//! sentence in both languages beside each other (`lang.pick("…", "…")`), so a missing
//! translation is impossible to miss.

/// The page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    Ko,
    En,
}

impl Lang {
    /// From an `Accept-Language` header value.
    pub(crate) fn from_header(value: &str) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for item in value.split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            let lang = match tag.split('-').next() {
                Some("ko") => Lang::Ko,
                Some("en") => Lang::En,
                _ => continue,
            };
            if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::Ko, |(_, l)| l)
    }

    /// The `lang` attribute.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Lang::Ko => "ko",
            Lang::En => "en",
        }
    }

    /// The Korean or the English text.
    pub(crate) fn pick(self, ko: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Ko => ko,
            Lang::En => en,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Lang;

    #[test]
    fn korean_unless_english_is_preferred() {
        assert_eq!(Lang::from_header(""), Lang::Ko);
        assert_eq!(Lang::from_header("fr-FR"), Lang::Ko);
        assert_eq!(Lang::from_header("en-US,en;q=0.9"), Lang::En);
        assert_eq!(Lang::from_header("en;q=0.5, ko-KR"), Lang::Ko);
        assert_eq!(Lang::from_header("ko;q=0.3, en;q=0.8"), Lang::En);
    }
}
