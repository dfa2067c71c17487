//! The interface's languages: Dutch (the first schools') and English, chosen from Accept-Language.

/// A language the interface speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    /// Nederlands, the default.
    #[default]
    Nl,
    /// English.
    En,
}

impl Lang {
    /// The language code.
    pub const fn code(self) -> &'static str {
        match self {
            Lang::Nl => "nl",
            Lang::En => "en",
        }
    }

    /// Picks the best language from an `Accept-Language` header: the first of Dutch or English by
    /// quality, Dutch when neither is asked for.
    pub fn from_accept_language(header: &str) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for item in header.split(',') {
            let mut parts = item.trim().split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts.find_map(|p| p.trim().strip_prefix("q=")).and_then(|q| q.parse::<f32>().ok()).unwrap_or(1.0);
            let lang = match tag.split('-').next() {
                Some("nl") => Lang::Nl,
                Some("en") => Lang::En,
                _ => continue,
            };
            if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::default(), |(_, l)| l)
    }

    /// "23 of 28 answered" / "23 van 28 beantwoord".
    pub fn answered(self, answered: u32, expected: u32) -> String {
        match self {
            Lang::Nl => format!("{answered} van {expected} beantwoord"),
            Lang::En => format!("{answered} of {expected} answered"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dutch_browser_gets_dutch_and_an_english_one_english() {
        assert_eq!(Lang::from_accept_language("nl-NL,nl;q=0.9,en-US;q=0.8"), Lang::Nl);
        assert_eq!(Lang::from_accept_language("en-GB,en;q=0.9"), Lang::En);
        assert_eq!(Lang::from_accept_language("de-DE,en;q=0.5,nl;q=0.7"), Lang::Nl);
        assert_eq!(Lang::from_accept_language("fr-FR"), Lang::Nl, "Dutch when neither is asked for");
        assert_eq!(Lang::from_accept_language("nl;q=0,en"), Lang::En);
        assert_eq!(Lang::from_accept_language(""), Lang::Nl);
    }

    #[test]
    fn the_count_reads_naturally_in_both_languages() {
        assert_eq!(Lang::Nl.answered(23, 28), "23 van 28 beantwoord");
        assert_eq!(Lang::En.answered(23, 28), "23 of 28 answered");
    }
}
