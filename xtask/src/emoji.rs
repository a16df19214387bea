//! The colour emoji font for systems without one: Twemoji as a COLR font
//! (`twemoji-colr-font` from npm; font OFL-1.1, graphics CC-BY 4.0). Before
//! Trunk runs, `frontend/emoji/emoji.css` is written (Trunk bundles it with a
//! hashed name); after, the font is copied to `dist/emoji/<version>/`.
//!
//! Why this font: COLR is drawn by Chromium, Firefox and Safari alike, where
//! the SVG-in-OpenType Noto Color Emoji on npm shows nothing in Chromium.
//!
//! The face covers emoji code points only (`unicode-range`), so the browser
//! downloads it only when an emoji is on screen and no installed colour
//! emoji font (tried first through `local()`) can draw it. Digits, `#`, `*`,
//! `©`, `™` and arrows are left out: they are text, and keep the text font.

use anyhow::{Context, Result};
use std::fs;
use std::path::{Path, PathBuf};

/// The family the app's font stack names first.
const FAMILY: &str = "Parley Emoji";
const PACKAGE: &str = "node_modules/twemoji-colr-font";
const FONT: &str = "twemoji.woff2";
/// Names and keywords for the picker's search (emojibase-data, MIT).
const NAMES: &str = "node_modules/emojibase-data/en/data.json";
/// The picker's list, next to the font.
const LIST: &str = "emoji.json";
/// The newest Emoji version the font draws (Twemoji 15.0): newer emoji are
/// left out of the picker rather than shown as boxes.
const FONT_EMOJI_VERSION: f64 = 15.0;
/// Emojibase's "component" group (skin tones, hair): not picked alone.
const COMPONENTS: u64 = 2;
/// The picker's tabs, in emojibase's group order (components left out).
const GROUPS: &[(u64, &str)] = &[
    (0, "Smileys & emotion"),
    (1, "People & body"),
    (3, "Animals & nature"),
    (4, "Food & drink"),
    (5, "Travel & places"),
    (6, "Activities"),
    (7, "Objects"),
    (8, "Symbols"),
    (9, "Flags"),
];

/// Installed colour emoji fonts, used before anything is downloaded.
const LOCAL: &[&str] = &["Apple Color Emoji", "Segoe UI Emoji", "Noto Color Emoji"];

/// Code points with an emoji form (Unicode's emoji-data, below U+1F000
/// listed one by one, since those blocks are mostly text symbols such as
/// ⌥ and ✓), the keycap mark, the pictograph planes and the tags of
/// subdivision flags. The joiner (U+200D) and U+FE0F are left out: Indic
/// scripts use the joiner, and both draw with the emoji they follow.
const RANGES: &[(u32, u32)] = &[
    (0x203C, 0x203C),
    (0x2049, 0x2049),
    (0x20E3, 0x20E3),
    (0x231A, 0x231B),
    (0x2328, 0x2328),
    (0x23CF, 0x23CF),
    (0x23E9, 0x23F3),
    (0x23F8, 0x23FA),
    (0x24C2, 0x24C2),
    (0x25AA, 0x25AB),
    (0x25B6, 0x25B6),
    (0x25C0, 0x25C0),
    (0x25FB, 0x25FE),
    (0x2600, 0x2604),
    (0x260E, 0x260E),
    (0x2611, 0x2611),
    (0x2614, 0x2615),
    (0x2618, 0x2618),
    (0x261D, 0x261D),
    (0x2620, 0x2620),
    (0x2622, 0x2623),
    (0x2626, 0x2626),
    (0x262A, 0x262A),
    (0x262E, 0x262F),
    (0x2638, 0x263A),
    (0x2640, 0x2640),
    (0x2642, 0x2642),
    (0x2648, 0x2653),
    (0x265F, 0x2660),
    (0x2663, 0x2663),
    (0x2665, 0x2666),
    (0x2668, 0x2668),
    (0x267B, 0x267B),
    (0x267E, 0x267F),
    (0x2692, 0x2697),
    (0x2699, 0x2699),
    (0x269B, 0x269C),
    (0x26A0, 0x26A1),
    (0x26A7, 0x26A7),
    (0x26AA, 0x26AB),
    (0x26B0, 0x26B1),
    (0x26BD, 0x26BE),
    (0x26C4, 0x26C5),
    (0x26C8, 0x26C8),
    (0x26CE, 0x26CF),
    (0x26D1, 0x26D1),
    (0x26D3, 0x26D4),
    (0x26E9, 0x26EA),
    (0x26F0, 0x26F5),
    (0x26F7, 0x26FA),
    (0x26FD, 0x26FD),
    (0x2702, 0x2702),
    (0x2705, 0x2705),
    (0x2708, 0x270D),
    (0x270F, 0x270F),
    (0x2712, 0x2712),
    (0x2714, 0x2714),
    (0x2716, 0x2716),
    (0x271D, 0x271D),
    (0x2721, 0x2721),
    (0x2728, 0x2728),
    (0x2733, 0x2734),
    (0x2744, 0x2744),
    (0x2747, 0x2747),
    (0x274C, 0x274C),
    (0x274E, 0x274E),
    (0x2753, 0x2755),
    (0x2757, 0x2757),
    (0x2763, 0x2764),
    (0x2795, 0x2797),
    (0x27A1, 0x27A1),
    (0x27B0, 0x27B0),
    (0x27BF, 0x27BF),
    (0x2934, 0x2935),
    (0x2B05, 0x2B07),
    (0x2B1B, 0x2B1C),
    (0x2B50, 0x2B50),
    (0x2B55, 0x2B55),
    (0x3030, 0x3030),
    (0x303D, 0x303D),
    (0x3297, 0x3297),
    (0x3299, 0x3299),
    (0x1F000, 0x1FAFF),
    (0xE0020, 0xE007F),
];

