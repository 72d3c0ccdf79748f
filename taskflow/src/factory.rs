//! Flow factories: rebuild a flow from what its flow detail records, so any process (a conductor, a
//! restarted service) can resume it (TaskFlow's `save_factory_details` / `load_from_detail`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use crate::engine::{Engine, EngineBuilder};
use crate::error::{Error, Result};
use crate::flow::Flow;
use crate::persistence::FlowDetail;

/// The key of [`FlowDetail::meta`] under which the factory is recorded.
pub const FACTORY_META: &str = "factory";

type FactoryFn = dyn Fn(&Value) -> Result<Flow> + Send + Sync;

/// Named functions that build flows from JSON arguments.
#[derive(Clone, Default)]
pub struct FlowFactories {
    factories: BTreeMap<String, Arc<FactoryFn>>,
}

impl fmt::Debug for FlowFactories {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlowFactories")
            .field("names", &self.factories.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl FlowFactories {
    /// An empty registry.
    pub fn new() -> Self {
        FlowFactories::default()
    }

    /// Registers `factory` under `name` (replacing any earlier one).
    pub fn register(
        &mut self,
        name: impl Into<String>,
        factory: impl Fn(&Value) -> Result<Flow> + Send + Sync + 'static,
    ) -> &mut Self {
        self.factories.insert(name.into(), Arc::new(factory));
        self
    }

    /// Builds the flow `name` with `args` and an engine builder that records both in the new flow detail.
    pub fn engine(&self, name: &str, args: Value) -> Result<EngineBuilder> {
        let factory = self.get(name)?;
        let flow = factory(&args)?;
        let record = serde_json::json!({"name": name, "args": args});
        Ok(Engine::builder(flow).flow_meta(FACTORY_META, record))
    }

    /// Rebuilds the flow a stored flow detail was made from, and an engine builder that resumes it.
    pub fn resume(&self, fd: FlowDetail) -> Result<EngineBuilder> {
        let record = fd.meta.get(FACTORY_META).ok_or_else(|| {
            Error::NotFound(format!("flow detail `{}` records no factory", fd.uuid))
        })?;
        let name = record.get("name").and_then(Value::as_str).ok_or_else(|| {
            Error::NotFound(format!("flow detail `{}` records no factory name", fd.uuid))
        })?;
        let args = record.get("args").cloned().unwrap_or(Value::Null);
        let flow = self.get(name)?(&args)?;
        Ok(Engine::builder(flow).flow_detail(fd))
    }

    fn get(&self, name: &str) -> Result<Arc<FactoryFn>> {
        self.factories
            .get(name)
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("no flow factory named `{name}`")))
    }
}
