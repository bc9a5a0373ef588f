//! Text to token ids, exactly as open_clip's `tokenize` makes them.
//!
//! CLIP text encoders only understand the ids that open_clip's
//! `SimpleTokenizer` produced during training, so this module reproduces its
//! whole pipeline rather than just the byte-pair encoding:
//!
//! 1. `ftfy.fix_text` with its default settings (see below),
//! 2. `html.unescape` applied twice,
//! 3. whitespace collapsed to single spaces and stripped (Python's
//!    `str.split()` notion of whitespace),
//! 4. lowercasing,
//! 5. CLIP's word-splitting regex (compiled case-insensitively in Python),
//! 6. byte-level BPE with the OpenAI vocabulary of 49,408 ids, done by the
//!    `instant-clip-tokenizer` crate, which bundles that vocabulary.
//!
//! [`Tokenizer::tokenize`] then frames the ids as `[START] + ids + [END]`,
//! cuts overlong texts to `START`, the first `context_length - 2` text ids
//! and `END`, and pads with zeros.
//!
//! # ftfy coverage
//!
//! Implemented, in ftfy's order and repeated until the text stops changing
//! as ftfy does: HTML entity unescaping (ftfy's `"auto"` rule: skipped from
//! the first line that contains a literal `<` onwards, since that text is
//! probably real HTML), C1 controls read as Windows-1252, Latin ligatures,
//! fullwidth/halfwidth forms, curly quotes, line breaks, ANSI terminal
//! escapes, invisible control characters and NFC normalization.
//!
//! Not implemented: ftfy's mojibake repair (`fix_encoding` with
//! `restore_byte_a0`, `replace_lossy_sequences` and
//! `decode_inconsistent_utf8`). It rests on large heuristic tables and only
//! changes text that was already decoded with the wrong codec, such as
//! `"cafÃ©"`; such text is tokenized as written here, while open_clip would
//! first turn it into `"café"`. ftfy's `fix_surrogates` has no counterpart
//! because a Rust `str` cannot hold surrogates.
//!
//! # Other known differences
//!
//! The reference ran on Python 3.11, whose lowercasing and normalization use
//! Unicode 14. Characters assigned in later Unicode versions can lowercase,
//! normalize or classify differently here. Everything else, including the
//! quirks of the Python regex module, is reproduced; the parity test in
//! `tests/tokenizer_parity.rs` holds this module to open_clip's own output.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::LazyLock;

use regex::{Captures, Regex};
use unicode_normalization::UnicodeNormalization;

use crate::{Error, Result};

/// CLIP's word-splitting pattern as Python's `regex` module runs it with
/// `IGNORECASE` on lowercased text. Two behaviours differ from the pattern
/// compiled case-sensitively: every literal `s` also matches `ſ` (long s
/// folds to s; no other character folds onto a letter of the pattern), and
/// U+0345 COMBINING GREEK YPOGEGRAMMENI matches no branch at all, so it
/// separates words like a space does.
const WORD_PATTERN: &str = r"<[sſ]tart_of_text>|<end_of_text>|'[sſ]|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}\x{345}]+";

/// BPE of the words that only the case-insensitive pattern makes, which the
/// bundled tokenizer's own splitter can never produce. Each is one fixed
/// string, so its ids are fixed too (taken from open_clip).
const APOSTROPHE_LONG_S: [u32; 3] = [6, 129, 379];
/// `<ſtart_of_text>` is not the special token: open_clip only special-cases
/// the exact spelling and byte-pair encodes this one.
const LONG_S_START_OF_TEXT: [u32; 9] = [27, 129, 123, 16707, 62, 684, 62, 18169, 285];

/// The merge rules of OpenAI's CLIP vocabulary that a 49,408-id vocabulary uses
/// (written by `firmware-tools/fixtures/make_bpe_merges.py`; the full file's other
/// ~213k merges are never applied, and would be 2.7 MB more in every binary).
const CLIP_BPE_MERGES: &str = include_str!("../data/clip-bpe-merges.txt");
/// Ids in CLIP's vocabulary: 512 byte tokens, the merges, start and end of text.
const CLIP_VOCABULARY_SIZE: u16 = 49408;