/// The package's version, which names the output directory (the service
/// worker keeps fonts by URL, so a new font must get a new URL).
fn version(package: &Path) -> Result<String> {
    let json = fs::read_to_string(package.join("package.json"))
        .with_context(|| format!("reading {}/package.json", package.display()))?;
    let value: serde_json::Value = serde_json::from_str(&json)?;
    value["version"]
        .as_str()
        .map(str::to_owned)
        .context("no version in the emoji font's package.json")
}

/// Writes `frontend/emoji/emoji.css`; returns the font (and the picker's
/// list) to copy after Trunk.
pub fn before_trunk(root: &Path) -> Result<Font> {
    let package = root.join(PACKAGE);
    let version = version(&package)?;
    let dir = root.join("frontend/emoji");
    fs::create_dir_all(&dir)?;
    fs::write(dir.join("emoji.css"), css(&version))?;
    let names = fs::read_to_string(root.join(NAMES))
        .with_context(|| format!("reading {NAMES}: run npm ci"))?;
    Ok(Font {
        from: package.join(FONT),
        list: list(&names)?,
        version,
    })
}

/// The picker's list: `[[tab, [[emoji, name, keywords], …]], …]`, in
/// emojibase's order, only what the font draws, skin tones left to the
/// person's keyboard. Fetched by the picker the first time it opens.
fn list(data: &str) -> Result<String> {
    let all: Vec<serde_json::Value> = serde_json::from_str(data).context("emojibase data")?;
    let mut tabs: Vec<(&str, Vec<[String; 3]>)> =
        GROUPS.iter().map(|(_, name)| (*name, Vec::new())).collect();
    let mut sorted: Vec<&serde_json::Value> = all.iter().collect();
    sorted.sort_by_key(|e| e["order"].as_u64().unwrap_or(u64::MAX));
    for e in sorted {
        let (Some(group), Some(emoji), Some(label)) = (
            e["group"].as_u64(),
            e["emoji"].as_str(),
            e["label"].as_str(),
        ) else {
            continue;
        };
        let version = e["version"].as_f64().unwrap_or(f64::MAX);
        if group == COMPONENTS || version > FONT_EMOJI_VERSION {
            continue;
        }
        let Some(at) = GROUPS.iter().position(|(g, _)| *g == group) else {
            continue;
        };
        let tags: Vec<&str> = e["tags"]
            .as_array()
            .map(|t| t.iter().filter_map(|t| t.as_str()).collect())
            .unwrap_or_default();
        tabs[at]
            .1
            .push([plain_form(emoji), label.to_owned(), tags.join(" ")]);
    }
    Ok(serde_json::to_string(&tabs)?)
}

/// Without the emoji variation selector after a pictograph that is an
/// emoji anyway (U+1F000 and up): "👍️" is written "👍" by keyboards and
/// by the app's quick reactions, and one reaction must not count as two.
/// (The client core applies the same rule to reactions it receives.)
fn plain_form(emoji: &str) -> String {
    let mut out = String::with_capacity(emoji.len());
    let mut previous = '\0';
    for c in emoji.chars() {
        if !(c == '\u{FE0F}' && u32::from(previous) >= 0x1F000) {
            out.push(c);
        }
        previous = c;
    }
    out
}

