//! Differential tests of oslo-policy against Python oslo.policy: generated rules, credentials and targets
//! (seeded, hundreds per run), loaded from a policy file by both enforcers; every decision (allow, deny,
//! or an error out of `enforce`) must agree.
#![cfg(feature = "policy")]

use std::fmt::Write as _;
use std::path::Path;

use oslo_policy::Enforcer;
use oslo_tests::run_python_json;
use serde_json::{Value, json};

/// The Python side: loads the policy file (and registered defaults) into an `Enforcer` and runs every
/// case, printing `allow`, `deny` or `error` for each.
pub const ORACLE: &str = r#"
import json, logging, sys, warnings
warnings.simplefilter('ignore')
logging.disable(logging.CRITICAL)
from oslo_config import cfg
from oslo_policy import policy
req = json.load(sys.stdin)
conf = cfg.ConfigOpts()
conf([], project='oslo-rs-difftest')
enf = policy.Enforcer(conf, policy_file=req['policy_file'])
conf.set_override('policy_dirs', req.get('policy_dirs', []), group='oslo_policy')
conf.set_override('enforce_new_defaults', req.get('enforce_new_defaults', True), group='oslo_policy')
for d in req.get('defaults', []):
    dep = d.get('deprecated')
    if dep:
        dep = policy.DeprecatedRule(dep['name'], dep['check_str'], deprecated_reason='r', deprecated_since='s')
    enf.register_default(policy.RuleDefault(d['name'], d['check_str'], scope_types=d.get('scope_types'),
                                            deprecated_rule=dep))
out = []
for c in req['cases']:
    try:
        fn = enf.authorize if c.get('authorize') else enf.enforce
        out.append('allow' if fn(c['rule'], c['target'], c['creds']) else 'deny')
    except Exception as e:
        out.append('error')
print(json.dumps(out))
"#;

/// Our side of one case.
pub fn decide(enforcer: &Enforcer, case: &Value) -> &'static str {
    let f = if case.get("authorize").and_then(Value::as_bool) == Some(true) {
        Enforcer::authorize
    } else {
        Enforcer::enforce
    };
    let rule = case["rule"].as_str().unwrap_or_default();
    match f(enforcer, rule, &case["target"], &case["creds"]) {
        Ok(true) => "allow",
        Ok(false) => "deny",
        Err(_) => "error",
    }
}

/// Runs `cases` through both enforcers and returns the disagreements, described, and how many cases
/// each outcome had (`allow`, `deny`, `error`).
pub fn compare(request: &Value, enforcer: &Enforcer) -> (Vec<String>, [usize; 3]) {
    let theirs = run_python_json(ORACLE, &request.to_string());
    let cases = request["cases"].as_array().expect("cases");
    let theirs = theirs.as_array().expect("a list of results");
    assert_eq!(theirs.len(), cases.len());
    let mut bad = Vec::new();
    let mut counts = [0; 3];
    for (case, want) in cases.iter().zip(theirs) {
        let got = decide(enforcer, case);
        counts[match got {
            "allow" => 0,
            "deny" => 1,
            _ => 2,
        }] += 1;
        if want.as_str() != Some(got) {
            bad.push(format!("python {want}, ours {got}: {case}"));
        }
    }
    (bad, counts)
}

