//! Blocking wrappers for synchronous callers: each owns (a share of) a tokio runtime and blocks on it.
//!
//! Do not use them from inside an async context (they would block a runtime thread); use the async API
//! there.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::notify::Priority;
use crate::{Context, Result};

/// A tokio runtime shared by blocking wrappers.
#[derive(Debug, Clone)]
pub struct Runtime {
    rt: Arc<tokio::runtime::Runtime>,
}

impl Runtime {
    /// A runtime with `threads` worker threads (at least 1).
    pub fn new(threads: usize) -> Result<Runtime> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .enable_all()
            .build()
            .map_err(|e| crate::Error::State(format!("cannot start a runtime: {e}")))?;
        Ok(Runtime { rt: Arc::new(rt) })
    }

    /// Runs a future to completion on this runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// The runtime's handle (to build transports and spawn tasks on it).
    pub fn handle(&self) -> &tokio::runtime::Handle {
        self.rt.handle()
    }
}

/// A blocking [`RpcClient`](crate::RpcClient).
#[derive(Debug, Clone)]
pub struct RpcClient {
    rt: Runtime,
    inner: crate::RpcClient,
}

impl RpcClient {
    /// Wraps an async client.
    pub fn new(rt: Runtime, inner: crate::RpcClient) -> Self {
        RpcClient { rt, inner }
    }
    /// The async client.
    pub fn inner(&self) -> &crate::RpcClient {
        &self.inner
    }
    /// Blocking [`call`](crate::RpcClient::call).
    pub fn call<R: DeserializeOwned>(
        &self,
        ctxt: &Context,
        method: &str,
        args: impl Serialize,
    ) -> Result<R> {
        self.rt.block_on(self.inner.call(ctxt, method, args))
    }
    /// Blocking [`cast`](crate::RpcClient::cast).
    pub fn cast(&self, ctxt: &Context, method: &str, args: impl Serialize) -> Result<()> {
        self.rt.block_on(self.inner.cast(ctxt, method, args))
    }
}

/// A blocking [`RpcServer`](crate::RpcServer).
#[derive(Debug)]
pub struct RpcServer {
    rt: Runtime,
    inner: crate::RpcServer,
}

impl RpcServer {
    /// Wraps an async server; its requests run on `rt`.
    pub fn new(rt: Runtime, inner: crate::RpcServer) -> Self {
        RpcServer { rt, inner }
    }
    /// Starts serving in the background.
    pub fn start(&self) -> Result<()> {
        self.rt.block_on(self.inner.start())
    }
    /// Stops taking requests.
    pub fn stop(&self) {
        self.rt.block_on(self.inner.stop());
    }
    /// Waits for the requests taken to finish.
    pub fn wait(&self) {
        self.rt.block_on(self.inner.wait());
    }
}

/// A blocking [`Notifier`](crate::Notifier).
#[derive(Debug, Clone)]
pub struct Notifier {
    rt: Runtime,
    inner: crate::Notifier,
}

impl Notifier {
    /// Wraps an async notifier.
    pub fn new(rt: Runtime, inner: crate::Notifier) -> Self {
        Notifier { rt, inner }
    }
    /// Blocking [`notify`](crate::Notifier::notify).
    pub fn notify(
        &self,
        ctxt: &Context,
        priority: Priority,
        event_type: &str,
        payload: impl Serialize,
    ) -> Result<()> {
        self.rt
            .block_on(self.inner.notify(ctxt, priority, event_type, payload))
    }
}
