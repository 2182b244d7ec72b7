//! Reading policy text: YAML or JSON into the document types, with errors that name the line and
//! column and say what was expected, and [`locate`], which finds the line and column of a path
//! such as `authentication_policies[0].rules[1].require` so that validation diagnostics (which
//! only know paths) point into the file too.
//!
//! `locate` reuses the YAML parser: it walks the document with a serde seed that stops at the
//! path and lets the parser attach its position to the stop. JSON is YAML's flow style, so the
//! same walk locates paths in JSON files.

use std::fmt;

use serde::Deserializer;
use serde::de::{self, DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::diagnostic::{Diagnostic, DiagnosticCode, Location, has_errors};
use crate::model::PolicyDocument;
use crate::validate::validate_document;

/// The syntax of a policy text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Yaml,
    Json,
}

impl Format {
    /// JSON when the file name ends in `.json`, or (without a name) when the text starts with `{`;
    /// YAML otherwise.
    pub fn detect(file_name: Option<&str>, text: &str) -> Self {
        match file_name {
            Some(name) if name.to_ascii_lowercase().ends_with(".json") => Self::Json,
            Some(_) => Self::Yaml,
            None if text.trim_start().starts_with('{') => Self::Json,
            None => Self::Yaml,
        }
    }
}

/// Parses any of the document types (the whole file or one piece) from YAML or JSON. The error
/// is a `syntax` diagnostic with the path and location the parser knew.
pub fn parse<T: DeserializeOwned>(text: &str, format: Format) -> Result<T, Diagnostic> {
    match format {
        Format::Yaml => yaml_serde::from_str(text).map_err(|e| yaml_diagnostic(&e)),
        Format::Json => serde_json::from_str(text).map_err(|e| json_diagnostic(&e)),
    }
}

/// Parses a whole policy file.
pub fn parse_document(text: &str, format: Format) -> Result<PolicyDocument, Diagnostic> {
    parse(text, format)
}

/// Everything `policy check` reports on a text: the parse error, or the validation diagnostics,
/// each located in the text.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckReport {
    /// The document, when it parsed (it may still have errors).
    pub document: Option<PolicyDocument>,
    pub diagnostics: Vec<Diagnostic>,
}

impl CheckReport {
    pub fn has_errors(&self) -> bool {
        has_errors(&self.diagnostics)
    }

    /// The document, if it parsed and has no errors.
    pub fn valid_document(&self) -> Option<&PolicyDocument> {
        if self.has_errors() {
            None
        } else {
            self.document.as_ref()
        }
    }
}

/// Parses and validates `text`, locating every diagnostic.
pub fn check_text(text: &str, format: Format) -> CheckReport {
    match parse_document(text, format) {
        Err(diagnostic) => CheckReport {
            document: None,
            diagnostics: vec![diagnostic],
        },
        Ok(document) => {
            let mut diagnostics = validate_document(&document);
            for d in &mut diagnostics {
                d.location = locate(text, &d.path);
            }
            CheckReport {
                document: Some(document),
                diagnostics,
            }
        }
    }
}

fn yaml_diagnostic(e: &yaml_serde::Error) -> Diagnostic {
    let location = e.location().map(|l| Location {
        line: l.line(),
        column: l.column(),
    });
    let text = strip_location_suffix(&e.to_string());
    let (path, message) = split_path(&text);
    Diagnostic {
        location,
        ..Diagnostic::error(DiagnosticCode::Syntax, path, message)
    }
}

pub(crate) fn json_diagnostic(e: &serde_json::Error) -> Diagnostic {
    let location = (e.line() > 0).then(|| Location {
        line: e.line(),
        column: e.column(),
    });
    Diagnostic {
        location,
        ..Diagnostic::error(DiagnosticCode::Syntax, "", strip_location_suffix(&e.to_string()))
    }
}

/// `msg at line 3 column 5` → `msg`.
fn strip_location_suffix(text: &str) -> String {
    if let Some(pos) = text.rfind(" at line ") {
        let tail = text.get(pos + " at line ".len()..).unwrap_or_default();
        let mut words = tail.split(' ');
        let line_ok = words.next().is_some_and(|w| w.parse::<usize>().is_ok());
        let col_word = words.next() == Some("column");
        let col_ok = words
            .next()
            .is_some_and(|w| w.trim_end_matches(',').parse::<usize>().is_ok());
        if line_ok && col_word && col_ok && words.next().is_none() {
            return text.get(..pos).unwrap_or(text).to_owned();
        }
    }
    text.to_owned()
}

/// `rules[1].access: unknown variant` → (`rules[1].access`, `unknown variant`).
fn split_path(text: &str) -> (String, String) {
    if let Some((head, tail)) = text.split_once(": ")
        && !head.is_empty()
        && head
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']' | '-'))
    {
        return (head.to_owned(), tail.to_owned());
    }
    (String::new(), text.to_owned())
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

