//! Behaviour of the value types through the public API: parsing, bounds, choices, messages, typed
//! checks, definitions, type names and sample formatting. (`tests/tests/config_types_conformance.rs` in
//! the workspace compares the same parsing with Python's oslo.config on thousands of inputs.)

use std::sync::Arc;

use indexmap::IndexMap;
use oslo_config::types::{
    CustomType, DictType, FloatType, IntegerType, InvalidValue, IpVersion, ListType, OptType,
    StringType, UriType, Value,
};
use proptest::prelude::*;

fn ok(ty: &OptType, raw: &str) -> Value {
    match ty.parse(raw) {
        Ok(Some(v)) => v,
        other => panic!("{raw:?} should parse, got {other:?}"),
    }
}

fn err(ty: &OptType, raw: &str) -> String {
    match ty.parse(raw) {
        Err(e) => e.to_string(),
        other => panic!("{raw:?} should be refused, got {other:?}"),
    }
}

fn s(text: &str) -> Value {
    Value::from(text)
}

fn list(items: &[&str]) -> Value {
    Value::List(items.iter().map(|i| s(i)).collect())
}

#[test]
fn string_checks_run_in_oslo_order() {
    let plain = OptType::string();
    assert_eq!(ok(&plain, "  kept as is "), s("  kept as is "));

    let quoted = OptType::String(StringType::new().quotes(true));
    assert_eq!(ok(&quoted, "\"a b\""), s("a b"));
    assert_eq!(ok(&quoted, "'it\"s'"), s("it\"s"));
    assert_eq!(ok(&quoted, "''"), s(""));
    assert_eq!(ok(&quoted, "no quotes"), s("no quotes"));
    assert_eq!(ok(&quoted, "trailing'"), s("trailing'"));
    assert_eq!(err(&quoted, "'open"), "Non-closed quote: 'open");
    assert_eq!(err(&quoted, "'mixed\""), "Non-closed quote: 'mixed\"");
    assert_eq!(err(&quoted, "\""), "Non-closed quote: \"");

    // max_length counts characters after the quotes are stripped; 0 means no limit.
    let short = OptType::String(StringType::new().quotes(true).max_length(3));
    assert_eq!(ok(&short, "'abc'"), s("abc"));
    assert_eq!(ok(&short, "ééé"), s("ééé"));
    assert_eq!(err(&short, "abcd"), "Value 'abcd' exceeds maximum length 3");
    let unlimited = OptType::String(StringType::new().max_length(0));
    assert_eq!(ok(&unlimited, &"x".repeat(1000)), s(&"x".repeat(1000)));
}

#[test]
fn string_regex_is_searched_not_anchored() {
    let ty = OptType::String(StringType::new().regex_pattern("[0-9]+").unwrap());
    assert_eq!(ok(&ty, "abc123def"), s("abc123def"));
    assert_eq!(err(&ty, "abc"), "Value 'abc' doesn't match regex '[0-9]+'");

    let folded = OptType::String(
        StringType::new()
            .regex_pattern("^ab")
            .unwrap()
            .ignore_case(true),
    );
    assert_eq!(ok(&folded, "ABc"), s("ABc"));

    // As in Python, `$` also matches before a final newline (and only there).
    let anchored = OptType::String(StringType::new().regex_pattern("^abc$").unwrap());
    assert!(anchored.parse("abc\n").is_ok());
    assert!(anchored.parse("abc\n\n").is_err());
    let python = OptType::String(StringType::new().python_regex(r"^abc\Z").unwrap());
    assert!(python.parse("abc").is_ok());
    assert_eq!(
        err(&python, "abc\n"),
        "Value 'abc\\n' doesn't match regex '^abc\\\\Z'"
    );
    let class = OptType::String(StringType::new().python_regex("^[[&]+$").unwrap());
    assert!(class.parse("[&[").is_ok());

    // Python look-arounds are not available.
    assert!(StringType::new().regex_pattern("(?!x)a").is_err());
}

