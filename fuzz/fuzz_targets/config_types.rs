//! Every oslo-config value type on arbitrary text: no panic, and what a type accepts it accepts again when
//! checked as a typed value and formats for the sample file without panicking.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use oslo_config::types::{
    DictType, FloatType, IntegerType, IpVersion, ListType, OptType, StringType, UriType, Value,
};

fn types() -> Vec<OptType> {
    let quoted = || OptType::String(StringType::new().quotes(true).max_length(40));
    vec![
        OptType::string(),
        quoted(),
        OptType::String(StringType::new().choices(["a", "B", "ſ"]).ignore_case(true)),
        OptType::String(
            StringType::new()
                .regex_pattern("^[a-z]+$")
                .map(|t| t.ignore_case(true))
                .unwrap_or_default(),
        ),
        OptType::boolean(),
        OptType::integer(),
        OptType::Integer(IntegerType::new().min(-5).max(1_000_000)),
        OptType::Integer(IntegerType::new().choices([1, 5])),
        OptType::port(),
        OptType::float(),
        OptType::Float(FloatType::new().min(0.5).max(2.0)),
        OptType::list(quoted()),
        OptType::List(ListType::new(OptType::integer()).bounds(true)),
        OptType::list(OptType::list(OptType::string())),
        OptType::dict(OptType::port()),
        OptType::Dict(DictType::new(quoted()).bounds(true)),
        OptType::ip_address(),
        OptType::IpAddress(IpVersion::V6),
        OptType::hostname(),
        OptType::HostAddress(IpVersion::V4),
        OptType::host_domain(),
        OptType::uri(),
        OptType::Uri(UriType::new().schemes(["http", "https"]).max_length(64)),
    ]
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    static TYPES: LazyLock<Vec<OptType>> = LazyLock::new(types);
    let all = &*TYPES;
    let chosen: Vec<&OptType> = if selector == 0xff {
        all.iter().collect()
    } else {
        all.get(usize::from(selector) % all.len())
            .into_iter()
            .collect()
    };
    for ty in chosen {
        let Ok(Some(value)) = ty.parse(&text) else {
            continue;
        };
        let _ = ty.format_sample(&value);
        let _ = value.to_string();
        let _ = value.to_json();
        match ty {
            // Hostnames lose their trailing dot; checking again must accept what came out.
            OptType::Hostname | OptType::HostDomain(_) | OptType::HostAddress(_) => {
                assert!(ty.check(&value).is_ok(), "{ty:?} refused its own {value:?}");
            }
            OptType::IpAddress(_) | OptType::Uri(_) => {
                assert_eq!(value, Value::String(text.to_string()));
            }
            _ => {
                let _ = ty.check(&value);
            }
        }
    }
});