/// CLIP's byte-pair tokenizer with open_clip's text cleanup.
pub struct Tokenizer {
    bpe: instant_clip_tokenizer::Tokenizer,
    words: Regex,
}

impl Tokenizer {
    /// The `<start_of_text>` id that opens every tokenized text.
    pub const START: u32 = 49406;
    /// The `<end_of_text>` id that closes every tokenized text; CLIP pools
    /// the text embedding at its position.
    pub const END: u32 = 49407;

    /// The OpenAI CLIP vocabulary (bundled), as used by every OpenAI and
    /// open_clip CLIP model. Building it parses ~49k merge rules, so build
    /// it once and reuse it.
    pub fn openai() -> Self {
        // The bundled merges are fixed data, checked by the tests (not user input).
        let bpe = instant_clip_tokenizer::Tokenizer::with_vocabulary(
            std::io::Cursor::new(CLIP_BPE_MERGES),
            CLIP_VOCABULARY_SIZE,
        )
        .expect("bundled merge rules are valid");
        debug_assert_eq!(u32::from(bpe.start_of_text().to_u16()), Self::START);
        debug_assert_eq!(u32::from(bpe.end_of_text().to_u16()), Self::END);
        let words = Regex::new(WORD_PATTERN).expect("word pattern is valid");
        Tokenizer { bpe, words }
    }

    /// Token ids of `text` without start/end tokens or padding, after
    /// [`clean`] and lowercasing. A literal `<start_of_text>` or
    /// `<end_of_text>` in the text becomes that special id, as in open_clip.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let text = clean(text).to_lowercase();
        let mut ids = Vec::with_capacity(text.len() / 3 + 1);
        let mut pieces = Vec::new();
        for word in self.words.find_iter(&text) {
            match word.as_str() {
                "<start_of_text>" => ids.push(Self::START),
                "<end_of_text>" => ids.push(Self::END),
                "'ſ" => ids.extend_from_slice(&APOSTROPHE_LONG_S),
                "<ſtart_of_text>" => ids.extend_from_slice(&LONG_S_START_OF_TEXT),
                // Every other word is one match of the bundled tokenizer's
                // own (case-sensitive) pattern, so it splits no further.
                word => {
                    pieces.clear();
                    self.bpe.encode(word, &mut pieces);
                    ids.extend(pieces.iter().map(|t| u32::from(t.to_u16())));
                }
            }
        }
        ids
    }

    /// `context_length` ids: start, text tokens (truncated like open_clip),
    /// end, zero padding. All CLIP models use a context length of 77.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] if `context_length < 2`, which leaves no room
    /// for the start and end ids.
    pub fn tokenize(&self, text: &str, context_length: usize) -> Result<Vec<i64>> {
        check_context_length(context_length)?;
        let mut out = vec![0; context_length];
        self.tokenize_into(text, &mut out)?;
        Ok(out)
    }

    /// Writes the ids into a caller buffer of length context_length (no
    /// allocation of the output): the same ids as [`Tokenizer::tokenize`]
    /// with `context_length = out.len()`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] if `out.len() < 2`; `out` is then untouched.
    pub fn tokenize_into(&self, text: &str, out: &mut [i64]) -> Result<()> {
        check_context_length(out.len())?;
        let ids = self.encode(text);
        // open_clip truncates `[START] + ids + [END]` and then overwrites the
        // last slot with END, which keeps the first `len - 2` text ids.
        let kept = ids.len().min(out.len() - 2);
        out[0] = i64::from(Self::START);
        for (slot, &id) in out[1..=kept].iter_mut().zip(&ids) {
            *slot = i64::from(id);
        }
        out[kept + 1] = i64::from(Self::END);
        out[kept + 2..].fill(0);
        Ok(())
    }
}

