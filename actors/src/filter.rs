//! Word filters: a list of words, any of which refuses a message that contains it.
//!
//! Matching works on a folded copy of both sides: Unicode compatibility forms are unified
//! (NFKC: full-width `ＡＢＣ１` is `ABC1`, half-width `ｶﾞ` is `ガ`, `①` is `1`) and case is
//! ignored. Words match anywhere, with no word boundaries, so Chinese and Japanese text
//! (which has none) is filtered like any other. One Aho-Corasick automaton holds every word,
//! so a check costs one pass over the message whatever the list's length; it is built once
//! per change of the list, never per message.

use aho_corasick::{AhoCorasick, AhoCorasickKind};
use unicode_normalization::UnicodeNormalization;

/// Most words one list holds.
pub const MAX_WORDS: usize = 5000;
/// Longest word, in characters after folding.
pub const MAX_WORD_CHARS: usize = 50;

/// The form text is compared in: NFKC, then lower case.
pub fn fold(text: &str) -> String {
    text.nfkc().flat_map(char::to_lowercase).collect()
}

/// A list of words as it is stored: folded, trimmed, without blanks or repeats, sorted.
/// Refuses lists that are too long or hold a word that is too long.
pub fn clean_words(words: &[String]) -> Result<Vec<String>, String> {
    let mut clean: Vec<String> = words
        .iter()
        .map(|w| fold(w.trim()))
        .filter(|w| !w.trim().is_empty())
        .collect();
    if let Some(long) = clean.iter().find(|w| w.chars().count() > MAX_WORD_CHARS) {
        let shown: String = long.chars().take(20).collect();
        return Err(format!(
            "a word may have at most {MAX_WORD_CHARS} characters (\"{shown}…\" has more)"
        ));
    }
    clean.sort();
    clean.dedup();
    if clean.len() > MAX_WORDS {
        return Err(format!("a list may hold at most {MAX_WORDS} words"));
    }
    Ok(clean)
}

/// A compiled list; the empty filter matches nothing and costs nothing.
#[derive(Debug, Clone, Default)]
pub struct WordFilter {
    automaton: Option<AhoCorasick>,
}

impl WordFilter {
    pub fn new<S: AsRef<str>>(words: &[S]) -> Self {
        let folded: Vec<String> = words
            .iter()
            .map(|w| fold(w.as_ref().trim()))
            .filter(|w| !w.is_empty())
            .collect();
        if folded.is_empty() {
            return Self::default();
        }
        let automaton = AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::DFA))
            .build(&folded)
            .or_else(|_| AhoCorasick::new(&folded))
            .ok();
        Self { automaton }
    }

    pub fn is_empty(&self) -> bool {
        self.automaton.is_none()
    }

    /// Whether `text` holds any of the words.
    pub fn matches(&self, text: &str) -> bool {
        Self::any_matches(&[self], text)
    }

    /// Whether `text` holds a word of any of `filters` (the text is folded once for all).
    pub fn any_matches(filters: &[&WordFilter], text: &str) -> bool {
        let automata: Vec<&AhoCorasick> = filters
            .iter()
            .filter_map(|f| f.automaton.as_ref())
            .collect();
        if automata.is_empty() {
            return false;
        }
        // Plain ASCII without capitals is already in folded form: no copy.
        let folded;
        let text = if text
            .bytes()
            .all(|b| b.is_ascii() && !b.is_ascii_uppercase())
        {
            text
        } else {
            folded = fold(text);
            folded.as_str()
        };
        filters
            .iter()
            .filter_map(|f| f.automaton.as_ref())
            .any(|a| a.is_match(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_and_width_do_not_matter() {
        let f = WordFilter::new(&["spam", "ｶﾀｶﾅ", "垃圾"]);
        for text in [
            "buy SPAM now",
            "ＳＰＡＭ",
            "Ｓｐａｍ!",
            "カタカナ",
            "这是垃圾信息",
        ] {
            assert!(f.matches(text), "{text}");
        }
        for text in ["spa m", "good 信息", "カタ"] {
            assert!(!f.matches(text), "{text}");
        }
    }

    #[test]
    fn chinese_words_match_inside_a_sentence_without_boundaries() {
        let f = WordFilter::new(&["广告"]);
        assert!(f.matches("加我看广告啊"));
        assert!(f.matches("广告"));
        assert!(!f.matches("广 告"));
        assert!(!f.matches("告广"));
    }

    #[test]
    fn a_full_width_word_in_the_list_matches_the_half_width_text() {
        let f = WordFilter::new(&["ＦＲＥＥ"]);
        assert!(f.matches("get free coins"));
        assert!(f.matches("ＦＲＥＥ"));
    }

    #[test]
    fn several_lists_are_checked_together() {
        let (room, site) = (WordFilter::new(&["垃圾"]), WordFilter::new(&["ＳＰＡＭ"]));
        let empty = WordFilter::default();
        assert!(WordFilter::any_matches(&[&room, &site], "Spam!"));
        assert!(WordFilter::any_matches(&[&empty, &room], "好垃圾"));
        assert!(!WordFilter::any_matches(&[&room, &site], "hello"));
        assert!(!WordFilter::any_matches(&[&empty], "anything"));
    }

    #[test]
    fn the_empty_list_matches_nothing() {
        let f = WordFilter::new::<&str>(&[]);
        assert!(f.is_empty());
        assert!(!f.matches("anything"));
        assert!(WordFilter::new(&["  ", ""]).is_empty());
    }

    #[test]
    fn lists_are_cleaned_and_bounded() {
        let words = ["  Spam ", "SPAM", "", "ｓｐａｍ", "垃圾"].map(String::from);
        assert_eq!(clean_words(&words).unwrap(), ["spam", "垃圾"]);
        let long = vec!["x".repeat(MAX_WORD_CHARS + 1)];
        assert!(clean_words(&long).unwrap_err().contains("at most"));
        let many: Vec<String> = (0..=MAX_WORDS).map(|i| format!("w{i}")).collect();
        assert!(clean_words(&many).is_err());
    }
}