#[test]
fn string_choices_keep_the_case_written() {
    let ty = OptType::String(
        StringType::new()
            .choices_with_descriptions([("fast", Some("quick and dirty")), ("Safe", None)]),
    );
    assert_eq!(ok(&ty, "fast"), s("fast"));
    assert_eq!(
        err(&ty, "safe"),
        "Valid values are [fast, Safe], but found 'safe'"
    );

    let folded = OptType::String(
        StringType::new()
            .choices(["fast", "Safe"])
            .ignore_case(true),
    );
    assert_eq!(ok(&folded, "SAFE"), s("SAFE"));
    assert_eq!(ok(&folded, "Fast"), s("Fast"));
    assert_eq!(
        err(&folded, "slow"),
        "Valid values are [fast, Safe], but found 'slow'"
    );
}

#[test]
fn boolean_spellings() {
    let ty = OptType::boolean();
    for word in ["true", "TRUE", "1", "on", "On", "yes", "yEs"] {
        assert_eq!(ok(&ty, word), Value::Boolean(true), "{word}");
    }
    for word in ["false", "False", "0", "off", "OFF", "no", "No"] {
        assert_eq!(ok(&ty, word), Value::Boolean(false), "{word}");
    }
    assert_eq!(err(&ty, "y"), "Unexpected boolean value 'y'");
    assert_eq!(err(&ty, ""), "Unexpected boolean value ''");
    assert_eq!(err(&ty, " true"), "Unexpected boolean value ' true'");
}

#[test]
fn integers_follow_python_int() {
    let ty = OptType::integer();
    assert_eq!(ok(&ty, " 42\n"), Value::Integer(42));
    assert_eq!(ok(&ty, "-7"), Value::Integer(-7));
    assert_eq!(ok(&ty, "+7"), Value::Integer(7));
    assert_eq!(ok(&ty, "007"), Value::Integer(7));
    assert_eq!(ok(&ty, "1_000"), Value::Integer(1000));
    assert_eq!(ok(&ty, "٤٢"), Value::Integer(42));
    assert_eq!(ok(&ty, "-9223372036854775808"), Value::Integer(i64::MIN));
    assert_eq!(ty.parse("").unwrap(), None);
    assert_eq!(ty.parse(" \t").unwrap(), None);
    assert_eq!(
        err(&ty, "0x10"),
        "invalid literal for int() with base 10: '0x10'"
    );
    assert_eq!(
        err(&ty, "5.0"),
        "invalid literal for int() with base 10: '5.0'"
    );
    assert_eq!(
        err(&ty, "1__0"),
        "invalid literal for int() with base 10: '1__0'"
    );
    assert_eq!(
        err(&ty, "9223372036854775808"),
        "Value '9223372036854775808' is outside the 64-bit integer range"
    );
    // Python cuts its repr of the text at 200 characters.
    assert_eq!(
        err(&ty, &"x".repeat(500)).len(),
        "invalid literal for int() with base 10: ".len() + 200
    );
}

#[test]
fn integer_bounds_and_choices() {
    let ty = OptType::Integer(IntegerType::new().min(1).max(1_234_567));
    assert_eq!(ok(&ty, "1"), Value::Integer(1));
    assert_eq!(err(&ty, "0"), "Should be greater than or equal to 1");
    // oslo prints bounds with `%g`.
    assert_eq!(
        err(&ty, "2000000"),
        "Should be less than or equal to 1.23457e+06"
    );
    // A number beyond 64 bits still gets the bound's message.
    assert_eq!(
        err(&ty, "1".repeat(30).as_str()),
        "Should be less than or equal to 1.23457e+06"
    );

    // Choices replace the bounds.
    let chosen = OptType::Integer(IntegerType::new().choices([1, 5, 10]));
    assert_eq!(ok(&chosen, "5"), Value::Integer(5));
    assert_eq!(
        err(&chosen, "6"),
        "Valid values are [1, 5, 10], but found 6"
    );
}

