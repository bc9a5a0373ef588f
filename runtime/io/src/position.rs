//! Where in a settings file an error is, in the words a user edits it in.

/// Where byte `offset` of `text` is: `line N`, and when that line is a
/// `key = value`, the key too (`line 2, key status_every_s`), so that an error
/// from a parser that names no key (a number too large for its type) still says
/// which setting is wrong.
pub fn position(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let before = text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count();
    let line_no = before + 1;
    let line = text.lines().nth(before).unwrap_or_default();
    match line.split_once('=') {
        Some((key, _)) if !key.trim().is_empty() && !line.trim_start().starts_with('#') => {
            format!("line {line_no}, key {}", key.trim())
        }
        _ => format!("line {line_no}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_and_its_key_are_named() {
        let text = "[watch]\nstatus_every_s = 99999999999999999999999\n";
        let at = text.find("9999").unwrap();
        assert_eq!(position(text, at), "line 2, key status_every_s");
        assert_eq!(position(text, 0), "line 1");
        assert_eq!(position(text, 10_000), "line 3");
    }
}
