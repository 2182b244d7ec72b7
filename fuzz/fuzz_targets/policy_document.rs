//! Policy files as administrators write them (YAML or JSON): parsing, validation with located
//! diagnostics, compilation of a valid document, and pointing a path at its line. Any input must
//! give a report or an error, never a panic.
#![no_main]

use gatehouse_policy::{Format, PolicySet, check_text, locate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for format in [Format::Yaml, Format::Json] {
        let report = check_text(text, format);
        if let Some(document) = report.valid_document() {
            let _ = PolicySet::compile(document);
        }
        for diagnostic in report.diagnostics.iter().take(4) {
            let _ = locate(text, &diagnostic.path);
        }
    }
    let _ = locate(text, "authentication_policies[0].rules[1].require");
});
