//! Duration sugar: bare duration literals (`2h`, `30m`, `90s`, `1h30m`) in a rule's condition
//! become CEL `duration("...")` calls before parsing, and positions in the rewritten text map
//! back to the rule as written, so errors point at what the author wrote.

use crate::domain::parse_duration;

/// Maps positions in the rewritten expression back to the rule text.
pub(super) struct Rewrite {
    /// The expression with every duration literal spelled as a CEL call.
    pub(super) text: String,
    /// (position in rewritten text, position in original rule text) at each splice.
    splices: Vec<(usize, usize, usize, usize)>,
    /// Where the expression starts in the rule text.
    expression_offset: usize,
}

impl Rewrite {
    /// The rule-text byte offset of rewritten offset `position`.
    pub(super) fn original_offset(&self, position: usize) -> usize {
        let mut shift: isize = 0;
        for &(new_start, new_len, old_start, old_len) in &self.splices {
            if position >= new_start + new_len {
                shift += old_len as isize - new_len as isize;
            } else if position >= new_start {
                return self.expression_offset + old_start;
            }
        }
        self.expression_offset + (position as isize + shift).max(0) as usize
    }
}

fn is_identifier_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// Replaces bare duration literals with `duration("...")`, leaving strings alone.
pub(super) fn rewrite_durations(
    expression: &str,
    expression_offset: usize,
) -> Result<Rewrite, (String, usize)> {
    let bytes = expression.as_bytes();
    let mut text = String::with_capacity(expression.len() + 16);
    let mut splices = Vec::new();
    let mut position = 0;
    while position < bytes.len() {
        let byte = bytes[position];
        if byte == b'"' || byte == b'\'' {
            let start = position;
            position += 1;
            while position < bytes.len() && bytes[position] != byte {
                position += if bytes[position] == b'\\' { 2 } else { 1 };
            }
            position = (position + 1).min(bytes.len());
            text.push_str(&expression[start..position]);
            continue;
        }
        let starts_token = position == 0
            || !(is_identifier_byte(bytes[position - 1]) || bytes[position - 1] == b'.');
        if byte.is_ascii_digit() && starts_token {
            let start = position;
            while position < bytes.len()
                && (is_identifier_byte(bytes[position]) || bytes[position] == b'.')
            {
                position += 1;
            }
            let token = &expression[start..position];
            let has_unit = token.bytes().any(|b| b.is_ascii_alphabetic());
            let is_number = token.parse::<f64>().is_ok()
                || token.ends_with('u') && token[..token.len() - 1].parse::<u64>().is_ok();
            if has_unit && !is_number && !token.starts_with("0x") {
                let duration = parse_duration(token).map_err(|error| (error.0, start))?;
                let literal = if duration.subsec_nanos() == 0 {
                    format!("duration(\"{}s\")", duration.num_seconds())
                } else {
                    format!("duration(\"{}ms\")", duration.num_milliseconds())
                };
                splices.push((text.len(), literal.len(), start, token.len()));
                text.push_str(&literal);
            } else {
                text.push_str(token);
            }
            continue;
        }
        let character_len = expression[position..]
            .chars()
            .next()
            .map_or(1, char::len_utf8);
        text.push_str(&expression[position..position + character_len]);
        position += character_len;
    }
    Ok(Rewrite {
        text,
        splices,
        expression_offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_sugar_leaves_strings_and_numbers_alone() {
        let rewrite =
            rewrite_durations("context.time < 1h30m && token.sub == '2h' && 70 > 1", 0).unwrap();
        assert_eq!(
            rewrite.text,
            "context.time < duration(\"5400s\") && token.sub == '2h' && 70 > 1"
        );
        assert!(rewrite_durations("x < 2x", 0).is_err());
    }
}
