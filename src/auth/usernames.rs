//! Usernames: Django's rules (1–150 letters, digits and `@.+-_`), stored in NFC, unique
//! case-insensitively and unique by Unicode confusable skeleton (TR39), so "ann" and "аnn"
//! (Cyrillic а) or "rn" and "m" cannot both be taken.

use unicode_normalization::UnicodeNormalization;

/// Longest username, in code points.
pub const MAX_LEN: usize = 150;

/// The stored form of a username: trimmed, NFC.
pub fn normalized(raw: &str) -> String {
    raw.trim().nfc().collect()
}

/// The lookup form: lowercased (Unicode-aware) stored form.
pub fn lower(raw: &str) -> String {
    normalized(raw).to_lowercase()
}

/// The form two confusable names share: the TR39 skeleton of the lowercased name.
pub fn key(raw: &str) -> String {
    unicode_security::skeleton(&lower(raw)).collect()
}

/// Whether `name` (stored form) is a valid username.
pub fn valid(name: &str) -> bool {
    let len = name.chars().count();
    (1..=MAX_LEN).contains(&len)
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "@.+-_".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stored_in_nfc() {
        let decomposed = "Zoe\u{0301}"; // e + combining acute
        assert_eq!(normalized(decomposed), "Zoé");
        assert_eq!(lower(" ZOÉ "), "zoé");
    }

    #[test]
    fn confusable_names_share_a_key() {
        assert_eq!(key("ann"), key("\u{0430}nn"), "Cyrillic а");
        assert_eq!(key("Ann"), key("ann"), "case");
        assert_eq!(key("rn"), key("m"), "rn / m");
        assert_ne!(key("ann"), key("anne"));
    }

    #[test]
    fn usernames_follow_djangos_rules() {
        for ok in ["ann.o+x@y-z_1", "Zoë", "a"] {
            assert!(valid(&normalized(ok)), "{ok}");
        }
        let long = "a".repeat(MAX_LEN + 1);
        for bad in ["has space", "", long.as_str(), "semi;colon"] {
            assert!(!valid(&normalized(bad)), "{bad:?}");
        }
    }
}