fn check_context_length(context_length: usize) -> Result<()> {
    if context_length < 2 {
        return Err(Error::InvalidInput(format!(
            "context length {context_length} leaves no room for the start and end tokens (need at least 2)"
        )));
    }
    Ok(())
}

/// open_clip's text cleanup (ftfy-like fixes, HTML unescape, whitespace
/// collapse), before lowercasing: what open_clip's `whitespace_clean(basic_clean(text))`
/// returns, except for mojibake repair (see the [module docs](crate::tokenizer)).
pub fn clean(text: &str) -> String {
    let fixed = fix_text(text);
    let once = html_unescape(&fixed);
    let twice = html_unescape(&once);
    collapse_whitespace(&twice)
}

/// Python's `" ".join(text.split())`.
fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split(is_python_space).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Python's `str.isspace`: Unicode White_Space plus the ASCII information
/// separators U+001C..U+001F.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// ftfy fixes text line by line, so a bad line cannot slow down the rest.
const MAX_SEGMENT_CHARS: usize = 1_000_000;

/// `ftfy.fix_text` with default settings, minus mojibake repair.
fn fix_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // ftfy's "auto" HTML rule: a literal '<' suggests real HTML, whose
    // entities must stay; once seen, it holds for all later lines too.
    let mut unescape = true;
    let mut rest = text;
    while !rest.is_empty() {
        let line_end = rest.find('\n').map_or(rest.len(), |i| i + 1);
        let end = match rest[..line_end].char_indices().nth(MAX_SEGMENT_CHARS) {
            Some((i, _)) => i,
            None => line_end,
        };
        let (segment, tail) = rest.split_at(end);
        if unescape && segment.contains('<') {
            unescape = false;
        }
        out.push_str(&fix_segment(segment, unescape));
        rest = tail;
    }
    out
}

/// One segment of `ftfy.fix_and_explain`: all fixes in ftfy's order, until
/// a pass changes nothing (fixes can enable each other, e.g. a fullwidth
/// `＆amp;` becomes an entity only after the width fix).
fn fix_segment(segment: &str, unescape: bool) -> String {
    let mut text = segment.to_owned();
    loop {
        let before = text.clone();
        if unescape {
            text = apply(text, ftfy_unescape_html);
        }
        text = apply(text, fix_c1_controls);
        text = apply(text, fix_latin_ligatures);
        text = apply(text, fix_character_width);
        text = apply(text, uncurl_quotes);
        text = apply(text, fix_line_breaks);
        text = apply(text, remove_terminal_escapes);
        text = apply(text, remove_control_chars);
        text = apply(text, nfc);
        if text == before {
            return text;
        }
    }
}

fn apply(text: String, fix: impl Fn(&str) -> Cow<'_, str>) -> String {
    let changed = match fix(&text) {
        Cow::Owned(fixed) => Some(fixed),
        Cow::Borrowed(_) => None,
    };
    changed.unwrap_or(text)
}

/// Rewrites `text` char by char when any char needs it.
fn map_chars(
    text: &str,
    needs: impl Fn(char) -> bool,
    map: impl Fn(char, &mut String),
) -> Cow<'_, str> {
    if !text.chars().any(&needs) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs(c) {
            map(c, &mut out);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Windows-1252 for bytes 0x80..=0x9F, with the five bytes it leaves
/// undefined kept as their C1 code points (ftfy's "sloppy" codec; also
/// Python's `html` table for numeric references in that range).
const WINDOWS_1252_C1: [char; 32] = [
    '\u{20ac}', '\u{81}', '\u{201a}', '\u{192}', '\u{201e}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{2c6}', '\u{2030}', '\u{160}', '\u{2039}', '\u{152}', '\u{8d}', '\u{17d}', '\u{8f}',
    '\u{90}', '\u{2018}', '\u{2019}', '\u{201c}', '\u{201d}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{2dc}', '\u{2122}', '\u{161}', '\u{203a}', '\u{153}', '\u{9d}', '\u{17e}', '\u{178}',
];

fn fix_c1_controls(text: &str) -> Cow<'_, str> {
    map_chars(
        text,
        |c| ('\u{80}'..='\u{9f}').contains(&c),
        |c, out| out.push(WINDOWS_1252_C1[c as usize - 0x80]),
    )
}