/// SplitMix64: a small seeded generator, so a failing run can be repeated.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const ROLES: &[&str] = &[
    "ädmin",
    "ΑΣ",
    "admin",
    "member",
    "reader",
    "Admin",
    "MEMBER",
    "%(role)s",
    "%(missing)s",
    "%(num)s",
];
const KINDS: &[&str] = &[
    "project_id",
    "user_id",
    "is_admin",
    "domain_id",
    "domain.id",
    "nested.list.x",
    "nested.deep.a.b",
    "roles",
    "system",
    "missing",
    "True",
    "False",
    "None",
    "'member'",
    "\"p1\"",
    "1",
    "1.5",
    "-2",
    "0x10",
    "[1,2]",
    "(1,)",
    "user_id.x",
    "1abc",
    "if",
    "a-b",
    "tenant",
];
const MATCHES: &[&str] = &[
    "p1",
    "p2",
    "u1",
    "True",
    "False",
    "None",
    "1",
    "1.5",
    "16",
    "member",
    "[1, 2]",
    "(1,)",
    "%(project_id)s",
    "%(user_id)s",
    "%(missing)s",
    "%(num)s",
    "%(num)d",
    "%(num)05d",
    "%(flt)s",
    "%(flt).1f",
    "%(flag)s",
    "%(list)s",
    "%(obj)s",
    "%(role)s",
    "%(project_id)r",
    "%(project_id)d",
    "100%",
    "%(role)q",
    "x%%y",
    "%(nested.x)s",
    "%(num)x",
    "%(num)#o",
    "%(flt)e",
    "%(flt)g",
    "%(flt)+.2e",
    "%(num)c",
    "%(role)-8s|",
    "%(role).2s",
    "%(num)5.3d",
    "%(flag)d",
    "%(list)r",
    "%(obj)a",
    "%s",
    "%(",
];

fn atom(rng: &mut Rng, index: usize, count: usize) -> String {
    match rng.below(20) {
        0..=4 => format!("role:{}", rng.pick(ROLES)),
        5..=7 => {
            // References only go forward, so rules do not form cycles (cycles are tested on their own).
            let target = if index + 1 < count && rng.chance(80) {
                format!("r{}", index + 1 + rng.below(count - index - 1))
            } else {
                rng.pick(&["undefined", "default", "admin_required"])
                    .to_string()
            };
            format!("rule:{target}")
        }
        8..=16 => format!("{}:{}", rng.pick(KINDS), rng.pick(MATCHES)),
        17 => rng.pick(&["@", "!"]).to_string(),
        18 => rng.pick(&["nocolon", "ROLE:admin", "Rule:r1"]).to_string(),
        _ => format!("{}:{}", rng.pick(KINDS), rng.pick(&["a:b", "(x)", "p1)"])),
    }
}

fn expr(rng: &mut Rng, depth: usize, index: usize, count: usize) -> String {
    if depth == 0 || rng.chance(30) {
        return atom(rng, index, count);
    }
    let op = |rng: &mut Rng, w: &'static str| -> &'static str {
        match rng.below(10) {
            0 => match w {
                "and" => "AND",
                "or" => "Or",
                _ => "NOT",
            },
            _ => w,
        }
    };
    match rng.below(10) {
        0..=2 => format!(
            "{} {} {}",
            expr(rng, depth - 1, index, count),
            op(rng, "and"),
            expr(rng, depth - 1, index, count)
        ),
        3..=5 => format!(
            "{} {} {}",
            expr(rng, depth - 1, index, count),
            op(rng, "or"),
            expr(rng, depth - 1, index, count)
        ),
        6 => format!("{} {}", op(rng, "not"), expr(rng, depth - 1, index, count)),
        _ => format!("({})", expr(rng, depth - 1, index, count)),
    }
}

fn rule_value(rng: &mut Rng, index: usize, count: usize) -> Value {
    match rng.below(40) {
        0 => json!(""),
        1 => json!([]),
        2 => json!([[]]),
        3 => Value::Null,
        4 => json!(false),
        5..=7 => {
            let n = 1 + rng.below(3);
            let outer: Vec<Value> = (0..n)
                .map(|_| {
                    if rng.chance(30) {
                        json!(atom(rng, index, count))
                    } else {
                        let m = rng.below(3);
                        json!((0..m).map(|_| atom(rng, index, count)).collect::<Vec<_>>())
                    }
                })
                .collect();
            json!(outer)
        }
        8 => {
            // A broken rule: dangling operator, unbalanced parentheses, a quoted string, two checks.
            let e = expr(rng, 2, index, count);
            json!(match rng.below(5) {
                0 => format!("{e} and"),
                1 => format!("({e}"),
                2 => format!("{e})"),
                3 => format!("'{e}'"),
                _ => format!("{e} {e}"),
            })
        }
        _ => json!(expr(rng, 4, index, count)),
    }
}

