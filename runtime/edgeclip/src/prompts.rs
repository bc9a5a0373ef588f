//! Prompt templates: the texts whose mean embedding stands for a label.
//!
//! A template holds one `{}` where the label goes. Several templates are averaged
//! (prompt ensembling, CLIP paper §3.1.4); the set used is part of a store's
//! fingerprint, since rows built from other templates are different vectors.

use std::path::Path;

use crate::{Error, Result};

/// CLIP's plain prompt, the default for one-off labels and for the default model
/// (which was evaluated with it).
pub const DEFAULT_TEMPLATE: &str = "a photo of a {}.";

/// The 80 ImageNet templates of the CLIP paper, one per line (written by
/// `firmware-tools/fixtures/make_prompt_templates.py` from open_clip's list).
const OPENAI_IMAGENET: &str = include_str!("prompts/openai_imagenet.txt");

/// Resolves a template set by name: `default`, `imagenet`, or a file path.
pub fn resolve(spec: &str) -> Result<Vec<String>> {
    match spec {
        "default" => Ok(vec![DEFAULT_TEMPLATE.to_owned()]),
        "imagenet" => parse(OPENAI_IMAGENET, Path::new("<built-in imagenet templates>")),
        path => read(Path::new(path)),
    }
}

/// The largest template file read: CLIP's 80 ImageNet templates are 4 KiB.
const TEMPLATES_LIMIT: edgeclip_io::Limit = edgeclip_io::Limit::new("a template file", 1 << 20);

/// Reads a template file: one template per line, blank lines and `#` comments skipped.
pub fn read(path: &Path) -> Result<Vec<String>> {
    let text =
        edgeclip_io::read_text_limited(path, TEMPLATES_LIMIT).map_err(|e| Error::io(path, e))?;
    parse(&text, path)
}

fn parse(text: &str, path: &Path) -> Result<Vec<String>> {
    let mut templates = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        check(line).map_err(|message| {
            Error::InvalidInput(format!("{}:{}: {message}", path.display(), n + 1))
        })?;
        templates.push(line.to_owned());
    }
    if templates.is_empty() {
        return Err(Error::InvalidInput(format!(
            "{}: no template in the file",
            path.display()
        )));
    }
    Ok(templates)
}

/// A template must hold exactly one `{}`: none would give every label the same text.
pub fn check(template: &str) -> std::result::Result<(), String> {
    match template.matches("{}").count() {
        1 => Ok(()),
        0 => Err(format!("template `{template}` has no `{{}}` for the label")),
        n => Err(format!(
            "template `{template}` has {n} `{{}}`, expected one"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_sets() {
        assert_eq!(resolve("default").unwrap(), ["a photo of a {}."]);
        let imagenet = resolve("imagenet").unwrap();
        assert_eq!(imagenet.len(), 80);
        assert_eq!(imagenet[0], "a bad photo of a {}.");
        assert!(imagenet.iter().all(|t| check(t).is_ok()));
    }

    #[test]
    fn files_name_the_bad_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.txt");
        std::fs::write(&path, "# mine\na {} drawing\n\nno slot\n").unwrap();
        let err = resolve(path.to_str().unwrap()).unwrap_err().to_string();
        assert!(err.contains("t.txt:4") && err.contains("no slot"), "{err}");
        std::fs::write(&path, "a {} drawing\n {} and {} \n").unwrap();
        assert!(resolve(path.to_str().unwrap()).is_err());
        std::fs::write(&path, "# only a comment\n").unwrap();
        assert!(resolve(path.to_str().unwrap()).is_err());
        std::fs::write(&path, "a {} drawing\n").unwrap();
        assert_eq!(resolve(path.to_str().unwrap()).unwrap(), ["a {} drawing"]);
        assert!(resolve(dir.path().join("missing").to_str().unwrap()).is_err());
    }
}
