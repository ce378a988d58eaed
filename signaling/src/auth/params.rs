//! The `auth-param` list shared by every Digest header value (RFC 3261 §25.1, RFC 7235 §2.1):
//!
//! ```text
//! Digest LWS name LWS? "=" LWS? ( token / quoted-string ) *( LWS? "," LWS? name = value )
//! ```
//!
//! Written here rather than taken from `ezk-sip-types` because its parser matches the scheme
//! and the parameter names case-sensitively, keeps `\` escapes inside values, accepts
//! repeated parameters and prints values without escaping them.

use crate::Error;
use crate::message::grammar;

/// Longest header value we look at. Real Digest values are a few hundred bytes; the cap keeps
/// the work bounded for anything a peer sends.
pub(crate) const MAX_VALUE_LEN: usize = 8 * 1024;
/// Most parameters in one value (RFC 7616 defines fewer than 15).
pub(crate) const MAX_PARAMS: usize = 32;

/// One `name=value` pair, name lower-cased, value unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Param {
    pub(crate) name: String,
    pub(crate) value: String,
}

/// RFC 3261 §25.1 `token` characters, as bytes (a non-ASCII byte is none).
fn is_token(b: u8) -> bool {
    grammar::is_token_char(char::from(b))
}

/// Linear white space. Folding (CRLF followed by a blank) is accepted as plain blanks.
fn is_lws(b: u8) -> bool {
    grammar::is_lws(char::from(b))
}

/// A byte cursor over the header value; every method is bounds-checked, so no input panics.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_lws(&mut self) {
        while self.peek().is_some_and(is_lws) {
            self.pos += 1;
        }
    }

    fn token(&mut self) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(is_token) {
            self.pos += 1;
        }
        // Token bytes are ASCII, so both ends are on character boundaries.
        self.text.get(start..self.pos).unwrap_or_default()
    }

    /// A quoted-string, opening quote under the cursor; returns the unescaped content.
    fn quoted(&mut self) -> Result<String, Error> {
        let open = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(Error::DigestUnterminatedQuote { offset: open });
            };
            self.pos += 1;
            match b {
                b'"' => break,
                // quoted-pair (RFC 3261 §25.1). CR and LF may not be escaped there, and we also
                // refuse other controls so that nothing we echo can split a header line.
                b'\\' => match self.peek() {
                    Some(e) if e == b'\t' || (0x20..0x7f).contains(&e) => {
                        out.push(e);
                        self.pos += 1;
                    }
                    None => return Err(Error::DigestUnterminatedQuote { offset: open }),
                    Some(_) => return Err(Error::DigestSyntax { offset: self.pos }),
                },
                b'\t' => out.push(b),
                _ if b < 0x20 || b == 0x7f => {
                    return Err(Error::DigestSyntax {
                        offset: self.pos - 1,
                    });
                }
                // qdtext, including the bytes of UTF-8 sequences, copied whole.
                _ => out.push(b),
            }
        }
        let text = String::from_utf8(out).map_err(|_| Error::DigestSyntax { offset: open })?;
        // C1 controls (U+0080–U+009F) are UTF-8 sequences, so the byte check above misses
        // them; the printer would blank them and the value would no longer round-trip.
        if text.chars().any(|c| c != '\t' && c.is_control()) {
            return Err(Error::DigestSyntax { offset: open });
        }
        Ok(text)
    }
}

/// Splits a `Digest …` header value into its parameters.
///
/// The scheme is matched case-insensitively (RFC 7235 §2.1), as are parameter names; empty list
/// elements (`a=1,,b=2`) are skipped as RFC 7230 §7 asks of recipients; a parameter given twice
/// is an error (RFC 7235 §2.2: "each parameter name MUST only occur once").
pub(crate) fn parse(value: &str) -> Result<Vec<Param>, Error> {
    if value.len() > MAX_VALUE_LEN {
        return Err(Error::DigestTooLarge);
    }
    let mut cur = Cursor {
        text: value,
        pos: 0,
    };
    cur.skip_lws();
    if cur.peek().is_none() {
        return Err(Error::DigestEmpty);
    }
    let scheme = cur.token();
    if scheme.is_empty() {
        return Err(Error::DigestSyntax { offset: cur.pos });
    }
    if !scheme.eq_ignore_ascii_case("Digest") {
        return Err(Error::DigestNotDigest);
    }
    if cur.peek().is_some_and(|b| !is_lws(b)) {
        return Err(Error::DigestSyntax { offset: cur.pos });
    }

    let mut params: Vec<Param> = Vec::new();
    loop {
        cur.skip_lws();
        match cur.peek() {
            None => break,
            Some(b',') => {
                cur.pos += 1;
                continue;
            }
            Some(_) => {}
        }
        let name_at = cur.pos;
        let name = cur.token().to_ascii_lowercase();
        if name.is_empty() {
            return Err(Error::DigestSyntax { offset: cur.pos });
        }
        cur.skip_lws();
        if cur.peek() != Some(b'=') {
            return Err(Error::DigestSyntax { offset: cur.pos });
        }
        cur.pos += 1;
        cur.skip_lws();
        let value = if cur.peek() == Some(b'"') {
            cur.quoted()?
        } else {
            let token = cur.token();
            if token.is_empty() {
                return Err(Error::DigestSyntax { offset: cur.pos });
            }
            token.to_owned()
        };
        if params.iter().any(|p| p.name == name) {
            return Err(Error::DigestDuplicateParam { offset: name_at });
        }
        if params.len() == MAX_PARAMS {
            return Err(Error::DigestTooLarge);
        }
        params.push(Param { name, value });
        cur.skip_lws();
        match cur.peek() {
            None => break,
            Some(b',') => cur.pos += 1,
            Some(_) => return Err(Error::DigestSyntax { offset: cur.pos }),
        }
    }
    Ok(params)
}

