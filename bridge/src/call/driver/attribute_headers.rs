//! A trunk's `attributes_to_headers`: our participant's attributes, as room members or the
//! server API set them, sent as SIP headers on our BYE and REFER (LiveKit's meaning).

use std::collections::HashMap;

use sipbridge_signaling::message::Headers;

use super::Driver;
use crate::api::fields::check_header;

impl Driver {
    /// Adds the mapped attributes (`attributes_to_headers`) to a BYE's or REFER's headers.
    pub(super) fn add_attribute_headers(&self, headers: &mut Headers) {
        for (name, value) in attribute_headers(&self.attributes_to_headers, &self.own_attributes) {
            headers.push(&name, value);
        }
    }
}

/// The headers `mapping` makes of `attributes`: each mapped attribute that is set, as its
/// header; a header the dialog writes itself, or a value that spans lines, is left out.
pub(super) fn attribute_headers(
    mapping: &[(String, String)],
    attributes: &HashMap<String, String>,
) -> Vec<(String, String)> {
    mapping
        .iter()
        .filter_map(|(attribute, header)| {
            let value = attributes
                .get(attribute)
                .filter(|value| !value.is_empty())?;
            match check_header(header, value, &[]) {
                Ok(()) => Some((header.clone(), value.clone())),
                Err(why) => {
                    tracing::debug!(%why, attribute, "attribute not sent as a header");
                    None
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_attributes_become_their_headers_and_nothing_else_does() {
        let mapping = vec![
            ("crm.ticket".to_owned(), "X-Ticket".to_owned()),
            ("unset".to_owned(), "X-Unset".to_owned()),
            ("sneaky".to_owned(), "Call-ID".to_owned()),
            ("multi".to_owned(), "X-Multi".to_owned()),
        ];
        let attributes = HashMap::from([
            ("crm.ticket".to_owned(), "42".to_owned()),
            ("sneaky".to_owned(), "other-call".to_owned()),
            ("multi".to_owned(), "a\r\nVia: x".to_owned()),
        ]);
        assert_eq!(
            attribute_headers(&mapping, &attributes),
            [("X-Ticket".to_owned(), "42".to_owned())]
        );
    }
}
