//! File names from mail made safe to show and to save: a sender chooses an attachment's name,
//! and a hostile one may hide a path (`../../.bashrc`), a control character, or a right-to-left
//! override (U+202E) that makes `invoice`, U+202E, `fdp.exe` read as `invoiceexe.pdf`.

/// Longest name kept, in bytes (most file systems allow 255); the extension is kept when a
/// longer name is cut.
pub const MAX_NAME_BYTES: usize = 200;

/// Names Windows refuses for a file whatever its extension.
const RESERVED: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9", "LPT1", "LPT2",
    "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// Characters that change how text around them is displayed without being visible: bidi
/// embeddings, overrides and isolates, directional marks, and zero-width characters.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{061C}' | '\u{FEFF}')
}

/// A safe file name for what a message calls `name`: the last path component only, without
/// control, bidi or zero-width characters or characters file systems reject, without leading
/// dots or trailing dots and spaces, not a reserved device name, at most [`MAX_NAME_BYTES`]. An
/// empty result becomes `fallback` (e.g. `attachment.pdf`).
pub fn safe_file_name(name: &str, fallback: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !is_invisible_format(*c))
        .map(|c| if matches!(c, ':' | '*' | '?' | '"' | '<' | '>' | '|') { '_' } else { c })
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim_end_matches(['.', ' ']).trim().to_owned();
    let stem = cleaned.split('.').next().unwrap_or("");
    let cleaned =
        if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(stem.trim())) { format!("_{cleaned}") } else { cleaned };
    let cleaned = shorten(&cleaned);
    if cleaned.is_empty() { fallback.to_owned() } else { cleaned }
}

/// Cut a name to [`MAX_NAME_BYTES`] on a character boundary, keeping a short extension.
fn shorten(name: &str) -> String {
    if name.len() <= MAX_NAME_BYTES {
        return name.to_owned();
    }
    let ext = name.rfind('.').map(|i| &name[i..]).filter(|e| e.len() <= 16).unwrap_or("");
    let mut stem_len = MAX_NAME_BYTES - ext.len();
    while !name.is_char_boundary(stem_len) {
        stem_len -= 1;
    }
    format!("{}{ext}", &name[..stem_len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_in_a_name_keeps_only_its_last_part() {
        assert_eq!(safe_file_name("../../etc/passwd", "attachment"), "passwd");
        assert_eq!(safe_file_name("C:\\Users\\x\\report.pdf", "attachment"), "report.pdf");
        assert_eq!(safe_file_name("/", "attachment"), "attachment", "nothing left: the fallback");
    }

    #[test]
    fn bidi_overrides_control_and_zero_width_characters_are_removed() {
        assert_eq!(
            safe_file_name("invoice\u{202E}fdp.exe", "a"),
            "invoicefdp.exe",
            "the override no longer disguises .exe"
        );
        assert_eq!(safe_file_name("a\u{0000}b\u{0007}\r\n.txt", "a"), "ab.txt");
        assert_eq!(safe_file_name("x\u{200B}y\u{2066}.txt", "a"), "xy.txt");
    }

    #[test]
    fn hidden_reserved_and_odd_names_are_made_ordinary() {
        assert_eq!(safe_file_name(".bashrc", "a"), "bashrc", "no hidden files");
        assert_eq!(safe_file_name("notes. . .", "a"), "notes", "no trailing dots or spaces");
        assert_eq!(safe_file_name("CON.txt", "a"), "_CON.txt");
        assert_eq!(safe_file_name("a<b>:c?.txt", "a"), "a_b__c_.txt");
        assert_eq!(
            safe_file_name("Lettre à l’éditeur.pdf", "a"),
            "Lettre à l’éditeur.pdf",
            "letters of any script stay"
        );
    }

    #[test]
    fn long_names_are_cut_on_a_character_boundary_keeping_the_extension() {
        let long = format!("{}.pdf", "é".repeat(300));
        let safe = safe_file_name(&long, "a");
        assert!(safe.len() <= MAX_NAME_BYTES, "{} bytes", safe.len());
        assert!(safe.ends_with(".pdf"));
    }
}
