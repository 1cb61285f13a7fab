//! Usernames are compared (and stored) in a Unicode NFKC_Casefold form, so that `straße` and `strasse`, NFD
//! and NFC `josé`, and fullwidth `ｆｕｌｌ` and `full` are one name for uniqueness and sign-in. Names carrying
//! control, format (zero-width space, joiner) or bidi characters (U+202E) are refused: they let two names
//! look alike on screen.

use icu_casemap::CaseMapper;
use icu_normalizer::{ComposingNormalizerBorrowed, DecomposingNormalizerBorrowed};
use icu_properties::props::{BidiControl, GeneralCategory};
use icu_properties::{CodePointMapData, CodePointSetData};

use crate::error::Error;

pub const INVISIBLE_CHARACTERS: &str =
    "request body/username must not contain control, format or bidi characters";

/// Control (Cc), format (Cf) and bidi control characters.
fn invisible(c: char) -> bool {
    matches!(
        CodePointMapData::<GeneralCategory>::new().get(c),
        GeneralCategory::Control | GeneralCategory::Format
    ) || CodePointSetData::new::<BidiControl>().contains(c)
}

/// The compatibility caseless form (Unicode §3.13): fold and normalize twice, as one pass of case folding
/// can make characters that compatibility normalization changes again (and the other way round).
fn caseless(name: &str) -> String {
    let fold = |s: &str| CaseMapper::new().fold_string(s).into_owned();
    let nfkc = |s: &str| {
        ComposingNormalizerBorrowed::new_nfkc()
            .normalize(s)
            .into_owned()
    };
    let decomposed = DecomposingNormalizerBorrowed::new_nfd().normalize(name);
    nfkc(&fold(&nfkc(&fold(&decomposed))))
}

/// The canonical form of a username: trimmed, NFKC_Casefold. Refuses an empty name and one with control,
/// format or bidi characters.
pub fn canonical(username: &str) -> Result<String, Error> {
    let trimmed = username.trim();
    if trimmed.chars().any(invisible) {
        return Err(Error::validation(vec![INVISIBLE_CHARACTERS.into()]));
    }
    let name = caseless(trimmed);
    if name.trim().is_empty() {
        return Err(Error::bad_request("username must be set"));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookalikes_are_one_name() {
        for (a, b) in [
            ("straße", "STRASSE"),
            ("jose\u{301}", "Jos\u{e9}"),
            ("ｆｕｌｌ", "Full"),
            ("ﬁne", "fine"),
            (" Robin ", "robin"),
        ] {
            assert_eq!(canonical(a).unwrap(), canonical(b).unwrap(), "{a} / {b}");
        }
        assert_ne!(canonical("robin").unwrap(), canonical("robyn").unwrap());
    }

    #[test]
    fn invisible_characters_are_refused() {
        for name in [
            "a\u{0}b",
            "a\u{1b}b",
            "admin\u{202e}",
            "ad\u{200b}min",
            "ad\u{200d}min",
            "\u{200f}x",
            "x\u{feff}",
        ] {
            assert!(
                matches!(canonical(name), Err(Error::BadRequest { .. })),
                "{name:?}"
            );
        }
        assert!(canonical("   ").is_err());
    }
}
