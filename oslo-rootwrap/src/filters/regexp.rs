//! `RegExpFilter`: one Python pattern per word, the whole word matched.

use super::Filter;

/// Every word matches its pattern, and there are as many words as patterns.
pub(crate) fn matches(filter: &Filter, userargs: &[String]) -> bool {
    !userargs.is_empty() && filter.patterns.len() == userargs.len() && all_match(filter, userargs)
}

/// The words match the patterns pairwise (extra words are not looked at).
pub(crate) fn all_match(filter: &Filter, userargs: &[String]) -> bool {
    filter
        .patterns
        .iter()
        .zip(userargs)
        .all(|(p, a)| p.is_full_match(a))
}
