//! `;name=value` parameter lists after a header value (RFC 3261 §25.1 `generic-param`):
//! Via, From/To/Contact and other name-addr headers.

use std::fmt;

use super::grammar::{is_token_char, split_quoted_string, trim_lws};
use crate::Error;

/// One parameter; the value keeps its quotes if it had them, so it prints back as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub value: Option<String>,
}

/// Parameters in the order received. Names compare case-insensitively (RFC 3261 §7.3.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<Param>);

impl Params {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, name: &str) -> Option<&Param> {
        self.0.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// The value of `name`, without surrounding quotes.
    pub fn value(&self, name: &str) -> Option<&str> {
        let value = self.get(name)?.value.as_deref()?;
        Some(
            value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value),
        )
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Sets `name` (replacing an existing value) or appends it.
    pub fn set(&mut self, name: &str, value: Option<String>) {
        match self
            .0
            .iter_mut()
            .find(|p| p.name.eq_ignore_ascii_case(name))
        {
            Some(param) => param.value = value,
            None => self.0.push(Param {
                name: name.to_owned(),
                value,
            }),
        }
    }

    pub fn remove(&mut self, name: &str) {
        self.0.retain(|p| !p.name.eq_ignore_ascii_case(name));
    }

    pub fn iter(&self) -> impl Iterator<Item = &Param> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Parses `*( SEMI generic-param )`, with the LWS RFC 3261 allows around `;` and `=`.
    /// `header` names the header for the error.
    pub(crate) fn parse(mut input: &str, header: &'static str) -> Result<Self, Error> {
        let bad = |why| Error::InvalidHeader { header, why };
        let mut params = Vec::new();
        loop {
            input = trim_lws(input);
            if input.is_empty() {
                return Ok(Self(params));
            }
            input = input
                .strip_prefix(';')
                .ok_or(bad("unexpected text after the value"))?;
            input = trim_lws(input);
            let name_len = input.find(|c| !is_token_char(c)).unwrap_or(input.len());
            if name_len == 0 {
                return Err(bad("empty parameter"));
            }
            let (name, rest) = input.split_at(name_len);
            input = trim_lws(rest);
            let value = match input.strip_prefix('=') {
                None => None,
                Some(rest) => {
                    let rest = trim_lws(rest);
                    let (value, rest) = if rest.starts_with('"') {
                        split_quoted_string(rest).ok_or(bad("unterminated quoted string"))?
                    } else {
                        // gen-value = token / host (an IPv6 reference has brackets and colons).
                        let len = rest
                            .find(|c: char| !(is_token_char(c) || "[]:".contains(c)))
                            .unwrap_or(rest.len());
                        rest.split_at(len)
                    };
                    if value.is_empty() {
                        return Err(bad("parameter without a value after '='"));
                    }
                    input = rest;
                    Some(value.to_owned())
                }
            };
            params.push(Param {
                name: name.to_owned(),
                value,
            });
        }
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for param in &self.0 {
            write!(f, ";{}", param.name)?;
            if let Some(value) = &param.value {
                write!(f, "={value}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_lws_quotes_and_flags() {
        let params = Params::parse(" ;   tag    = 1918181833n ; lr;q=\"0.5\"", "To").unwrap();
        assert_eq!(params.value("TAG"), Some("1918181833n"));
        assert!(params.contains("lr"));
        assert_eq!(params.value("q"), Some("0.5"));
        assert_eq!(params.to_string(), ";tag=1918181833n;lr;q=\"0.5\"");
    }

    #[test]
    fn rejects_empty_parameters() {
        for bad in [";;", ";", ";a=", ";a;;b", "junk", ";a=\"open"] {
            assert!(Params::parse(bad, "Via").is_err(), "{bad:?}");
        }
    }
}
