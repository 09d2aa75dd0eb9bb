//! The HTML every console page shares: escaping (every value from a request, a token or the
//! store goes through [`esc`] before it reaches a page), the page frame with its navigation,
//! table heads and the CSRF field, and the response builders. Pages are plain `format!` over
//! escaped values: no template engine, no front-end build; the stylesheet and the script are
//! embedded in the binary.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{Response, StatusCode, header};
use http_body_util::Full;

use crate::domain::Identity;

/// A console response.
pub type Page = Response<Full<Bytes>>;

/// The stylesheet, embedded.
pub(crate) const STYLESHEET: &str = include_str!("../assets/console.css");
/// The script, embedded: countdowns, the inbox poll and the request preview. Every page works
/// without it, less live.
pub(crate) const SCRIPT: &str = include_str!("../assets/console.js");

/// `text` made safe for HTML text and attribute values (double-quoted).
pub(crate) fn esc(text: impl std::fmt::Display) -> String {
    let text = text.to_string();
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// A time as people read it, in UTC.
pub(crate) fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A time for `<time datetime>` and the countdown script.
pub(crate) fn machine_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Who is signed in, for the page frame.
pub(crate) struct Viewer<'a> {
    /// The verified identity.
    pub(crate) identity: &'a Identity,
    /// The form token for this session (the logout form needs it).
    pub(crate) csrf: &'a str,
    /// Signed in through an authenticating proxy (no logout form then).
    pub(crate) via_proxy: bool,
}

const NAVIGATION: [(&str, &str); 10] = [
    ("/console/request", "Request"),
    ("/console/elevations", "My elevations"),
    ("/console/approvals", "Approvals"),
    ("/console/grants", "Grants"),
    ("/console/reviews", "Reviews"),
    ("/console/audit", "Audit"),
    ("/console/simulator", "Simulator"),
    ("/console/policy", "Policy"),
    ("/console/directory", "Directory"),
    ("/console/break-glass", "Break-glass"),
];

/// A whole page: frame, navigation, who is signed in, `body`.
pub(crate) fn document(
    title: &str,
    current: &str,
    viewer: Option<&Viewer<'_>>,
    body: &str,
) -> String {
    let mut navigation = String::new();
    if let Some(viewer) = viewer {
        for (href, label) in NAVIGATION {
            let mark = if href == current {
                " aria-current=\"page\""
            } else {
                ""
            };
            navigation.push_str(&format!("<a href=\"{href}\"{mark}>{label}</a>"));
        }
        let session = viewer
            .identity
            .session
            .as_ref()
            .map(|session| format!(" (session {})", esc(session)))
            .unwrap_or_default();
        navigation.push_str(&format!(
            "<span class=\"who\">signed in as <b id=\"whoami\">{}</b>{session}</span>",
            esc(&viewer.identity.subject)
        ));
        if !viewer.via_proxy {
            navigation.push_str(&format!(
                "<form method=\"post\" action=\"/console/logout\" class=\"inline\">{}<button id=\"logout\">Sign out</button></form>",
                csrf_field(viewer.csrf)
            ));
        }
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · elevator</title>\
         <link rel=\"stylesheet\" href=\"/console/assets/console.css\">\
         <script src=\"/console/assets/console.js\" defer></script></head>\
         <body><header><span class=\"brand\">elevator</span><nav>{navigation}</nav></header>\
         <main><h1>{title}</h1>{body}</main></body></html>\n",
        title = esc(title),
    )
}

/// The hidden form field carrying the CSRF token.
pub(crate) fn csrf_field(csrf: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(csrf)
    )
}

/// A response with `status`, `content_type` and `body`, never cached, never framed.
pub(crate) fn respond(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Page {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, "no-store")
        .header("x-frame-options", "DENY")
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "same-origin")
        .header(
            "content-security-policy",
            "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        )
        .body(Full::new(body.into()))
        .expect("a well-formed response")
}

/// A plain-text answer (errors before a page frame makes sense).
pub(crate) fn plain(status: StatusCode, message: &str) -> Page {
    respond(status, "text/plain; charset=utf-8", format!("{message}\n"))
}

/// An HTML page.
pub(crate) fn html(status: StatusCode, page: String) -> Page {
    respond(status, "text/html; charset=utf-8", page)
}

/// A redirect after a form (303: the browser follows with GET).
pub(crate) fn see_other(location: &str) -> Page {
    let mut page = respond(StatusCode::SEE_OTHER, "text/plain", "");
    page.headers_mut().insert(
        header::LOCATION,
        location.parse().expect("console locations are ASCII"),
    );
    page
}

/// The opening of a table with `attributes` (e.g. ` id="grants"`) and one heading per
/// column; the caller writes the body.
pub(crate) fn table_head(attributes: &str, columns: &[&str]) -> String {
    let headings: String = columns
        .iter()
        .map(|column| format!("<th>{column}</th>"))
        .collect();
    format!("<table{attributes}><thead><tr>{headings}</tr></thead>")
}

/// A short notice shown above a page (from a `notice` query parameter).
pub(crate) fn notice(text: &str) -> String {
    if text.is_empty() {
        return String::new();
    }
    format!("<p class=\"notice\" id=\"notice\">{}</p>", esc(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_that_could_open_markup_is_escaped() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }
}
