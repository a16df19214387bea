//! Message text as the renderer gets it: WhatsApp-style formatting, links
//! that can only go to the web or to a mail client, "Read more" and the chat
//! list's plain text. Rules first, then properties over generated text and
//! inputs that would take forever if a pass were quadratic.

use parley_client::text::{PREVIEW_CHARS, PREVIEW_LINES, Run, plain, preview, runs};

/// A run as `(text, look, href)`; the look is `b`, `i`, `s`, `m` for bold,
/// italic, strike and mono, in that order (`""` for plain).
type Seen = (String, String, Option<String>);

fn seen(runs: &[Run<'_>]) -> Vec<Seen> {
    runs.iter()
        .map(|run| {
            let look = [
                (run.style.bold, 'b'),
                (run.style.italic, 'i'),
                (run.style.strike, 's'),
                (run.style.mono, 'm'),
            ]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, c)| c)
            .collect();
            let href = run.link.as_ref().map(|link| link.href().to_owned());
            (run.text.to_owned(), look, href)
        })
        .collect()
}

fn shown(text: &str) -> Vec<Seen> {
    seen(&runs(text))
}

fn run(text: &str, look: &str) -> Seen {
    (text.to_owned(), look.to_owned(), None)
}

fn link(text: &str, look: &str, href: &str) -> Seen {
    (text.to_owned(), look.to_owned(), Some(href.to_owned()))
}

/// `text` comes out as one plain run, exactly as typed.
fn as_typed(text: &str) {
    assert_eq!(shown(text), [run(text, "")], "{text:?}");
}

/// The hrefs of the links in `text`.
fn hrefs(text: &str) -> Vec<String> {
    runs(text)
        .iter()
        .filter_map(|run| run.link.as_ref().map(|link| link.href().to_owned()))
        .collect()
}

// Formatting.

#[test]
fn each_delimiter_formats_and_is_not_shown() {
    assert_eq!(
        shown("*bold* and _it_"),
        [run("bold", "b"), run(" and ", ""), run("it", "i")]
    );
    assert_eq!(shown("~gone~"), [run("gone", "s")]);
    assert_eq!(shown("`code`"), [run("code", "m")]);
    assert_eq!(shown("```mono```"), [run("mono", "m")]);
    assert_eq!(
        shown("say *two words* now"),
        [run("say ", ""), run("two words", "b"), run(" now", "")]
    );
}

#[test]
fn styles_nest() {
    assert_eq!(shown("*_both_*"), [run("both", "bi")]);
    assert_eq!(shown("~*_all three_*~"), [run("all three", "bis")]);
    assert_eq!(
        shown("*bold _and italic_ and bold*"),
        [
            run("bold ", "b"),
            run("and italic", "bi"),
            run(" and bold", "b")
        ]
    );
    assert_eq!(
        shown("_it `mono` it_"),
        [run("it ", "i"), run("mono", "im"), run(" it", "i")]
    );
}

#[test]
fn unmatched_delimiters_stay_as_typed() {
    for text in [
        "*open",
        "close*",
        "_",
        "~",
        "`",
        "```",
        "**",
        "__",
        "~~",
        "``",
        "``````",
        "* a *",
        "*a",
        "a *b",
        "`a",
        "```a",
        "``a``",
        "````a````",
    ] {
        as_typed(text);
    }
    // The inner `_` found no partner before the `*` pair closed.
    assert_eq!(shown("*a _b* c_"), [run("a _b", "b"), run(" c_", "")]);
}

#[test]
fn delimiters_inside_words_stay_as_typed() {
    for text in [
        "2*3*4",
        "snake_case_name",
        "a~b~c",
        "x*y* z",
        "file_name_v2.txt",
        "don`t`",
    ] {
        as_typed(text);
    }
}

#[test]
fn delimiters_need_text_against_them() {
    for text in [
        "* not bold*",
        "*not bold *",
        "_ x _",
        "~ ~",
        "` code`",
        "``` x ```",
    ] {
        as_typed(text);
    }
}