#[test]
fn ports() {
    let ty = OptType::port();
    assert_eq!(ok(&ty, "0"), Value::Integer(0));
    assert_eq!(ok(&ty, "65535"), Value::Integer(65535));
    assert_eq!(err(&ty, "65536"), "Should be less than or equal to 65535");
    assert_eq!(err(&ty, "-1"), "Should be greater than or equal to 0");
    assert_eq!(ty.parse(" ").unwrap(), None);
    let high = OptType::Port(IntegerType::new().min(1024));
    assert_eq!(err(&high, "80"), "Should be greater than or equal to 1024");
    let web = OptType::Port(IntegerType::new().choices([80, 443]));
    assert_eq!(
        err(&web, "8080"),
        "Valid values are [80, 443], but found 8080"
    );
}

#[test]
fn floats_follow_python_float() {
    let ty = OptType::float();
    assert_eq!(ok(&ty, "1e3"), Value::Float(1000.0));
    assert_eq!(ok(&ty, " 3 "), Value::Float(3.0));
    assert_eq!(ok(&ty, ".5"), Value::Float(0.5));
    assert_eq!(ok(&ty, "1_0.2_5"), Value::Float(10.25));
    assert_eq!(ok(&ty, "-Infinity"), Value::Float(f64::NEG_INFINITY));
    assert!(matches!(ok(&ty, "nan"), Value::Float(x) if x.is_nan()));
    assert_eq!(ty.parse("").unwrap(), None);
    assert_eq!(err(&ty, "1,5"), "could not convert string to float: '1,5'");
    assert_eq!(err(&ty, "."), "could not convert string to float: '.'");

    let bounded = OptType::Float(FloatType::new().min(0.5).max(1e6));
    assert_eq!(
        err(&bounded, "0.25"),
        "Should be greater than or equal to 0.5"
    );
    assert_eq!(
        err(&bounded, "2e6"),
        "Should be less than or equal to 1e+06"
    );
    // NaN compares false with both bounds, so it passes them, as in Python.
    assert!(bounded.parse("nan").is_ok());
}

#[test]
fn lists() {
    let ty = OptType::list(OptType::string());
    assert_eq!(ok(&ty, " a, b ,c,"), list(&["a", "b", "c"]));
    assert_eq!(ok(&ty, "a,,b"), list(&["a", "", "b"]));
    assert_eq!(ok(&ty, ""), list(&[]));
    assert_eq!(ok(&ty, ",,,"), list(&[]));
    // Plain strings keep their quotes (and their commas split them).
    assert_eq!(ok(&ty, "\"a, b\", c"), list(&["\"a", "b\"", "c"]));

    let bounded = OptType::List(ListType::new(OptType::string()).bounds(true));
    assert_eq!(ok(&bounded, "[a, b]"), list(&["a", "b"]));
    assert_eq!(ok(&bounded, "[]"), list(&[]));
    assert_eq!(err(&bounded, "a, b]"), "Value should start with \"[\"");
    assert_eq!(err(&bounded, "[a, b"), "Value should end with \"]\"");

    // An item its type refuses is joined with the next pieces until it passes.
    let quoted = OptType::list(OptType::String(StringType::new().quotes(true)));
    assert_eq!(ok(&quoted, "\"a, b\", c"), list(&["a, b", "c"]));
    assert_eq!(ok(&quoted, "'x,y,z'"), list(&["x,y,z"]));
    assert_eq!(err(&quoted, "\"a, b"), "Non-closed quote: \"a, b");

    let ints = OptType::list(OptType::integer());
    assert_eq!(
        ok(&ints, "1, 2,3"),
        Value::List(vec![1.into(), 2.into(), 3.into()])
    );
    assert_eq!(
        err(&ints, "1,x"),
        "invalid literal for int() with base 10: 'x'"
    );
    // oslo reads `1,,2` as [1, None, 2]; a Value has no None.
    assert_eq!(
        err(&ints, "1,,2"),
        "Blank item is not allowed in a list of integer values"
    );
    // A later error wins over the blank item, as oslo would report it.
    assert_eq!(
        err(&ints, "1,,x"),
        "invalid literal for int() with base 10: 'x'"
    );
}

