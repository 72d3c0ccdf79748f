//! The matcher: a filter file and a command line, both from the input (split at the first NUL; the
//! command line's words split at 0x01). Matching never panics, whatever the patterns and words.
#![no_main]

use std::path::{Path, PathBuf};

use libfuzzer_sys::fuzz_target;
use oslo_rootwrap::Filters;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (filters_text, command) = text.split_once('\0').unwrap_or((text, "ls"));
    let prefix = "[Filters]\n";
    let filters_text = if filters_text.contains("[Filters]") {
        filters_text.to_string()
    } else {
        format!("{prefix}{filters_text}")
    };
    let Ok(list) = Filters::parse_file(&filters_text, Path::new("fuzz.filters")) else {
        return;
    };
    let filters = Filters::from_list(list);
    let args: Vec<String> = command.split('\u{1}').map(str::to_string).collect();
    let exec_dirs = [PathBuf::from("/usr/bin"), PathBuf::from("/bin")];
    let _ = filters.decide(&args, &exec_dirs);
});
