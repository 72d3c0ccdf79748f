//! The oslo wire format shared by the brokered transports: the 2.0 envelope, requests, replies and
//! notifications as JSON, written the way Python's `json.dumps` writes them (`", "` and `": "` separators,
//! non-ASCII escaped) and read in any JSON formatting.
//!
//! Everything here reads bytes from the network: it never panics on its input.

use std::io;

use serde::Serialize;
use serde_json::ser::Formatter;
use serde_json::{Map, Value};

use crate::remote::RemoteError;
use crate::{Error, Result};

/// The envelope version we send and accept.
pub const ENVELOPE_VERSION: &str = "2.0";

/// A `serde_json` formatter producing Python `json.dumps` output with its default arguments.
#[derive(Debug, Default)]
struct PythonFormatter;

impl Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        if fragment.is_ascii() {
            return w.write_all(fragment.as_bytes());
        }
        let mut buf = [0u16; 2];
        for c in fragment.chars() {
            if c.is_ascii() {
                w.write_all(&[c as u8])?;
            } else {
                for unit in c.encode_utf16(&mut buf) {
                    write!(w, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }
}

/// Writes `value` as Python's `json.dumps` would.
pub fn to_python_json<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    let mut out = Vec::with_capacity(128);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
    value.serialize(&mut ser).map_err(Error::serialization)?;
    String::from_utf8(out).map_err(Error::serialization)
}

/// A JSON object whose keys keep the order they were pushed in (Python dicts keep insertion order, and
/// the wire shows it).
#[derive(Debug, Default)]
pub struct OrderedObject<'a> {
    fields: Vec<(String, &'a Value)>,
}

impl<'a> OrderedObject<'a> {
    /// Appends a field.
    pub fn push(&mut self, key: impl Into<String>, value: &'a Value) {
        self.fields.push((key.into(), value));
    }
}

impl Serialize for OrderedObject<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.fields.len()))?;
        for (k, v) in &self.fields {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// Wraps an inner message (already JSON text) into the 2.0 envelope body.
pub fn envelope(inner_json: &str) -> Result<Vec<u8>> {
    let inner = Value::String(inner_json.to_owned());
    let version = Value::String(ENVELOPE_VERSION.to_owned());
    let mut o = OrderedObject::default();
    o.push("oslo.version", &version);
    o.push("oslo.message", &inner);
    Ok(to_python_json(&o)?.into_bytes())
}

/// Whether a message written with envelope version `v` can be read by us (the same major, a minor not
/// above ours).
fn envelope_version_ok(v: &str) -> bool {
    crate::version::is_compatible(Some(ENVELOPE_VERSION), Some(v)).unwrap_or(false)
}

/// Reads an AMQP body into the inner message: the 2.0 envelope, or a bare object (the 1.0 format).
pub fn decode_body(body: &[u8]) -> Result<Map<String, Value>> {
    let outer: Value = serde_json::from_slice(body).map_err(|e| Error::Malformed(e.to_string()))?;
    let Value::Object(outer) = outer else {
        return Err(Error::Malformed("the message is not a JSON object".into()));
    };
    match (outer.get("oslo.version"), outer.get("oslo.message")) {
        (Some(v), Some(m)) => {
            let v = v
                .as_str()
                .ok_or_else(|| Error::Malformed("`oslo.version` is not a string".into()))?;
            if !envelope_version_ok(v) {
                return Err(Error::Malformed(format!(
                    "unsupported envelope version `{v}`"
                )));
            }
            let m = m
                .as_str()
                .ok_or_else(|| Error::Malformed("`oslo.message` is not a string".into()))?;
            match serde_json::from_str(m).map_err(|e| Error::Malformed(e.to_string()))? {
                Value::Object(inner) => Ok(inner),
                _ => Err(Error::Malformed(
                    "`oslo.message` is not a JSON object".into(),
                )),
            }
        }
        _ => Ok(outer),
    }
}

/// The fields of an RPC request besides the method call itself.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    /// `_msg_id`, for calls.
    pub msg_id: Option<String>,
    /// `_reply_q`, for calls.
    pub reply_q: Option<String>,
    /// `_timeout`: the call-monitor timeout in seconds, for calls (`null` when not monitored).
    pub call_monitor_timeout: Option<f64>,
    /// `_unique_id`.
    pub unique_id: String,
}