#[test]
fn dicts() {
    let ty = OptType::dict(OptType::string());
    let mut expected = IndexMap::new();
    expected.insert("b".to_owned(), s("2"));
    expected.insert("a".to_owned(), s("x:y"));
    assert_eq!(ok(&ty, " b : 2 , a:x:y"), Value::Dict(expected));
    assert_eq!(ok(&ty, ""), Value::Dict(IndexMap::new()));
    assert_eq!(err(&ty, "a:1,a:2"), "Duplicate key a");
    assert_eq!(
        err(&ty, "a:1,b"),
        "Value should be NAME:VALUE pairs separated by \",\""
    );
    assert_eq!(
        err(&ty, "a:1,"),
        "Value should be NAME:VALUE pairs separated by \",\""
    );
    assert_eq!(err(&ty, ":1"), "Key name should not be empty");
    // A piece without `:` is joined to the next one, so keys may hold commas.
    assert_eq!(
        ok(&ty, "a,b:c").as_dict().unwrap().get("a,b"),
        Some(&s("c"))
    );

    let bounded = OptType::Dict(DictType::new(OptType::string()).bounds(true));
    assert_eq!(ok(&bounded, "{a:1}").as_dict().unwrap().len(), 1);
    assert_eq!(err(&bounded, "a:1}"), "Value should start with \"{\"");
    assert_eq!(err(&bounded, "{a:1"), "Value should end with \"}\"");

    let ints = OptType::dict(OptType::integer());
    assert_eq!(
        ok(&ints, "a:1").as_dict().unwrap().get("a"),
        Some(&Value::Integer(1))
    );
    assert_eq!(
        err(&ints, "a:"),
        "Blank value is not allowed in a dict of integer values"
    );
    let quoted = OptType::dict(OptType::String(StringType::new().quotes(true)));
    assert_eq!(
        ok(&quoted, "a:'x, y'").as_dict().unwrap().get("a"),
        Some(&s("x, y"))
    );
}

#[test]
fn ip_addresses_as_inet_pton() {
    let any = OptType::ip_address();
    for good in [
        "1.2.3.4",
        "0.0.0.0",
        "::",
        "::1",
        "fe80::1",
        "::ffff:10.0.0.1",
        "1:2:3:4:5:6:7:8",
    ] {
        assert_eq!(ok(&any, good), s(good));
    }
    for bad in [
        "01.2.3.4",
        "1.2.3",
        "256.0.0.1",
        " 1.2.3.4",
        "1::2::3",
        "fe80::1%eth0",
        "[::1]",
    ] {
        assert_eq!(err(&any, bad), format!("{bad} is not IPv4 or IPv6 address"));
    }
    assert_eq!(err(&any, ""), "IP address cannot be an empty string");
    assert_eq!(err(&any, "1.2.3.4\0"), "embedded null character");
    let v4 = OptType::IpAddress(IpVersion::V4);
    assert_eq!(err(&v4, "::1"), "::1 is not an IPv4 address");
    let v6 = OptType::IpAddress(IpVersion::V6);
    assert_eq!(err(&v6, "1.2.3.4"), "1.2.3.4 is not an IPv6 address");
}

#[test]
fn hostnames() {
    let ty = OptType::hostname();
    assert_eq!(ok(&ty, "db-1.example.org."), s("db-1.example.org"));
    assert_eq!(ok(&ty, "localhost"), s("localhost"));
    assert_eq!(err(&ty, ""), "Cannot have an empty hostname");
    assert_eq!(
        err(&ty, "10.0.0.1"),
        "10.0.0.1 contains no non-numeric characters in the top-level domain part of the host name \
         and is invalid"
    );
    assert_eq!(err(&ty, "-bad.com"), "-bad.com is an invalid hostname");
    assert_eq!(err(&ty, "a_b.com"), "a_b.com is an invalid hostname");
    let long = format!("{}.com", "a".repeat(64));
    assert_eq!(err(&ty, &long), format!("{long} is an invalid hostname"));
    let too_long = ["abcdefghi"; 26].join(".");
    assert_eq!(
        err(&ty, &too_long),
        format!("hostname is greater than 253 characters: {too_long}")
    );
    // Python's `$` lets a label end with one newline.
    assert_eq!(ok(&ty, "host\n"), s("host\n"));
}

