//! Phone matching. Every way of writing a number reduces to one key: its national significant number when a
//! libphonenumber-grade parser understands it (E.164 as given, or national in the default region), else its
//! digits. Contacts are indexed under that key, so all `overridingFormat` variants of a number, and whatever
//! formatting the user typed, meet in one indexed lookup.
//!
//! The parser follows the `phonenumber` crate's (the tests compare the two on every region's example
//! numbers) but reads only what matching needs from a table that build.rs compiles from that crate's
//! metadata, instead of loading its whole database: that took about 100 ms of CPU on the first request of
//! every process.

use std::sync::OnceLock;

use regex_lite::Regex;

/// A metadata pattern, compiled on first use: the patterns are small and ASCII, so regex-lite compiles one
/// in microseconds, and a request only ever touches its own country's few.
struct Pattern {
    source: &'static str,
    /// Possible lengths of a national number (none listed: any length).
    lengths: &'static [u16],
    /// Lengths only diallable locally.
    local: &'static [u16],
    compiled: OnceLock<Option<Regex>>,
}

impl Pattern {
    const fn new(source: &'static str, lengths: &'static [u16], local: &'static [u16]) -> Self {
        Self {
            source,
            lengths,
            local,
            compiled: OnceLock::new(),
        }
    }

    /// `None` only if the pattern does not compile, which the tests rule out for every pattern.
    fn regex(&self) -> Option<&Regex> {
        self.compiled
            .get_or_init(|| Regex::new(self.source).ok())
            .as_ref()
    }

    /// The leftmost match, when it is at the start of `value` (libphonenumber's "matches at the beginning").
    fn at_start<'v>(&self, value: &'v str) -> Option<regex_lite::Match<'v>> {
        self.regex()?.find(value).filter(|m| m.start() == 0)
    }

    /// A number of a possible length (when lengths are listed) that the pattern matches at its start.
    fn is_match(&self, value: &str) -> bool {
        (self.lengths.is_empty() || self.lengths.contains(&(value.len() as u16)))
            && self.at_start(value).is_some()
    }
}

/// One region's rules for reading a national number.
struct Region {
    code: u16,
    id: &'static str,
    /// Decides which of the regions sharing a country code a number belongs to.
    leading_digits: Option<usize>,
    national_prefix: Option<&'static str>,
    prefix_for_parsing: Option<usize>,
    transform: Option<&'static str>,
    general: usize,
    /// Number types tried when a shared code's region has no leading digits.
    types: &'static [usize],
    /// Every national prefix rule of the regions sharing this code, as one pattern.
    any_prefix_rule: Option<usize>,
}

// `PATTERNS` and `REGIONS` (sorted by code, the main region first), from build.rs.
include!(concat!(env!("OUT_DIR"), "/phone_metadata.rs"));

#[derive(PartialEq)]
enum Length {
    TooShort,
    Possible,
    Other,
}

impl Region {
    fn general(&self) -> &'static Pattern {
        &PATTERNS[self.general]
    }

    fn length(&self, national: &str) -> Length {
        let general = self.general();
        let n = national.len() as u16;
        // Without listed lengths no length is possible, nor too short (as in `phonenumber`).
        let Some(&min) = general.lengths.first() else {
            return Length::Other;
        };
        if general.local.contains(&n) || general.lengths.contains(&n) {
            Length::Possible
        } else if n < min {
            Length::TooShort
        } else {
            Length::Other
        }
    }

    fn is_valid(&self, national: &str) -> bool {
        self.general().is_match(national)
            && self.types.iter().any(|&t| PATTERNS[t].is_match(national))
    }

    /// The number without its national prefix (or with the prefix transformed, where the region says so).
    fn strip_prefix(&self, national: &str) -> String {
        let Some(parsing) = self.prefix_for_parsing.map(|p| &PATTERNS[p]) else {
            let prefix = self.national_prefix.unwrap_or_default();
            return national.strip_prefix(prefix).unwrap_or(national).to_owned();
        };
        let Some(regex) = parsing.regex() else {
            return national.to_owned();
        };
        let Some(captures) = regex
            .captures(national)
            .filter(|c| c.get(0).is_some_and(|m| m.start() == 0))
        else {
            return national.to_owned();
        };
        let last_group = captures.get(captures.len() - 1);
        match self.transform {
            Some(rule) if last_group.is_some() => {
                let transformed = regex.replace(national, rule).into_owned();
                let general = self.general();
                if general.is_match(national) && !general.is_match(&transformed) {
                    national.to_owned()
                } else {
                    transformed
                }
            }
            _ => national[captures.get(0).map_or(0, |m| m.end())..].to_owned(),
        }
    }
}

