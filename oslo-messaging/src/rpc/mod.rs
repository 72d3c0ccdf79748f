//! RPC: the client, the server and the endpoints that hold a server's methods.

mod client;
mod dispatcher;
mod server;

pub use client::{Prepare, RpcClient, RpcClientBuilder};
pub use dispatcher::{AccessPolicy, Endpoint};
pub use server::{RpcServer, RpcServerBuilder};