/// Appends `value` as a quoted-string, escaping `"` and `\` (RFC 3261 §25.1 quoted-pair).
///
/// CR, LF and other controls cannot be carried in a quoted-string at all; they are replaced by
/// a blank so that a bad value can never split the header line. Values we build are checked
/// with [`check_quotable`] first, so this only matters for hand-built structs.
pub(crate) fn push_quoted(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\t' => out.push(c),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Refuses a value that [`push_quoted`] could not carry unchanged.
pub(crate) fn check_quotable(name: &'static str, value: &str) -> Result<(), Error> {
    if value.chars().any(|c| c != '\t' && c.is_control()) {
        return Err(Error::DigestInvalidParam { name });
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pairs(value: &str) -> Vec<(String, String)> {
        parse(value)
            .unwrap()
            .into_iter()
            .map(|p| (p.name, p.value))
            .collect()
    }

    #[test]
    fn names_case_insensitive_lws_and_escapes() {
        let got =
            pairs("dIgEsT  REALM = \"a \\\"b\\\" \\\\c\" ,\tNonce=xyz,, qop=\"auth,auth-int\"");
        assert_eq!(
            got,
            vec![
                ("realm".into(), "a \"b\" \\c".into()),
                ("nonce".into(), "xyz".into()),
                ("qop".into(), "auth,auth-int".into()),
            ]
        );
    }

    #[test]
    fn utf8_inside_quotes_survives() {
        assert_eq!(pairs("Digest realm=\"Zürich ☎\"")[0].1, "Zürich ☎");
    }

    #[test]
    fn malformed_values_are_errors() {
        let cases: &[(&str, Error)] = &[
            ("", Error::DigestEmpty),
            ("   ", Error::DigestEmpty),
            ("Basic abc", Error::DigestNotDigest),
            (
                "Digest realm=\"open",
                Error::DigestUnterminatedQuote { offset: 13 },
            ),
            (
                "Digest realm=\"ends in escape\\",
                Error::DigestUnterminatedQuote { offset: 13 },
            ),
            (
                "Digest realm=a, REALM=b",
                Error::DigestDuplicateParam { offset: 16 },
            ),
            ("Digest realm", Error::DigestSyntax { offset: 12 }),
            ("Digest realm=", Error::DigestSyntax { offset: 13 }),
            ("Digest =x", Error::DigestSyntax { offset: 7 }),
            ("Digest realm=a b=c", Error::DigestSyntax { offset: 15 }),
            ("Digest,realm=a", Error::DigestSyntax { offset: 6 }),
            (
                "Digest realm=\"a\r\nb\"",
                Error::DigestSyntax { offset: 15 },
            ),
            (
                "Digest realm=\"a\\\nb\"",
                Error::DigestSyntax { offset: 16 },
            ),
            ("\u{0}", Error::DigestSyntax { offset: 0 }),
        ];
        for (value, want) in cases {
            assert_eq!(parse(value).as_ref(), Err(want), "{value:?}");
        }
    }

    #[test]
    fn size_caps() {
        let long = format!("Digest realm=\"{}\"", "a".repeat(100 * 1024));
        assert_eq!(parse(&long), Err(Error::DigestTooLarge));
        let many: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("p{i}=1")).collect();
        let many = format!("Digest {}", many.join(","));
        assert_eq!(parse(&many), Err(Error::DigestTooLarge));
    }

    #[test]
    fn quoting_round_trips() {
        let mut out = String::from("Digest realm=");
        push_quoted(&mut out, "a\"b\\c\r\nd");
        assert_eq!(out, "Digest realm=\"a\\\"b\\\\c  d\"");
        assert_eq!(pairs(&out)[0].1, "a\"b\\c  d");
        assert!(check_quotable("realm", "ok\tvalue").is_ok());
        assert!(check_quotable("realm", "bad\nvalue").is_err());
    }
}