fn creds(rng: &mut Rng) -> Value {
    let mut c = serde_json::Map::new();
    if rng.chance(85) {
        let roles: Vec<Value> = ["admin", "member", "Reader", "ADMIN", "other", "ÄDMIN", "ας"]
            .iter()
            .filter(|_| rng.chance(35))
            .map(|r| json!(r))
            .collect();
        c.insert("roles".into(), json!(roles));
    } else if rng.chance(50) {
        c.insert("roles".into(), json!("admin"));
    }
    let pick_val = |rng: &mut Rng| -> Value {
        rng.pick(&[
            json!("p1"),
            json!("p2"),
            Value::Null,
            json!(1),
            json!(16),
            json!(true),
            json!(1.5),
        ])
        .clone()
    };
    for key in ["project_id", "user_id", "domain_id", "tenant", "system"] {
        if rng.chance(60) {
            let v = if key == "user_id" {
                json!(rng.pick(&["u1", "u2"]))
            } else {
                pick_val(rng)
            };
            c.insert(key.into(), v);
        }
    }
    if rng.chance(50) {
        c.insert("is_admin".into(), json!(rng.chance(50)));
    }
    if rng.chance(15) {
        c.insert("system_scope".into(), json!("all"));
    }
    if rng.chance(40) {
        c.insert("domain".into(), json!({"id": rng.pick(&["d1", "p1"])}));
    }
    if rng.chance(40) {
        c.insert(
            "nested".into(),
            json!({"list": [{"x": "1"}, {"x": 16}, {"y": "p1"}], "deep": {"a": {"b": rng.pick(&["p1", "True"])}}}),
        );
    }
    Value::Object(c)
}

fn target(rng: &mut Rng) -> Value {
    let mut t = serde_json::Map::new();
    let entries = [
        ("project_id", json!(rng.pick(&["p1", "p2"]))),
        ("user_id", json!(rng.pick(&["u1", "u2"]))),
        ("role", json!(rng.pick(&["admin", "Member", "READER"]))),
        (
            "num",
            rng.pick(&[json!(16), json!("16"), json!(1), json!(true)])
                .clone(),
        ),
        (
            "flt",
            rng.pick(&[json!(1.5), json!(1.0), json!(1e16), json!(0.0001)])
                .clone(),
        ),
        ("flag", json!(rng.chance(50))),
        ("list", json!([1, "a"])),
        ("obj", json!({"a": 1})),
        ("nested.x", json!("1")),
    ];
    for (k, v) in entries {
        if rng.chance(80) {
            t.insert(k.into(), v);
        }
    }
    Value::Object(t)
}

fn random_policy(rng: &mut Rng, count: usize) -> serde_json::Map<String, Value> {
    let mut rules = serde_json::Map::new();
    for i in 0..count {
        rules.insert(format!("r{i}"), rule_value(rng, i, count));
    }
    if rng.chance(70) {
        rules.insert("default".into(), json!(expr(rng, 2, count, count)));
    }
    rules.insert(
        "admin_required".into(),
        json!("role:admin or is_admin:True"),
    );
    rules
}

fn enforcer_for(path: &Path) -> Enforcer {
    Enforcer::builder()
        .policy_file(path)
        .policy_dirs(Vec::<String>::new())
        .build()
}

