//! Canned replies: templates with variables, in several languages. This module renders them, so
//! that the composer on a device and the mail the server sends say exactly the same thing.
//!
//! A template's variables are written `{{name}}`, or `{{name|fallback}}` for the text to use when
//! the value is unknown (`Dear {{reader_name|reader}},`). The variables are [`VARIABLES`];
//! [`validate`] refuses a template that names another or leaves a `{{` open, with a message that
//! says which. The language version used is the first of: the case's language, the queue's
//! language, English ([`pick`]); a tag matches its exact version first, then its primary language
//! (`pt-BR` finds `pt`).

use std::collections::BTreeMap;
use std::fmt;

/// The variables a template may use.
pub const VARIABLES: [&str; 5] = ["reader_name", "case_number", "article_title", "agent_name", "queue_signature"];

/// The language every canned reply should have, the end of every fallback chain.
pub const FALLBACK_LANGUAGE: &str = "en";

/// Values for a template's variables; `None` (or absent) is unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vars {
    values: BTreeMap<&'static str, String>,
}

impl Vars {
    pub fn new() -> Vars {
        Vars::default()
    }

    /// Set a variable (one of [`VARIABLES`]; other names are ignored). Blank values count as
    /// unknown.
    pub fn set(mut self, name: &str, value: Option<&str>) -> Vars {
        if let (Some(name), Some(value)) = (VARIABLES.iter().find(|v| **v == name), value.map(str::trim))
            && !value.is_empty()
        {
            self.values.insert(name, value.to_owned());
        }
        self
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }
}

/// What is wrong with a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    UnknownVariable { name: String },
    Unclosed { at: usize },
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::UnknownVariable { name } => write!(
                f,
                "{{{{{name}}}}} is not a variable; use one of {}",
                VARIABLES.iter().map(|v| format!("{{{{{v}}}}}")).collect::<Vec<_>>().join(", ")
            ),
            TemplateError::Unclosed { at } => {
                write!(f, "a variable opened with {{{{ at character {} is never closed with }}}}", at + 1)
            }
        }
    }
}

impl std::error::Error for TemplateError {}

/// A piece of a template.
enum Piece<'t> {
    Text(&'t str),
    Var { name: &'t str, fallback: Option<&'t str> },
}

fn pieces(template: &str) -> Result<Vec<Piece<'_>>, TemplateError> {
    let mut out = Vec::new();
    let mut rest = template;
    let mut offset = 0;
    while let Some(open) = rest.find("{{") {
        out.push(Piece::Text(&rest[..open]));
        let inner_start = open + 2;
        let close = rest[inner_start..]
            .find("}}")
            .ok_or(TemplateError::Unclosed { at: template[..offset + open].chars().count() })?;
        let inner = &rest[inner_start..inner_start + close];
        let (name, fallback) = match inner.split_once('|') {
            Some((name, fallback)) => (name.trim(), Some(fallback)),
            None => (inner.trim(), None),
        };
        if !VARIABLES.contains(&name) {
            return Err(TemplateError::UnknownVariable { name: name.to_owned() });
        }
        out.push(Piece::Var { name, fallback });
        let consumed = inner_start + close + 2;
        offset += consumed;
        rest = &rest[consumed..];
    }
    out.push(Piece::Text(rest));
    Ok(out)
}

/// Check a template before it is saved.
pub fn validate(template: &str) -> Result<(), TemplateError> {
    pieces(template).map(|_| ())
}

/// The template with its variables filled in: the value, else the fallback, else nothing. A
/// template that does not [`validate`] is returned as it is (nothing is silently dropped).
pub fn render(template: &str, vars: &Vars) -> String {
    let Ok(pieces) = pieces(template) else { return template.to_owned() };
    let mut out = String::with_capacity(template.len());
    for piece in pieces {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Var { name, fallback } => out.push_str(vars.get(name).or(fallback).unwrap_or("")),
        }
    }
    out
}

/// The language version to use, and its language: the case's language, then the queue's, then
/// English; each tag exact first, then its primary language. `None` when the reply has none of
/// them (the composer then offers the versions it has).
pub fn pick<'v>(
    versions: &'v BTreeMap<String, String>,
    case_language: Option<&str>,
    queue_language: Option<&str>,
) -> Option<(&'v str, &'v str)> {
    let wanted = [case_language, queue_language, Some(FALLBACK_LANGUAGE)];
    for tag in wanted.into_iter().flatten().map(str::trim).filter(|t| !t.is_empty()) {
        let primary = tag.split(['-', '_']).next().unwrap_or(tag);
        let exact = versions.iter().find(|(lang, _)| lang.eq_ignore_ascii_case(tag));
        let by_primary = || versions.iter().find(|(lang, _)| lang.eq_ignore_ascii_case(primary));
        if let Some((lang, text)) = exact.or_else(by_primary) {
            return Some((lang.as_str(), text.as_str()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn versions(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(l, t)| (l.to_string(), t.to_string())).collect()
    }

    #[test]
    fn variables_are_filled_and_unknown_values_take_their_fallback() {
        let template =
            "Dear {{reader_name|reader}},\nabout {{ article_title }} (case {{case_number}}):\n{{queue_signature}}";
        let vars = Vars::new().set("article_title", Some("Ada Lovelace")).set("case_number", Some("1234"));
        assert_eq!(render(template, &vars), "Dear reader,\nabout Ada Lovelace (case 1234):\n");
        let named = vars.set("reader_name", Some("Ngozi")).set("queue_signature", Some("-- Wikimedia VRT"));
        assert_eq!(render(template, &named), "Dear Ngozi,\nabout Ada Lovelace (case 1234):\n-- Wikimedia VRT");
        assert_eq!(
            render("Hi {{reader_name}}!", &Vars::new().set("reader_name", Some("  "))),
            "Hi !",
            "blank is unknown"
        );
    }

    #[test]
    fn a_template_naming_an_unknown_variable_or_left_open_is_refused_with_the_reason() {
        let unknown = validate("Dear {{name}},").expect_err("unknown");
        assert_eq!(unknown, TemplateError::UnknownVariable { name: "name".into() });
        assert!(unknown.to_string().contains("{{reader_name}}"), "the message lists what may be used: {unknown}");
        let open = validate("Dear {{reader_name,").expect_err("open");
        assert_eq!(open, TemplateError::Unclosed { at: 5 });
        assert!(open.to_string().contains("character 6"), "{open}");
        assert_eq!(render("Dear {{name}},", &Vars::new()), "Dear {{name}},", "an invalid template is shown as written");
        assert!(validate("No variables at all; single { braces } are text.").is_ok());
    }

    #[test]
    fn the_case_language_comes_first_then_the_queue_language_then_english() {
        let v = versions(&[("en", "Thank you"), ("de", "Danke"), ("pt", "Obrigado")]);
        assert_eq!(pick(&v, Some("de"), Some("en")), Some(("de", "Danke")));
        assert_eq!(pick(&v, Some("fr"), Some("de")), Some(("de", "Danke")), "no French: the queue's language");
        assert_eq!(pick(&v, Some("fr"), None), Some(("en", "Thank you")), "then English");
        assert_eq!(pick(&v, Some("pt-BR"), None), Some(("pt", "Obrigado")), "a regional tag finds its language");
        assert_eq!(pick(&v, Some("DE"), None), Some(("de", "Danke")), "tags compare without case");
        assert_eq!(pick(&versions(&[("sv", "Tack")]), Some("fr"), Some("de")), None);
    }
}
