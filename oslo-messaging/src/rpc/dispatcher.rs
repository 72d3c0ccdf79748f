//! Endpoints and dispatch: namespace and version matching, the access policy, the serializer.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::remote::RemoteError;
use crate::serializer::Serializer;
use crate::transport::BoxFuture;
use crate::{Context, Error, Target, version};

type Handler = Arc<
    dyn Fn(Context, Map<String, Value>) -> BoxFuture<'static, Result<Value, RemoteError>>
        + Send
        + Sync,
>;

/// Which registered methods a server lets callers reach.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AccessPolicy {
    /// Every method except those whose name starts with `_` (the original's default).
    #[default]
    Default,
    /// Every method, private ones included.
    Legacy,
    /// Only the methods marked with [`Endpoint::expose`].
    Explicit,
}

/// A set of RPC methods with the namespace and version they implement.
///
/// Methods are async closures taking the request context and their arguments: typed (any
/// `Deserialize` type, read from the keyword arguments object) with [`method`](Self::method), or the raw
/// JSON object with [`json_method`](Self::json_method). They return a result that serialises to JSON, or a
/// [`RemoteError`] (or anything that converts into one) that the caller receives as the remote exception.
#[derive(Clone)]
pub struct Endpoint {
    target: Target,
    methods: HashMap<String, Handler>,
    exposed: Vec<String>,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<_> = self.methods.keys().collect();
        names.sort();
        f.debug_struct("Endpoint")
            .field("target", &self.target)
            .field("methods", &names)
            .finish()
    }
}

impl Default for Endpoint {
    fn default() -> Self {
        Endpoint::new()
    }
}

impl Endpoint {
    /// An endpoint in no namespace at version `1.0`.
    pub fn new() -> Self {
        Endpoint::with_target(Target::new())
    }

    /// An endpoint with the namespace, version and legacy namespaces of `target` (other fields are
    /// ignored; no version means `1.0`).
    pub fn with_target(target: Target) -> Self {
        Endpoint {
            target,
            methods: HashMap::new(),
            exposed: Vec::new(),
        }
    }

    /// The endpoint's target.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Adds a method whose keyword arguments deserialise into `A` and whose result serialises from `R`.
    ///
    /// A method taking no argument can take an empty struct or a `serde_json::Map`.
    pub fn method<A, R, E, F, Fut>(mut self, name: impl Into<String>, f: F) -> Self
    where
        A: DeserializeOwned + Send + 'static,
        R: Serialize + 'static,
        E: Into<RemoteError> + 'static,
        F: Fn(Context, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, E>> + Send + 'static,
    {
        let f = Arc::new(f);
        let handler: Handler = Arc::new(move |ctxt, args| {
            let f = f.clone();
            Box::pin(async move {
                let args: A = serde_json::from_value(Value::Object(args))
                    .map_err(|e| RemoteError::new("TypeError", format!("bad arguments: {e}")))?;
                let r = f(ctxt, args).await.map_err(Into::into)?;
                serde_json::to_value(r).map_err(|e| {
                    RemoteError::new("TypeError", format!("unserialisable result: {e}"))
                })
            })
        });
        self.methods.insert(name.into(), handler);
        self
    }

    /// Adds a method taking its keyword arguments as a JSON object and returning JSON.
    pub fn json_method<F, Fut>(mut self, name: impl Into<String>, f: F) -> Self
    where
        F: Fn(Context, Map<String, Value>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, RemoteError>> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |ctxt, args| Box::pin(f(ctxt, args)));
        self.methods.insert(name.into(), handler);
        self
    }

    /// Marks a method as exposed, for [`AccessPolicy::Explicit`].
    pub fn expose(mut self, name: impl Into<String>) -> Self {
        self.exposed.push(name.into());
        self
    }

    fn allows(&self, policy: AccessPolicy, method: &str) -> bool {
        match policy {
            AccessPolicy::Default => !method.starts_with('_'),
            AccessPolicy::Legacy => true,
            AccessPolicy::Explicit => self.exposed.iter().any(|m| m == method),
        }
    }
}

/// Routes requests to endpoint methods.
#[derive(Debug)]
pub(crate) struct Dispatcher {
    pub(crate) endpoints: Vec<Endpoint>,
    pub(crate) policy: AccessPolicy,
    /// `None` for the default serializer, which changes nothing: the context then goes to the method
    /// itself, not a copy of it.
    pub(crate) serializer: Option<Arc<dyn Serializer>>,
}

