//! oslo-policy: a small "compute" service registers its rules in code, an operator's `policy.yaml`
//! (written to a temporary directory) overrides one of them, and a few requests are checked, allowed and
//! denied, including one with a token of the wrong scope.

use oslo_policy::{Enforcer, Error, RuleDefault};
use serde_json::json;

const POLICY_YAML: &str = r#"# The operator lets members of a project start its servers, not only admins.
"compute:start": "rule:admin_api or (role:member and project_id:%(project_id)s)"
"#;

/// Runs the part.
pub fn run() -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("oslo-rs-demo-policy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let file = dir.join("policy.yaml");
    std::fs::write(&file, POLICY_YAML).map_err(|e| e.to_string())?;
    let result = show(&file);
    let _ = std::fs::remove_dir_all(&dir);
    result.map_err(|e| e.to_string())
}

fn show(file: &std::path::Path) -> Result<(), Error> {
    let enforcer = Enforcer::builder().policy_file(file).build();
    enforcer.register_defaults([
        RuleDefault::new("admin_api", "role:admin").description("Administrators."),
        RuleDefault::new(
            "compute:get",
            "rule:admin_api or (role:reader and project_id:%(project_id)s)",
        )
        .description("Show a server.")
        .operation("GET", "/servers/{server_id}")
        .scope_types(["project"]),
        RuleDefault::new("compute:start", "rule:admin_api")
            .description("Start a server.")
            .operation("POST", "/servers/{server_id}/action (os-start)")
            .scope_types(["project"]),
        RuleDefault::new("compute:hosts", "role:admin")
            .description("List hypervisor hosts.")
            .operation("GET", "/os-hosts")
            .scope_types(["system"]),
    ])?;
    println!("policy file {} overrides `compute:start`", file.display());

    let alice = json!({"user_id": "alice", "project_id": "p1", "roles": ["member", "reader"]});
    let bob = json!({"user_id": "bob", "project_id": "p2", "roles": ["reader"]});
    let admin = json!({"user_id": "root", "system_scope": "all", "roles": ["admin"]});
    let server_in_p1 = json!({"project_id": "p1"});
    let requests = [
        ("alice", &alice, "compute:get", &server_in_p1),
        ("alice", &alice, "compute:start", &server_in_p1),
        ("bob", &bob, "compute:get", &server_in_p1),
        ("bob", &bob, "compute:start", &server_in_p1),
        ("admin (system scope)", &admin, "compute:hosts", &json!({})),
        ("alice", &alice, "compute:hosts", &json!({})),
        ("admin (system scope)", &admin, "compute:get", &server_in_p1),
    ];
    for (who, creds, rule, target) in requests {
        let verdict = match enforcer.authorize_or_err(rule, target, creds) {
            Ok(()) => "allowed".to_string(),
            Err(e @ (Error::NotAuthorized { .. } | Error::InvalidScope { .. })) => {
                format!("denied: {e}")
            }
            Err(e) => return Err(e),
        };
        println!("  {who:<22} {rule:<14} on {target}: {verdict}");
    }
    Ok(())
}
