//! Shell-style patterns (`*`, `?`, `[seq]`, `[!seq]`), as Python's `fnmatch` on POSIX.

/// Whether `name` matches the whole `pattern`.
pub(crate) fn fnmatch(name: &str, pattern: &str) -> bool {
    let n: Vec<char> = name.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    matches(&n, &p)
}

fn matches(n: &[char], p: &[char]) -> bool {
    // Iterative with backtracking on the last `*`.
    let (mut ni, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if let Some(&pc) = p.get(pi) {
            match pc {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' => {
                    ni += 1;
                    pi += 1;
                    continue;
                }
                '[' => {
                    if let Some((ok, len)) = class(&p[pi..], n[ni]) {
                        if ok {
                            ni += 1;
                            pi += len;
                            continue;
                        }
                    } else if n[ni] == '[' {
                        ni += 1;
                        pi += 1;
                        continue;
                    }
                }
                c if c == n[ni] => {
                    ni += 1;
                    pi += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, sn)) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    p[pi.min(p.len())..].iter().all(|&c| c == '*')
}

/// Matches `c` against the class at the start of `p` (`[...]`); returns (matched, pattern length), or
/// `None` when the `[` is not closed (then it is a literal).
fn class(p: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(p.get(i), Some('!'));
    if negate {
        i += 1;
    }
    let start = i;
    let mut found = false;
    while let Some(&pc) = p.get(i) {
        if pc == ']' && i > start {
            return Some((found != negate, i + 1));
        }
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&e| e != ']') {
            let end = p.get(i + 2).copied().unwrap_or(pc);
            if pc <= c && c <= end {
                found = true;
            }
            i += 3;
        } else {
            if pc == c {
                found = true;
            }
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::fnmatch;

    #[test]
    fn patterns() {
        assert!(fnmatch("compute.instance.create", "compute.*"));
        assert!(fnmatch("abc", "a?c"));
        assert!(!fnmatch("abcd", "a?c"));
        assert!(fnmatch("info", "[iw]*"));
        assert!(!fnmatch("error", "[!e]*"));
        assert!(fnmatch("a[b", "a[b"));
        assert!(fnmatch("", "*"));
        assert!(fnmatch("x.y.z", "*.*.z"));
    }
}
