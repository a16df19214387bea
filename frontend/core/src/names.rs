//! What the app shows for a person's name when there is no picture.

/// Up to two initials: the first letter (or digit) of the first and the last
/// word that has one. Emoji and punctuation are skipped, never cut in half:
/// "😀 Bob Smith" is "BS", not a broken "😀" half and an "S".
pub fn initials(name: &str) -> String {
    let mut letters = name
        .split_whitespace()
        .filter_map(|word| word.chars().find(|c| c.is_alphanumeric()));
    let first = letters.next();
    let last = letters.next_back();
    let out: String = first
        .into_iter()
        .chain(last)
        .collect::<String>()
        .to_uppercase();
    if out.is_empty() { "?".to_owned() } else { out }
}

/// Where the names of the people this account chats with are kept in the
/// store (the engine writes them; the service worker reads them too).
pub const CARDS: &str = "cards";

#[cfg(test)]
mod tests {
    use super::initials;

    #[test]
    fn initials_take_first_and_last_words() {
        assert_eq!(initials("Ada Lovelace"), "AL");
        assert_eq!(initials("  grace  "), "G");
        assert_eq!(initials("Jean Luc Picard"), "JP");
        assert_eq!(initials("élodie durand"), "ÉD");
        assert_eq!(initials("李 小龙"), "李小");
        assert_eq!(initials(""), "?");
    }

    #[test]
    fn emoji_and_punctuation_never_make_an_initial() {
        assert_eq!(initials("😀 Bob Smith"), "BS");
        assert_eq!(initials("Bob 😀"), "B");
        assert_eq!(initials("👍🏽 🇫🇷"), "?");
        assert_eq!(initials("(Ann) O'Neil!"), "AO");
        assert_eq!(initials("Zoë 👩‍👩‍👧"), "Z");
    }
}