/// Writes a request's inner message: `method`, `args`, `namespace`, `version` (from `message`, in that
/// order), the call fields, `_unique_id`, then one `_context_<key>` per context entry.
pub fn encode_request(
    message: &Map<String, Value>,
    meta: &RequestMeta,
    ctxt: &Map<String, Value>,
) -> Result<String> {
    let mut o = OrderedObject::default();
    let empty = Value::Object(Map::new());
    for key in ["method", "args", "namespace", "version"] {
        match message.get(key) {
            Some(v) => o.push(key, v),
            None if key == "args" => o.push(key, &empty),
            None => {}
        }
    }
    for (k, v) in message {
        if !matches!(k.as_str(), "method" | "args" | "namespace" | "version") {
            o.push(k.clone(), v);
        }
    }
    let msg_id = meta.msg_id.clone().map(Value::String);
    let reply_q = meta.reply_q.clone().map(Value::String);
    let timeout = match meta.call_monitor_timeout {
        Some(t) => float_or_int(t),
        None => Value::Null,
    };
    let unique = Value::String(meta.unique_id.clone());
    if let (Some(id), Some(q)) = (&msg_id, &reply_q) {
        o.push("_msg_id", id);
        o.push("_reply_q", q);
        o.push("_timeout", &timeout);
    }
    o.push("_unique_id", &unique);
    for (k, v) in ctxt {
        o.push(format!("_context_{k}"), v);
    }
    to_python_json(&o)
}

fn float_or_int(t: f64) -> Value {
    if t.fract() == 0.0 && t.abs() < 1e15 {
        #[allow(clippy::cast_possible_truncation)]
        Value::from(t as i64)
    } else {
        serde_json::Number::from_f64(t).map_or(Value::Null, Value::Number)
    }
}

/// A request read from the wire.
#[derive(Debug, Clone)]
pub struct DecodedRequest {
    /// `method`, `args`, `namespace`, `version` and any other plain keys.
    pub message: Map<String, Value>,
    /// The context (`_context_*` keys, prefix stripped).
    pub ctxt: Map<String, Value>,
    /// The call fields.
    pub meta: RequestMeta,
}

/// Splits an inner request message into the call, its context and its call fields.
pub fn decode_request(inner: Map<String, Value>) -> Result<DecodedRequest> {
    let mut message = Map::new();
    let mut ctxt = Map::new();
    let mut meta = RequestMeta::default();
    for (k, v) in inner {
        if let Some(key) = k.strip_prefix("_context_") {
            ctxt.insert(key.to_owned(), v);
            continue;
        }
        match k.as_str() {
            "_msg_id" => meta.msg_id = v.as_str().map(str::to_owned),
            "_reply_q" => meta.reply_q = v.as_str().map(str::to_owned),
            "_timeout" => meta.call_monitor_timeout = v.as_f64(),
            "_unique_id" => meta.unique_id = v.as_str().map(str::to_owned).unwrap_or_default(),
            _ => {
                message.insert(k, v);
            }
        }
    }
    if !message.get("method").is_some_and(Value::is_string) {
        return Err(Error::Malformed(
            "the request has no `method` string".into(),
        ));
    }
    Ok(DecodedRequest {
        message,
        ctxt,
        meta,
    })
}

/// A notification (or any message) split into its body, its context and its `_unique_id`.
#[derive(Debug, Clone)]
pub struct DecodedMessage {
    /// The keys that are neither `_context_*` nor `_unique_id`.
    pub message: Map<String, Value>,
    /// The context.
    pub ctxt: Map<String, Value>,
    /// `_unique_id`, when present.
    pub unique_id: Option<String>,
}

/// Splits a notification's inner message.
pub fn decode_request_like(inner: Map<String, Value>) -> DecodedMessage {
    let mut out = DecodedMessage {
        message: Map::new(),
        ctxt: Map::new(),
        unique_id: None,
    };
    for (k, v) in inner {
        if let Some(key) = k.strip_prefix("_context_") {
            out.ctxt.insert(key.to_owned(), v);
        } else if k == "_unique_id" {
            out.unique_id = v.as_str().map(str::to_owned);
        } else {
            out.message.insert(k, v);
        }
    }
    out
}

