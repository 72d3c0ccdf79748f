//! Differential tests of oslo-rootwrap against Python's oslo.rootwrap: the real filter files OpenStack
//! services ship (fetched by `scripts/setup-rootwrap.sh`) and a filter file that exercises every class,
//! with generated command lines, allowed and refused, hostile ones included. Both sides decide against the
//! same stub executables in a temporary `exec_dirs`; nothing runs. Python's decision comes from its own
//! `wrapper.match_filter`, `get_command` and `get_environment`.
//!
//! Every case must get the same decision (filter, command vector, user, added variables), except the
//! cases tagged with a documented stricter rule, where we may refuse what Python allows — never the
//! other way round.
#![cfg(feature = "rootwrap")]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use oslo_rootwrap::{Error, FilterKind, Filters, LoadOptions};
use oslo_tests::{run_python_json, workspace_root};
use serde_json::{Value, json};

/// Why a case may be refused by us and allowed by Python (README, "Differences from the Python library").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stricter {
    /// `$` before a trailing newline, and `a|b` anchored as a whole.
    Anchoring,
    /// PathFilter compares path components, not string prefixes.
    PathPrefix,
    /// `ip netns exec` and `ip vrf exec` anywhere as a word pair, `ip -batch`.
    IpNetnsAnywhere,
    /// A chained command given with a `/` must be the leaf filter's own executable.
    ChainedPath,
    /// KillFilter takes plain ASCII PIDs only.
    KillPid,
    /// Python pattern syntax we do not carry over (`(?x)`, `(?a)`, `\b`, `\B`): the pattern never matches.
    PatternSyntax,
    /// A generated case: which rule applies (if any) is judged from Python's choice (see `classify`).
    Classify,
}

#[derive(Debug, Clone)]
struct Case {
    args: Vec<String>,
    stricter: Option<Stricter>,
}

fn case(args: &[&str]) -> Case {
    Case {
        args: args.iter().map(|s| s.to_string()).collect(),
        stricter: None,
    }
}

fn tagged(args: Vec<String>, why: Stricter) -> Case {
    Case {
        args,
        stricter: Some(why),
    }
}

/// Decides every case with Python's oslo.rootwrap; one JSON object per case.
const ORACLE: &str = r#"
import json, os, sys
from oslo_rootwrap import wrapper
req = json.load(sys.stdin)
os.environ["PATH"] = ":".join(req["exec_dirs"])
real_listdir = os.listdir
os.listdir = lambda d: sorted(real_listdir(d))
filters = wrapper.load_filters(req["filters_path"])
base = dict(os.environ)
out = []
for args in req["cases"]:
    args = list(args)
    try:
        f = wrapper.match_filter(filters, args, req["exec_dirs"])
        cmd = f.get_command(args, req["exec_dirs"])
        env = f.get_environment(args) or {}
        added = {k: v for k, v in env.items() if base.get(k) != v}
        out.append({"kind": "allow", "filter": f.name, "run_as": f.run_as, "command": cmd, "env": added})
    except wrapper.FilterMatchNotExecutable as e:
        out.append({"kind": "noexec", "filter": e.match.name})
    except wrapper.NoFilterMatched:
        out.append({"kind": "deny"})
    except Exception as e:
        out.append({"kind": "error", "error": repr(e)})
print(json.dumps(out))
"#;

/// Whether Python's oslo.rootwrap can load the filter directories at all.
const LOAD_ONLY: &str = r#"
import json, sys
from oslo_rootwrap import wrapper
try:
    wrapper.load_filters(json.load(sys.stdin))
    print(json.dumps({"loaded": True}))
except Exception as e:
    print(json.dumps({"loaded": False, "error": repr(e)}))
"#;

/// Generates strings that Python's `re` accepts for each pattern list (one sample per filter and
/// branch choice), through `sre_parse`, keeping only full matches.
const SAMPLER: &str = r#"
import json, re, sys
try:
    from re import _parser as sre_parse
except ImportError:
    import sre_parse
from sre_constants import *

def gen(tree, choice, groups):
    out = []
    for op, av in tree:
        if op is LITERAL:
            out.append(chr(av))
        elif op is NOT_LITERAL:
            out.append("x" if chr(av) != "x" else "y")
        elif op is ANY:
            out.append("x")
        elif op is IN:
            out.append(pick(av))
        elif op in (MAX_REPEAT, MIN_REPEAT, POSSESSIVE_REPEAT if "POSSESSIVE_REPEAT" in globals() else MAX_REPEAT):
            lo, hi, sub = av
            n = max(lo, 1) if hi != 0 else 0
            n = min(n, hi) if hi != MAXREPEAT else n
            out.extend(gen(sub, choice, groups) * n)
        elif op is SUBPATTERN:
            gid = av[0]
            s = "".join(gen(av[-1], choice, groups))
            if gid:
                groups[gid] = s
            out.append(s)
        elif op is BRANCH:
            branches = av[1]
            out.extend(gen(branches[choice % len(branches)], choice, groups))
        elif op is GROUPREF:
            out.append(groups.get(av, ""))
        elif op in (AT, ASSERT, ASSERT_NOT):
            pass
        elif op is CATEGORY:
            out.append(cat(av))
        else:
            raise ValueError(op)
    return out

def cat(c):
    return {CATEGORY_DIGIT: "7", CATEGORY_SPACE: " ", CATEGORY_WORD: "w"}.get(c, "x")

