//! A readable label for this browser ("Chrome on Linux"), shown in the
//! device list so people can tell their sessions apart.

use parley_protocol::validate;

/// The label to send as `device_name` when signing in.
pub fn device_name() -> String {
    let agent = web_sys::window()
        .and_then(|w| w.navigator().user_agent().ok())
        .unwrap_or_default();
    validate::device_name(Some(&describe(&agent)))
}

/// Browser and OS from a user-agent string. Order matters: Edge and Opera
/// claim to be Chrome, Chrome claims to be Safari, and everything claims
/// to be Mozilla.
fn describe(agent: &str) -> String {
    let browser = if agent.contains("Edg/") || agent.contains("EdgA/") || agent.contains("EdgiOS/")
    {
        "Edge"
    } else if agent.contains("OPR/") || agent.contains("Opera") {
        "Opera"
    } else if agent.contains("Firefox/") || agent.contains("FxiOS/") {
        "Firefox"
    } else if agent.contains("SamsungBrowser/") {
        "Samsung Internet"
    } else if agent.contains("Chrome/") || agent.contains("CriOS/") || agent.contains("Chromium/") {
        "Chrome"
    } else if agent.contains("Safari/") {
        "Safari"
    } else {
        "Browser"
    };
    let os = if agent.contains("Android") {
        "Android"
    } else if agent.contains("iPhone") {
        "iPhone"
    } else if agent.contains("iPad") {
        "iPad"
    } else if agent.contains("CrOS") {
        "ChromeOS"
    } else if agent.contains("Windows") {
        "Windows"
    } else if agent.contains("Mac OS X") || agent.contains("Macintosh") {
        "macOS"
    } else if agent.contains("Linux") {
        "Linux"
    } else {
        ""
    };
    if os.is_empty() {
        browser.to_owned()
    } else {
        format!("{browser} on {os}")
    }
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn common_agents() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
        assert_eq!(describe(chrome), "Chrome on Linux");
        let headless = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36";
        assert_eq!(describe(headless), "Chrome on Linux");
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0";
        assert_eq!(describe(edge), "Edge on Windows");
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(describe(safari), "Safari on iPhone");
        let firefox =
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.0; rv:121.0) Gecko/20100101 Firefox/121.0";
        assert_eq!(describe(firefox), "Firefox on macOS");
        assert_eq!(describe(""), "Browser");
    }
}
