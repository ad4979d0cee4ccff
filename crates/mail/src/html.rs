//! HTML mail, kept sanitized for an explicit "show formatted" view (the thread shows its text,
//! which [`crate::read`] takes from mail-parser's conversion): no scripts, styles, forms or event handlers,
//! links that open outside the app without a referrer, and no remote images (a remote image in
//! mail tells its sender when and where the mail was read). Inline images sent with the message
//! (`cid:`) stay.

use std::borrow::Cow;
use std::sync::LazyLock;

static CLEANER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::default();
    builder.add_url_schemes(["cid"]).link_rel(Some("noopener noreferrer nofollow")).attribute_filter(
        |element, attribute, value| match (element, attribute) {
            ("img", "src") if !value.trim_start().to_ascii_lowercase().starts_with("cid:") => None,
            _ => Some(Cow::Borrowed(value)),
        },
    );
    builder
});

/// The HTML with everything unsafe removed (see the module's documentation).
pub fn sanitize(html: &str) -> String {
    CLEANER.clean(html).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_handlers_and_remote_images_are_removed_and_inline_images_kept() {
        let html = r#"<p onclick="steal()">Hello <script>alert(1)</script><b>reader</b></p>
            <img src="https://tracker.example/pixel.gif?id=42"><img src="cid:logo@x">
            <a href="https://en.wikipedia.org/wiki/Ada_Lovelace">article</a><a href="javascript:alert(1)">x</a>
            <style>body { background: url(https://tracker.example/bg) }</style>"#;
        let clean = sanitize(html);
        assert!(!clean.contains("script") && !clean.contains("onclick"), "{clean}");
        assert!(!clean.contains("tracker.example"), "no remote image or style: {clean}");
        assert!(clean.contains(r#"src="cid:logo@x""#), "inline images sent with the mail stay: {clean}");
        assert!(clean.contains("noopener noreferrer"), "{clean}");
        assert!(!clean.contains("javascript:"), "{clean}");
    }
}
