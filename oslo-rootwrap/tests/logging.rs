//! Logging of every allow and deny: the events reach a syslog socket in the original's format
//! (`<PRI>ident: message` and a NUL), at the configured level.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use oslo_rootwrap::logging::{RootwrapSubscriber, Syslog};
use oslo_rootwrap::{Facility, LoadOptions, Rootwrap};

fn received(sock: &UnixDatagram) -> Vec<String> {
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = sock.recv(&mut buf) {
        out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    out
}

#[test]
fn allows_and_denials_reach_syslog_in_the_original_format() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("rootwrap.d")).unwrap();
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::write(
        root.join("rootwrap.d/t.filters"),
        "[Filters]\nok: CommandFilter, okcmd, root\ngone: CommandFilter, missing, root\n",
    )
    .unwrap();
    let stub = root.join("bin/okcmd");
    std::fs::write(&stub, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    let conf = root.join("rootwrap.conf");
    std::fs::write(
        &conf,
        format!(
            "[DEFAULT]\nfilters_path={0}/rootwrap.d\nexec_dirs={0}/bin\nuse_syslog=True\n\
             syslog_log_facility=LOG_AUTH\nsyslog_log_level=INFO\n",
            root.display()
        ),
    )
    .unwrap();
    let rootwrap = Rootwrap::load_with(&conf, LoadOptions::default()).unwrap();
    assert_eq!(rootwrap.config().syslog_log_facility, Facility(4));
    assert_eq!(rootwrap.config().syslog_log_level, 20);

    let sock_path = root.join("log.sock");
    let server = UnixDatagram::bind(&sock_path).unwrap();
    let syslog =
        Syslog::connect_to(sock_path.to_str().unwrap(), "nova-rootwrap", Facility(4)).unwrap();
    let subscriber = RootwrapSubscriber::syslog(syslog, rootwrap.config().syslog_log_level);
    tracing::subscriber::with_default(subscriber, || {
        assert_eq!(rootwrap.run(&["okcmd".to_string()]).unwrap(), 0);
        assert!(rootwrap.run(&["cat".into(), "/etc/shadow".into()]).is_err());
        assert!(rootwrap.run(&["missing".to_string()]).is_err());
    });
    let lines = received(&server);
    assert_eq!(lines.len(), 3, "{lines:?}");
    // auth (4) * 8 + info (6) = 38; err (3) = 35.
    assert!(lines[0].starts_with("<38>nova-rootwrap: ("), "{}", lines[0]);
    assert!(
        lines[0].contains("Executing ['") && lines[0].ends_with("(filter match = ok)\0"),
        "{}",
        lines[0]
    );
    assert_eq!(
        lines[1],
        "<35>nova-rootwrap: Unauthorized command: cat /etc/shadow (no filter matched)\0"
    );
    assert_eq!(
        lines[2],
        "<35>nova-rootwrap: Executable not found: missing (filter match = gone)\0"
    );
}

#[test]
fn the_default_level_sends_only_errors() {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("log.sock");
    let server = UnixDatagram::bind(&sock_path).unwrap();
    let syslog = Syslog::connect_to(sock_path.to_str().unwrap(), "x", Facility(5)).unwrap();
    tracing::subscriber::with_default(RootwrapSubscriber::syslog(syslog, 40), || {
        tracing::info!("not sent");
        tracing::warn!("not sent either");
        tracing::error!("sent");
    });
    assert_eq!(received(&server), vec!["<43>x: sent\0".to_string()]);
}
