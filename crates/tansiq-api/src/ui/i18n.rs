//! The interface's translations: Fluent resources for Arabic, French and
//! English, embedded in the binary, and the choice of a request's locale
//! (the language cookie, else Accept-Language, else English).

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use unic_langid::LanguageIdentifier;

/// The locales, in the order of the language menu.
pub const LOCALES: &[Locale] = &[
    Locale {
        code: "ar",
        native: "العربية",
        rtl: true,
        ftl: include_str!("locales/ar.ftl"),
    },
    Locale {
        code: "fr",
        native: "Français",
        rtl: false,
        ftl: include_str!("locales/fr.ftl"),
    },
    Locale {
        code: "en",
        native: "English",
        rtl: false,
        ftl: include_str!("locales/en.ftl"),
    },
];

pub const DEFAULT: &str = "en";

pub struct Locale {
    pub code: &'static str,
    /// The language's name in itself, for the menu.
    pub native: &'static str,
    pub rtl: bool,
    pub ftl: &'static str,
}

/// Every locale's bundle, parsed once at start.
pub struct I18n {
    bundles: Vec<(&'static str, FluentBundle<FluentResource>)>,
}

impl I18n {
    /// Parses the embedded resources; a syntax error in one is a bug of
    /// this build (the unit tests parse them too).
    pub fn new() -> I18n {
        let bundles = LOCALES
            .iter()
            .map(|l| {
                let lang: LanguageIdentifier = l.code.parse().expect("locale code");
                let mut b = FluentBundle::new_concurrent(vec![lang]);
                // Names of the other script are isolated by the templates
                // (<bdi>); Fluent's own isolation marks would be invisible
                // characters in copied text.
                b.set_use_isolating(false);
                let res = FluentResource::try_new(l.ftl.to_string())
                    .unwrap_or_else(|(_, e)| panic!("{}.ftl: {e:?}", l.code));
                b.add_resource(res)
                    .unwrap_or_else(|e| panic!("{}.ftl: {e:?}", l.code));
                (l.code, b)
            })
            .collect();
        I18n { bundles }
    }

    /// The text of `key` in `lang` (English where the locale is unknown);
    /// a missing key shows as itself (the unit tests keep that from
    /// happening).
    pub fn text(&self, lang: &str, key: &str, args: &[(&str, FluentValue<'_>)]) -> String {
        let bundle = self
            .bundles
            .iter()
            .find(|(c, _)| *c == lang)
            .or_else(|| self.bundles.iter().find(|(c, _)| *c == DEFAULT))
            .map(|(_, b)| b)
            .expect("the default locale is built in");
        let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) else {
            return key.to_string();
        };
        let mut fargs = FluentArgs::new();
        for (k, v) in args {
            fargs.set(*k, v.clone());
        }
        let mut errors = vec![];
        bundle
            .format_pattern(pattern, Some(&fargs), &mut errors)
            .into_owned()
    }
}

impl Default for I18n {
    fn default() -> Self {
        I18n::new()
    }
}

pub fn locale(code: &str) -> Option<&'static Locale> {
    LOCALES.iter().find(|l| l.code == code)
}

/// The locale of a request: the language cookie if it names one, else
/// the first supported language of Accept-Language, else English.
pub fn negotiate(cookie: Option<&str>, accept_language: Option<&str>) -> &'static Locale {
    if let Some(l) = cookie.and_then(locale) {
        return l;
    }
    let mut best: Option<(&'static Locale, f32)> = None;
    for part in accept_language.unwrap_or("").split(',') {
        let mut it = part.trim().split(';');
        let tag = it.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = it
            .find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse().ok()))
            .unwrap_or(1.0);
        let primary = tag.split('-').next().unwrap_or("");
        if let Some(l) = locale(primary) {
            if q > 0.0 && best.is_none_or(|(_, bq)| q > bq) {
                best = Some((l, q));
            }
        }
    }
    best.map_or_else(|| locale(DEFAULT).expect("default locale"), |(l, _)| l)
}

/// The message ids a Fluent resource defines (lines `id = …` at the
/// start of a line; attributes, terms and continuations are indented or
/// start with `-`).
pub fn keys(ftl: &str) -> Vec<String> {
    ftl.lines()
        .filter_map(|l| {
            let (id, _) = l.split_once('=')?;
            let id = id.trim_end();
            let ok = id.starts_with(|c: char| c.is_ascii_lowercase())
                && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            ok.then(|| id.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_locale_parses_and_has_the_same_keys() {
        let _ = I18n::new();
        let en: BTreeSet<String> = keys(locale("en").unwrap().ftl).into_iter().collect();
        assert!(en.len() > 50, "the English resource is nearly empty");
        for l in LOCALES {
            if let Err((_, e)) = FluentResource::try_new(l.ftl.to_string()) {
                panic!("{}.ftl does not parse: {e:?}", l.code);
            }
            let have: BTreeSet<String> = keys(l.ftl).into_iter().collect();
            let missing: Vec<_> = en.difference(&have).collect();
            let extra: Vec<_> = have.difference(&en).collect();
            assert!(missing.is_empty(), "{}.ftl lacks {missing:?}", l.code);
            assert!(
                extra.is_empty(),
                "{}.ftl has keys English lacks: {extra:?}",
                l.code
            );
        }
    }

    #[test]
    fn every_key_a_template_uses_exists_in_every_locale() {
        let used = super::super::view::keys_used();
        assert!(used.len() > 50, "the key scan found almost nothing");
        for l in LOCALES {
            let have: BTreeSet<String> = keys(l.ftl).into_iter().collect();
            let missing: Vec<_> = used.iter().filter(|k| !have.contains(*k)).collect();
            assert!(
                missing.is_empty(),
                "{}.ftl lacks keys used: {missing:?}",
                l.code
            );
        }
    }

    #[test]
    fn the_cookie_wins_then_accept_language_by_quality() {
        assert_eq!(negotiate(Some("ar"), Some("fr")).code, "ar");
        assert_eq!(negotiate(Some("xx"), Some("fr-FR,en;q=0.5")).code, "fr");
        assert_eq!(negotiate(None, Some("de, en;q=0.4, ar;q=0.9")).code, "ar");
        assert_eq!(negotiate(None, Some("de")).code, "en");
        assert_eq!(negotiate(None, None).code, "en");
    }

    #[test]
    fn arguments_are_placed() {
        let i = I18n::new();
        let s = i.text("fr", "inbox-count", &[("count", FluentValue::from(3))]);
        assert!(s.contains('3'), "{s}");
    }
}
