//! A minimal API Gateway (REST, v1 payload) on loopback: HTTP requests in, Lambda events
//! to one function process through a loopback Runtime API, HTTP responses out. Bodies that
//! are not UTF-8 are passed base64-encoded, as API Gateway does for binary media types.
//! Used to point schemathesis at the function (scripts/schemathesis).
//!
//!   http-gateway --bin FUNCTION --port PORT

use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use serde_json::{Map, Value, json};
use update_connection_bench::{HttpRequest, RuntimeApi, flag, read_request, spawn};

static IDS: AtomicU64 = AtomicU64::new(0);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(bin), Some(port)) = (flag(&args, "--bin"), flag(&args, "--port")) else {
        eprintln!("usage: http-gateway --bin FUNCTION --port PORT");
        std::process::exit(2);
    };
    let api = RuntimeApi::start();
    let (_child, _) = spawn(&bin, &api);
    let listener =
        TcpListener::bind(("127.0.0.1", port.parse::<u16>().expect("port"))).expect("bind");
    eprintln!("http-gateway: http://127.0.0.1:{port} -> {bin}");
    let function = Mutex::new(api);
    std::thread::scope(|s| {
        for stream in listener.incoming().flatten() {
            let function = &function;
            s.spawn(move || serve(stream, function));
        }
    });
}

fn serve(stream: TcpStream, function: &Mutex<RuntimeApi>) {
    let mut reader = BufReader::new(stream);
    while let Some(HttpRequest {
        method,
        target,
        headers,
        body,
    }) = read_request(&mut reader)
    {
        let length = body.len();
        let path = target.split('?').next().unwrap_or("/").to_owned();
        let mut single = Map::new();
        let mut multi: Map<String, Value> = Map::new();
        for (name, value) in &headers {
            single.insert(name.clone(), json!(value));
            multi
                .entry(name.clone())
                .or_insert_with(|| json!([]))
                .as_array_mut()
                .unwrap()
                .push(json!(value));
        }
        let (text, base64) = match std::str::from_utf8(&body) {
            Ok(text) => (text.to_owned(), false),
            Err(_) => (
                base64::engine::general_purpose::STANDARD.encode(&body),
                true,
            ),
        };
        let event = json!({
            "resource": "/{proxy+}", "path": path, "httpMethod": method,
            "headers": single, "multiValueHeaders": multi, "pathParameters": null,
            "requestContext": {"stage": "local", "requestId": "gateway", "httpMethod": method},
            "body": if length == 0 { Value::Null } else { json!(text) }, "isBase64Encoded": base64
        });
        let id = format!("gw-{}", IDS.fetch_add(1, Ordering::SeqCst));
        let response = {
            let api = function.lock().unwrap_or_else(|e| e.into_inner());
            api.call(&id, &serde_json::to_vec(&event).unwrap()).2
        };
        let status = response["statusCode"].as_u64().unwrap_or(502);
        let body = response["body"].as_str().unwrap_or("").to_owned();
        let mut out = format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\n", body.len());
        if let Some(map) = response["headers"].as_object() {
            for (name, value) in map {
                out.push_str(&format!("{name}: {}\r\n", value.as_str().unwrap_or("")));
            }
        }
        out.push_str("\r\n");
        out.push_str(&body);
        if reader.get_mut().write_all(out.as_bytes()).is_err() {
            return;
        }
    }
}
