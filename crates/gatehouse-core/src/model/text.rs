//! Shared text rules behind the name newtypes: trimmed, not empty, bounded, no control
//! characters (PostgreSQL refuses NUL in text, and a newline in a name is never intended).

use crate::CoreError;

/// Trims `input` and checks it is 1 to `max` characters without control characters.
pub(crate) fn name<'a>(field: &'static str, input: &'a str, max: usize) -> Result<&'a str, CoreError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(CoreError::invalid(field, input, "it must not be empty"));
    }
    if text.chars().count() > max {
        return Err(CoreError::invalid(
            field,
            input,
            format!("it must be at most {max} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(CoreError::invalid(
            field,
            input,
            "it must not contain control characters",
        ));
    }
    Ok(text)
}

/// Like [`name`], for free text that may be empty (descriptions); only NUL-free and bounded.
pub(crate) fn free_text<'a>(field: &'static str, input: &'a str, max: usize) -> Result<&'a str, CoreError> {
    if input.chars().count() > max {
        return Err(CoreError::invalid(
            field,
            input,
            format!("it must be at most {max} characters"),
        ));
    }
    if input.contains('\0') {
        return Err(CoreError::invalid(
            field,
            input,
            "it must not contain NUL characters",
        ));
    }
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_bounded_and_printable() {
        assert_eq!(name("name", "  corp ", 10).unwrap(), "corp");
        assert!(name("name", "   ", 10).is_err());
        assert!(name("name", "a\nb", 10).is_err());
        assert!(name("name", "a\0b", 10).is_err());
        assert!(name("name", "abcdefghijk", 10).is_err());
        assert!(free_text("description", "", 10).is_ok());
        assert!(free_text("description", "nul\0", 10).is_err());
    }
}