#[test]
fn punctuation_may_surround_delimiters() {
    assert_eq!(
        shown("(*bold*), \"_quoted_\"!"),
        [
            run("(", ""),
            run("bold", "b"),
            run("), \"", ""),
            run("quoted", "i"),
            run("\"!", "")
        ]
    );
    assert_eq!(shown("*wow*!?"), [run("wow", "b"), run("!?", "")]);
}

#[test]
fn bold_italic_and_strike_stay_on_one_line() {
    for text in ["*a\nb*", "_one\ntwo_", "~x\ny~", "`a\nb`"] {
        as_typed(text);
    }
    assert_eq!(shown("*open\n*b*"), [run("*open\n", ""), run("b", "b")]);
}

#[test]
fn mono_blocks_span_lines_and_format_nothing() {
    assert_eq!(
        shown("look:\n```fn main() {\n    *x* = _y_;\n}```\ndone"),
        [
            run("look:\n", ""),
            run("fn main() {\n    *x* = _y_;\n}", "m"),
            run("\ndone", "")
        ]
    );
    assert_eq!(shown("`*not bold*`"), [run("*not bold*", "m")]);
    assert_eq!(
        shown("```see https://example.org```"),
        [run("see https://example.org", "m")]
    );
    // One backtick does not close three, nor three one.
    assert_eq!(shown("```a `b` c```"), [run("a `b` c", "m")]);
    assert_eq!(shown("`a ```b``` c`"), [run("a ```b``` c", "m")]);
}

#[test]
fn text_in_any_script_passes_through() {
    for text in [
        "שלום עולם",
        "مرحبا بالعالم",
        "👨‍👩‍👧 family 🇫🇷 👍🏽",
        "e\u{301}te\u{301}",
        "日本語のテキスト",
        "",
    ] {
        if text.is_empty() {
            assert!(runs(text).is_empty());
        } else {
            as_typed(text);
        }
    }
    assert_eq!(
        shown("שלום *עולם* 👋🏽"),
        [run("שלום ", ""), run("עולם", "b"), run(" 👋🏽", "")]
    );
    assert_eq!(
        shown("_مرحبا_ 😀*x*"),
        [run("مرحبا", "i"), run(" 😀", ""), run("x", "b")]
    );
}

// Links.

#[test]
fn urls_become_links() {
    assert_eq!(
        shown("see https://example.com/a?b=1#c now"),
        [
            run("see ", ""),
            link(
                "https://example.com/a?b=1#c",
                "",
                "https://example.com/a?b=1#c"
            ),
            run(" now", "")
        ]
    );
    assert_eq!(
        hrefs("http://localhost:8080/x"),
        ["http://localhost:8080/x"]
    );
    assert_eq!(hrefs("HTTPS://Example.COM/A"), ["https://Example.COM/A"]);
    assert_eq!(
        hrefs("https://de.wikipedia.org/wiki/Köln"),
        ["https://de.wikipedia.org/wiki/Köln"]
    );
    assert_eq!(
        hrefs("two: http://a.org,https://b.org"),
        ["http://a.org,https://b.org"]
    );
}

#[test]
fn bare_www_addresses_get_https() {
    assert_eq!(
        shown("go to www.example.com/path."),
        [
            run("go to ", ""),
            link("www.example.com/path", "", "https://www.example.com/path"),
            run(".", "")
        ]
    );
    assert_eq!(hrefs("WWW.Example.com"), ["https://WWW.Example.com"]);
    for text in ["www.", "www. x", "awww.example.com", "x.www.example.com"] {
        assert!(hrefs(text).is_empty(), "{text:?}");
    }
}

#[test]
fn email_addresses_get_mailto() {
    assert_eq!(
        shown("write to ann.lee+chat@mail.example.org."),
        [
            run("write to ", ""),
            link(
                "ann.lee+chat@mail.example.org",
                "",
                "mailto:ann.lee+chat@mail.example.org"
            ),
            run(".", "")
        ]
    );
    for text in [
        "@ann",
        "ann@",
        "ann@localhost",
        "a@b.c",
        "ann@x.org1",
        "1@2.34",
    ] {
        assert!(hrefs(text).is_empty(), "{text:?}");
    }
}

