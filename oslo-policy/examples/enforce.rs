//! Enforce one rule of a policy file for some credentials and a target, as a service does per request.
//!
//!     cargo run -p oslo-policy --example enforce -- POLICY_FILE RULE 'CREDS_JSON' 'TARGET_JSON'
//!
//! Without arguments it uses a small embedded policy.

use std::process::ExitCode;

use oslo_policy::{Enforcer, Error};
use serde_json::Value;

const EMBEDDED: &str = r#"
"admin_required": "role:admin or is_admin:True"
"owner": "project_id:%(project_id)s"
"compute:start": "rule:admin_required or (role:member and rule:owner)"
"#;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = std::env::temp_dir().join(format!("oslo-policy-example-{}", std::process::id()));
    let (file, rule, creds, target) = match args.as_slice() {
        [file, rule, creds, target] => (file.into(), rule.clone(), creds.clone(), target.clone()),
        _ => {
            let _ = std::fs::create_dir_all(&dir);
            let file = dir.join("policy.yaml");
            if let Err(e) = std::fs::write(&file, EMBEDDED) {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
            (
                file,
                "compute:start".into(),
                r#"{"roles": ["member"], "project_id": "p1"}"#.into(),
                r#"{"project_id": "p1"}"#.into(),
            )
        }
    };
    let parse = |s: &str| serde_json::from_str::<Value>(s);
    let (Ok(creds), Ok(target)) = (parse(&creds), parse(&target)) else {
        eprintln!("error: credentials and target must be JSON objects");
        return ExitCode::from(2);
    };
    let enforcer = Enforcer::builder().policy_file(file).build();
    let result = enforcer.enforce_or_err(&rule, &target, &creds);
    let _ = std::fs::remove_dir_all(&dir);
    for e in enforcer.load_errors() {
        eprintln!("warning: {e}");
    }
    match result {
        Ok(()) => {
            println!("{rule}: allowed");
            ExitCode::SUCCESS
        }
        Err(e @ (Error::NotAuthorized { .. } | Error::InvalidScope { .. })) => {
            println!("{rule}: denied ({e})");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
