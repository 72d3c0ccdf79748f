//! Sequential call latency over RabbitMQ, ours against a raw lapin request/reply loop.
//!
//! `OSLO_TEST_RABBIT_URL=rabbit://user:pass@127.0.0.1:5672/ cargo run --release --features rabbit --example rabbit_latency`

use std::time::Instant;

use futures::StreamExt;
use oslo_messaging::lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions,
    QueueDeclareOptions,
};
use oslo_messaging::lapin::types::FieldTable;
use oslo_messaging::lapin::{BasicProperties, Connection, ConnectionProperties};
use oslo_messaging::{Context, Endpoint, RemoteError, RpcClient, RpcServer, Target, Transport};
use serde_json::{Value, json};

const N: usize = 2000;

async fn raw(amqp: &str) -> f64 {
    let conn = Connection::connect(amqp, ConnectionProperties::default())
        .await
        .unwrap();
    let sconn = Connection::connect(amqp, ConnectionProperties::default())
        .await
        .unwrap();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (req_q, rep_q) = (format!("raw_req_{id}"), format!("raw_rep_{id}"));
    let ch = conn.create_channel().await.unwrap();
    let sch = sconn.create_channel().await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    sch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let opts = QueueDeclareOptions {
        auto_delete: true,
        ..QueueDeclareOptions::default()
    };
    for q in [&req_q, &rep_q] {
        ch.queue_declare(q.as_str().into(), opts, FieldTable::default())
            .await
            .unwrap();
    }
    let mut reqs = sch
        .basic_consume(
            req_q.as_str().into(),
            "s".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let rep = rep_q.clone();
    tokio::spawn(async move {
        while let Some(Ok(d)) = reqs.next().await {
            d.ack(BasicAckOptions::default()).await.unwrap();
            let sch = sch.clone();
            let rep = rep.clone();
            tokio::spawn(async move {
                let c = sch
                    .basic_publish(
                        "".into(),
                        rep.as_str().into(),
                        BasicPublishOptions::default(),
                        &d.data,
                        BasicProperties::default(),
                    )
                    .await
                    .unwrap();
                c.await.unwrap();
            });
        }
    });
    let mut reps = ch
        .basic_consume(
            rep_q.as_str().into(),
            "c".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let body = br#"{"oslo.version": "2.0", "oslo.message": "{\"method\": \"echo\", \"args\": {\"x\": 1}}"}"#;
    let mut round = async || {
        let c = ch
            .basic_publish(
                "".into(),
                req_q.as_str().into(),
                BasicPublishOptions::default(),
                body,
                BasicProperties::default(),
            )
            .await
            .unwrap();
        c.await.unwrap();
        let d = reps.next().await.unwrap().unwrap();
        d.ack(BasicAckOptions::default()).await.unwrap();
    };
    for _ in 0..50 {
        round().await;
    }
    let t0 = Instant::now();
    for _ in 0..N {
        round().await;
    }
    N as f64 / t0.elapsed().as_secs_f64()
}

async fn ours(url: &str) -> (f64, f64) {
    let t = Transport::new(url).unwrap();
    let topic = format!("lat_{}", uuid::Uuid::new_v4().simple());
    let s = RpcServer::builder(t.clone(), Target::topic(&topic).with_server("s"))
        .endpoint(Endpoint::new().json_method("echo", |_c, a| async move {
            Ok::<_, RemoteError>(a.get("x").cloned().unwrap_or(Value::Null))
        }))
        .build()
        .unwrap();
    s.start().await.unwrap();
    let c = RpcClient::new(t, Target::topic(&topic)).unwrap();
    for i in 0..50 {
        let _: i64 = c
            .call(&Context::new(), "echo", json!({"x": i}))
            .await
            .unwrap();
    }
    let t0 = Instant::now();
    for i in 0..N {
        let _: i64 = c
            .call(&Context::new(), "echo", json!({"x": i}))
            .await
            .unwrap();
    }
    let calls = N as f64 / t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    for i in 0..N {
        c.cast(&Context::new(), "echo", json!({"x": i}))
            .await
            .unwrap();
    }
    let casts = N as f64 / t0.elapsed().as_secs_f64();
    s.stop().await;
    s.wait().await;
    (calls, casts)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let url = std::env::var("OSLO_TEST_RABBIT_URL").expect("OSLO_TEST_RABBIT_URL");
    let amqp = url.replacen("rabbit://", "amqp://", 1) + "%2f";
    for _ in 0..2 {
        let r = raw(&amqp).await;
        let (c, k) = ours(&url).await;
        println!(
            "raw {r:.0}/s  ours calls {c:.0}/s  casts {k:.0}/s  (ours/raw {:.2})",
            c / r
        );
    }
}
