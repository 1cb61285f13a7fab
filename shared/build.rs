//! Compiles the part of libphonenumber's metadata that phone matching reads (country codes, national
//! prefixes and the patterns that decide them; see `src/crm/phone.rs`) into a static table, taken from the
//! `phonenumber` crate's copy. Loading that crate's whole database at run time costs about 100 ms of CPU on
//! the first request after every cold start; this table costs nothing until a pattern is used.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use phonenumber::metadata::{DATABASE, Descriptor};

/// Patterns, deduplicated: (source, possible lengths, local-only lengths).
#[derive(Default)]
struct Patterns {
    list: Vec<(String, Vec<u16>, Vec<u16>)>,
    index: HashMap<(String, Vec<u16>, Vec<u16>), usize>,
}

impl Patterns {
    /// The metadata's patterns are written for `ignore_whitespace`: dropping the whitespace keeps their
    /// meaning, as long as none has a `#` comment. Every use asks for a match at the start of a number, so
    /// each is anchored there: the matcher then stops as soon as the start cannot match.
    fn add(&mut self, source: &str, lengths: &[u16], local: &[u16]) -> usize {
        assert!(!source.contains('#'), "pattern with a comment: {source}");
        let key = (
            format!("^(?:{})", source.split_whitespace().collect::<String>()),
            lengths.to_vec(),
            local.to_vec(),
        );
        let next = self.list.len();
        *self.index.entry(key.clone()).or_insert_with(|| {
            self.list.push(key);
            next
        })
    }

    fn descriptor(&mut self, d: &Descriptor) -> usize {
        self.add(
            d.national_number().as_str(),
            d.possible_length(),
            d.possible_local_length(),
        )
    }
}

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let mut codes: Vec<u16> = DATABASE.iter().map(|m| m.country_code()).collect();
    codes.sort_unstable();
    codes.dedup();

    let mut patterns = Patterns::default();
    let mut regions = String::new();
    for code in codes {
        // In the order `phonenumber` tries them: the main country first.
        let metas = DATABASE.by_code(&code).expect("a code from the database");
        // Which region's rules apply is only decided by patterns when a code has several regions.
        let shared = metas.len() > 1;
        // Any national prefix rule of those regions, as one pattern: when it does not match, no region's
        // rules change the number and the region need not be decided.
        let mut prefix_rules: Vec<String> = metas
            .iter()
            .filter_map(|m| m.national_prefix_for_parsing())
            .map(|r| format!("(?:{})", r.as_str()))
            .collect();
        prefix_rules.sort();
        prefix_rules.dedup();
        let any_prefix_rule = (shared && !prefix_rules.is_empty())
            .then(|| patterns.add(&prefix_rules.join("|"), &[], &[]));
        for meta in metas {
            let opt = |p: Option<usize>| p.map_or("None".to_owned(), |i| format!("Some({i})"));
            let leading = meta
                .leading_digits()
                .map(|r| patterns.add(r.as_str(), &[], &[]));
            let parsing = meta
                .national_prefix_for_parsing()
                .map(|r| patterns.add(r.as_str(), &[], &[]));
            let general = patterns.descriptor(meta.descriptors().general());
            let d = meta.descriptors();
            // The order `phonenumber` tests the number types in to decide a shared code's region.
            let types: Vec<usize> = if shared {
                [
                    d.premium_rate(),
                    d.toll_free(),
                    d.shared_cost(),
                    d.voip(),
                    d.personal_number(),
                    d.pager(),
                    d.uan(),
                    d.voicemail(),
                    d.fixed_line(),
                    d.mobile(),
                ]
                .into_iter()
                .flatten()
                .map(|d| patterns.descriptor(d))
                .collect()
            } else {
                Vec::new()
            };
            writeln!(
                regions,
                "    Region {{ code: {code}, id: {:?}, leading_digits: {}, national_prefix: {:?}, \
                 prefix_for_parsing: {}, transform: {:?}, general: {general}, types: &{types:?}, \
                 any_prefix_rule: {} }},",
                meta.id(),
                opt(leading),
                meta.national_prefix(),
                opt(parsing),
                meta.national_prefix_transform_rule(),
                opt(any_prefix_rule),
            )
            .expect("writing to a String");
        }
    }

    let default = DATABASE.by_id(DEFAULT_REGION).expect("the default region");
    let idd = default
        .international_prefix()
        .map(|r| patterns.add(r.as_str(), &[], &[]));

    let mut out =
        String::from("// Generated by build.rs from the `phonenumber` crate's metadata.\n\n");
    writeln!(out, "const DEFAULT_REGION_ID: &str = {DEFAULT_REGION:?};").unwrap();
    writeln!(out, "const DEFAULT_IDD: Option<usize> = {idd:?};").unwrap();
    writeln!(
        out,
        "static PATTERNS: [Pattern; {}] = [",
        patterns.list.len()
    )
    .unwrap();
    for (source, lengths, local) in &patterns.list {
        writeln!(
            out,
            "    Pattern::new({source:?}, &{lengths:?}, &{local:?}),"
        )
        .unwrap();
    }
    out.push_str("];\n\nstatic REGIONS: &[Region] = &[\n");
    out.push_str(&regions);
    out.push_str("];\n");

    let dir = std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(Path::new(&dir).join("phone_metadata.rs"), out).expect("writing the table");
}

/// Numbers written without a country code are read as this region's (App Connect's users are mostly
/// North American).
const DEFAULT_REGION: &str = "US";