fn latin_ligature(c: char) -> Option<&'static str> {
    Some(match c {
        'Ĳ' => "IJ",
        'ĳ' => "ij",
        // U+02BC, which the quote fix then straightens.
        'ŉ' => "\u{2bc}n",
        'Ǳ' => "DZ",
        'ǲ' => "Dz",
        'ǳ' => "dz",
        'Ǆ' => "DŽ",
        'ǅ' => "Dž",
        'ǆ' => "dž",
        'Ǉ' => "LJ",
        'ǈ' => "Lj",
        'ǉ' => "lj",
        'Ǌ' => "NJ",
        'ǋ' => "Nj",
        'ǌ' => "nj",
        'ﬀ' => "ff",
        'ﬁ' => "fi",
        'ﬂ' => "fl",
        'ﬃ' => "ffi",
        'ﬄ' => "ffl",
        'ﬅ' => "ſt",
        'ﬆ' => "st",
        _ => return None,
    })
}

fn fix_latin_ligatures(text: &str) -> Cow<'_, str> {
    map_chars(
        text,
        |c| latin_ligature(c).is_some(),
        |c, out| out.push_str(latin_ligature(c).unwrap_or_default()),
    )
}

fn is_width_variant(c: char) -> bool {
    c == '\u{3000}' || ('\u{ff01}'..='\u{ffef}').contains(&c)
}

fn fix_character_width(text: &str) -> Cow<'_, str> {
    map_chars(text, is_width_variant, |c, out| {
        if c == '\u{3000}' {
            out.push(' ');
        } else {
            // NFKC of one char in this block is its standard-width form, or
            // the char itself where it has none.
            out.extend(std::iter::once(c).nfkc());
        }
    })
}

fn uncurl_quotes(text: &str) -> Cow<'_, str> {
    map_chars(
        text,
        |c| matches!(c, '\u{2bc}' | '\u{2018}'..='\u{201f}'),
        |c, out| out.push(if c >= '\u{201c}' { '"' } else { '\'' }),
    )
}

fn fix_line_breaks(text: &str) -> Cow<'_, str> {
    if !text.contains(['\r', '\u{2028}', '\u{2029}', '\u{85}']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            // CRLF collapses to the LF that follows.
            '\r' if chars.peek() == Some(&'\n') => {}
            '\r' | '\u{2028}' | '\u{2029}' | '\u{85}' => out.push('\n'),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn remove_terminal_escapes(text: &str) -> Cow<'_, str> {
    static ANSI: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\x1b\[[\d;]*[a-zA-Z]").expect("ANSI pattern is valid"));
    if !text.contains('\u{1b}') {
        return Cow::Borrowed(text);
    }
    ANSI.replace_all(text, "")
}

/// Controls with no visible effect; whitespace controls, C1 controls,
/// joiners, bidi marks and tag characters (flag emoji) stay.
fn is_invisible_control(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{8}'
        | '\u{b}'
        | '\u{e}'..='\u{1f}'
        | '\u{7f}'
        | '\u{206a}'..='\u{206f}'
        | '\u{feff}'
        | '\u{fff9}'..='\u{fffc}')
}

fn remove_control_chars(text: &str) -> Cow<'_, str> {
    map_chars(text, is_invisible_control, |_, _| {})
}

fn nfc(text: &str) -> Cow<'_, str> {
    if unicode_normalization::is_nfc(text) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.nfc().collect())
    }
}

/// The expansion of `&name` (with or without a trailing `;`) in the HTML5
/// named character reference table, which is the table behind Python's
/// `html.entities.html5`.
fn named_entity(name: &str) -> Option<&'static str> {
    let mut key = String::with_capacity(name.len() + 1);
    key.push('&');
    key.push_str(name);
    htmlize::ENTITIES
        .get(key.as_bytes())
        .map(|expansion| std::str::from_utf8(expansion).expect("entity table is UTF-8"))
}

