//! Exceptions that cross the wire: what a server's method raises and what a client gets back.

use std::fmt;

use serde_json::{Map, Value};

/// An exception raised by a remote method, as Python's oslo.messaging serialises it.
///
/// A server endpoint returns one to fail a call; the client gets it back in [`Error::Remote`](crate::Error).
/// On the wire it is the `failure` JSON string of a reply: `class`, `module`, `message`, `tb`, `args` and
/// `kwargs`. A Python client rebuilds `ValueError`, `KeyError` and the other built-in exceptions (module
/// `builtins`) as themselves, and any other class as `oslo_messaging.RemoteError`.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteError(Box<Data>);

#[derive(Debug, Clone, PartialEq)]
struct Data {
    class: String,
    module: String,
    message: String,
    traceback: Vec<String>,
    args: Vec<Value>,
    kwargs: Map<String, Value>,
    expected: bool,
}

impl RemoteError {
    /// An exception of `class` in module `builtins` (so `ValueError`, `KeyError`… are rebuilt as themselves
    /// by a Python client), with `message` as its only argument.
    pub fn new(class: impl Into<String>, message: impl Into<String>) -> Self {
        let message = message.into();
        RemoteError(Box::new(Data {
            class: class.into(),
            module: "builtins".to_owned(),
            args: vec![Value::String(message.clone())],
            message,
            traceback: Vec::new(),
            kwargs: Map::new(),
            expected: false,
        }))
    }

    /// Sets the Python module of the exception class.
    pub fn with_module(mut self, module: impl Into<String>) -> Self {
        self.0.module = module.into();
        self
    }

    /// Sets the exception's positional arguments (by default the message alone).
    pub fn with_args(mut self, args: Vec<Value>) -> Self {
        self.0.args = args;
        self
    }

    /// Sets the exception's keyword arguments.
    pub fn with_kwargs(mut self, kwargs: Map<String, Value>) -> Self {
        self.0.kwargs = kwargs;
        self
    }

    /// Sets the traceback lines sent along.
    pub fn with_traceback(mut self, tb: Vec<String>) -> Self {
        self.0.traceback = tb;
        self
    }

    /// Marks the error as expected (`@expected_exceptions`): the server logs it at debug level, not as a
    /// failure. The wire format is the same.
    pub fn expected(mut self) -> Self {
        self.0.expected = true;
        self
    }

    /// The exception class name, e.g. `ValueError` or `NoSuchMethod`.
    pub fn class(&self) -> &str {
        &self.0.class
    }

    /// The Python module of the class, e.g. `builtins`.
    pub fn module(&self) -> &str {
        &self.0.module
    }

    /// The exception message (`str(exc)` on the remote side).
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The remote traceback lines.
    pub fn traceback(&self) -> &[String] {
        &self.0.traceback
    }

    /// The positional arguments of the exception.
    pub fn args(&self) -> &[Value] {
        &self.0.args
    }

    /// The keyword arguments of the exception.
    pub fn kwargs(&self) -> &Map<String, Value> {
        &self.0.kwargs
    }

    /// Whether the server marked the error as expected.
    pub fn is_expected(&self) -> bool {
        self.0.expected
    }

    /// The failure as the JSON object of the wire (before it is turned into a string).
    pub fn to_wire(&self) -> Value {
        let tb = if self.0.traceback.is_empty() {
            vec![Value::String(format!(
                "{}: {}\n",
                self.0.class, self.0.message
            ))]
        } else {
            self.0
                .traceback
                .iter()
                .cloned()
                .map(Value::String)
                .collect()
        };
        let mut m = Map::new();
        m.insert("class".into(), Value::String(self.0.class.clone()));
        m.insert("module".into(), Value::String(self.0.module.clone()));
        m.insert("message".into(), Value::String(self.0.message.clone()));
        m.insert("tb".into(), Value::Array(tb));
        m.insert("args".into(), Value::Array(self.0.args.clone()));
        m.insert("kwargs".into(), Value::Object(self.0.kwargs.clone()));
        Value::Object(m)
    }

    /// Rebuilds a failure from the wire's JSON object; missing fields take Python's defaults.
    pub fn from_wire(v: &Value) -> Self {
        let get = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let mut class = get("class");
        let mut module = get("module");
        // A re-raised remote exception keeps its original name on the wire.
        if let (Some(c), Some(m)) = (
            class.strip_suffix("_Remote"),
            module.strip_suffix("_Remote"),
        ) {
            (class, module) = (c.to_owned(), m.to_owned());
        }
        if module == "exceptions" {
            module = "builtins".to_owned();
        }
        RemoteError(Box::new(Data {
            class,
            module,
            message: get("message"),
            traceback: v
                .get("tb")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|l| l.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            args: v
                .get("args")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            kwargs: v
                .get("kwargs")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            expected: false,
        }))
    }
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "remote error: {} {}", self.0.class, self.0.message)
    }
}

impl std::error::Error for RemoteError {}

impl From<crate::Error> for RemoteError {
    /// Turns a library error raised inside a server (an argument that did not deserialise, a dispatch
    /// failure) into the exception a Python server would have raised.
    fn from(e: crate::Error) -> Self {
        match e {
            crate::Error::Remote(r) => r,
            crate::Error::NoSuchMethod { method } => RemoteError::new(
                "NoSuchMethod",
                format!("Endpoint does not support RPC method {method}"),
            )
            .with_module("oslo_messaging.rpc.dispatcher"),
            crate::Error::UnsupportedVersion { version, method } => RemoteError::new(
                "UnsupportedVersion",
                format!(
                    "Endpoint does not support RPC version {version}. Attempted method: {method}"
                ),
            )
            .with_module("oslo_messaging.rpc.dispatcher"),
            crate::Error::Serialization(m) => RemoteError::new("TypeError", m),
            other => RemoteError::new("MessagingException", other.to_string())
                .with_module("oslo_messaging.exceptions"),
        }
    }
}
