//! `IpFilter` and `IpNetnsExecFilter`.

use super::Filter;

/// Spellings of the `netns` object that `ip` accepts.
const NETNS: [&str; 3] = ["net", "netn", "netns"];
/// Spellings of the `vrf` object, whose `exec` command also runs any command (`ip vrf exec default sh`).
const VRF: [&str; 3] = ["v", "vr", "vrf"];
/// Spellings of their `exec` command.
const EXEC: [&str; 4] = ["e", "ex", "exe", "exec"];

/// Whether `arg` selects `ip -batch` (`-b`, `-ba`, ... `-batch`, also with `--`), which reads commands —
/// including `netns exec` — from a file.
fn is_batch_option(arg: &str) -> bool {
    let Some(opt) = arg.strip_prefix('-') else {
        return false;
    };
    let opt = opt.strip_prefix('-').unwrap_or(opt);
    !opt.is_empty() && "batch".starts_with(opt)
}

/// `ip ...`, refusing `netns exec` and `vrf exec` wherever they appear as a pair of consecutive words,
/// and `-batch`.
///
/// The original looks only at the first pair whose first word is a `netns` spelling, so
/// `ip -n netns netns exec ...` (namespace named `netns`) slips through it; it also allows `ip -b FILE`
/// and `ip vrf exec default CMD`, each of which runs any command.
pub(crate) fn ip_matches(userargs: &[String]) -> bool {
    if userargs.first().map(String::as_str) != Some("ip") {
        return false;
    }
    let words = &userargs[1..];
    let netns_exec = words.windows(2).any(|w| {
        let object = w[0].as_str();
        (NETNS.contains(&object) || VRF.contains(&object)) && EXEC.contains(&w[1].as_str())
    });
    !netns_exec && !words.iter().any(|w| is_batch_option(w))
}

/// `ip netns exec NS cmd...` for a filter that runs as root.
pub(crate) fn netns_exec_matches(filter: &Filter, userargs: &[String]) -> bool {
    filter.run_as == "root"
        && userargs.len() >= 4
        && userargs[0] == "ip"
        && NETNS.contains(&userargs[1].as_str())
        && EXEC.contains(&userargs[2].as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    /// `ip vrf exec NAME cmd` runs any command, as `ip netns exec` does (`default` needs no VRF device).
    #[test]
    fn vrf_exec_is_refused_in_every_spelling() {
        for object in ["v", "vr", "vrf"] {
            for exec in EXEC {
                for line in [
                    format!("ip {object} {exec} default /bin/sh"),
                    format!("ip -s {object} {exec} default sh"),
                    format!("ip -n ns1 {object} {exec} default sh"),
                ] {
                    assert!(!ip_matches(&words(&line)), "{line}");
                }
            }
        }
        assert!(ip_matches(&words("ip vrf show")));
        assert!(ip_matches(&words("ip vrf pids red")));
        assert!(ip_matches(&words("ip link add red type vrf table 10")));
    }
}