/// Python's `html.unescape`: HTML5 character references, including those
/// without a trailing semicolon and Python's handling of invalid numbers.
fn html_unescape(text: &str) -> Cow<'_, str> {
    static CHARREF: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\x0c <&#;]{1,32};?)")
            .expect("charref pattern is valid")
    });
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    CHARREF.replace_all(text, |caps: &Captures<'_>| replace_charref(&caps[1]))
}

/// Python's `html._replace_charref`, given the reference without its `&`.
fn replace_charref(reference: &str) -> String {
    if let Some(number) = reference.strip_prefix('#') {
        let number = number.trim_end_matches(';');
        let value = match number.strip_prefix(['x', 'X']) {
            Some(hex) => parse_saturating(hex, 16),
            None => parse_saturating(number, 10),
        };
        return numeric_charref(value);
    }
    if let Some(expansion) = named_entity(reference) {
        return expansion.to_owned();
    }
    // The longest known prefix of at least two chars wins, the rest stays
    // literal ("&notit;" is "¬it;").
    let boundaries: Vec<usize> = reference.char_indices().map(|(i, _)| i).collect();
    for &end in boundaries.iter().skip(2).rev() {
        if let Some(expansion) = named_entity(&reference[..end]) {
            return format!("{expansion}{}", &reference[end..]);
        }
    }
    format!("&{reference}")
}

/// Anything past U+10FFFF is equally invalid, so parsing saturates there
/// instead of needing Python's unbounded integers.
fn parse_saturating(digits: &str, radix: u32) -> u32 {
    digits.chars().fold(0u32, |value, c| {
        let digit = c.to_digit(radix).unwrap_or(0);
        value
            .saturating_mul(radix)
            .saturating_add(digit)
            .min(0x11_0000)
    })
}

fn numeric_charref(value: u32) -> String {
    match value {
        0 => '\u{fffd}'.to_string(),
        0x0d => '\r'.to_string(),
        0x80..=0x9f => WINDOWS_1252_C1[value as usize - 0x80].to_string(),
        0xd800..=0xdfff | 0x11_0000.. => '\u{fffd}'.to_string(),
        0x1..=0x8 | 0xb | 0xe..=0x1f | 0x7f | 0xfdd0..=0xfdef => String::new(),
        _ if value & 0xfffe == 0xfffe => String::new(),
        _ => char::from_u32(value).map(String::from).unwrap_or_default(),
    }
}

/// ftfy's entity table: the HTML5 names that end in `;`, plus all-caps
/// spellings of the lowercase ones (`&EACUTE;` is "É") where the caps
/// spelling means nothing else to `html.unescape`.
static FTFY_ENTITIES: LazyLock<HashMap<String, String>> = LazyLock::new(|| {
    let mut entities = HashMap::new();
    for (&key, &expansion) in htmlize::ENTITIES.entries() {
        let (Ok(key), Ok(expansion)) = (std::str::from_utf8(key), std::str::from_utf8(expansion))
        else {
            continue;
        };
        if !key.ends_with(';') {
            continue;
        }
        entities.insert(key.to_owned(), expansion.to_owned());
        if key == key.to_lowercase() {
            let upper = key.to_uppercase();
            if html_unescape(&upper) == upper {
                entities.insert(upper, expansion.to_uppercase());
            }
        }
    }
    entities
});

