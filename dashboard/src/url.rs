//! Query values in links: percent-encoding, one function for every page and handler.

/// Percent-encodes `s` for a URL's query: everything but the unreserved characters
/// (`A–Z a–z 0–9 - _ . ~`) becomes `%XX`.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_and_non_ascii_characters_are_escaped() {
        assert_eq!(encode("3A havo"), "3A%20havo");
        assert_eq!(encode("/rooms?x=1&y"), "%2Frooms%3Fx%3D1%26y");
        assert_eq!(encode("Zoë"), "Zo%C3%AB");
        assert_eq!(encode("a-b_c.d~e"), "a-b_c.d~e");
    }
}