#[test]
fn host_addresses_and_domains() {
    let addr = OptType::host_address();
    assert_eq!(ok(&addr, "10.0.0.1"), s("10.0.0.1"));
    assert_eq!(ok(&addr, "::1"), s("::1"));
    assert_eq!(ok(&addr, "example.org."), s("example.org"));
    assert_eq!(
        err(&addr, "1.2.3.999"),
        "1.2.3.999 is not a valid host address"
    );
    assert_eq!(
        err(&addr, "_srv.example.org"),
        "_srv.example.org is not a valid host address"
    );
    let v4 = OptType::HostAddress(IpVersion::V4);
    assert_eq!(err(&v4, "::1"), "::1 is not a valid host address");

    let domain = OptType::host_domain();
    assert_eq!(ok(&domain, "_srv.example.org"), s("_srv.example.org"));
    assert_eq!(
        err(&domain, "a b.org"),
        "a b.org is not a valid host address"
    );
}

#[test]
fn uris() {
    let ty = OptType::uri();
    for good in [
        "http://example.com",
        "https://user:pw@example.com:8443/a/b?q=1#top",
        "mysql+pymysql://nova:secret@10.0.0.5/nova?charset=utf8",
        "http://[::1]:8080/",
        "http://h/é",
    ] {
        assert_eq!(ok(&ty, good), s(good));
    }
    assert_eq!(
        err(&ty, "example.com"),
        "host, scheme were required but missing"
    );
    assert_eq!(
        err(&ty, "sqlite:///tmp/x.db"),
        "host was required but missing"
    );
    assert_eq!(err(&ty, "//example.com"), "scheme was required but missing");
    assert_eq!(
        err(&ty, "http://1.2.3.256/"),
        "host was required but missing"
    );
    assert_eq!(
        err(&ty, "http://[fe80::1%eth0]"),
        "host was found to be invalid"
    );
    assert_eq!(err(&ty, "http://h/[x]"), "path was found to be invalid");

    let web = OptType::Uri(UriType::new().schemes(["http", "HTTPS"]).max_length(20));
    assert_eq!(ok(&web, "https://example.com"), s("https://example.com"));
    assert_eq!(
        err(&web, "HTTP://example.com"),
        "scheme was required to be one of ['http', 'https'] but was 'HTTP'"
    );
    assert_eq!(
        err(&web, "http://example.com/long"),
        "Value 'http://example.com/long' exceeds maximum length 20"
    );
}

#[test]
fn typed_values_are_checked_like_oslo_calls_the_type() {
    let int = OptType::Integer(IntegerType::new().max(10));
    assert_eq!(int.check(&Value::Integer(5)).unwrap(), Value::Integer(5));
    assert_eq!(int.check(&Value::Float(7.9)).unwrap(), Value::Integer(7));
    assert_eq!(int.check(&s(" 8 ")).unwrap(), Value::Integer(8));
    assert_eq!(int.check(&Value::Boolean(true)).unwrap(), Value::Integer(1));
    assert_eq!(
        int.check(&Value::Integer(11)).unwrap_err().to_string(),
        "Should be less than or equal to 10"
    );
    assert_eq!(
        int.check(&s("")).unwrap_err().to_string(),
        "Blank value is not a valid integer value"
    );
    assert_eq!(
        int.check(&list(&["1"])).unwrap_err().to_string(),
        "Value ['1'] is not a integer value"
    );

    let float = OptType::float();
    assert_eq!(float.check(&Value::Integer(3)).unwrap(), Value::Float(3.0));

    let string = OptType::String(StringType::new().choices(["1", "True"]));
    assert_eq!(string.check(&Value::Integer(1)).unwrap(), s("1"));
    assert_eq!(string.check(&Value::Boolean(true)).unwrap(), s("True"));

    let ports = OptType::list(OptType::port());
    assert_eq!(
        ports
            .check(&Value::List(vec![s("80"), Value::Integer(443)]))
            .unwrap(),
        Value::List(vec![Value::Integer(80), Value::Integer(443)])
    );
    assert!(
        ports
            .check(&Value::List(vec![Value::Integer(70000)]))
            .is_err()
    );
    assert_eq!(
        ports.check(&s("80,443")).unwrap(),
        ports.parse("80,443").unwrap().unwrap()
    );

    let mut map = IndexMap::new();
    map.insert("a".to_owned(), s("x"));
    assert!(
        OptType::dict(OptType::integer())
            .check(&Value::Dict(map))
            .is_err()
    );

    assert!(OptType::Boolean.check(&Value::Integer(1)).is_err());
    assert_eq!(
        OptType::Boolean.check(&s("on")).unwrap(),
        Value::Boolean(true)
    );
}

