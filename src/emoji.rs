//! Is this text one emoji? (SPEC §5: a Unicode emoji sequence of at most 10 code points.)
//!
//! Plain logic, tested natively. Accepts pictographs with their modifiers (skin tones,
//! variation selectors, ZWJ sequences, tags), keycaps and regional-indicator flags.

/// Longest accepted sequence, in code points.
pub const MAX_CODE_POINTS: usize = 10;

fn is_pictograph(c: char) -> bool {
    matches!(c as u32,
        0x1F000..=0x1FAFF // symbols, pictographs, emoticons, transport, supplemental
        | 0x2600..=0x27BF // misc symbols, dingbats
        | 0x2300..=0x23FF // misc technical (⌚ ⏰)
        | 0x2B00..=0x2BFF // arrows, stars (⭐ ⬛)
        | 0x2190..=0x21FF // arrows (↔)
        | 0x25A0..=0x25FF // geometric shapes (▶)
        | 0x2900..=0x297F // arrows (⤴)
        | 0x3030 | 0x303D | 0x3297 | 0x3299 | 0x00A9 | 0x00AE | 0x203C | 0x2049 | 0x2122
        | 0x2139 | 0x24C2)
}

fn is_modifier(c: char) -> bool {
    matches!(c as u32,
        0x1F3FB..=0x1F3FF // skin tones
        | 0xFE0E | 0xFE0F // variation selectors
        | 0x200D          // zero-width joiner
        | 0xE0020..=0xE007F // tags (subdivision flags)
        | 0x20E3) // combining keycap
}

fn is_regional_indicator(c: char) -> bool {
    (0x1F1E6..=0x1F1FF).contains(&(c as u32))
}

/// True when `s` is a single emoji sequence.
pub fn is_emoji(s: &str) -> bool {
    let chars: Vec<char> = s.chars().collect();
    if chars.is_empty() || chars.len() > MAX_CODE_POINTS {
        return false;
    }
    // Keycaps: [0-9#*] FE0F? 20E3.
    if matches!(chars[0], '0'..='9' | '#' | '*') {
        return matches!(chars[1..], ['\u{FE0F}', '\u{20E3}'] | ['\u{20E3}']);
    }
    // Flags: exactly two regional indicators.
    if chars.iter().any(|c| is_regional_indicator(*c)) {
        return chars.len() == 2 && chars.iter().all(|c| is_regional_indicator(*c));
    }
    // Pictographs joined by ZWJ, each optionally modified.
    let mut expect_base = true;
    for c in chars {
        if expect_base {
            if !is_pictograph(c) {
                return false;
            }
            expect_base = false;
        } else if c == '\u{200D}' {
            expect_base = true;
        } else if !is_modifier(c) {
            return false;
        }
    }
    !expect_base
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_emoji_are_accepted() {
        for e in [
            "👍",
            "❤️",
            "😂",
            "👍🏽",
            "👩‍💻",
            "👨‍👩‍👧‍👦",
            "🇫🇷",
            "1️⃣",
            "#⃣",
            "⭐",
            "🏴󠁧󠁢󠁳󠁣󠁴󠁿",
        ] {
            assert!(is_emoji(e), "{e} is an emoji");
        }
    }

    #[test]
    fn text_and_sequences_of_emoji_are_refused() {
        for e in [
            "",
            "a",
            "ok",
            "👍👍",
            "👍 ",
            " 👍",
            "1",
            "🇫",
            "🇫🇷🇩🇪",
            "‍👍",
            "👍‍",
            ":+1:",
            "<b>",
        ] {
            assert!(!is_emoji(e), "{e:?} is not one emoji");
        }
    }

    #[test]
    fn long_sequences_are_refused() {
        let long = ["👨"; 6].join("\u{200D}"); // 11 code points
        assert!(!is_emoji(&long));
    }
}
