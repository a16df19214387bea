//! A readable device label ("Chrome on Linux") from a User-Agent, for clients
//! that do not name their device themselves.

/// Best-effort browser and OS names; `None` when nothing is recognised.
pub fn from_user_agent(ua: &str) -> Option<String> {
    // Order matters: Edge and Opera also claim Chrome, Chrome also claims Safari.
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ]
    .into_iter()
    .find(|(marker, _)| ua.contains(marker))
    .map(|(_, name)| name);
    let os = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(marker, _)| ua.contains(marker))
    .map(|(_, name)| name);
    match (browser, os) {
        (Some(b), Some(o)) => Some(format!("{b} on {o}")),
        (Some(b), None) => Some(b.to_owned()),
        (None, Some(o)) => Some(o.to_owned()),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::from_user_agent;

    #[test]
    fn common_browsers_are_named() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36";
        assert_eq!(from_user_agent(chrome).as_deref(), Some("Chrome on Linux"));
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0";
        assert_eq!(from_user_agent(edge).as_deref(), Some("Edge on Windows"));
        assert_eq!(from_user_agent("curl/8.0"), None);
    }
}