#[test]
fn formatting_never_reaches_inside_a_url() {
    assert_eq!(
        shown("https://example.com/a_b_c"),
        [link(
            "https://example.com/a_b_c",
            "",
            "https://example.com/a_b_c"
        )]
    );
    assert_eq!(
        shown("_x https://example.com/*a*/~b~/c y_"),
        [
            run("x ", "i"),
            link(
                "https://example.com/*a*/~b~/c",
                "i",
                "https://example.com/*a*/~b~/c"
            ),
            run(" y", "i")
        ]
    );
}

#[test]
fn a_link_can_be_formatted_whole() {
    assert_eq!(
        shown("*https://example.org*"),
        [link("https://example.org", "b", "https://example.org")]
    );
    assert_eq!(
        shown("_ann@example.org_"),
        [link("ann@example.org", "i", "mailto:ann@example.org")]
    );
}

#[test]
fn sentence_punctuation_is_not_part_of_a_url() {
    for (text, url) in [
        ("(see https://x.org/a)", "https://x.org/a"),
        ("https://x.org/a.", "https://x.org/a"),
        ("https://x.org/a, then", "https://x.org/a"),
        ("https://x.org!", "https://x.org"),
        ("https://x.org?", "https://x.org"),
        ("https://x.org/a:", "https://x.org/a"),
        ("https://x.org/a;", "https://x.org/a"),
        ("'https://x.org/it's'", "https://x.org/it's"),
        ("\"https://x.org/q\"", "https://x.org/q"),
        ("<https://x.org/a>", "https://x.org/a"),
        ("[https://x.org/a]", "https://x.org/a"),
        ("https://x.org/a).", "https://x.org/a"),
        (
            "(https://en.wikipedia.org/wiki/Rust_(programming_language))",
            "https://en.wikipedia.org/wiki/Rust_(programming_language)",
        ),
        ("见 https://example.org。", "https://example.org"),
        ("https://x.org/a\u{202E}gpj.exe", "https://x.org/a"),
        ("https://x.org/\u{200B}evil", "https://x.org/"),
    ] {
        let links: Vec<String> = runs(text)
            .iter()
            .filter(|run| run.link.is_some())
            .map(|run| run.text.to_owned())
            .collect();
        assert_eq!(links, [url], "{text:?}");
    }
}

#[test]
fn other_schemes_are_never_links() {
    for text in [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " \t\u{0}\u{1f}javascript:alert(1)",
        "\u{feff}javascript:alert(document.cookie)",
        "java\u{0}script:alert(1)",
        "java\nscript:alert(1)",
        "javascript&colon;alert(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "DATA:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "FILE://c:/windows",
        "ftp://example.org",
        "mailto:javascript:alert(1)",
        "httpx://example.org",
        "http:/example.org",
        "https:example.org",
        "*javascript:alert(1)*",
        "[x](javascript:alert(1))",
        "<a href=\"javascript:alert(1)\">x</a>",
    ] {
        assert!(hrefs(text).is_empty(), "{text:?} → {:?}", hrefs(text));
    }
    // What follows another scheme is judged on its own, and can only be an
    // https link.
    assert_eq!(
        hrefs("javascript:https://example.org/%0aalert(1)"),
        ["https://example.org/%0aalert(1)"]
    );
    assert!(hrefs("javascript://https://example.org").is_empty());
    assert_eq!(hrefs("mailto:ann@example.org"), ["mailto:ann@example.org"]);
}

// Plain text for the chat list.

#[test]
fn plain_text_drops_the_delimiters_that_format() {
    assert_eq!(plain("*bold* and _it_"), "bold and it");
    assert_eq!(plain("```a\n*b*```"), "a\n*b*");
    assert_eq!(plain("2*3*4 and *x"), "2*3*4 and *x");
    assert_eq!(plain("*https://x.org/a_b*"), "https://x.org/a_b");
    assert_eq!(plain(""), "");
}