fn segments(path: &str) -> Option<Vec<Segment>> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (part.get(..i)?, part.get(i..)?),
            None => (part, ""),
        };
        if !key.is_empty() {
            out.push(Segment::Key(key.to_owned()));
        }
        while let Some(stripped) = rest.strip_prefix('[') {
            let end = stripped.find(']')?;
            out.push(Segment::Index(stripped.get(..end)?.parse().ok()?));
            rest = stripped.get(end + 1..)?;
        }
    }
    Some(out)
}

/// The line and column of the value at `path` in a YAML or JSON text; when the path does not
/// exist (a defaulted field), the nearest enclosing value that does.
pub fn locate(text: &str, path: &str) -> Option<Location> {
    let segs = segments(path)?;
    for len in (0..=segs.len()).rev() {
        let prefix = segs.get(..len)?;
        if let Some(loc) = locate_exact(text, prefix) {
            return Some(loc);
        }
    }
    None
}

const FOUND: &str = "\u{0}located";

fn locate_exact(text: &str, segs: &[Segment]) -> Option<Location> {
    let de = yaml_serde::Deserializer::from_str(text);
    match Seek(segs).deserialize(de) {
        Ok(()) => None,
        Err(e) if e.to_string().contains(FOUND) => e.location().map(|l| Location {
            line: l.line(),
            column: l.column(),
        }),
        Err(_) => None,
    }
}

/// Walks to the value at the path and fails there, so the parser records the position.
struct Seek<'a>(&'a [Segment]);

impl<'de> DeserializeSeed<'de> for Seek<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        match self.0.first() {
            None => deserializer.deserialize_any(Stop),
            Some(Segment::Key(_)) => deserializer.deserialize_map(self),
            Some(Segment::Index(_)) => deserializer.deserialize_seq(self),
        }
    }
}

impl<'de> Visitor<'de> for Seek<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping or a sequence")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((Segment::Key(want), rest)) = self.0.split_first() else {
            return Ok(());
        };
        while let Some(key) = map.next_key::<KeyText>()? {
            if key.0 == *want {
                return map.next_value_seed(Seek(rest));
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some((Segment::Index(want), rest)) = self.0.split_first() else {
            return Ok(());
        };
        for _ in 0..*want {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(());
            }
        }
        seq.next_element_seed(Seek(rest)).map(|_| ())
    }
}

/// Fails on any value, which makes the parser attach that value's position.
struct Stop;

impl<'de> Visitor<'de> for Stop {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(FOUND)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Err(E::custom(FOUND))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Err(E::custom(FOUND))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Err(E::custom(FOUND))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Err(E::custom(FOUND))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Err(E::custom(FOUND))
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(E::custom(FOUND))
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Err(E::custom(FOUND))
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(de::Error::custom(FOUND))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(de::Error::custom(FOUND))
    }
}

/// A mapping key of any scalar type, as text.
struct KeyText(String);

impl<'de> de::Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::model::ScalarText::deserialize(deserializer).map(|t| KeyText(t.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "version: 1\nauthentication_policies:\n  - name: p\n    rules:\n      - name: a\n        access: deny\n      - name: b\n        when: { network: { include: [corp, home] } }\n        access: allow\n";

    #[test]
    fn locates_paths_in_yaml() {
        assert_eq!(
            locate(YAML, "authentication_policies[0].rules[1].name"),
            Some(Location { line: 7, column: 15 })
        );
        assert_eq!(
            locate(
                YAML,
                "authentication_policies[0].rules[1].when.network.include[1]"
            ),
            Some(Location { line: 8, column: 44 })
        );
        // A path that is not in the text falls back to the nearest enclosing value.
        assert_eq!(
            locate(YAML, "authentication_policies[0].rules[1].require").map(|l| l.line),
            Some(7)
        );
    }

    #[test]
    fn locates_paths_in_json() {
        let json = "{\n  \"version\": 1,\n  \"authentication_policies\": [\n    {\"name\": \"p\",\n     \"rules\": [{\"name\":\"a\",\"access\":\"deny\"}]}\n  ]\n}\n";
        assert_eq!(
            locate(json, "authentication_policies[0].rules[0].access").map(|l| l.line),
            Some(5)
        );
    }

    #[test]
    fn parse_errors_carry_line_path_and_expectation() {
        let text = "version: 1\nauthentication_policies:\n  - name: p\n    rules:\n      - name: a\n        access: allow\n        require:\n          assurance: { factors: 1 }\n          reauthenticate: 4 hours\n";
        let d = parse_document(text, Format::Yaml).unwrap_err();
        assert_eq!(d.location.map(|l| l.line), Some(9));
        assert!(
            d.message.contains("expected an ISO-8601 duration such as PT4H"),
            "{d}"
        );
        assert_eq!(
            d.path,
            "authentication_policies[0].rules[0].require.reauthenticate"
        );
    }
}