impl Dispatcher {
    /// Runs the request: finds the method (or fails as the original does), deserialises the context and
    /// arguments, calls it and serialises its result.
    ///
    /// The message is borrowed and the context handed back, so that the caller frees them after it
    /// sent the reply, not before.
    pub(crate) async fn dispatch(
        &self,
        ctxt: Context,
        message: &mut Map<String, Value>,
    ) -> (Result<Value, RemoteError>, Option<Context>) {
        // Taken out of the message (which is ours), not copied.
        let args = message.remove("args");
        let method = message
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let mut args = match args {
            None => Map::new(),
            Some(Value::Object(a)) => a,
            Some(other) => {
                let e = RemoteError::new(
                    "AttributeError",
                    format!("the arguments of `{method}` are not an object: {other}"),
                );
                return (Err(e), Some(ctxt));
            }
        };
        let namespace = message.get("namespace").and_then(Value::as_str);
        let req_version = message
            .get("version")
            .and_then(Value::as_str)
            .unwrap_or("1.0");
        let mut compatible = false;
        for ep in &self.endpoints {
            if !ep.target.accepts_namespace(namespace) {
                continue;
            }
            let imp = ep.target.version.as_deref().unwrap_or("1.0");
            // Equal well-formed versions are compatible: the common case skips parsing both.
            let same = imp == req_version && (imp == "1.0" || version::validate(imp).is_ok());
            if !same && !version::is_compatible(Some(imp), Some(req_version)).unwrap_or(false) {
                continue;
            }
            compatible = true;
            let Some(handler) = ep.methods.get(method) else {
                continue;
            };
            if !ep.allows(self.policy, method) {
                continue;
            }
            let Some(serializer) = &self.serializer else {
                return (handler(ctxt, args).await, None);
            };
            let ctxt = match serializer.deserialize_context(ctxt) {
                Ok(c) => c,
                Err(e) => return (Err(e.into()), None),
            };
            // In place: the map is ours, rebuilding it would allocate it again.
            for v in args.values_mut() {
                match serializer.deserialize_entity(&ctxt, std::mem::take(v)) {
                    Ok(d) => *v = d,
                    Err(e) => return (Err(e.into()), Some(ctxt)),
                }
            }
            let result = match handler(ctxt.clone(), args).await {
                Ok(r) => serializer
                    .serialize_entity(&ctxt, r)
                    .map_err(RemoteError::from),
                Err(e) => Err(e),
            };
            return (result, Some(ctxt));
        }
        let method = method.to_owned();
        let e = if compatible {
            Error::NoSuchMethod { method }
        } else {
            Error::UnsupportedVersion {
                version: req_version.to_owned(),
                method,
            }
        };
        (Err(e.into()), Some(ctxt))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Marks what it touches: arguments and results get a suffix, the context a field.
    #[derive(Debug)]
    struct Marking;

    impl Serializer for Marking {
        fn serialize_entity(&self, ctxt: &Context, entity: Value) -> crate::Result<Value> {
            assert_eq!(ctxt.get("seen"), Some(&json!(true)));
            Ok(json!(format!(
                "{}+out",
                entity.as_str().unwrap_or_default()
            )))
        }
        fn deserialize_entity(&self, ctxt: &Context, entity: Value) -> crate::Result<Value> {
            assert_eq!(ctxt.get("seen"), Some(&json!(true)));
            Ok(json!(format!("{}+in", entity.as_str().unwrap_or_default())))
        }
        fn deserialize_context(&self, mut ctxt: Context) -> crate::Result<Context> {
            ctxt.insert("seen".into(), json!(true));
            Ok(ctxt)
        }
    }

    fn dispatcher(serializer: Option<Arc<dyn Serializer>>) -> Dispatcher {
        let echo = Endpoint::new().json_method("echo", |ctxt: Context, args| async move {
            let seen = ctxt.get("seen").cloned().unwrap_or(Value::Null);
            Ok(json!({"a": args.get("a").cloned().unwrap_or(Value::Null), "seen": seen}))
        });
        let first = Endpoint::new().json_method("first", |_, args| async move {
            Ok(args.get("a").cloned().unwrap_or(Value::Null))
        });
        Dispatcher {
            endpoints: vec![first, echo],
            policy: AccessPolicy::Default,
            serializer,
        }
    }

    fn message(method: &str, version: &str) -> Map<String, Value> {
        let m = json!({"method": method, "args": {"a": "x"}, "version": version});
        m.as_object().cloned().unwrap_or_default()
    }

    #[tokio::test]
    async fn serializer_applies_to_context_arguments_and_result() {
        let d = dispatcher(Some(Arc::new(Marking)));
        let mut m = message("first", "1.0");
        let (r, ctxt) = d.dispatch(Context::new(), &mut m).await;
        assert_eq!(r.unwrap(), json!("x+in+out"));
        assert_eq!(ctxt.and_then(|c| c.get("seen").cloned()), Some(json!(true)));
        // The default serializer changes nothing and hands the context to the method itself.
        let d = dispatcher(None);
        let mut m = message("echo", "1.0");
        let mut ctxt = Context::new();
        ctxt.insert("seen".into(), json!("caller"));
        let (r, kept) = d.dispatch(ctxt, &mut m).await;
        assert_eq!(r.unwrap(), json!({"a": "x", "seen": "caller"}));
        assert!(kept.is_none());
        assert_eq!(
            m.get("method"),
            Some(&json!("echo")),
            "the message stays the caller's"
        );
    }

    #[tokio::test]
    async fn versions_and_missing_methods() {
        let d = dispatcher(None);
        for (method, version, ok) in [
            ("first", "1.0", true),
            ("first", "1.0.0", true),
            ("first", "1.1", false),
            ("first", "2.0", false),
            ("first", "x", false),
            ("nope", "1.0", false),
        ] {
            let (r, _) = d
                .dispatch(Context::new(), &mut message(method, version))
                .await;
            assert_eq!(r.is_ok(), ok, "{method} {version}");
        }
        let (r, _) = d
            .dispatch(Context::new(), &mut message("nope", "1.0"))
            .await;
        assert_eq!(r.unwrap_err().class(), "NoSuchMethod");
        let (r, _) = d
            .dispatch(Context::new(), &mut message("first", "2.0"))
            .await;
        assert_eq!(r.unwrap_err().class(), "UnsupportedVersion");
    }
}