fn regions(code: u16) -> &'static [Region] {
    let start = REGIONS.partition_point(|r| r.code < code);
    let end = REGIONS.partition_point(|r| r.code <= code);
    &REGIONS[start..end]
}

fn default_region() -> Option<&'static Region> {
    REGIONS.iter().find(|r| r.id == DEFAULT_REGION_ID)
}

/// The region of a number written with its country code, when its rules could change the number: the
/// only one, or the first whose leading digits (or, lacking those, whose number types) match. Deciding
/// that takes the long number-type patterns, so it is skipped when no rule of any candidate applies (the
/// usual case: no national prefix after the country code).
fn region_of(code: u16, national: &str) -> Option<&'static Region> {
    match regions(code) {
        [only] => Some(only),
        several => {
            let first = several.first()?;
            let prefixed = several
                .iter()
                .filter_map(|r| r.national_prefix)
                .any(|p| national.starts_with(p));
            let rule_applies = first
                .any_prefix_rule
                .is_some_and(|p| PATTERNS[p].at_start(national).is_some());
            if !prefixed && !rule_applies {
                return None;
            }
            // As `phonenumber` does, the region is decided on the number without leading zeros.
            let significant = national.trim_start_matches('0');
            several.iter().find(|r| match r.leading_digits {
                Some(p) => PATTERNS[p].at_start(significant).is_some(),
                None => r.is_valid(significant),
            })
        }
    }
}

/// A national significant number has 2 to 17 digits.
const NSN_LENGTHS: std::ops::RangeInclusive<usize> = 2..=17;

/// Splits a number written with its country code into the code and the rest.
fn split_code(digits: &str) -> Option<(u16, &str)> {
    if digits.len() <= *NSN_LENGTHS.start() || digits.starts_with('0') {
        return None;
    }
    (1..=3).find_map(|len| {
        let code = digits[..len].parse().ok()?;
        (!regions(code).is_empty()).then(|| (code, &digits[len..]))
    })
}

/// Separators people type between digits.
const PUNCTUATION: &[char] = &[' ', '-', '.', '(', ')', '/', '[', ']', '~', '*', '\u{a0}'];

/// The digits of a number as written, and whether it starts with `+`: from the first `+` or digit, up to an
/// extension (`x`, `ext.`, `#`, `;`). Anything else between the digits, letters included, is not a number.
fn written(raw: &str) -> Option<(bool, String)> {
    let number = &raw[raw.find(|c: char| c == '+' || c.is_ascii_digit())?..];
    let number = number
        .find(|c: char| c.is_ascii_alphabetic() || matches!(c, '#' | ';' | ','))
        .map_or(number, |end| &number[..end]);
    let rest = number.trim_start_matches('+');
    if !rest
        .chars()
        .all(|c| c.is_ascii_digit() || PUNCTUATION.contains(&c))
    {
        return None;
    }
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    let viable = digits.len() >= 3 || (digits.len() == 2 && rest == digits);
    viable.then_some((rest.len() < number.len(), digits))
}

struct Parsed {
    code: u16,
    national: String,
}

/// Reads a number as libphonenumber does: the country code after `+` or the default region's international
/// prefix (else the default region's), then the national prefix stripped where the region's rules say so.
fn parse(raw: &str) -> Option<Parsed> {
    let (plus, digits) = written(raw)?;
    let default = default_region()?;
    let idd = DEFAULT_IDD
        .and_then(|p| PATTERNS[p].at_start(&digits))
        .map(|m| &digits[m.end()..])
        .filter(|rest| !rest.starts_with('0'));
    let (code, national, region) = if plus {
        let (code, national) = split_code(&digits)?;
        (code, national, region_of(code, national))
    } else if let Some(rest) = idd {
        // As libphonenumber does, the default region's rules still apply to what follows.
        let (code, national) = split_code(rest)?;
        (code, national, Some(default))
    } else {
        // A leading country code is dropped unless the whole is a possible national number.
        let own_code = default.code.to_string();
        let national = match digits.strip_prefix(&own_code) {
            Some(rest)
                if !default.general().is_match(&digits)
                    || default.length(&digits) != Length::Possible =>
            {
                rest
            }
            _ => &digits,
        };
        (default.code, national, Some(default))
    };
    let mut national = national.to_owned();
    if let Some(region) = region {
        // `phonenumber` drops a national prefix once more after the region's rule.
        let stripped = region.strip_prefix(&national);
        let stripped = region
            .national_prefix
            .and_then(|p| stripped.strip_prefix(p))
            .map_or_else(|| stripped.clone(), str::to_owned);
        if region.length(&stripped) != Length::TooShort {
            national = stripped;
        }
    }
    let value: u64 = national.trim_start_matches('0').parse().ok()?;
    (NSN_LENGTHS.contains(&national.len()) && value < 1 << 56).then_some(Parsed { code, national })
}

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
    Some(parse(&raw).map_or(digits, |number| number.national))
}

