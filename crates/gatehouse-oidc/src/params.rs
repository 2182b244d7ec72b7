//! Request parameters (query string or form body) with OAuth's rules: a parameter sent without a
//! value counts as omitted, and a parameter may appear at most once (RFC 6749 section 3.1).

use crate::ProtocolError;

/// The parameters of one request, in the order received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// From already-decoded name/value pairs (what a web framework's query or form extractor gives).
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            pairs: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
        }
    }

    /// From an `application/x-www-form-urlencoded` string (a query string or a form body).
    pub fn parse(encoded: &str) -> Self {
        Self {
            pairs: url::form_urlencoded::parse(encoded.as_bytes())
                .into_owned()
                .collect(),
        }
    }

    /// The value of `name`: `Ok(None)` when absent or empty, an `invalid_request` error when it
    /// appears more than once with a value.
    pub fn single(&self, name: &str) -> Result<Option<&str>, ProtocolError> {
        let mut values = self
            .pairs
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(ProtocolError::invalid_request(format!(
                "parameter `{name}` must not appear more than once"
            )));
        }
        Ok(first)
    }

    /// Like [`Params::single`], but a duplicated parameter reads as absent (for values only used
    /// to address an error, such as `state`).
    pub fn lenient(&self, name: &str) -> Option<&str> {
        self.single(name).ok().flatten()
    }

    /// Whether `name` was sent with a value.
    pub fn has(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, v)| k == name && !v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_are_omitted_and_duplicates_refused() {
        let p = Params::parse("a=1&b=&c=x%20y&c=&d=1&d=2");
        assert_eq!(p.single("a"), Ok(Some("1")));
        assert_eq!(p.single("b"), Ok(None));
        assert_eq!(p.single("c"), Ok(Some("x y")));
        assert_eq!(p.single("missing"), Ok(None));
        assert!(p.single("d").is_err());
        assert_eq!(p.lenient("d"), None);
        assert!(p.has("a") && !p.has("b"));
        let q = Params::from_pairs([("scope", "openid profile")]);
        assert_eq!(q.single("scope"), Ok(Some("openid profile")));
    }
}