// "Read more".

fn preview_text(text: &str) -> Option<String> {
    preview(&runs(text)).map(|cut| cut.iter().map(|run| run.text).collect())
}

#[test]
fn short_messages_have_no_preview() {
    assert_eq!(preview_text("hello"), None);
    assert_eq!(preview_text(&"x".repeat(PREVIEW_CHARS)), None);
    assert_eq!(preview_text(&"line\n".repeat(PREVIEW_LINES)), None);
    // Blank past the limit: nothing more to read.
    let text = format!("{}{}", "x".repeat(PREVIEW_CHARS), " \n\n ".repeat(50));
    assert_eq!(preview_text(&text), None);
    // Delimiters are not shown, so they do not count.
    assert_eq!(
        preview_text(&format!("*{}*", "x".repeat(PREVIEW_CHARS))),
        None
    );
}

#[test]
fn long_messages_are_cut_between_words() {
    let text = "word ".repeat(200);
    let cut = preview_text(&text).expect("long");
    assert!(cut.chars().count() <= PREVIEW_CHARS);
    assert!(cut.chars().count() > PREVIEW_CHARS - 10);
    assert!(cut.ends_with("word"), "{cut:?}");
    assert!(text.starts_with(&cut));
}

#[test]
fn many_lines_are_cut_after_the_last_line_shown() {
    let text = (1..=20).map(|n| format!("line {n}\n")).collect::<String>();
    let cut = preview_text(&text).expect("long");
    assert_eq!(cut.lines().count(), PREVIEW_LINES);
    assert!(cut.ends_with("line 14"), "{cut:?}");
}

#[test]
fn a_cut_inside_formatting_keeps_its_look() {
    let text = format!("*{}*", "bold words ".repeat(100).trim_end());
    let cut = preview(&runs(&text)).expect("long");
    assert_eq!(cut.len(), 1);
    assert!(cut[0].style.bold);
    assert!(cut[0].text.ends_with("bold"), "{:?}", cut[0].text);

    let block = format!("```{}```", "let x = 1;\n".repeat(40).trim_end());
    let cut = preview(&runs(&block)).expect("long");
    assert!(cut.iter().all(|run| run.style.mono));
    assert_eq!(
        cut.iter()
            .map(|run| run.text)
            .collect::<String>()
            .lines()
            .count(),
        14
    );
}

#[test]
fn text_without_spaces_is_cut_between_characters() {
    let url = format!("https://example.org/{}", "a".repeat(1_000));
    let cut = preview(&runs(&url)).expect("long");
    assert_eq!(cut.len(), 1);
    assert_eq!(cut[0].text.chars().count(), PREVIEW_CHARS);
    // A link cut short still goes where the whole link goes.
    assert_eq!(cut[0].link.as_ref().map(|l| l.href()), Some(url.as_str()));

    let cjk = "字".repeat(1_000);
    assert_eq!(
        preview_text(&cjk).map(|cut| cut.chars().count()),
        Some(PREVIEW_CHARS)
    );
}

#[test]
fn a_cut_keeps_a_character_with_its_marks_and_joiners() {
    // 699 letters, then an emoji family whose joiners straddle the limit.
    let family = "👨\u{200D}👩\u{200D}👧";
    let text = format!("{}{family}{}", "x".repeat(699), "y".repeat(100));
    assert_eq!(preview_text(&text), Some("x".repeat(699)));

    let accented = format!("{}e\u{301}{}", "x".repeat(699), "y".repeat(100));
    assert_eq!(preview_text(&accented), Some("x".repeat(699)));

    let thumbs = format!("{}👍🏽{}", "x".repeat(699), "y".repeat(100));
    assert_eq!(preview_text(&thumbs), Some("x".repeat(699)));

    // 🇫🇷 is two letters: the limit falls between them.
    let flags = format!("{}🇫🇷{}", "x".repeat(699), "y".repeat(100));
    assert_eq!(preview_text(&flags), Some("x".repeat(699)));
    let flags = format!("{}🇫🇷🇩🇪{}", "x".repeat(698), "y".repeat(100));
    assert_eq!(preview_text(&flags), Some(format!("{}🇫🇷", "x".repeat(698))));
}

