//! oslo-rootwrap at work, without root: a `rootwrap.conf` and a filter file in a temporary directory, one
//! command the filters allow (it runs, with a cleared environment) and one they refuse (exit status 99,
//! as `sudo oslo-rootwrap` reports it).

use std::path::PathBuf;

use oslo_rootwrap::{LoadOptions, Rootwrap};

const FILTERS: &str = "\
[Filters]
# name: class, executable (looked up in exec_dirs), run as, one pattern per word
echo: RegExpFilter, echo, root, echo, hello-[a-z]+
";

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run_one(rootwrap: &Rootwrap, words: &[&str]) -> i32 {
    let args: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    println!("$ sudo oslo-rootwrap rootwrap.conf {}", words.join(" "));
    let code = match rootwrap.run(&args) {
        Ok(code) => code,
        Err(e) => {
            println!("refused: {e}");
            e.exit_code()
        }
    };
    println!("  exit status {code}");
    code
}

/// Runs the part.
pub fn run() -> Result<(), String> {
    let dir =
        TempDir(std::env::temp_dir().join(format!("oslo-rootwrap-demo-{}", std::process::id())));
    let filters_dir = dir.0.join("rootwrap.d");
    std::fs::create_dir_all(&filters_dir).map_err(|e| e.to_string())?;
    std::fs::write(filters_dir.join("demo.filters"), FILTERS).map_err(|e| e.to_string())?;
    let conf = dir.0.join("rootwrap.conf");
    std::fs::write(
        &conf,
        format!(
            "[DEFAULT]\nfilters_path = {}\nexec_dirs = /usr/bin,/bin\n",
            filters_dir.display()
        ),
    )
    .map_err(|e| e.to_string())?;
    let rootwrap = Rootwrap::load_with(&conf, LoadOptions::default()).map_err(|e| e.to_string())?;
    println!("filters: {FILTERS}");
    let allowed = run_one(&rootwrap, &["echo", "hello-rootwrap"]);
    let refused = run_one(&rootwrap, &["cat", "/etc/shadow"]);
    if allowed != 0 || refused != oslo_rootwrap::RC_UNAUTHORIZED {
        return Err(format!("unexpected exit statuses {allowed} and {refused}"));
    }
    Ok(())
}
