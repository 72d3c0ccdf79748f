//! `EnvFilter`: `env NAME=value... command args...` with exactly the variable names the filter lists.

use std::collections::BTreeSet;

use super::{Filter, command};

/// The names of the leading `NAME=value` words (a set: a repeated name counts once, as in the original).
fn leading_names<S: AsRef<str>>(words: &[S]) -> BTreeSet<&str> {
    words
        .iter()
        .map(AsRef::as_ref)
        .take_while(|w| w.contains('='))
        .map(|w| w.split_once('=').map_or(w, |(n, _)| n))
        .collect()
}

/// When the executable field names `env` (the original tests for the substring), the command the filter
/// allows is the field after the variable list.
pub(crate) fn adjust_exec_path(filter: &mut Filter) {
    let count = leading_names(&filter.args).len();
    if filter.exec_path.contains("env")
        && count < filter.args.len()
        && let Some(cmd) = filter.args.get(count)
    {
        filter.exec_path = cmd.clone();
    }
}

fn pop_env(userargs: &mut Vec<String>) {
    if userargs.first().map(String::as_str) == Some("env") {
        userargs.remove(0);
    }
}

pub(crate) fn matches(filter: &Filter, userargs: &mut Vec<String>) -> bool {
    if userargs.is_empty() {
        return false;
    }
    pop_env(userargs);
    if userargs.len() < filter.args.len() {
        return false;
    }
    let user = leading_names(userargs);
    let wanted = leading_names(&filter.args);
    let command_word = userargs.get(user.len());
    !wanted.is_empty() && user == wanted && command::word_matches(&filter.exec_path, command_word)
}

/// The words after `env` and the variables.
fn exec_args(userargs: &[String]) -> &[String] {
    let mut rest = userargs;
    if rest.first().map(String::as_str) == Some("env") {
        rest = &rest[1..];
    }
    let skip = rest.iter().take_while(|w| w.contains('=')).count();
    &rest[skip..]
}

pub(crate) fn command_line(exec: String, userargs: &[String]) -> Vec<String> {
    let mut cmd = vec![exec];
    cmd.extend(exec_args(userargs).iter().skip(1).cloned());
    cmd
}

/// The leading `NAME=value` words with a non-empty name and value, in order (a repeated name: the last
/// wins when applied).
pub(crate) fn environment(userargs: &mut Vec<String>) -> Vec<(String, String)> {
    pop_env(userargs);
    userargs
        .iter()
        .map_while(|w| w.split_once('='))
        .filter(|(n, v)| !n.is_empty() && !v.is_empty())
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}