// Properties.

/// A seeded xorshift: the same text every run, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Pieces that make interesting messages when strung together at random.
const PIECES: &[&str] = &[
    "*",
    "_",
    "~",
    "`",
    "```",
    "``",
    " ",
    " ",
    "\n",
    "a",
    "bc",
    "2",
    "é",
    "😀",
    "👍🏽",
    "\u{200D}",
    "שלום",
    ".",
    ",",
    "!",
    "?",
    ":",
    ";",
    "(",
    ")",
    "[",
    "]",
    "'",
    "\"",
    "<",
    "@",
    "-",
    "+",
    "/",
    "https://",
    "HTTP://",
    "www.",
    "x.org",
    "example.com",
    "ann@",
    "mailto:",
    "javascript:",
    "JaVaScRiPt:",
    "data:",
    "\u{202E}",
    "\u{0}",
    "\t",
    "%0a",
    "〢",
    "。",
];

fn generated(rng: &mut Rng) -> String {
    let len = rng.below(40);
    (0..len).map(|_| PIECES[rng.below(PIECES.len())]).collect()
}

const DELIMITERS: &[char] = &['*', '_', '~', '`'];

/// Everything `runs` promises about `text`.
fn check(text: &str) {
    let found = runs(text);
    let base = text.as_ptr().addr();
    let mut at = 0;
    let mut removed = String::new();
    for run in &found {
        assert!(!run.text.is_empty(), "{text:?}: empty run");
        // Each run is the text as typed, after what came before.
        let start = run.text.as_ptr().addr() - base;
        assert!(
            start >= at && start + run.text.len() <= text.len(),
            "{text:?}"
        );
        removed.push_str(&text[at..start]);
        at = start + run.text.len();
        if let Some(link) = &run.link {
            let href = link.href();
            assert!(
                ["https://", "http://", "mailto:"]
                    .iter()
                    .any(|scheme| href.starts_with(scheme) && href.len() > scheme.len()),
                "{text:?}: unsafe href {href:?}"
            );
            assert!(
                !href.chars().any(|c| c.is_whitespace() || c.is_control()),
                "{text:?}: href {href:?}"
            );
            assert!(
                hrefs_for(run.text).contains(&href.to_owned()),
                "{text:?}: {href:?}"
            );
            assert!(!run.style.mono, "{text:?}: a link in mono");
        }
    }
    removed.push_str(&text[at..]);
    // Only delimiters go, in pairs.
    assert!(
        removed.chars().all(|c| DELIMITERS.contains(&c)),
        "{text:?}: removed {removed:?}"
    );
    for delimiter in DELIMITERS {
        assert_eq!(
            removed.matches(*delimiter).count() % 2,
            0,
            "{text:?}: removed {removed:?}"
        );
    }
    let shown: String = found.iter().map(|run| run.text).collect();
    assert_eq!(plain(text), shown);

    // "Read more" exactly when something that is not blank lies past the limits.
    let fits = |shown: &str| {
        shown.chars().count() <= PREVIEW_CHARS && shown.matches('\n').count() < PREVIEW_LINES
    };
    let cut = preview(&found);
    assert_eq!(cut.is_none(), fits(shown.trim_end()), "{text:?}");
    if let Some(cut) = cut {
        let cut: String = cut.iter().map(|run| run.text).collect();
        assert!(!cut.is_empty() && cut.len() < shown.len(), "{text:?}");
        assert!(shown.starts_with(&cut), "{text:?}");
        assert!(fits(&cut), "{text:?}");
    }
}

