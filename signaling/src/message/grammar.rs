//! Small pieces of the RFC 3261 §25 grammar that several headers share.

/// `token` characters (RFC 3261 §25.1): alphanumerics and `-.!%*_+`'~`.
pub(crate) fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c)
}

/// Whether `s` is one `token` (RFC 3261 §25.1): a header name, a method, an event type.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_token_char)
}

/// Linear white space; folded lines were already joined with their CRLF kept, so CR and LF
/// count as well.
pub(crate) fn is_lws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

pub(crate) fn trim_lws(s: &str) -> &str {
    s.trim_matches(is_lws)
}

/// Splits `"quoted \" string" rest` after its closing quote: (the quoted string with its
/// quotes, the rest). `None` when the quote is never closed.
pub(crate) fn split_quoted_string(s: &str) -> Option<(&str, &str)> {
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, '"') => return Some(s.split_at(i + 1)),
            _ => {}
        }
    }
    None
}

/// Splits a header value that may hold several comma-separated values (RFC 3261 §7.3.1),
/// ignoring commas inside quoted strings and `<...>`. `None` when a quote is unbalanced.
pub(crate) fn split_commas(s: &str) -> Option<Vec<&str>> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped, mut angle) = (0, false, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                parts.push(trim_lws(&s[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    if quoted {
        return None;
    }
    parts.push(trim_lws(&s[start..]));
    Some(parts)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn commas_inside_quotes_and_brackets_do_not_split() {
        let parts = split_commas(r#""Bell, A" <sip:a@b;x=1,2>, <sip:c@d> ,e"#).unwrap();
        assert_eq!(parts, [r#""Bell, A" <sip:a@b;x=1,2>"#, "<sip:c@d>", "e"]);
        assert!(split_commas("\"open, x").is_none());
    }

    #[test]
    fn quoted_strings_honour_escapes() {
        assert_eq!(
            split_quoted_string(r#""J \"x\" \\" rest"#),
            Some((r#""J \"x\" \\""#, " rest"))
        );
        assert_eq!(split_quoted_string("\"never closed"), None);
    }
}
