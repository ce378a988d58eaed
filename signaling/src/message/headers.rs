//! Header names and the headers we keep as text.

use super::grammar::{split_commas, trim_lws};

/// Compact forms (RFC 3261 §7.3.3 and later RFCs) and the canonical spelling of the headers
/// we look up, so that `i:`, `call-id:` and `Call-ID:` are one header.
const CANONICAL: &[(&str, &str)] = &[
    ("i", "Call-ID"),
    ("m", "Contact"),
    ("e", "Content-Encoding"),
    ("l", "Content-Length"),
    ("c", "Content-Type"),
    ("f", "From"),
    ("s", "Subject"),
    ("k", "Supported"),
    ("t", "To"),
    ("v", "Via"),
    ("o", "Event"),
    ("r", "Refer-To"),
    ("b", "Referred-By"),
    ("u", "Allow-Events"),
    ("x", "Session-Expires"),
    ("call-id", "Call-ID"),
    ("contact", "Contact"),
    ("content-length", "Content-Length"),
    ("content-type", "Content-Type"),
    ("content-disposition", "Content-Disposition"),
    ("from", "From"),
    ("to", "To"),
    ("via", "Via"),
    ("cseq", "CSeq"),
    ("max-forwards", "Max-Forwards"),
    ("route", "Route"),
    ("record-route", "Record-Route"),
    ("require", "Require"),
    ("proxy-require", "Proxy-Require"),
    ("supported", "Supported"),
    ("unsupported", "Unsupported"),
    ("allow", "Allow"),
    ("accept", "Accept"),
    ("date", "Date"),
    ("event", "Event"),
    ("refer-to", "Refer-To"),
    ("referred-by", "Referred-By"),
    ("subscription-state", "Subscription-State"),
    ("session-expires", "Session-Expires"),
    ("min-se", "Min-SE"),
    ("www-authenticate", "WWW-Authenticate"),
    ("proxy-authenticate", "Proxy-Authenticate"),
    ("authorization", "Authorization"),
    ("proxy-authorization", "Proxy-Authorization"),
    ("user-agent", "User-Agent"),
    ("server", "Server"),
    ("retry-after", "Retry-After"),
    ("reason", "Reason"),
];

/// The canonical spelling of a header name (compact forms expanded), or the name as written.
pub fn canonical_name(name: &str) -> &str {
    CANONICAL
        .iter()
        .find(|(alias, _)| alias.eq_ignore_ascii_case(name))
        .map_or(name, |(_, canonical)| canonical)
}

/// Headers kept as text, in the order received. A line with comma-separated values stays one
/// entry; [`Headers::list`] splits it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a header; the name is canonicalized.
    pub fn push(&mut self, name: &str, value: impl Into<String>) {
        self.0.push((canonical_name(name).to_owned(), value.into()));
    }

    /// The first value of `name`.
    pub fn get<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.all(name).next()
    }

    /// Every line of `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let name = canonical_name(name);
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a list header (`Require`, `Supported`, `Allow`…), split at commas,
    /// empty items dropped.
    pub fn list<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.all(name)
            .flat_map(|line| split_commas(line).unwrap_or_default())
            .map(trim_lws)
            .filter(|item| !item.is_empty())
    }

    /// Whether a list header holds `item` (case-insensitive, as option tags compare).
    pub fn has_item(&self, name: &str, item: &str) -> bool {
        self.list(name).any(|i| i.eq_ignore_ascii_case(item))
    }

    pub fn remove(&mut self, name: &str) {
        let name = canonical_name(name);
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// Replaces every `name` header with one value.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.remove(name);
        self.push(name, value);
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn compact_and_case_insensitive_names_are_one_header() {
        let mut headers = Headers::new();
        headers.push("k", "timer, 100rel");
        headers.push("SUPPORTED", "replaces");
        headers.push("X-Custom", "1");
        assert_eq!(
            headers.list("Supported").collect::<Vec<_>>(),
            ["timer", "100rel", "replaces"]
        );
        assert!(headers.has_item("supported", "TIMER"));
        assert_eq!(headers.get("x-custom"), Some("1"));
        headers.set("Supported", "timer");
        assert_eq!(headers.all("k").count(), 1);
    }
}