/// One reply message.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplyBody {
    /// The final reply: the method's result or its failure.
    Final(std::result::Result<Value, RemoteError>),
    /// A call-monitor heartbeat (`ending: false`, no result).
    Heartbeat,
}

/// Writes a reply's inner message: `result`, `failure`, `ending`, `_msg_id`, `_unique_id`.
pub fn encode_reply(reply: &ReplyBody, msg_id: &str, unique_id: &str) -> Result<String> {
    let (result, failure, ending) = match reply {
        ReplyBody::Final(Ok(v)) => (v.clone(), Value::Null, true),
        ReplyBody::Final(Err(e)) => (
            Value::Null,
            Value::String(to_python_json(&e.to_wire())?),
            true,
        ),
        ReplyBody::Heartbeat => (Value::Null, Value::Null, false),
    };
    let ending = Value::Bool(ending);
    let id = Value::String(msg_id.to_owned());
    let uid = Value::String(unique_id.to_owned());
    let mut o = OrderedObject::default();
    o.push("result", &result);
    o.push("failure", &failure);
    o.push("ending", &ending);
    o.push("_msg_id", &id);
    o.push("_unique_id", &uid);
    to_python_json(&o)
}

/// A reply read from the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedReply {
    /// `_msg_id`, the request it answers.
    pub msg_id: String,
    /// `_unique_id`, when present.
    pub unique_id: Option<String>,
    /// What it says.
    pub body: ReplyBody,
}

/// Reads a reply: a `failure` string wins, otherwise `ending: true` makes it final and anything else is a
/// heartbeat (as a Python client counts a missing `ending` as false).
pub fn decode_reply(inner: &Map<String, Value>) -> Result<DecodedReply> {
    let msg_id = inner
        .get("_msg_id")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Malformed("the reply has no `_msg_id`".into()))?
        .to_owned();
    let unique_id = inner
        .get("_unique_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let ending = inner
        .get("ending")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let failure = match inner.get("failure") {
        Some(Value::String(s)) => Some(match serde_json::from_str::<Value>(s) {
            Ok(v) => RemoteError::from_wire(&v),
            Err(_) => RemoteError::new("RemoteError", s.clone()),
        }),
        Some(v @ Value::Object(_)) => Some(RemoteError::from_wire(v)),
        _ => None,
    };
    let result = inner.get("result").cloned().unwrap_or(Value::Null);
    let body = match failure {
        Some(f) if ending => ReplyBody::Final(Err(f)),
        None if ending => ReplyBody::Final(Ok(result)),
        _ => ReplyBody::Heartbeat,
    };
    Ok(DecodedReply {
        msg_id,
        unique_id,
        body,
    })
}

/// A new uuid4 in hex (no dashes), as the wire's ids are.
pub fn new_hex_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Remembers the last few `_unique_id`s seen, to drop duplicate deliveries (the original keeps 16).
#[derive(Debug, Default)]
pub struct DuplicateCache {
    ids: std::collections::VecDeque<String>,
}

impl DuplicateCache {
    const SIZE: usize = 16;

    /// Whether `id` was recorded.
    pub fn contains(&self, id: &str) -> bool {
        self.ids.iter().any(|i| i == id)
    }

    /// Records `id` and says whether it was seen already (then it is a duplicate to drop).
    pub fn check_and_add(&mut self, id: &str) -> bool {
        if id.is_empty() {
            return false;
        }
        if self.ids.iter().any(|i| i == id) {
            return true;
        }
        if self.ids.len() == Self::SIZE {
            self.ids.pop_front();
        }
        self.ids.push_back(id.to_owned());
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_formatting() {
        let v = serde_json::json!({"a": [1, "é", null], "b": {"c": true}});
        assert_eq!(
            to_python_json(&v).unwrap(),
            r#"{"a": [1, "\u00e9", null], "b": {"c": true}}"#
        );
        assert_eq!(to_python_json(&"😀").unwrap(), r#""\ud83d\ude00""#);
    }

    #[test]
    fn duplicate_cache_keeps_sixteen() {
        let mut c = DuplicateCache::default();
        for i in 0..17 {
            assert!(!c.check_and_add(&i.to_string()));
        }
        assert!(!c.check_and_add("0"));
        assert!(c.check_and_add("16"));
    }
}
