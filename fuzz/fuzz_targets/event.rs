//! Whole Lambda events through the handler, DynamoDB answered in process: any bytes, no
//! panic, and every answer is a well-formed response the contract allows.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use update_connection::store::Store;
use update_connection::store::in_process::in_process_client;
use update_connection::{App, Config, Event};

const UPDATED: &str = r#"{"Attributes":{"connection_id":{"S":"01J51S0JYV6N7K1030CV1ZKSCB"},"client_id":{"S":"client-demo"},"customer_id":{"S":"customer-b"},"retailer_id":{"S":"01J7SC0NN73R6F5VVSP3ZKPDA3"},"status":{"S":"active"},"token_sha256":{"S":"x"},"version":{"N":"2"}}}"#;
const KEY_ITEM: &str = r#"{"Item":{"client_id":{"S":"client-demo"},"status":{"S":"active"}}}"#;

struct World {
    rt: tokio::runtime::Runtime,
    app: App,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let app = rt.block_on(async {
            let client = in_process_client(|operation, _| {
                let body = if operation == "GetItem" {
                    KEY_ITEM
                } else {
                    UPDATED
                };
                (200, body.to_owned())
            })
            .await;
            let config = Config {
                connections_table: "c".into(),
                api_keys_table: "k".into(),
                api_key_cache_ttl: Duration::from_secs(3600),
                warm_up: false,
            };
            App::new(Store::new(client, "c".into(), "k".into()), &config).without_request_lines()
        });
        World { rt, app }
    })
}

const STATUSES: [u16; 13] = [
    200, 400, 401, 403, 404, 405, 409, 412, 413, 415, 422, 500, 503,
];

fuzz_target!(|data: &[u8]| {
    let Ok(event) = serde_json::from_slice::<Event>(data) else {
        return;
    };
    let w = world();
    let response = w.rt.block_on(w.app.handle(&event, "fuzz"));
    let status = response.response.status;
    assert!(STATUSES.contains(&status), "status {status}");
    // The canned store never fails, so no internal error may appear.
    assert!(status != 500 && status != 503, "status {status}");
    let body: serde_json::Value = serde_json::from_str(&response.response.body).expect("JSON body");
    if status != 200 {
        assert_eq!(body["status"], status);
        assert!(body["code"].is_string());
    }
    serde_json::to_vec(&response).expect("serialisable");
});