#[test]
fn definitions_are_checked_like_oslo_constructors() {
    let both = OptType::String(StringType::new().choices(["a"]).regex_pattern("a").unwrap());
    assert_eq!(
        both.check_definition().unwrap_err().to_string(),
        "'choices' and 'regex' cannot both be specified"
    );
    let inverted = OptType::Integer(IntegerType::new().min(5).max(1));
    assert_eq!(
        inverted.check_definition().unwrap_err().to_string(),
        "Max value is less than min value"
    );
    let outside = OptType::Integer(IntegerType::new().max(10).choices([1, 20, 30]));
    assert_eq!(
        outside.check_definition().unwrap_err().to_string(),
        "Choices [20, 30] are out of bounds [None..10]"
    );
    let port = OptType::Port(IntegerType::new().max(70000));
    assert_eq!(
        port.check_definition().unwrap_err().to_string(),
        "Max value cannot be more than 65535"
    );
    let port = OptType::Port(IntegerType::new().min(-1));
    assert_eq!(
        port.check_definition().unwrap_err().to_string(),
        "Min value cannot be less than 0"
    );
    let web = OptType::Port(IntegerType::new().choices([80, 70000]));
    assert_eq!(
        web.check_definition().unwrap_err().to_string(),
        "Choices [70000] are out of bounds [0..65535]"
    );
    let float = OptType::Float(FloatType::new().min(1.0).max(0.5));
    assert!(float.check_definition().is_err());
    let nested = OptType::list(OptType::Integer(IntegerType::new().min(2).max(1)));
    assert!(nested.check_definition().is_err());
    assert!(OptType::port().check_definition().is_ok());
}

#[test]
fn type_names_are_oslos() {
    let names = [
        (OptType::string(), "string value"),
        (OptType::integer(), "integer value"),
        (OptType::float(), "floating point value"),
        (OptType::boolean(), "boolean value"),
        (OptType::list(OptType::integer()), "list value"),
        (OptType::dict(OptType::string()), "dict value"),
        (OptType::port(), "port value"),
        (OptType::ip_address(), "IP address value"),
        (OptType::hostname(), "hostname value"),
        (OptType::host_address(), "host address value"),
        (OptType::host_domain(), "host domain value"),
        (OptType::uri(), "uri value"),
    ];
    for (ty, name) in names {
        assert_eq!(ty.type_name(), name);
    }
}

#[test]
fn sample_formatting() {
    assert_eq!(
        OptType::string().format_sample(&s(" padded")),
        "\" padded\""
    );
    assert_eq!(OptType::string().format_sample(&s("plain")), "plain");
    assert_eq!(
        OptType::boolean().format_sample(&Value::Boolean(true)),
        "true"
    );
    assert_eq!(OptType::float().format_sample(&Value::Float(1.0)), "1.0");
    assert_eq!(OptType::float().format_sample(&Value::Float(1e20)), "1e+20");
    assert_eq!(OptType::integer().format_sample(&Value::Integer(-3)), "-3");
    assert_eq!(
        OptType::list(OptType::string()).format_sample(&list(&["a", " b"])),
        "a,\" b\""
    );
    let bounded = OptType::List(ListType::new(OptType::boolean()).bounds(true));
    assert_eq!(
        bounded.format_sample(&Value::List(vec![true.into(), false.into()])),
        "[true,false]"
    );
    let mut map = IndexMap::new();
    map.insert("z".to_owned(), Value::Boolean(true));
    map.insert("a".to_owned(), Value::Integer(1));
    assert_eq!(
        OptType::dict(OptType::string()).format_sample(&Value::Dict(map)),
        "a:1,z:True"
    );
}