/// A searched number: its E.164 form and national digits, from which format variants are filled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Searched {
    pub e164: String,
    pub national: String,
}

/// Parses the number App Connect searches for (E.164, with its `+` possibly turned into a space).
pub fn parse_searched(raw: &str) -> Option<Searched> {
    let Parsed { code, national } = parse(&restore_plus(raw))?;
    Some(Searched {
        e164: format!("+{code}{national}"),
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

    #[test]
    fn every_metadata_pattern_compiles() {
        let broken: Vec<&str> = PATTERNS
            .iter()
            .filter(|p| p.regex().is_none())
            .map(|p| p.source)
            .collect();
        assert!(broken.is_empty(), "{broken:?}");
    }

    /// What `key` and `parse_searched` gave when they called the `phonenumber` crate.
    fn reference(raw: &str) -> (Option<String>, Option<Searched>) {
        let raw = restore_plus(raw);
        let region = (!raw.starts_with('+')).then_some(phonenumber::country::Id::US);
        let parsed = phonenumber::parse(region, &raw).ok().map(|n| {
            let national = format!(
                "{}{}",
                "0".repeat(n.national().zeros() as usize),
                n.national().value()
            );
            Searched {
                e164: format!("+{}{national}", n.code().value()),
                national,
            }
        });
        let digits = digits(&raw);
        let key = (!digits.is_empty() && digits.len() <= MAX_DIGITS && raw.len() <= 4 * MAX_DIGITS)
            .then(|| parsed.as_ref().map_or(digits, |s| s.national.clone()));
        (key, parsed)
    }

    /// Every region's example numbers, written the ways people and App Connect write them, read exactly
    /// as the `phonenumber` crate reads them.
    #[test]
    fn reads_every_region_as_phonenumber_does() {
        let mut spellings = vec![
            "+1 1 650 555 9876".to_owned(),
            "1 1 650 555 9876".into(),
            "+1 234 5678".into(),
            "+44 123456".into(),
            "+7 812 123 4567".into(),
            "+61 51234567".into(),
            "00".into(),
            "+".into(),
            "+0 650".into(),
            "650".into(),
            "(650) 555-9876".into(),
        ];
        for meta in phonenumber::metadata::DATABASE.iter() {
            let d = meta.descriptors();
            let code = meta.country_code();
            let prefix = meta.national_prefix().unwrap_or("0");
            let examples = [
                d.fixed_line(),
                d.mobile(),
                d.toll_free(),
                d.premium_rate(),
                d.voip(),
                d.uan(),
            ]
            .into_iter()
            .flatten()
            .filter_map(|d| d.example());
            for nsn in examples {
                let grouped: String = nsn
                    .chars()
                    .enumerate()
                    .map(|(i, c)| {
                        if i > 0 && i % 3 == 0 {
                            format!(" {c}")
                        } else {
                            c.to_string()
                        }
                    })
                    .collect();
                let short = &nsn[..nsn.len() / 2];
                spellings.extend([
                    format!("+{code}{nsn}"),
                    format!(" {code}{nsn}"),
                    format!("+{code} {grouped}"),
                    format!("+{code}-{nsn}"),
                    format!("+{code} ({prefix}) {nsn}"),
                    format!("+{code} {prefix}{nsn}"),
                    format!("{prefix}{nsn}"),
                    nsn.to_owned(),
                    format!("({code}) {grouped}"),
                    format!("011 {code} {nsn}"),
                    format!("00{code}{nsn}"),
                    format!("1{nsn}"),
                    format!("+{code}{short}"),
                    format!("+{code}{nsn}7"),
                    format!("+{code} {nsn} ext. 12"),
                ]);
            }
        }
        let differ: Vec<String> = spellings
            .iter()
            .filter_map(|raw| {
                let ours = (key(raw), parse_searched(raw));
                let theirs = reference(raw);
                (ours != theirs).then(|| format!("{raw:?}: {ours:?} != {theirs:?}"))
            })
            .collect();
        assert!(
            differ.is_empty(),
            "{} of {} differ, e.g. {:#?}",
            differ.len(),
            spellings.len(),
            &differ[..differ.len().min(20)]
        );
    }
}