def pick(items):
    negate = any(op is NEGATE for op, _ in items)
    cands = []
    for op, av in items:
        if op is LITERAL: cands.append(chr(av))
        elif op is RANGE: cands.append(chr(av[0]))
        elif op is CATEGORY: cands.append(cat(av))
    if not negate and cands:
        return cands[0]
    for c in "xa1/-_.":
        if c not in cands:
            return c
    return "x"

req = json.load(sys.stdin)
res = []
for pats in req:
    samples = []
    for choice in range(3):
        try:
            words = ["".join(gen(sre_parse.parse(p), choice, {})) for p in pats]
        except Exception:
            continue
        if all(re.match(p + "$", w) for p, w in zip(pats, words)) and words not in samples:
            samples.append(words)
    res.append(samples)
print(json.dumps(res))
"#;

/// A temporary world: filter dir, exec dir with stubs, the directories for PathFilter cases.
struct World {
    dir: tempfile::TempDir,
    filters_dir: PathBuf,
    exec_dirs: Vec<PathBuf>,
}

fn stub(dir: &Path, name: &str) {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return;
    }
    let p = dir.join(name);
    std::fs::write(&p, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

impl World {
    fn new(files: &[(String, String)], extra_exec_dirs: &[&str]) -> World {
        let dir = tempfile::tempdir().unwrap();
        let filters_dir = dir.path().join("rootwrap.d");
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&filters_dir).unwrap();
        std::fs::create_dir_all(&bin).unwrap();
        for (name, text) in files {
            std::fs::write(filters_dir.join(name), text).unwrap();
        }
        let mut exec_dirs = vec![bin.clone()];
        exec_dirs.extend(extra_exec_dirs.iter().map(PathBuf::from));
        let world = World {
            dir,
            filters_dir,
            exec_dirs,
        };
        let loaded = Filters::load(
            std::slice::from_ref(&world.filters_dir),
            LoadOptions::default().trust_check(false),
        );
        for f in loaded.iter().flat_map(|f| f.iter()) {
            stub(&bin, f.exec_path());
        }
        world
    }

    fn filters(&self) -> Filters {
        Filters::load(
            std::slice::from_ref(&self.filters_dir),
            LoadOptions::default().trust_check(false),
        )
        .expect("the filter files load")
    }

    fn path(&self, rel: &str) -> String {
        self.dir.path().join(rel).to_string_lossy().into_owned()
    }
}

fn ours(filters: &Filters, args: &[String], exec_dirs: &[PathBuf]) -> Value {
    match filters.decide(args, exec_dirs) {
        Ok(d) => {
            let env: BTreeMap<String, String> = d.env.into_iter().collect();
            json!({"kind": "allow", "filter": d.filter, "run_as": d.run_as, "command": d.command, "env": env})
        }
        Err(Error::NotExecutable { filter, .. }) => json!({"kind": "noexec", "filter": filter}),
        Err(Error::Unauthorized { .. }) => json!({"kind": "deny"}),
        Err(e) => json!({"kind": "error", "error": e.to_string()}),
    }
}

#[derive(Debug, Default)]
struct Tally {
    same_allow: usize,
    same_refuse: usize,
    stricter: BTreeMap<String, usize>,
}