/// The font file (and the picker's list) to copy into `dist/`.
pub struct Font {
    from: PathBuf,
    list: String,
    version: String,
}

impl Font {
    /// Copies it to `dist/emoji/<version>/`.
    pub fn copy_to(&self, dist: &Path) -> Result<()> {
        let to = dist.join("emoji").join(&self.version);
        fs::create_dir_all(&to)?;
        fs::copy(&self.from, to.join(FONT))
            .with_context(|| format!("copying {}", self.from.display()))?;
        fs::write(to.join(LIST), &self.list)?;
        Ok(())
    }
}

fn css(version: &str) -> String {
    let local: Vec<String> = LOCAL
        .iter()
        .map(|name| format!("local(\"{name}\")"))
        .collect();
    let ranges: Vec<String> = RANGES
        .iter()
        .map(|&(start, end)| {
            if start == end {
                format!("U+{start:X}")
            } else {
                format!("U+{start:X}-{end:X}")
            }
        })
        .collect();
    format!(
        "/* Generated by `cargo xtask` (xtask/src/emoji.rs) for twemoji-colr-font {version}. */\n\
         @font-face {{\n  font-family: \"{FAMILY}\";\n  font-display: swap;\n  \
         src: {}, url(\"/emoji/{version}/{FONT}\") format(\"woff2\");\n  unicode-range: {};\n}}\n\
         /* Where the emoji picker finds its list (read by the app). */\n\
         :root {{\n  --parley-emoji-list: \"/emoji/{version}/{LIST}\";\n}}\n",
        local.join(", "),
        ranges.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_face_tries_installed_fonts_first_and_names_a_versioned_url() {
        let out = css("15.0.3");
        let local = out.find("local(\"Noto Color Emoji\")").unwrap();
        let url = out.find("url(\"/emoji/15.0.3/twemoji.woff2\")").unwrap();
        assert!(local < url);
    }

    #[test]
    fn text_characters_are_outside_the_ranges() {
        let covered = |c: u32| RANGES.iter().any(|&(s, e)| (s..=e).contains(&c));
        for text in [
            '#', '*', '0', '9', '©', '®', '™', '→', '↔', '⌥', '✓', '…', '\u{200D}',
        ] {
            assert!(!covered(text as u32), "{text} must stay text");
        }
        for emoji in ['😀', '👍', '❤', '⌚', '🇫', '☎', '✔', '⭐'] {
            assert!(covered(emoji as u32), "{emoji} is an emoji");
        }
    }

    /// The checkout the tests run in: read when they run (cargo sets it),
    /// not baked in when built, since one target dir may serve checkouts
    /// in other places.
    fn repo() -> PathBuf {
        let dir = std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo test");
        PathBuf::from(dir).join("..")
    }

    #[test]
    fn the_installed_package_has_the_font() {
        let root = repo();
        let package = root.join(PACKAGE);
        // `cargo xtask test` installs node_modules before the Rust tests run.
        assert!(
            package.join(FONT).is_file(),
            "{}/{FONT} is missing: run npm ci",
            package.display()
        );
        assert!(version(&package).is_ok());
    }

    #[test]
    fn the_picker_list_has_every_tab_names_to_search_and_nothing_newer_than_the_font() {
        let root = repo();
        let data = fs::read_to_string(root.join(NAMES)).unwrap();
        let tabs: Vec<(String, Vec<[String; 3]>)> =
            serde_json::from_str(&list(&data).unwrap()).unwrap();
        assert_eq!(tabs.len(), GROUPS.len());
        let all: Vec<&[String; 3]> = tabs.iter().flat_map(|(_, e)| e).collect();
        assert!(all.len() > 1500, "{} emoji", all.len());
        let thumbs = all
            .iter()
            .find(|e| e[0] == "👍")
            .expect("👍 without U+FE0F");
        assert!(thumbs[1].contains("thumbs up"), "{thumbs:?}");
        assert_eq!(tabs[0].1[0][0], "😀", "in emojibase order");
        // Emoji 16 (2024) is past Twemoji 15: 🫩 "face with bags under eyes".
        assert!(all.iter().all(|e| e[0] != "\u{1FAE9}"));
        // Skin-tone swatches alone are not offered.
        assert!(all.iter().all(|e| e[0] != "\u{1F3FB}"));
    }

    #[test]
    fn the_css_tells_the_app_where_the_list_is() {
        assert!(css("15.0.3").contains("--parley-emoji-list: \"/emoji/15.0.3/emoji.json\""));
    }
}
