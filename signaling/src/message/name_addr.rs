//! `name-addr` / `addr-spec` headers: From, To, Contact, Route, Record-Route, Refer-To…
//! (RFC 3261 §20.10, §25.1).

use std::fmt;

use super::grammar::{is_lws, is_token, split_quoted_string, trim_lws};
use super::params::Params;
use super::uri::Uri;
use crate::Error;

/// `["display name"] <uri>;params`, or a bare URI with params.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// As written: with its quotes if it was quoted.
    pub display_name: Option<String>,
    pub uri: Uri,
    /// Header parameters (`;tag=`, `;expires=`…), not the URI's.
    pub params: Params,
}

impl NameAddr {
    pub fn new(uri: Uri) -> Self {
        Self {
            display_name: None,
            uri,
            params: Params::new(),
        }
    }

    /// The `tag` parameter (From/To, RFC 3261 §19.3).
    pub fn tag(&self) -> Option<&str> {
        self.params.value("tag")
    }

    /// The display name without quotes and escapes.
    pub fn display_name_text(&self) -> Option<String> {
        let name = self.display_name.as_deref()?;
        match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
            Some(inner) => {
                let mut text = String::with_capacity(inner.len());
                let mut chars = inner.chars();
                while let Some(c) = chars.next() {
                    text.push(if c == '\\' {
                        chars.next().unwrap_or(c)
                    } else {
                        c
                    });
                }
                Some(text)
            }
            None => Some(name.to_owned()),
        }
    }

    /// Parses one value; `header` names the header for the error.
    pub(crate) fn parse(value: &str, header: &'static str) -> Result<Self, Error> {
        let bad = |why| Error::InvalidHeader { header, why };
        let value = trim_lws(value);
        let (display_name, rest) = if value.starts_with('"') {
            let (quoted, rest) =
                split_quoted_string(value).ok_or(bad("unterminated quoted string"))?;
            if !trim_lws(rest).starts_with('<') {
                return Err(bad("display name without a <URI>"));
            }
            (Some(quoted.to_owned()), trim_lws(rest))
        } else if let Some(open) = value.find('<') {
            // An unquoted display name is tokens separated by LWS (RFC 4475 §3.1.2.15).
            let name = trim_lws(&value[..open]);
            if !name.split(is_lws).filter(|t| !t.is_empty()).all(is_token) {
                return Err(bad("display name needs quotes"));
            }
            let name = (!name.is_empty()).then(|| name.to_owned());
            (name, &value[open..])
        } else {
            (None, value)
        };

        let (uri_text, params_text) = match rest.strip_prefix('<') {
            Some(inner) => {
                let close = inner.find('>').ok_or(bad("'<' without '>'"))?;
                let uri = &inner[..close];
                if uri.starts_with(is_lws) || uri.ends_with(is_lws) {
                    return Err(bad("whitespace inside <URI>"));
                }
                (uri, &inner[close + 1..])
            }
            None => {
                // A bare addr-spec ends at the first ';' (those are header parameters); one
                // holding ',' or '?' must have been enclosed in <> (RFC 3261 §20).
                let end = rest.find(';').unwrap_or(rest.len());
                let uri = trim_lws(&rest[..end]);
                if uri.contains([',', '?']) || uri.contains(is_lws) {
                    return Err(bad("URI with ',', '?' or spaces must be in <>"));
                }
                (uri, &rest[end..])
            }
        };
        Ok(Self {
            display_name,
            uri: Uri::parse(uri_text, header)?,
            params: Params::parse(params_text, header)?,
        })
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = &self.display_name {
            write!(f, "{name} ")?;
        }
        write!(f, "<{}>{}", self.uri, self.params)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(value: &str) -> Result<NameAddr, Error> {
        NameAddr::parse(value, "From")
    }

    #[test]
    fn accepts_the_forms_rfc_3261_allows() {
        let from =
            parse("\"J Rosenberg \\\\\\\"\"  <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8")
                .unwrap();
        assert_eq!(from.tag(), Some("98asjd8"));
        assert_eq!(
            from.display_name_text().as_deref(),
            Some("J Rosenberg \\\"")
        );
        let bare = parse("sip:+19725552222@gw1.example.net;unknownparam").unwrap();
        assert!(bare.params.contains("unknownparam"));
        assert!(bare.uri.as_sip().unwrap().params.is_empty());
        let token_name = parse("caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(token_name.display_name.as_deref(), Some("caller"));
        assert_eq!(
            token_name.to_string(),
            "caller <sip:caller@example.com>;tag=323"
        );
    }

    #[test]
    fn rejects_what_rfc_4475_calls_invalid() {
        for bad in [
            "\"Mr. J. User <sip:j.user@example.com>",
            "Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
            "\"Watson, Thomas\" < sip:t.watson@example.org >",
            "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
            "\"Joe\" <sip:joe@example.org>;;;;",
            "<sip:a@b",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
