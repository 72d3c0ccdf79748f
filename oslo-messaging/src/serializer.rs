//! The serializer hook: turns entities (arguments, results, payloads) and contexts into their wire form
//! and back.

use std::fmt::Debug;

use serde_json::Value;

use crate::{Context, Result};

/// Converts entities and contexts on their way to and from the wire, as the original's `Serializer`.
///
/// Where each method runs:
/// - client: `serialize_entity` on each argument, then `serialize_context`; `deserialize_entity` on the
///   result;
/// - server: `deserialize_context`, then `deserialize_entity` on each argument, then `serialize_entity`
///   on the result;
/// - notifier: `serialize_entity` on the payload, then `serialize_context`;
/// - listener: `deserialize_context`, then `deserialize_entity` on the payload.
///
/// Every method defaults to the identity.
pub trait Serializer: Send + Sync + Debug {
    /// Serialises one entity.
    fn serialize_entity(&self, _ctxt: &Context, entity: Value) -> Result<Value> {
        Ok(entity)
    }
    /// Deserialises one entity.
    fn deserialize_entity(&self, _ctxt: &Context, entity: Value) -> Result<Value> {
        Ok(entity)
    }
    /// Serialises a context.
    fn serialize_context(&self, ctxt: Context) -> Result<Context> {
        Ok(ctxt)
    }
    /// Deserialises a context.
    fn deserialize_context(&self, ctxt: Context) -> Result<Context> {
        Ok(ctxt)
    }
}

/// The serializer that changes nothing (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoOpSerializer;

impl Serializer for NoOpSerializer {}
