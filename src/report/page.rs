//! Rendering a self-contained HTML page (inline CSS and SVG, no scripts, no network) from a
//! minijinja template into any `Write`, every text HTML-escaped.

use std::io::Write;

use minijinja::Environment;
use serde_json::{json, Value};

use crate::error::{Error, Result};

/// A row of plain fields as JSON for a template.
pub(crate) fn to_json<T: serde::Serialize>(row: &T) -> Value {
    serde_json::to_value(row).expect("rows of strings, numbers and lists serialise to JSON")
}

/// The stylesheet every page shares (inline: pages are self-contained).
pub const STYLE: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/style.css"));

/// Renders `template` with `ctx` (HTML-escaped) into `w`.
pub fn render(name: &str, template: &str, ctx: &Value, w: &mut dyn Write) -> Result<()> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    env.add_template(name, template)
        .map_err(|e| Error::Invalid(format!("template {name}: {e}")))?;
    let mut ctx = ctx.clone();
    ctx["style"] = json!(STYLE);
    let html = env
        .get_template(name)
        .and_then(|tpl| tpl.render(&ctx))
        .map_err(|e| Error::Invalid(format!("rendering {name}: {e}")))?;
    w.write_all(html.as_bytes())
        .map_err(|e| Error::Invalid(format!("writing {name}: {e}")))
}

#[cfg(test)]
mod tests {
    use crate::i18n::Texts;

    const I18N: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/i18n.toml"));

    /// A template naming a text that does not exist would render an empty label silently.
    #[test]
    fn every_text_a_template_uses_exists() {
        let t: Texts = toml::from_str(I18N).expect("i18n.toml parses");
        for (name, page) in [
            (
                "audit.html",
                include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/audit.html")),
            ),
            (
                "investigation.html",
                include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/templates/investigation.html"
                )),
            ),
            (
                "letter.html",
                include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/templates/letter.html"
                )),
            ),
            (
                "stats.html",
                include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/stats.html")),
            ),
        ] {
            let mut used = 0;
            for (i, _) in page.match_indices("t.") {
                let before = page[..i].chars().last();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let key: String = page[i + 2..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                if key.is_empty() {
                    continue;
                }
                assert!(
                    t["nl"].contains_key(&key),
                    "{name} uses missing text '{key}'"
                );
                used += 1;
            }
            assert!(used > 5, "{name}: {used}");
        }
    }
}
