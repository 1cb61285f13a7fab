//! Phone matching. Every way of writing a number reduces to one key: its national significant number when a
//! libphonenumber-grade parser understands it (E.164 as given, or national in the default region), else its
//! digits. Contacts are indexed under that key, so all `overridingFormat` variants of a number, and whatever
//! formatting the user typed, meet in one indexed lookup.

use phonenumber::country::Id;

/// Numbers written without a country code are read as this region's (App Connect's users are mostly
/// North American).
const DEFAULT_REGION: Id = Id::US;

/// App Connect URL-decodes `+` into a space: a leading space is a `+`.
pub fn restore_plus(raw: &str) -> String {
    match raw.strip_prefix(' ') {
        Some(rest) => format!("+{}", rest.trim()),
        None => raw.trim().to_owned(),
    }
}

fn digits(raw: &str) -> String {
    raw.chars().filter(char::is_ascii_digit).collect()
}

/// The national significant number, with Italian-style leading zeros kept.
fn national(number: &phonenumber::PhoneNumber) -> String {
    let national = number.national();
    format!(
        "{}{}",
        "0".repeat(national.zeros() as usize),
        national.value()
    )
}

/// E.164 allows 15 digits; a few more leave room for extensions and trunk prefixes as people type them.
const MAX_DIGITS: usize = 20;

/// The index key of a number as someone wrote it; `None` when it is not a phone number (no digits, or
/// more than any phone number has).
pub fn key(raw: &str) -> Option<String> {
    let raw = restore_plus(raw);
    let digits = digits(&raw);
    if digits.is_empty() || digits.len() > MAX_DIGITS || raw.len() > 4 * MAX_DIGITS {
        return None;
    }
    let region = (!raw.starts_with('+')).then_some(DEFAULT_REGION);
    match phonenumber::parse(region, &raw) {
        Ok(number) => Some(national(&number)),
        Err(_) => Some(digits),
    }
}

/// A searched number: its E.164 form and national digits, from which format variants are filled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Searched {
    pub e164: String,
    pub national: String,
}

/// Parses the number App Connect searches for (E.164, with its `+` possibly turned into a space).
pub fn parse_searched(raw: &str) -> Option<Searched> {
    let raw = restore_plus(raw);
    let region = (!raw.starts_with('+')).then_some(DEFAULT_REGION);
    let number = phonenumber::parse(region, &raw).ok()?;
    let national = national(&number);
    Some(Searched {
        e164: format!("+{}{}", number.code().value(), national),
        national,
    })
}

/// Fills each `*` (or `#`) of a format with the national digits in order: `(***) ***-****` with
/// `6505559876` gives `(650) 555-9876`. A format whose placeholders do not match the digit count is
/// skipped: a partial fill would match other people's numbers.
pub fn fill(format: &str, national: &str) -> Option<String> {
    let mut digits = national.chars();
    let filled: Option<String> = format
        .chars()
        .map(|c| {
            if c == '*' || c == '#' {
                digits.next()
            } else {
                Some(c)
            }
        })
        .collect();
    filled.filter(|_| digits.next().is_none())
}

/// The distinct index keys of a search: the number itself and each filled `overridingFormat` variant
/// (which nearly always reduce to the same key).
pub fn search_keys(searched: &Searched, variants: &[String]) -> Vec<String> {
    let mut keys = vec![searched.national.clone()];
    for key in variants.iter().filter_map(|v| key(v)) {
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_a_number_has_one_key() {
        let want = Some("6505559876".to_owned());
        for raw in [
            "+16505559876",
            " 16505559876",
            "(650) 555-9876",
            "650.555.9876",
            "1-650-555-9876",
            "+1 650 555 9876",
        ] {
            assert_eq!(key(raw), want, "{raw}");
        }
        assert_eq!(key("+44 20 7946 0958"), Some("2079460958".into()));
        assert_eq!(key("+39 06 1234 5678"), Some("0612345678".into()));
        assert_eq!(key("call me"), None);
        assert_eq!(key(&format!("+1{}", "9".repeat(30))), None);
    }

    #[test]
    fn fills_formats_and_keeps_the_plus() {
        let s = parse_searched(" 16505559876").unwrap();
        assert_eq!(
            s,
            Searched {
                e164: "+16505559876".into(),
                national: "6505559876".into()
            }
        );
        assert_eq!(
            fill("(***) ***-****", &s.national).as_deref(),
            Some("(650) 555-9876")
        );
        assert_eq!(
            fill("###-###-####", &s.national).as_deref(),
            Some("650-555-9876")
        );
        assert_eq!(fill("(***) ***-*****", &s.national), None);
        assert_eq!(fill("***-****", &s.national), None);
        let variants: Vec<String> = ["(***) ***-****", "***-***-****", "+1 *** *** ****"]
            .iter()
            .filter_map(|f| fill(f, &s.national))
            .collect();
        assert_eq!(search_keys(&s, &variants), vec!["6505559876"]);
        assert!(parse_searched("not a number").is_none());
    }
}