/// Where a link showing `text` may go: the same with its scheme in
/// lowercase, `https://` in front of a `www.` address, `mailto:` in front of
/// an e-mail address.
fn hrefs_for(text: &str) -> Vec<String> {
    let mut hrefs = Vec::new();
    if let Some(scheme) = text.find("://") {
        let (scheme, rest) = text.split_at(scheme);
        hrefs.push(format!("{}{rest}", scheme.to_ascii_lowercase()));
    }
    if text
        .get(..4)
        .is_some_and(|www| www.eq_ignore_ascii_case("www."))
    {
        hrefs.push(format!("https://{text}"));
    }
    if text.contains('@') {
        hrefs.push(format!("mailto:{text}"));
    }
    hrefs
}

#[test]
fn generated_text_keeps_every_promise() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..20_000 {
        check(&generated(&mut rng));
    }
}

#[test]
fn long_generated_text_keeps_every_promise() {
    let mut rng = Rng(42);
    for _ in 0..50 {
        let text: String = (0..20).map(|_| generated(&mut rng)).collect();
        check(&text);
    }
}

// Pathological input: each finishes at once if every pass is linear, and
// would take minutes if one were quadratic.

#[test]
fn pathological_input_is_linear() {
    let big = 200_000;
    let inputs = [
        "*".repeat(big),
        "_a".repeat(big / 2),
        " _a".repeat(big / 3),
        format!("{}{}", " _a".repeat(big / 6), " a*".repeat(big / 6)),
        format!(
            "{}{}",
            " *a _b ~c".repeat(big / 18),
            "d~ e_".repeat(big / 10)
        ),
        "`a ".repeat(big / 3),
        "```a ".repeat(big / 5),
        "``` `a\n".repeat(big / 7),
        "a@".repeat(big / 2),
        "a.b@".repeat(big / 4),
        "https://".repeat(big / 8),
        "www.".repeat(big / 4),
        format!("https://x.org/{}", ")".repeat(big)),
        format!("https://x.org/{}", "(".repeat(big)),
        format!("https://x.org/{}", ".".repeat(big)),
        "e\u{301}".repeat(big / 3),
        "🇫".repeat(big / 4),
    ];
    for text in &inputs {
        let found = runs(text);
        assert!(!found.is_empty());
        let _ = preview(&found);
        check(text);
    }
}

#[test]
fn random_64_kib_is_linear() {
    let mut rng = Rng(7);
    let text: String = (0..64 * 1024)
        .map(|_| char::from_u32(rng.below(0x800) as u32).unwrap_or('x'))
        .collect();
    check(&text);
    let pieces: String = (0..8_000)
        .map(|_| PIECES[rng.below(PIECES.len())])
        .collect();
    check(&pieces);
}

#[test]
fn mentions_are_split_off_their_runs_and_links_stay_whole() {
    use parley_client::mention::Mention;
    use parley_protocol::UserId;
    let ann = UserId::new_v7();
    let text = "hi *@Ann and* https://x.org/@Ann";
    let at = |needle: &str, from: usize| from + text[from..].find(needle).unwrap();
    let first = at("@Ann", 0);
    let in_link = at("@Ann", first + 1);
    let mentions = [first, in_link].map(|start| Mention {
        user: ann,
        start: u32::try_from(start).unwrap(),
        end: u32::try_from(start + 4).unwrap(),
    });
    let marked = parley_client::text::mark_mentions(text, runs(text), &mentions);
    let shown: Vec<(&str, bool, bool)> = marked
        .iter()
        .map(|r| (r.text, r.style.bold, r.mention.is_some()))
        .collect();
    assert_eq!(
        shown,
        [
            ("hi ", false, false),
            ("@Ann", true, true),
            (" and", true, false),
            (" ", false, false),
            ("https://x.org/@Ann", false, false),
        ]
    );
    assert!(
        parley_client::text::mark_mentions(text, runs(text), &[])
            .iter()
            .all(|r| r.mention.is_none())
    );
}