#[test]
fn random_rules_agree_with_python() {
    let seed: u64 = std::env::var("POLICY_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_121);
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut all_bad = Vec::new();
    let mut total = 0;
    let mut outcomes = [0; 3];
    for round in 0..8 {
        let count = 40;
        let rules = random_policy(&mut rng, count);
        let path = dir.path().join(format!("policy-{round}.json"));
        std::fs::write(&path, serde_json::to_string_pretty(&rules).unwrap()).unwrap();
        let mut cases = Vec::new();
        for _ in 0..120 {
            let rule = if rng.chance(95) {
                format!("r{}", rng.below(count))
            } else {
                "unknown".into()
            };
            cases.push(json!({"rule": rule, "target": target(&mut rng), "creds": creds(&mut rng)}));
        }
        total += cases.len();
        let request = json!({"policy_file": path, "cases": cases});
        let enforcer = enforcer_for(&path);
        let (bad, counts) = compare(&request, &enforcer);
        for (o, c) in outcomes.iter_mut().zip(counts) {
            *o += c;
        }
        for b in bad {
            let rule =
                serde_json::from_str::<Value>(b.split_once(": ").unwrap().1).unwrap()["rule"]
                    .clone();
            let text = rules
                .get(rule.as_str().unwrap_or(""))
                .cloned()
                .unwrap_or(Value::Null);
            all_bad.push(format!(
                "seed {seed} round {round}: {b}\n    rule text: {text}"
            ));
        }
    }
    let mut report = String::new();
    for b in all_bad.iter().take(20) {
        let _ = writeln!(report, "{b}");
    }
    assert!(
        all_bad.is_empty(),
        "{} of {total} decisions differ:\n{report}",
        all_bad.len()
    );
    // The generator must exercise every outcome, or agreeing proves little.
    let [allow, deny, error] = outcomes;
    assert!(
        allow > total / 10 && deny > total / 10 && error > total / 100,
        "{outcomes:?}"
    );
}

/// The printed form of each parsed rule (oslo's `str(check)`, what the checker, the sample generator
/// and `list-redundant` compare) is the same as Python's, for generated rules, legacy lists and
/// hand-picked odd ones.
#[test]
fn printed_trees_agree_with_python() {
    let mut rng = Rng(7);
    let mut values: Vec<Value> = (0..600).map(|i| rule_value(&mut rng, i % 40, 40)).collect();
    for odd in [
        "((role:a))",
        "not not role:a",
        "role:a or role:b and role:c or not role:d and role:e",
        "(role:a or role:b) and role:c",
        "role:c or (role:a and role:b) and role:d",
        "role:a(b)",
        "'role:a'",
        "\"quoted\" or role:a",
        "AND role:a",
        "role:a and",
        "   ",
        "@ or !",
        "role:a\tand\nrole:b",
        "role:a\u{1c}or\u{a0}role:b",
        "( ( role:a ) )",
        "http://example.com/%(x)s",
        "rule:a:b:c",
        "NOT (role:a OR role:b)",
        "(\"a:b\")",
        "(role:a and 'x:y')",
        "('x:y' and role:a)",
        "not ( role:a",
    ] {
        values.push(json!(odd));
    }
    let theirs = run_python_json(
        r#"
import json, logging, sys
logging.disable(logging.CRITICAL)
from oslo_policy import _parser
out = []
for v in json.load(sys.stdin):
    try:
        out.append(str(_parser.parse_rule(v)))
    except Exception as e:
        out.append('error: %s' % type(e).__name__)
print(json.dumps(out))
"#,
        &Value::Array(values.clone()).to_string(),
    );
    let registry = oslo_policy::CheckRegistry::new();
    let mut bad = Vec::new();
    for (v, want) in values.iter().zip(theirs.as_array().unwrap()) {
        let ours = match oslo_policy::parse_value(v, &registry) {
            Ok(p) => p.check.to_string(),
            Err(_) => "error".into(),
        };
        let want = want.as_str().unwrap();
        if ours != want && !(ours == "error" && want.starts_with("error")) {
            bad.push(format!("{v}: python {want:?}, ours {ours:?}"));
        }
    }
    assert!(bad.is_empty(), "{} differ:\n{}", bad.len(), bad.join("\n"));
}
