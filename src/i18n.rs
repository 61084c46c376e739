//! The texts of every page and sheet in Dutch and English (`templates/i18n.toml`), by key.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::{json, Value};

/// The report's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Nl,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Nl => "nl",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "nl" => Some(Lang::Nl),
            "en" => Some(Lang::En),
            _ => None,
        }
    }
}

const I18N: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/i18n.toml"));
pub(crate) type Texts = BTreeMap<String, BTreeMap<String, String>>;

pub(crate) fn texts() -> &'static Texts {
    static T: OnceLock<Texts> = OnceLock::new();
    T.get_or_init(|| {
        toml::from_str(I18N)
            .expect("templates/i18n.toml is part of the binary and a unit test parses it")
    })
}

/// The text for `key` in `lang` (the key itself when missing, which a unit test forbids).
pub fn text(lang: Lang, key: &str) -> String {
    let found = texts().get(lang.code()).and_then(|t| t.get(key));
    debug_assert!(found.is_some(), "no text '{key}' in templates/i18n.toml");
    found.cloned().unwrap_or_else(|| key.to_string())
}

/// All texts of a language, for templates.
pub fn all_texts(lang: Lang) -> Value {
    json!(texts().get(lang.code()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_exists_in_both_languages() {
        let t: Texts = toml::from_str(I18N).expect("i18n.toml parses");
        let nl: Vec<_> = t["nl"].keys().collect();
        let en: Vec<_> = t["en"].keys().collect();
        assert_eq!(nl, en);
        for key in crate::engine::vocab::Reason::names() {
            assert!(t["nl"].contains_key(&format!("reason_{key}")), "{key}");
        }
        for key in crate::engine::vocab::Signal::names() {
            assert!(t["nl"].contains_key(&format!("signal_{key}")), "{key}");
        }
        for key in crate::policy::rule::RuleKind::all().map(|k| k.name()) {
            assert!(t["nl"].contains_key(&format!("rule_{key}")), "{key}");
        }
    }
}
