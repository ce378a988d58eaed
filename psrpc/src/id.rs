//! Ids of clients (`CLI_`), servers (`SRV_`) and requests (`REQ_`): a prefix and twelve
//! random letters or digits. They appear in channel names, so they keep to `[A-Za-z0-9_]`.

use rand::Rng as _;

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// A new id with `prefix` (`"CLI_"`, `"SRV_"`, `"REQ_"`).
pub fn new_id(prefix: &str) -> String {
    let mut rng = rand::rng();
    let mut id = String::with_capacity(prefix.len() + 12);
    id.push_str(prefix);
    for _ in 0..12 {
        id.push(char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]));
    }
    id
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_the_prefix_and_twelve_letters_or_digits() {
        let id = super::new_id("REQ_");
        assert_eq!(id.len(), 16);
        assert!(id.starts_with("REQ_"));
        assert!(id[4..].bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
        assert_ne!(super::new_id("REQ_"), id);
    }
}
