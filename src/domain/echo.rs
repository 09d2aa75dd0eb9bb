//! Caller input quoted back in an error message, bounded. A message that names the value it
//! refuses helps whoever sent it, but an unbounded echo turns a 60 KB id into a 60 KB
//! `grpc-message` header (and twice that in the status details), more than stock clients
//! accept. Every message that quotes caller input goes through [`shown`].

use std::fmt::Write;

/// Most characters of a value quoted back.
pub(crate) const MAX_SHOWN_CHARS: usize = 64;

/// `value` quoted for a message: in full (Rust string syntax, so control and invisible
/// characters show as escapes) when it has at most [`MAX_SHOWN_CHARS`] characters, otherwise
/// its first ones and its length: `"aaaa…" (60000 bytes)`.
pub fn shown(value: &str) -> String {
    match value.char_indices().nth(MAX_SHOWN_CHARS) {
        None => format!("{value:?}"),
        Some((end, _)) => {
            let mut text = String::with_capacity(MAX_SHOWN_CHARS * 2);
            let quoted = format!("{:?}", &value[..end]);
            // The quoted prefix without its closing quote, then an ellipsis inside the quotes.
            let _ = write!(
                text,
                "{}…\" ({} bytes)",
                &quoted[..quoted.len() - 1],
                value.len()
            );
            text
        }
    }
}

/// `text` cut to at most `max_bytes` (on a character boundary), marked with `…` when cut: the
/// last bound on a message, whatever it quotes.
pub(crate) fn bounded(text: &str, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text.to_owned();
    }
    let mut end = max_bytes.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_quoted_whole_and_long_ones_by_a_prefix_and_their_length() {
        assert_eq!(shown("PO:4711"), "\"PO:4711\"");
        let long = "a".repeat(60_000);
        let text = shown(&long);
        assert!(text.starts_with("\"aaaa"), "{text}");
        assert!(text.ends_with("…\" (60000 bytes)"), "{text}");
        assert!(text.len() < 100, "{text}");
    }

    #[test]
    fn invisible_characters_show_as_escapes_and_multibyte_text_is_cut_on_a_boundary() {
        assert_eq!(shown("fa\u{200b}tma"), "\"fa\\u{200b}tma\"");
        let text = shown(&"é".repeat(1000));
        assert!(text.ends_with("…\" (2000 bytes)"), "{text}");
        assert_eq!(bounded(&"é".repeat(1000), 9), "ééé…");
        assert_eq!(bounded("short", 9), "short");
    }
}
