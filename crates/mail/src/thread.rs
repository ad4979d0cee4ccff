//! Threading keys: which earlier message a message answers (its In-Reply-To and References ids),
//! the case tag in a subject (`[Liaison #1234]`), and a subject without the reply and forward
//! prefixes mail programs add in many languages (`Re:`, `AW:`, `SV:`, `WG:`, `Fwd:`, `回复：` ...).

/// The name in a case tag: `[Liaison #1234]`.
pub const TAG_NAME: &str = "Liaison";

/// Reply and forward prefixes, compared without regard to case. Each counts only when a colon
/// follows it (after an optional count such as `Re[2]:` and optional spaces): `Aw:` is a prefix,
/// `Awesome` is not.
const PREFIXES: &[&str] = &[
    // Replies.
    "re",
    "aw",
    "sv",
    "vs",
    "antw",
    "antwort",
    "odp",
    "ynt",
    "res",
    "r",
    "rif",
    "ref",
    "réf",
    "atb",
    "vá",
    "odg",
    "отв",
    "ответ",
    "σχετ",
    "השב",
    "رد",
    "回复",
    "回覆",
    "答复",
    "答覆",
    "返信",
    "답장",
    // Forwards.
    "fwd",
    "fw",
    "wg",
    "tr",
    "vb",
    "vl",
    "doorst",
    "enc",
    "rv",
    "i",
    "ilt",
    "i̇lt",
    "pd",
    "pfwd",
    "trs",
    "пересл",
    "πρθ",
    "הועבר",
    "转发",
    "轉寄",
    "轉發",
    "転送",
    "전달",
];

/// The subject as a person should read it in a list: reply and forward prefixes removed (any
/// number of them, in any of the languages above), and this desk's own case tag removed (the
/// case number is shown on its own). Other systems' tags (`[Ticket#123]`, `[wikimedia-l]`) stay.
pub fn display_subject(subject: &str) -> String {
    let without_tag = remove_case_tag(subject);
    let mut rest = without_tag.trim();
    while let Some(after) = strip_one_prefix(rest) {
        rest = after.trim_start();
    }
    rest.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `subject` after one leading reply/forward prefix, or `None` when it starts with none.
fn strip_one_prefix(subject: &str) -> Option<&str> {
    let word_end = subject.find(|c: char| !c.is_alphabetic() && c != '\u{0307}').unwrap_or(subject.len());
    let (word, mut rest) = subject.split_at(word_end);
    if word.is_empty() || !PREFIXES.iter().any(|p| p.to_lowercase() == word.to_lowercase()) {
        return None;
    }
    // An optional count: `Re[2]:`, `Re(3):`, `Re^2:`.
    for (open, close) in [('[', ']'), ('(', ')')] {
        if let Some(inner) = rest.strip_prefix(open)
            && let Some(end) = inner.find(close)
            && inner[..end].chars().all(|c| c.is_ascii_digit())
        {
            rest = &inner[end + close.len_utf8()..];
        }
    }
    if let Some(inner) = rest.strip_prefix('^') {
        rest = inner.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let rest = rest.trim_start_matches(' ');
    rest.strip_prefix(':').or_else(|| rest.strip_prefix('：'))
}

/// The case number tagged in a subject (`[Liaison #1234]`), if any. The first well-formed tag
/// counts.
pub fn case_tag(subject: &str) -> Option<u64> {
    tags(subject).first().map(|(_, number)| *number)
}

/// The subject with this desk's tag for `number` at its end, unless it already carries it.
pub fn with_case_tag(subject: &str, number: u64) -> String {
    if tags(subject).iter().any(|(_, n)| *n == number) {
        return subject.to_owned();
    }
    let subject = subject.trim();
    if subject.is_empty() { tag(number) } else { format!("{subject} {}", tag(number)) }
}

/// This desk's tag for a case: `[Liaison #1234]`.
pub fn tag(number: u64) -> String {
    format!("[{TAG_NAME} #{number}]")
}

/// Every well-formed case tag in a subject: its byte range and its number.
fn tags(subject: &str) -> Vec<(std::ops::Range<usize>, u64)> {
    let opening = format!("[{TAG_NAME} #");
    let lower = subject.to_ascii_lowercase();
    let opening_lower = opening.to_ascii_lowercase();
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = lower[from..].find(&opening_lower) {
        let start = from + at;
        let digits_start = start + opening.len();
        let digits: String = subject[digits_start..].chars().take_while(|c| c.is_ascii_digit()).collect();
        let end = digits_start + digits.len();
        if !digits.is_empty()
            && subject[end..].starts_with(']')
            && let Ok(number) = digits.parse::<u64>()
        {
            found.push((start..end + 1, number));
        }
        from = digits_start;
    }
    found
}

fn remove_case_tag(subject: &str) -> String {
    let mut out = String::with_capacity(subject.len());
    let mut last = 0;
    for (range, _) in tags(subject) {
        out.push_str(&subject[last..range.start]);
        last = range.end;
    }
    out.push_str(&subject[last..]);
    out
}

/// A Message-ID as compared for threading: without angle brackets and surrounding space.
pub fn normalise_message_id(id: &str) -> Option<String> {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>').trim();
    (!id.is_empty() && !id.contains(char::is_whitespace)).then(|| id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_and_forward_prefixes_in_many_languages_are_removed_for_display() {
        for (subject, shown) in [
            ("Re: Error in the article", "Error in the article"),
            ("RE: AW: SV: Fehler im Artikel", "Fehler im Artikel"),
            ("WG: Fwd: Fw: TR: Erreur", "Erreur"),
            ("Re[2]: Re(3): Question", "Question"),
            ("RE : Réf. : Question", "Réf. : Question"),
            ("回复：关于条目的问题", "关于条目的问题"),
            ("Antw: Vraag", "Vraag"),
            ("Odp: Pytanie", "Pytanie"),
            ("Awesome work on the article", "Awesome work on the article"),
            ("Re:", ""),
        ] {
            assert_eq!(display_subject(subject), shown, "{subject:?}");
        }
    }

    #[test]
    fn this_desks_tag_is_read_and_hidden_while_other_systems_tags_stay() {
        assert_eq!(case_tag("Re: Error [Liaison #1234]"), Some(1234));
        assert_eq!(case_tag("re: [liaison #77] x"), Some(77), "tags survive mail programs changing case");
        assert_eq!(case_tag("[Liaison #] [Liaison #12x] none"), None, "malformed tags are not tags");
        assert_eq!(case_tag("[Ticket#2024123] Error"), None);
        assert_eq!(display_subject("Re: [Ticket#2024123] Error [Liaison #1234]"), "[Ticket#2024123] Error");
    }

    #[test]
    fn a_subject_is_tagged_once() {
        assert_eq!(with_case_tag("Error in the article", 5), "Error in the article [Liaison #5]");
        assert_eq!(with_case_tag("Re: Error [Liaison #5]", 5), "Re: Error [Liaison #5]");
        assert_eq!(with_case_tag("", 5), "[Liaison #5]");
    }

    #[test]
    fn message_ids_compare_without_their_brackets() {
        assert_eq!(normalise_message_id(" <abc@example.org> ").as_deref(), Some("abc@example.org"));
        assert_eq!(normalise_message_id("<>"), None);
        assert_eq!(normalise_message_id("a b@c"), None);
    }
}
