//! `ChainingRegExpFilter` and the chaining shared with `IpNetnsExecFilter`.

use super::{Filter, basename, regexp};

/// The prefix matches the patterns pairwise; the rest is checked against the other filters.
pub(crate) fn regexp_matches(filter: &Filter, userargs: &[String]) -> bool {
    !userargs.is_empty()
        && filter.patterns.len() <= userargs.len()
        && regexp::all_match(filter, userargs)
}

/// The words from `skip` on, the first cut to its base name, and that first word as given.
pub(crate) fn chained(userargs: &[String], skip: usize) -> Option<(Vec<String>, String)> {
    let mut rest: Vec<String> = userargs.get(skip..)?.to_vec();
    let first = rest.first_mut()?;
    let given = first.clone();
    *first = basename(&given).to_string();
    Some((rest, given))
}
