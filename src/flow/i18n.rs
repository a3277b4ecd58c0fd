//! Languages: choosing the user's, picking a text in it, and matching typed words loosely.

use crate::flow::model::Localized;

/// The text in `lang`, else in `fallback`, else any: a flow that passed `flow check` has every language.
pub fn pick<'a>(text: &'a Localized, lang: &str, fallback: &str) -> &'a str {
    text.get(lang).or_else(|| text.get(fallback)).or_else(|| text.values().next()).map_or("", String::as_str)
}

/// The language for a phone number from a table of calling-code prefixes (longest prefix wins).
pub fn language_for_phone<'a>(
    phone: Option<&str>,
    table: &'a std::collections::BTreeMap<String, String>,
) -> Option<&'a str> {
    let phone = phone?.trim_start_matches('+');
    table
        .iter()
        .filter(|(prefix, _)| phone.starts_with(prefix.as_str()))
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, lang)| lang.as_str())
}

/// Lowercase, accents removed, inner whitespace folded: "  ¡AYÚDAME! " and "ayudame" compare equal.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars().flat_map(char::to_lowercase) {
        let plain = match ch {
            'á' | 'à' | 'â' | 'ã' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'õ' | 'ö' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            'ñ' => 'n',
            c if c.is_alphanumeric() => c,
            _ => ' ',
        };
        out.push(plain);
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether `typed` is one of the comma-separated words of a command in any language. A phrase of two words or
/// more also matches inside a longer message ("quiero hablar con una persona"); a single word must stand alone,
/// so that a word inside a sentence ("el agente dijo...") is not taken as a command.
pub fn matches_command(typed: &str, words: &Localized) -> bool {
    let typed = normalize(typed);
    if typed.is_empty() {
        return false;
    }
    let padded = format!(" {typed} ");
    words
        .values()
        .flat_map(|w| w.split(','))
        .map(normalize)
        .filter(|w| !w.is_empty())
        .any(|w| w == typed || (w.contains(' ') && padded.contains(&format!(" {w} "))))
}

/// Replaces `{name}` placeholders with values; unknown placeholders stay as they are.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_commands_match_loosely() {
        let words: Localized =
            [("es".into(), "agente, asesor, hablar con una persona".into()), ("pt".into(), "atendente".into())].into();
        for typed in
            ["Agente", "  ASESOR!", "hablar con una persona", "Atendente", "Quiero hablar con una persona, porfa"]
        {
            assert!(matches_command(typed, &words), "{typed}");
        }
        for typed in ["", "agentes", "quiero un agente ahora"] {
            assert!(!matches_command(typed, &words), "{typed}");
        }
    }

    #[test]
    fn language_follows_the_longest_calling_code() {
        let table = [("55".to_owned(), "pt".to_owned()), ("5".to_owned(), "es".to_owned())].into();
        assert_eq!(language_for_phone(Some("5511987654321"), &table), Some("pt"));
        assert_eq!(language_for_phone(Some("+5215512345678"), &table), Some("es"));
        assert_eq!(language_for_phone(Some("15550783881"), &table), None);
        assert_eq!(language_for_phone(None, &table), None);
    }

    #[test]
    fn normalize_folds_accents_case_and_punctuation() {
        assert_eq!(normalize("  ¡AYÚDAME,  por favor! "), "ayudame por favor");
        assert_eq!(normalize("São Paulo"), "sao paulo");
    }
}
