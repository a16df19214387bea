//! The emoji picker's decisions: which emoji match a search, and the
//! "recently used" row. The list itself (names and keywords from
//! emojibase, only what the shipped font draws) is fetched by the browser
//! the first time the picker opens.

use serde::Deserialize;

/// How many recently used emoji are kept.
pub const MAX_RECENT: usize = 24;
/// Most search results shown.
pub const MAX_RESULTS: usize = 120;

/// One emoji of the list: the emoji, its name, space-separated keywords.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Entry(pub String, pub String, pub String);

impl Entry {
    /// The emoji.
    pub fn emoji(&self) -> &str {
        &self.0
    }

    /// Its name ("thumbs up").
    pub fn name(&self) -> &str {
        &self.1
    }
}

/// One tab of the picker: its title and emoji, in order.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Tab(pub String, pub Vec<Entry>);

/// The whole list as `emoji.json` holds it.
pub fn parse(json: &str) -> Result<Vec<Tab>, serde_json::Error> {
    serde_json::from_str(json)
}

/// The emoji whose name or keywords hold every word of `query` (ignoring
/// case), names starting with the query first, at most [`MAX_RESULTS`].
pub fn search<'a>(tabs: &'a [Tab], query: &str) -> Vec<&'a Entry> {
    let query = query.trim().to_lowercase();
    let words: Vec<&str> = query.split_whitespace().collect();
    if words.is_empty() {
        return Vec::new();
    }
    let mut found: Vec<(bool, &Entry)> = tabs
        .iter()
        .flat_map(|t| &t.1)
        .filter(|e| {
            let name = e.1.to_lowercase();
            let keywords = e.2.to_lowercase();
            words
                .iter()
                .all(|w| name.contains(w) || keywords.split(' ').any(|k| k.starts_with(w)))
        })
        .map(|e| (!e.1.to_lowercase().starts_with(&query), e))
        .collect();
    // Stable: within each kind, the list's own order.
    found.sort_by_key(|(later, _)| *later);
    found
        .into_iter()
        .map(|(_, e)| e)
        .take(MAX_RESULTS)
        .collect()
}

/// The recent row after `emoji` was used: it goes first, once.
pub fn used(recent: &[String], emoji: &str) -> Vec<String> {
    std::iter::once(emoji.to_owned())
        .chain(recent.iter().filter(|e| *e != emoji).cloned())
        .take(MAX_RECENT)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tabs() -> Vec<Tab> {
        parse(
            r#"[["Smileys",[["😀","grinning face","face grin"],["😂","face with tears of joy","face joy laugh tear"]]],
                ["People",[["👍","thumbs up","+1 hand thumb up"],["🤞","crossed fingers","cross finger hand luck"]]]]"#,
        )
        .unwrap()
    }

    #[test]
    fn search_matches_names_and_keywords_every_word() {
        let tabs = tabs();
        let emoji = |q| -> Vec<&str> { search(&tabs, q).iter().map(|e| e.emoji()).collect() };
        assert_eq!(emoji("THUMBS"), ["👍"]);
        assert_eq!(emoji("laugh"), ["😂"]);
        assert_eq!(
            emoji("face"),
            ["😂", "😀"],
            "the name starting with it first"
        );
        assert_eq!(emoji("hand luck"), ["🤞"]);
        assert!(emoji("  ").is_empty());
        assert!(emoji("zebra").is_empty());
        // A name that starts with the query comes before a keyword match.
        assert_eq!(emoji("cross"), ["🤞"]);
    }

    #[test]
    fn the_recent_row_puts_the_latest_first_once_and_stays_short() {
        let mut recent = Vec::new();
        for e in ["😀", "👍", "😀"] {
            recent = used(&recent, e);
        }
        assert_eq!(recent, ["😀", "👍"]);
        for i in 0..40 {
            recent = used(&recent, &i.to_string());
        }
        assert_eq!(recent.len(), MAX_RECENT);
        assert_eq!(recent[0], "39");
    }
}
