//! The refusal page's HTML: what was refused, why, and the stable code a script can match.

use super::common::esc;

/// A refusal: the stable `code` and what was refused and why.
pub(crate) fn body(code: &str, message: &str) -> String {
    format!(
        "<p class=\"error\" id=\"error\"><b class=\"mono\" id=\"error-code\">{}</b>: {}</p>\
         <p><a href=\"javascript:history.back()\">Back</a></p>",
        esc(code),
        esc(message)
    )
}
