//! Database URLs: any input parses or is refused without a panic, and a password never shows.

use oslo_db::{BackendKind, DbUrl, mask_password};
use proptest::prelude::*;

proptest! {
    #[test]
    fn parsing_never_panics(raw in ".{0,80}", params in "[a-z=&_]{0,20}") {
        let _ = DbUrl::parse(&raw, &params);
        let _ = mask_password(&raw);
    }

    #[test]
    fn the_password_is_masked(
        scheme in "(mysql\\+pymysql|postgresql|mysql|postgresql\\+psycopg2)",
        user in "[a-z]{1,8}",
        password in "[A-Za-z0-9!#^*()_/?-]{6,16}",
        host in "[a-z]{1,10}(\\.[a-z]{2,5})?",
        db in "[a-z_]{1,10}",
    ) {
        let raw = format!("{scheme}://{user}:{password}@{host}/{db}?charset=utf8");
        let masked = mask_password(&raw);
        prop_assert!(!masked.contains(&password), "{masked}");
        let url = DbUrl::parse(&raw, "").unwrap();
        prop_assert!(!url.to_string().contains(&password));
        let debug = format!("{:?}", url);
        prop_assert!(!debug.contains(&password));
        prop_assert_eq!(url.database(), Some(db.clone()));
        let backend = if scheme.starts_with("mysql") { BackendKind::Mysql } else { BackendKind::Postgres };
        prop_assert_eq!(url.backend(), backend);
        // The URL for the driver keeps user and password (percent-encoded), without SQLAlchemy's
        // `+driver` (and, for MySQL, `charset`).
        let parsed = url::Url::parse(url.diesel_url()).unwrap();
        prop_assert_eq!(parsed.username(), user.as_str());
        let decoded = percent_encoding::percent_decode_str(parsed.password().unwrap()).decode_utf8().unwrap();
        prop_assert_eq!(decoded.as_ref(), password.as_str());
        prop_assert!(!parsed.scheme().contains('+'));
        if backend == BackendKind::Mysql {
            prop_assert!(parsed.query().is_none());
        }
    }
}

#[test]
fn passwords_with_url_syntax_are_masked() {
    for raw in [
        "postgresql://nova:p%40ss@db:5432/nova",
        "mysql+pymysql://nova:a:b@db/nova",
        "mysql+pymysql://nova:a/b?c#d@db/nova",
        "mysql://nova:p@ss@db/nova",
    ] {
        let masked = mask_password(raw);
        assert!(masked.contains("nova:****@db"), "{raw} → {masked}");
    }
}