#[test]
fn values_print_as_python_str() {
    let mut map = IndexMap::new();
    map.insert("k".to_owned(), list(&["it's", "b"]));
    let value = Value::List(vec![
        s("a"),
        1.into(),
        2.5.into(),
        true.into(),
        Value::Dict(map),
    ]);
    assert_eq!(
        value.to_string(),
        "['a', 1, 2.5, True, {'k': [\"it's\", 'b']}]"
    );
    assert_eq!(
        value.to_json(),
        serde_json::json!(["a", 1, 2.5, true, {"k": ["it's", "b"]}])
    );
    assert_eq!(Value::Float(f64::NAN).to_json(), serde_json::Value::Null);
}

#[derive(Debug)]
struct Percent;

impl CustomType for Percent {
    fn type_name(&self) -> String {
        "percent value".into()
    }

    fn parse(&self, raw: &str) -> Result<Value, InvalidValue> {
        let number = raw.strip_suffix('%').unwrap_or(raw);
        match number.trim().parse::<i64>() {
            Ok(n) if (0..=100).contains(&n) => Ok(Value::Integer(n)),
            _ => Err(InvalidValue::new(format!("{raw} is not a percentage"))),
        }
    }

    fn format(&self, value: &Value) -> String {
        format!("{value}%")
    }
}

#[test]
fn custom_types() {
    let ty = OptType::Custom(Arc::new(Percent));
    assert_eq!(ty.type_name(), "percent value");
    assert_eq!(ok(&ty, "40%"), Value::Integer(40));
    assert_eq!(err(&ty, "140%"), "140% is not a percentage");
    assert_eq!(ty.format_sample(&Value::Integer(40)), "40%");
    assert_eq!(ty.check(&Value::Integer(40)).unwrap(), Value::Integer(40));
    assert!(ty.check(&Value::Integer(400)).is_err());
    assert_eq!(
        OptType::list(ty).parse("1%,2").unwrap(),
        Some(Value::List(vec![1.into(), 2.into()]))
    );
}

proptest! {
    #[test]
    fn no_input_panics(raw in "\\PC{0,40}") {
        for ty in [
            OptType::string(), OptType::integer(), OptType::float(), OptType::boolean(), OptType::port(),
            OptType::list(OptType::String(StringType::new().quotes(true))), OptType::dict(OptType::integer()),
            OptType::ip_address(), OptType::host_domain(), OptType::uri(),
        ] {
            let _ = ty.parse(&raw);
        }
    }

    #[test]
    fn integers_round_trip(n in any::<i64>()) {
        let ty = OptType::integer();
        prop_assert_eq!(ty.parse(&ty.format_sample(&Value::Integer(n))).unwrap(), Some(Value::Integer(n)));
    }

    #[test]
    fn floats_round_trip(x in any::<f64>().prop_filter("not NaN", |x| !x.is_nan())) {
        let ty = OptType::float();
        prop_assert_eq!(ty.parse(&ty.format_sample(&Value::Float(x))).unwrap(), Some(Value::Float(x)));
    }

    #[test]
    fn lists_of_plain_words_round_trip(words in proptest::collection::vec("[a-z0-9_.-]{1,8}", 0..6)) {
        let ty = OptType::list(OptType::string());
        let value = Value::List(words.iter().map(|w| Value::from(w.as_str())).collect());
        prop_assert_eq!(ty.parse(&ty.format_sample(&value)).unwrap(), Some(value));
    }

    #[test]
    fn dicts_of_ints_round_trip(entries in proptest::collection::btree_map("[a-z]{1,6}", any::<i64>(), 0..5)) {
        let ty = OptType::dict(OptType::integer());
        let value = Value::Dict(entries.iter().map(|(k, v)| (k.clone(), Value::Integer(*v))).collect());
        prop_assert_eq!(ty.parse(&ty.format_sample(&value)).unwrap(), Some(value));
    }
}