/// Runs every case through both sides and checks the rule; returns the tally.
fn compare(world: &World, cases: &[Case]) -> Tally {
    let exec_dirs: Vec<String> = world
        .exec_dirs
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let request = json!({
        "filters_path": [world.filters_dir.to_string_lossy()],
        "exec_dirs": exec_dirs,
        "cases": cases.iter().map(|c| c.args.clone()).collect::<Vec<_>>(),
    });
    let python = run_python_json(ORACLE, &request.to_string());
    let python = python.as_array().expect("a list of decisions");
    assert_eq!(python.len(), cases.len());
    let filters = world.filters();
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    for (c, py) in cases.iter().zip(python) {
        let us = ours(&filters, &c.args, &world.exec_dirs);
        assert_ne!(py["kind"], "error", "Python raised on {:?}: {py}", c.args);
        if us == *py {
            if us["kind"] == "allow" {
                tally.same_allow += 1;
            } else {
                tally.same_refuse += 1;
            }
            continue;
        }
        let we_refuse = us["kind"] != "allow";
        // A later filter may allow the very same thing an earlier one we hold stricter did.
        // Or the built-in `privsep-helper` filter, which Python has too, as the last one.
        let same_effect = us["kind"] == "allow"
            && py["kind"] == "allow"
            && (["command", "run_as", "env"].iter().all(|k| us[k] == py[k])
                || us["filter"] == "privsep-helper");
        let why = match c.stricter {
            Some(Stricter::Classify) => classify(&filters, &c.args, py),
            other => other,
        };
        match why {
            Some(why) if (we_refuse || same_effect) && py["kind"] == "allow" => {
                *tally.stricter.entry(format!("{why:?}")).or_default() += 1;
            }
            _ => failures.push(format!("{:?}\n  python: {py}\n  ours:   {us}", c.args)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    tally
}

/// For generated command lines with no tag: the documented rule under which we may refuse what Python
/// allowed, judged from the filter Python chose and the words.
fn classify(filters: &Filters, args: &[String], py: &Value) -> Option<Stricter> {
    let chosen = py["filter"].as_str()?;
    let f = filters.iter().find(|f| f.name() == chosen)?;
    match f.kind() {
        FilterKind::RegExp | FilterKind::ChainingRegExp
            if args.iter().any(|a| a.ends_with('\n'))
                || f.args().iter().any(|p| p.contains('|')) =>
        {
            Some(Stricter::Anchoring)
        }
        FilterKind::Path => Some(Stricter::PathPrefix),
        FilterKind::Kill => Some(Stricter::KillPid),
        FilterKind::IpNetnsExec | FilterKind::ChainingRegExp
            if args.iter().skip(1).any(|a| a.contains('/')) =>
        {
            Some(Stricter::ChainedPath)
        }
        FilterKind::Ip | FilterKind::Command if args.first().is_some_and(|a| a == "ip") => {
            Some(Stricter::IpNetnsAnywhere)
        }
        _ => None,
    }
}

/// A small deterministic generator (no dependency, same cases every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % bound.max(1)
    }
}

/// Sample argument vectors for each regex-based filter, from Python's own parser.
fn regex_samples(filters: &Filters) -> BTreeMap<String, Vec<Vec<String>>> {
    let regex_filters: Vec<_> = filters
        .iter()
        .filter(|f| matches!(f.kind(), FilterKind::RegExp | FilterKind::ChainingRegExp))
        .collect();
    let request: Vec<Vec<String>> = regex_filters.iter().map(|f| f.args().to_vec()).collect();
    let samples = run_python_json(SAMPLER, &json!(request).to_string());
    let samples: Vec<Vec<Vec<String>>> = serde_json::from_value(samples).unwrap();
    regex_filters
        .iter()
        .zip(samples)
        .map(|(f, s)| (f.name().to_string(), s))
        .collect()
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// Command lines derived from each filter's own fields, plus hostile variations.
fn generated_cases(filters: &Filters, samples: &BTreeMap<String, Vec<Vec<String>>>) -> Vec<Case> {
    let mut cases = Vec::new();
    for f in filters.iter() {
        let exec = f.exec_path().to_string();
        let base = exec.rsplit('/').next().unwrap_or(&exec).to_string();
        match f.kind() {
            FilterKind::Command => {
                cases.push(Case {
                    args: vec![base.clone()],
                    stricter: None,
                });
                cases.push(Case {
                    args: vec![base.clone(), "-x".into(), "/etc/shadow".into()],
                    stricter: None,
                });
                cases.push(Case {
                    args: vec![exec.clone(), "a".into()],
                    stricter: None,
                });
                cases.push(Case {
                    args: vec![format!("/tmp/evil/{base}")],
                    stricter: None,
                });
                cases.push(Case {
                    args: vec![format!("./{base}")],
                    stricter: None,
                });
                cases.push(Case {
                    args: vec![format!("../bin/{base}")],
                    stricter: None,
                });
            }
            FilterKind::RegExp | FilterKind::ChainingRegExp => {
                for sample in samples.get(f.name()).into_iter().flatten() {
                    cases.push(Case {
                        args: sample.clone(),
                        stricter: None,
                    });
                    let mut extra = sample.clone();
                    extra.push("--extra".into());
                    cases.push(Case {
                        args: extra,
                        stricter: None,
                    });
                    if sample.len() > 1 {
                        cases.push(Case {
                            args: sample[..sample.len() - 1].to_vec(),
                            stricter: None,
                        });
                    }
                    let mut newline = sample.clone();
                    if let Some(last) = newline.last_mut() {
                        last.push('\n');
                    }
                    cases.push(tagged(newline, Stricter::Anchoring));
                    let mut suffixed = sample.clone();
                    if let Some(last) = suffixed.last_mut() {
                        last.push_str("ZZ");
                    }
                    cases.push(tagged(suffixed, Stricter::Anchoring));
                    for (i, w) in sample.iter().enumerate() {
                        if w.starts_with('/') && i > 0 {
                            let mut trav = sample.clone();
                            trav[i] = format!("{w}/../../../etc/shadow");
                            cases.push(Case {
                                args: trav,
                                stricter: None,
                            });
                        }
                    }
                    let mut relative = sample.clone();
                    relative[0] = format!("/tmp/evil/{}", sample[0]);
                    cases.push(Case {
                        args: relative,
                        stricter: None,
                    });
                    if f.kind() == FilterKind::ChainingRegExp {
                        for tail in [
                            s(&["ls", "-l"]),
                            s(&["/tmp/evil/ls"]),
                            s(&["cat", "/etc/shadow"]),
                        ] {
                            let mut chained = sample.clone();
                            chained.extend(tail.clone());
                            let why = tail[0].contains('/').then_some(Stricter::ChainedPath);
                            cases.push(Case {
                                args: chained,
                                stricter: why,
                            });
                        }
                    }
                }
            }
            FilterKind::Env => {
                let vars: Vec<String> = f
                    .args()
                    .iter()
                    .take_while(|a| a.contains('='))
                    .map(|a| format!("{}value", a))
                    .collect();
                let cmd = f.exec_path().to_string();
                let mut full = vec!["env".to_string()];
                full.extend(vars.clone());
                full.push(cmd.clone());
                full.push("--arg".into());
                cases.push(Case {
                    args: full.clone(),
                    stricter: None,
                });
                cases.push(Case {
                    args: full[1..].to_vec(),
                    stricter: None,
                });
                let mut injected = full.clone();
                injected.insert(1, "LD_PRELOAD=/tmp/evil.so".into());
                cases.push(Case {
                    args: injected,
                    stricter: None,
                });
                let mut empty = vec!["env".to_string()];
                empty.extend(
                    vars.iter()
                        .map(|v| v.split('=').next().unwrap_or("").to_string() + "="),
                );
                empty.push(cmd.clone());
                cases.push(Case {
                    args: empty,
                    stricter: None,
                });
                if vars.len() > 1 {
                    let mut missing = vec!["env".to_string()];
                    missing.extend(vars[1..].iter().cloned());
                    missing.push(cmd.clone());
                    cases.push(Case {
                        args: missing,
                        stricter: None,
                    });
                }
                let mut other_cmd = full.clone();
                let at = other_cmd.len() - 2;
                other_cmd[at] = "/tmp/evil/".to_string() + &cmd;
                cases.push(Case {
                    args: other_cmd,
                    stricter: None,
                });
            }
            FilterKind::Path => {
                let mut args = vec![base.clone()];
                let mut sibling = vec![base.clone()];
                let mut escape = vec![base.clone()];
                for spec in f.args() {
                    if spec.starts_with('/') {
                        args.push(format!("{}/file", spec.trim_end_matches('/')));
                        sibling.push(format!("{}2/file", spec.trim_end_matches('/')));
                        escape.push(format!(
                            "{}/../../../etc/shadow",
                            spec.trim_end_matches('/')
                        ));
                    } else if spec == "pass" {
                        args.push("anything".into());
                        sibling.push("anything".into());
                        escape.push("anything".into());
                    } else {
                        args.push(spec.clone());
                        sibling.push(spec.clone());
                        escape.push(spec.clone());
                    }
                }
                let has_dir_spec = f.args().iter().any(|a| a.starts_with('/') && a != "/");
                cases.push(Case {
                    args: args.clone(),
                    stricter: None,
                });
                cases.push(Case {
                    args: sibling,
                    stricter: has_dir_spec.then_some(Stricter::PathPrefix),
                });
                cases.push(Case {
                    args: escape,
                    stricter: None,
                });
                let mut extra = args.clone();
                extra.push("x".into());
                cases.push(Case {
                    args: extra,
                    stricter: None,
                });
            }
            FilterKind::ReadFile => {
                let file = f.args().first().cloned().unwrap_or_default();
                cases.push(Case {
                    args: s(&["cat", &file]),
                    stricter: None,
                });
                cases.push(Case {
                    args: s(&["cat", &file, "/etc/shadow"]),
                    stricter: None,
                });
                cases.push(Case {
                    args: s(&["cat", &format!("{file}/../../etc/shadow")]),
                    stricter: None,
                });
                cases.push(Case {
                    args: s(&["/bin/cat", &file]),
                    stricter: None,
                });
            }
            FilterKind::Kill => {
                let sig = f.args().get(1).cloned().unwrap_or_else(|| "-9".into());
                cases.push(Case {
                    args: s(&["kill", &sig, "1"]),
                    stricter: None,
                });
                cases.push(Case {
                    args: s(&["kill", "1"]),
                    stricter: None,
                });
                cases.push(Case {
                    args: s(&["kill", "-STOP", "1"]),
                    stricter: None,
                });
                cases.push(Case {
                    args: s(&["kill", &sig, "notapid"]),
                    stricter: None,
                });
            }
            FilterKind::Ip | FilterKind::IpNetnsExec => {}
            FilterKind::Chaining => {
                cases.push(Case {
                    args: vec![base.clone(), "ls".into()],
                    stricter: None,
                });
            }
            _ => {}
        }
    }
    // The ip family, whether or not a file has an ip filter.
    for (args, why) in [
        (s(&["ip", "a"]), None),
        (s(&["ip", "link", "set", "dev", "eth0", "up"]), None),
        (s(&["ip", "netns", "exec", "ns1", "ip", "a"]), None),
        (s(&["ip", "netns", "exec", "ns1", "ls"]), None),
        (s(&["ip", "net", "e", "ns1", "ls"]), None),
        (s(&["ip", "netn", "ex", "ns1", "ls"]), None),
        (s(&["ip", "-s", "netns", "exec", "ns1", "ls"]), None),
        (
            s(&["ip", "netns", "exec", "ns1", "/tmp/evil/ip", "a"]),
            Some(Stricter::ChainedPath),
        ),
        (
            s(&["ip", "netns", "exec", "a", "ip", "netns", "exec", "b", "ls"]),
            None,
        ),
        (
            s(&["ip", "-n", "netns", "netns", "exec", "ns1", "ls"]),
            Some(Stricter::IpNetnsAnywhere),
        ),
        (
            s(&["ip", "-b", "/tmp/cmds"]),
            Some(Stricter::IpNetnsAnywhere),
        ),
        (
            s(&["ip", "-batch", "/tmp/cmds"]),
            Some(Stricter::IpNetnsAnywhere),
        ),
        (
            s(&["ip", "vrf", "exec", "default", "/bin/sh"]),
            Some(Stricter::IpNetnsAnywhere),
        ),
        (
            s(&["ip", "v", "e", "default", "sh"]),
            Some(Stricter::IpNetnsAnywhere),
        ),
        (
            s(&[
                "ip", "netns", "exec", "ns1", "ip", "vrf", "exec", "default", "sh",
            ]),
            Some(Stricter::IpNetnsAnywhere),
        ),
        (s(&["ip", "netns", "EXEC", "ns1", "ls"]), None),
        (s(&["ip", "netns", "exec", "ns1", "env", "A=1", "ls"]), None),
        (s(&["privsep-helper", "--config-file", "/etc/x.conf"]), None),
        (s(&["/tmp/evil/privsep-helper"]), None),
        (s(&["sh", "-c", "id"]), None),
        (s(&["env", "LD_PRELOAD=/tmp/x.so", "ls"]), None),
        (s(&["env", "env", "ls"]), None),
        (s(&["../../bin/sh"]), None),
        (s(&[""]), None),
    ] {
        cases.push(Case {
            args,
            stricter: why,
        });
    }
    cases
}

fn real_filter_sets() -> Vec<(String, Vec<(String, String)>)> {
    let root = workspace_root().join("target/fixtures/rootwrap");
    let mut sets = Vec::new();
    let entries = std::fs::read_dir(&root).unwrap_or_else(|_| {
        panic!(
            "no fixtures in {}: run scripts/setup-rootwrap.sh (scripts/test.sh --setup)",
            root.display()
        )
    });
    for e in entries.flatten() {
        let dir = e.path();
        if !dir.is_dir() || dir.file_name().is_some_and(|n| n == "dl") {
            continue;
        }
        let mut files = Vec::new();
        for f in std::fs::read_dir(&dir).unwrap().flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if name.ends_with(".filters") {
                files.push((name, std::fs::read_to_string(f.path()).unwrap()));
            }
        }
        if !files.is_empty() {
            sets.push((
                dir.file_name().unwrap().to_string_lossy().into_owned(),
                files,
            ));
        }
    }
    sets.sort();
    sets
}

#[test]
fn real_filter_files_decide_as_python_does() {
    let sets = real_filter_sets();
    assert!(
        sets.len() >= 5,
        "expected the filter files of at least five services, got {}",
        sets.len()
    );
    let mut total = Tally::default();
    let mut refused_by_both = 0;
    for (service, files) in &sets {
        let world = World::new(files, &[]);
        let loaded = Filters::load(
            std::slice::from_ref(&world.filters_dir),
            LoadOptions::default().trust_check(false),
        );
        let filters = match loaded {
            Ok(f) => f,
            Err(e) => {
                // A broken file (ironic 26.1 ships one without `[Filters]`): Python fails to load too.
                let py = run_python_json(LOAD_ONLY, &json!([world.filters_dir]).to_string());
                assert_eq!(
                    py["loaded"], false,
                    "{service}: we refuse ({e}) but Python loads it"
                );
                eprintln!(
                    "{service}: refused by both: ours `{e}`, Python {}",
                    py["error"]
                );
                refused_by_both += 1;
                continue;
            }
        };
        for f in filters.iter() {
            assert!(
                f.unusable_patterns().is_empty(),
                "{service}: filter `{}` has patterns we cannot use: {:?}",
                f.name(),
                f.unusable_patterns()
            );
        }
        let samples = regex_samples(&filters);
        let cases = generated_cases(&filters, &samples);
        let tally = compare(&world, &cases);
        eprintln!("{service}: {} cases, {tally:?}", cases.len());
        assert!(
            tally.same_allow > 0,
            "{service}: no case was allowed by both sides"
        );
        total.same_allow += tally.same_allow;
        total.same_refuse += tally.same_refuse;
        for (k, v) in tally.stricter {
            *total.stricter.entry(k).or_default() += v;
        }
    }
    eprintln!("all services: {total:?}; {refused_by_both} refused by both");
    assert!(sets.len() - refused_by_both >= 5, "too few services load");
    assert!(
        total.same_allow >= 100,
        "too few agreeing allowed cases: {total:?}"
    );
    assert!(
        total.same_refuse >= 100,
        "too few agreeing refused cases: {total:?}"
    );
}

/// Python patterns against words, each pattern in a `RegExpFilter` of its own: the engines' classes
/// (`\w`, `\s`, `\d` and their complements), inline flags, escapes, ranges and group names, where
/// `fancy-regex` alone would allow what Python's `re` refuses (or refuses to compile).
#[test]
fn regexp_patterns_decide_as_python_re_does() {
    let strict = Some(Stricter::PatternSyntax);
    let pairs: Vec<(&str, &str, Option<Stricter>)> = vec![
        (r"\w+", "\u{203F}", None),
        (r"\w+", "a\u{301}", None),
        (r"\w", "\u{200C}", None),
        (r"\w", "\u{345}", None),
        (r"\w", "\u{B2}", None),
        (r"\w", "\u{AA}", None),
        (r"\w+", "nova_compute1", None),
        (r"[\w.-]+", "qr-1.x", None),
        (r"\W", "\u{203F}", None),
        (r"[^\W]", "\u{203F}", None),
        (r"\S+", "\u{1C}", None),
        (r"[^\s]+", "\u{1F}", None),
        (r"\s", "\u{1C}", None),
        (r"[\s]", "\u{1F}", None),
        (r"[^\S]", "\u{1D}", None),
        (r"\S+", "abc", None),
        (r"\d", "\u{660}", None),
        (r"\d", "\u{B2}", None),
        (r"\d", "\u{11F50}", None),
        (r"\w", "\u{11F50}", None),
        (r"\D", "\u{11F50}", None),
        (r"a(?i)b", "aB", None),
        (r"a(?i)b", "ab", None),
        (r"a|(?i)b", "B", None),
        (r"(?i)ab", "AB", None),
        (r"(?i)(?m)a", "A", None),
        (r"x(?)y", "xy", None),
        (r"(?-i)x", "x", None),
        (r"(?i-i:x)", "x", None),
        (r"(?-u:x)", "x", None),
        (r"(?u:x)", "x", None),
        (r"(?iu)x", "X", None),
        (r"(?i:a)B", "AB", None),
        (r"(?i:a)B", "Ab", None),
        (r"(?s:.)", "\n", None),
        (r"\400", "\u{100}", None),
        (r"\377", "\u{FF}", None),
        (r"[\d-z]", "-", None),
        (r"[\d-z]", "z", None),
        (r"[\w--a]", "a", None),
        (r"(?P<1>a)", "a", None),
        (r"(?P<n>a)(?P=n)", "aa", None),
        (r"a*+a", "aa", None),
        (r"a{2}+a", "aaa", None),
        (r"(?(1)a|b)", "b", None),
        (r"(a)?(?(1)b|c)", "c", None),
        (r"(a)?(?(1)b|c)", "ab", None),
        (r"(a)?(?(1)b|c)", "ac", None),
        (r"a)|(?:b", "aXYZ", None),
        (r"a)|(b", "a", None),
        (r"(a", "a", None),
        (r"\B", "", None),
        (r"a\Bb", "ab", strict),
        (r"a\b-", "a-", strict),
        (r"(?x)a b", "ab", strict),
        (r"(?a)\w", "a", strict),
    ];
    let mut text = String::from("[Filters]\n");
    let mut cases = Vec::new();
    for (i, (pattern, word, why)) in pairs.iter().enumerate() {
        assert!(!pattern.contains(','), "a field cannot hold a comma");
        text.push_str(&format!(
            "p{i}: RegExpFilter, cmd{i}, root, cmd{i}, {pattern}\n"
        ));
        let args = vec![format!("cmd{i}"), word.to_string()];
        cases.push(match why {
            Some(w) => tagged(args, *w),
            None => Case {
                args,
                stricter: None,
            },
        });
    }
    let world = World::new(&[("patterns.filters".into(), text)], &[]);
    let tally = compare(&world, &cases);
    assert!(tally.same_allow >= 15, "{tally:?}");
    assert!(tally.same_refuse >= 25, "{tally:?}");
}

/// Filter files whose lines start or end with characters Python's `str.strip` and `\s` take for white
/// space and Rust's `trim` does not (U+001C..U+001F), with multi-byte spaces, or with a lone `\r` (a line
/// end to Python): the same lines must be continuations, keys and fields on both sides, so no filter
/// exists on one side only.
#[test]
fn filter_files_with_odd_white_space_load_as_python_does() {
    let text = "[Filters]\n\
                a: CommandFilter, true, root\n\
                \u{1C}b: CommandFilter, sh, root\n\
                \u{3000}c: CommandFilter, ls, root\n\
                d\u{1F} : CommandFilter, cat\u{1C}, root\u{1F}\n\
                \u{2003}\u{2003}e: CommandFilter, id, root\n\
                f: CommandFilter, env\u{85}, root\n\
                g: CommandFilter, true, root\rh: CommandFilter, cp, root\r\n";
    let world = World::new(&[("odd.filters".into(), text.to_string())], &[]);
    let cases: Vec<Case> = ["true", "sh", "ls", "cat", "id", "env", "b:", "cp"]
        .iter()
        .map(|w| case(&[w]))
        .collect();
    let tally = compare(&world, &cases);
    assert!(tally.same_allow >= 3, "{tally:?}");
}

/// A filter file with every class, and hand-written hostile command lines.
#[test]
fn every_class_and_hostile_command_lines_decide_as_python_does() {
    let probe = tempfile::tempdir().unwrap();
    let images = probe.path().join("images");
    std::fs::create_dir_all(images.join("sub")).unwrap();
    std::fs::create_dir_all(probe.path().join("outside")).unwrap();
    std::os::unix::fs::symlink("/etc", images.join("link_out")).unwrap();
    std::os::unix::fs::symlink(images.join("sub"), probe.path().join("outside/link_in")).unwrap();
    let img = images.to_string_lossy().into_owned();
    let text = format!(
        "[Filters]\n\
         ls: CommandFilter, ls, root\n\
         ls_nobody: CommandFilter, lsnobody, nobody\n\
         digits: RegExpFilter, contcmd, root, contcmd, \\d+\n\
         alt: RegExpFilter, altcmd, root, altcmd, foo|bar\n\
         lookahead: RegExpFilter, privcmd, root, privcmd, /etc/(?!\\.\\.).*\n\
         nul: RegExpFilter, findcmd, root, findcmd, ^[/]*([^/\\0]+(/+)?)*$\n\
         chown: PathFilter, chown, root, nova, {img}\n\
         chmod_pass: PathFilter, chmod, root, pass, {img}/\n\
         dnsmasq: EnvFilter, env, root, CONFIG_FILE=, NETWORK_ID=, dnsmasq\n\
         lvs: EnvFilter, env, root, LC_ALL=C, lvs\n\
         tool: EnvFilter, /opt/venv/bin/tool, root, A=, realtool\n\
         read: ReadFileFilter, /etc/iscsi/initiatorname.iscsi\n\
         kill_sleep: KillFilter, root, /usr/bin/sleep, -9, -HUP\n\
         kill_rel: KillFilter, root, sleep\n\
         ip: IpFilter, ip, root\n\
         ipnetns: IpNetnsExecFilter, ip, root\n\
         ionice: ChainingRegExpFilter, ionice, root, ionice, -c[0-3]\n\
         base: ChainingFilter, chain, root\n\
         envcmd: CommandFilter, env, root\n\
         missing: CommandFilter, /nonexistent/bin/tool, root\n\
         unknown: NoSuchFilter, x, root\n"
    );
    let world = World::new(&[("all.filters".into(), text)], &["/usr/bin"]);
    let mut sleeper = std::process::Command::new("/usr/bin/sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let pid = sleeper.id().to_string();
    let p = |rel: &str| format!("{img}/{rel}");
    let outside = world.path("x");
    let _ = outside;
    let link_in = probe
        .path()
        .join("outside/link_in")
        .to_string_lossy()
        .into_owned();
    let mut cases: Vec<Case> = vec![
        case(&["ls", "-l"]),
        case(&["lsnobody"]),
        case(&["contcmd", "12"]),
        case(&["contcmd", "١٢"]),
        tagged(s(&["contcmd", "12\n"]), Stricter::Anchoring),
        case(&["contcmd", "12a"]),
        case(&["altcmd", "foo"]),
        case(&["altcmd", "bar"]),
        tagged(s(&["altcmd", "fooZZ"]), Stricter::Anchoring),
        case(&["altcmd", "barZZ"]),
        case(&["privcmd", "/etc/nova/nova.conf"]),
        case(&["privcmd", "/etc/../shadow"]),
        case(&["findcmd", "a/b/c"]),
        case(&["findcmd", "a/\0b"]),
        case(&["chown", "nova", &p("sub/file")]),
        case(&["chown", "nova", &img]),
        tagged(
            s(&["chown", "nova", &format!("{img}2/x")]),
            Stricter::PathPrefix,
        ),
        tagged(
            s(&["chown", "nova", &p("../images2/x")]),
            Stricter::PathPrefix,
        ),
        case(&["chown", "nova", &p("../../etc")]),
        case(&["chown", "nova", &p("link_out/passwd")]),
        case(&["chown", "nova", &link_in]),
        case(&["chown", "nova", &format!("{link_in}/../x")]),
        case(&["chown", "glance", &p("sub")]),
        case(&["chown", "nova", &p("sub"), "extra"]),
        case(&["chmod", "0777", &p("sub/f")]),
        case(&["chmod", "0777", &img]),
        case(&[
            "env",
            "CONFIG_FILE=/x",
            "NETWORK_ID=1",
            "dnsmasq",
            "--no-hosts",
        ]),
        case(&["CONFIG_FILE=/x", "NETWORK_ID=1", "dnsmasq"]),
        case(&["env", "NETWORK_ID=1", "CONFIG_FILE=/x", "dnsmasq"]),
        case(&["env", "CONFIG_FILE=/x", "dnsmasq"]),
        case(&[
            "env",
            "CONFIG_FILE=/x",
            "NETWORK_ID=1",
            "LD_PRELOAD=/tmp/e.so",
            "dnsmasq",
        ]),
        case(&["env", "CONFIG_FILE=", "NETWORK_ID=1", "dnsmasq"]),
        case(&[
            "env",
            "CONFIG_FILE=/a",
            "CONFIG_FILE=/b",
            "NETWORK_ID=1",
            "dnsmasq",
        ]),
        case(&["env", "CONFIG_FILE=/x", "NETWORK_ID=1", "/tmp/evil/dnsmasq"]),
        case(&["env", "LC_ALL=C", "lvs", "--noheadings"]),
        case(&["env", "LC_ALL=anything", "lvs"]),
        case(&["env", "A=1", "realtool", "x"]),
        case(&["env", "ls"]),
        case(&["env", "env", "LC_ALL=C", "lvs"]),
        case(&["env", "whoami"]),
        case(&["cat", "/etc/iscsi/initiatorname.iscsi"]),
        case(&["cat", "/etc/shadow"]),
        case(&["kill", "-9", &pid]),
        case(&["kill", "-HUP", &pid]),
        case(&["kill", "-KILL", &pid]),
        case(&["kill", &pid]),
        case(&["kill", "-9", "1"]),
        tagged(s(&["kill", "-9", &format!("+{pid}")]), Stricter::KillPid),
        tagged(s(&["kill", "-9", &format!(" {pid}")]), Stricter::KillPid),
        case(&["kill", "-9", "999999999"]),
        case(&["ip", "addr", "show"]),
        case(&["ip", "netns", "exec", "ns1", "ls", "-l"]),
        case(&["ip", "netns", "exec", "ns1", "lsnobody"]),
        tagged(
            s(&["ip", "netns", "exec", "ns1", "/tmp/evil/ls"]),
            Stricter::ChainedPath,
        ),
        case(&["ip", "netns", "exec", "ns1", "env", "LC_ALL=C", "lvs"]),
        case(&[
            "ip", "netns", "exec", "ns1", "ip", "netns", "exec", "ns2", "ls",
        ]),
        tagged(
            s(&["ip", "-n", "netns", "netns", "exec", "ns1", "ls"]),
            Stricter::IpNetnsAnywhere,
        ),
        tagged(s(&["ip", "-b", "/tmp/cmds"]), Stricter::IpNetnsAnywhere),
        tagged(
            s(&["ip", "--batch", "/tmp/cmds"]),
            Stricter::IpNetnsAnywhere,
        ),
        tagged(
            s(&["ip", "vrf", "exec", "default", "/bin/sh"]),
            Stricter::IpNetnsAnywhere,
        ),
        tagged(
            s(&["ip", "-n", "ns1", "vr", "ex", "default", "sh"]),
            Stricter::IpNetnsAnywhere,
        ),
        tagged(
            s(&[
                "ip", "netns", "exec", "ns1", "ip", "vrf", "exec", "default", "sh",
            ]),
            Stricter::IpNetnsAnywhere,
        ),
        case(&["ip", "-br", "a"]),
        case(&["ip", "net", "e", "ns1", "sh"]),
        case(&["ionice", "-c3", "ls", "-l"]),
        case(&["ionice", "-c3", "sh", "-c", "id"]),
        tagged(s(&["ionice", "-c3", "/tmp/evil/ls"]), Stricter::ChainedPath),
        case(&["ionice", "-c9", "ls"]),
        case(&["ionice", "-c3"]),
        case(&["chain", "ls"]),
        case(&["/nonexistent/bin/tool"]),
        case(&["tool"]),
        case(&["privsep-helper", "--anything"]),
        case(&["sh"]),
    ];
    // The ip netns path given as the leaf's own executable is accepted.
    let ls_path = world.exec_dirs[0].join("ls").to_string_lossy().into_owned();
    cases.push(case(&["ip", "netns", "exec", "ns1", &ls_path]));
    let tally = compare(&world, &cases);
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    eprintln!("{} cases: {tally:?}", cases.len());
    assert!(tally.same_allow >= 25, "{tally:?}");
    assert!(tally.same_refuse >= 25, "{tally:?}");
    assert_eq!(
        tally.stricter.len(),
        5,
        "every stricter rule was exercised: {tally:?}"
    );
}

/// Random command lines over a vocabulary drawn from every real filter file (commands, literal
/// arguments, pattern samples, variable names) and hostile words, all services' files in one directory:
/// 3000 cases, each decided by both sides. A difference must be one of the documented stricter rules.
#[test]
fn random_command_lines_over_all_real_filters_decide_as_python_does() {
    let mut files = Vec::new();
    for (service, set) in real_filter_sets() {
        for (name, text) in set {
            if Filters::parse_file(&text, Path::new(&name)).is_ok() {
                files.push((format!("{service}-{name}"), text));
            }
        }
    }
    let world = World::new(&files, &[]);
    let filters = world.filters();
    let samples = regex_samples(&filters);
    let mut heads: Vec<String> = Vec::new();
    let mut vocab: Vec<String> = Vec::new();
    for f in filters.iter() {
        let exec = f.exec_path().to_string();
        heads.push(exec.rsplit('/').next().unwrap_or(&exec).to_string());
        heads.push(exec.clone());
        for a in f.args() {
            if a.contains('=') {
                vocab.push(format!("{a}x"));
            } else if !a.contains(['(', '[', '*', '\\', '+', '?', '|']) {
                vocab.push(a.clone());
                if a.starts_with('/') {
                    vocab.push(format!("{a}/sub"));
                    vocab.push(format!("{a}/../../etc"));
                }
            }
        }
    }
    for sample in samples.values().flatten() {
        heads.push(sample[0].clone());
        vocab.extend(sample.iter().cloned());
    }
    for w in [
        "env",
        "ip",
        "netns",
        "net",
        "exec",
        "e",
        "-b",
        "-n",
        "-s",
        "kill",
        "-9",
        "-HUP",
        "1",
        "+1",
        "sh",
        "-c",
        "id",
        "cat",
        "/etc/shadow",
        "privsep-helper",
        "",
        "a\n",
        "LD_PRELOAD=/tmp/x.so",
        "LC_ALL=C",
        "/tmp/evil/ls",
        "../../bin/sh",
        "./ls",
        "ls",
        "--config-file",
        "/etc/nova/nova.conf",
        "-c3",
        "ionice",
        "dd",
        "chown",
        "root",
        "/var/lib/nova",
    ] {
        heads.push(w.to_string());
        vocab.push(w.to_string());
    }
    heads.sort();
    heads.dedup();
    vocab.sort();
    vocab.dedup();
    let mut rng = Lcg(0x005e_ed0f_0510);
    let mut cases = Vec::new();
    for _ in 0..3000 {
        let len = 1 + rng.next(7);
        let mut args = vec![heads[rng.next(heads.len())].clone()];
        for _ in 1..len {
            args.push(vocab[rng.next(vocab.len())].clone());
        }
        cases.push(Case {
            args,
            stricter: Some(Stricter::Classify),
        });
    }
    // Also every pattern sample, extended with random words (chaining filters chain them).
    for sample in samples.values().flatten() {
        let mut args = sample.clone();
        for _ in 0..rng.next(3) {
            args.push(heads[rng.next(heads.len())].clone());
        }
        cases.push(Case {
            args,
            stricter: Some(Stricter::Classify),
        });
    }
    let tally = compare(&world, &cases);
    eprintln!(
        "{} random cases over {} filters: {tally:?}",
        cases.len(),
        filters.len()
    );
    assert!(tally.same_allow >= 100, "{tally:?}");
    assert!(tally.same_refuse >= 500, "{tally:?}");
}