/// ftfy's `unescape_html`: only references that end in `;`, so informal
/// text like "this&not that" survives.
fn ftfy_unescape_html(text: &str) -> Cow<'_, str> {
    static ENTITY: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"&#?[0-9A-Za-z]{1,24};").expect("entity pattern is valid"));
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    ENTITY.replace_all(text, |caps: &Captures<'_>| {
        let entity = &caps[0];
        if let Some(expansion) = FTFY_ENTITIES.get(entity) {
            return expansion.clone();
        }
        if entity.starts_with("&#") {
            let unescaped = html_unescape(entity);
            // A partial decode ("&#65a;" -> "Aa;") is not a decode.
            if !unescaped.contains(';') {
                return unescaped.into_owned();
            }
        }
        entity.to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    static TOKENIZER: LazyLock<Tokenizer> = LazyLock::new(Tokenizer::openai);

    fn ids(text: &str) -> Vec<i64> {
        let mut ids = TOKENIZER.tokenize(text, 77).unwrap();
        while ids.last() == Some(&0) {
            ids.pop();
        }
        ids
    }

    #[test]
    fn matches_open_clip_on_samples() {
        // Expected ids from open_clip 3.3.0's `tokenize`, trailing zeros cut.
        let cases: &[(&str, &[i64])] = &[
            (
                "a photo of a cat.",
                &[49406, 320, 1125, 539, 320, 2368, 269, 49407],
            ),
            ("Don't STOP!", &[49406, 847, 713, 1691, 256, 49407]),
            ("'ſt", &[49406, 6, 129, 379, 339, 49407]),
            (
                "x<ﬅart_of_text>y",
                &[
                    49406, 343, 27, 129, 123, 16707, 62, 684, 62, 18169, 285, 344, 49407,
                ],
            ),
            ("a\u{345}b", &[49406, 320, 321, 49407]),
            ("<START_OF_TEXT>x", &[49406, 49406, 343, 49407]),
            (
                "!<end_of_text>",
                &[49406, 0, 283, 806, 318, 539, 318, 4160, 285, 49407],
            ),
            ("&amp;amp;", &[49406, 261, 49407]),
            (
                "<b>&amp;amp;</b>",
                &[49406, 283, 321, 29, 5, 34308, 321, 285, 49407],
            ),
            (
                "“quoted” ‘single’",
                &[49406, 257, 27706, 257, 568, 17005, 262, 49407],
            ),
            ("ﬁsh ﬂour", &[49406, 2759, 18592, 49407]),
            ("ＡＢＣ１２３", &[49406, 5334, 272, 273, 274, 49407]),
            ("a\u{0}b\u{7}c", &[49406, 5334, 49407]),
            ("\u{93}hi\u{94}", &[49406, 257, 1883, 257, 49407]),
            ("cafe\u{301}", &[49406, 15304, 49407]),
            ("", &[49406, 49407]),
            ("   ", &[49406, 49407]),
            (
                "ΟΔΟΣ",
                &[49406, 138, 123, 138, 112, 138, 123, 139, 480, 49407],
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(ids(text), *expected, "text {text:?}");
        }
    }

    #[test]
    fn cleans_like_open_clip() {
        let cases = [
            ("  a\t\tb \n c  ", "a b c"),
            ("caf&eacute; &amp; bar", "café & bar"),
            ("P&EACUTE;REZ", "PÉREZ"),
            ("BUNDESSTRA&SZLIG;E", "BUNDESSTRASSE"),
            // ftfy leaves entities without ';' alone, html.unescape does not.
            ("this&not that", "this¬ that"),
            ("&notit;", "¬it;"),
            ("&amp;amp;amp;amp;", "&"),
            // A literal '<' stops ftfy's unescaping, html.unescape still runs
            // twice, and the curly quote it yields is no longer straightened.
            ("<i>&amp;amp;amp;</i> &rsquo;", "<i>&amp;</i> \u{2019}"),
            ("&rsquo;", "'"),
            ("&#x27;&#39;&#0;&#128;&#1;x", "''\u{fffd}€x"),
            ("&#65a;", "Aa;"),
            ("\u{201c}hi\u{201d} it\u{2019}s", "\"hi\" it's"),
            ("ﬂuﬃeﬆ ŉ", "fluffiest 'n"),
            ("ＬＯＵＤ\u{3000}ＮＯＩＳＥＳ ｶﾞ", "LOUD NOISES ガ"),
            ("＆amp;", "&"),
            ("a\u{0}b\u{1b}[31mred\u{1b}[0m\u{feff}", "abred"),
            ("x\u{85}y\u{96}z", "x…y–z"),
            ("cafe\u{301}", "café"),
            ("a\r\nb\u{2028}c", "a b c"),
            ("\u{a0}\u{1c}x\u{200b}", "x\u{200b}"),
        ];
        for (input, expected) in cases {
            assert_eq!(clean(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn html_rule_is_sticky_across_lines() {
        assert_eq!(clean("&rsquo;\n<b>\n&rsquo;"), "' <b> \u{2019}");
    }

    #[test]
    fn truncates_like_open_clip() {
        let out = TOKENIZER.tokenize(&"word ".repeat(100), 77).unwrap();
        assert_eq!(out.len(), 77);
        assert_eq!(out[0], 49406);
        assert!(out[1..76].iter().all(|&id| id == 2653));
        assert_eq!(out[76], 49407);

        assert_eq!(
            TOKENIZER.tokenize("a b c d e f", 5).unwrap(),
            [49406, 320, 321, 322, 49407]
        );
        assert_eq!(TOKENIZER.tokenize("a b", 2).unwrap(), [49406, 49407]);
    }

    #[test]
    fn pads_with_zeros() {
        let out = TOKENIZER.tokenize("a cat", 8).unwrap();
        assert_eq!(out, [49406, 320, 2368, 49407, 0, 0, 0, 0]);
        let mut buf = [7i64; 8];
        TOKENIZER.tokenize_into("a cat", &mut buf).unwrap();
        assert_eq!(buf, [49406, 320, 2368, 49407, 0, 0, 0, 0]);
    }

    #[test]
    fn rejects_too_short_context() {
        assert!(matches!(
            TOKENIZER.tokenize("x", 1),
            Err(Error::InvalidInput(_))
        ));
        let mut buf = [5i64; 1];
        assert!(TOKENIZER.tokenize_into("x", &mut buf).is_err());
        assert_eq!(buf, [5]);
        assert!(TOKENIZER.tokenize_into("x", &mut []).is_err());
    }

    #[test]
    fn encode_has_no_frame() {
        assert_eq!(TOKENIZER.encode("a photo"), [320, 1125]);
        assert!(TOKENIZER.encode(" \t").is_empty());
    }

    #[test]
    fn lowercasing_is_idempotent() {
        // The bundled BPE lowercases each word again; that must be a no-op.
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            let once = c.to_lowercase().collect::<String>();
            assert_eq!(once.to_lowercase(), once, "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn entity_table_is_complete() {
        // Python's html.entities.html5 has 2231 names, with and without ';'.
        assert_eq!(htmlize::ENTITIES.len(), 2231);
    }

    proptest! {
        #[test]
        fn tokenize_frames_any_text(text in any::<String>(), context_length in 2usize..100) {
            let out = TOKENIZER.tokenize(&text, context_length).unwrap();
            prop_assert_eq!(out.len(), context_length);
            prop_assert_eq!(out[0], i64::from(Tokenizer::START));
            let end = out.iter().rposition(|&id| id == i64::from(Tokenizer::END)).unwrap();
            prop_assert!(out[end + 1..].iter().all(|&id| id == 0));
            prop_assert!(out.iter().all(|&id| (0..49408).contains(&id)));
            if !TOKENIZER.encode(&text).contains(&Tokenizer::END) {
                let ends = out.iter().filter(|&&id| id == i64::from(Tokenizer::END)).count();
                prop_assert_eq!(ends, 1);
            }
        }

        #[test]
        fn clean_leaves_single_spaces(text in "[ a-c&;<#x0-9\t\n\r\u{a0}\u{3000}\u{1c}\u{85}]{0,40}") {
            let cleaned = clean(&text);
            prop_assert!(!cleaned.starts_with(' ') && !cleaned.ends_with(' '));
            prop_assert!(!cleaned.contains("  "));
            prop_assert!(!cleaned.chars().any(|c| c != ' ' && is_python_space(c)));
        }
    }
}
