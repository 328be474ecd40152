//! The decision path of the contract, in its order. Every outcome is a response: nothing
//! here returns an error to the runtime (API Gateway would turn that into a 502).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::auth::{self, ApiKeyCache, KeyLookup};
use crate::clock;
use crate::config::Config;
use crate::domain::rules::{Explanation, why_refused};
use crate::domain::{
    BookkeepingFormat, Caller, Connection, ConnectionId, Digest, Idempotency, IdempotencyKey,
    Patch, Precondition, UpdateRequest,
};
use crate::http::event::{Event, HeaderValue};
use crate::http::response::JSON;
use crate::http::route::{check_media_type, connection_route};
use crate::http::{LambdaResponse, Problem, Response};
use crate::single_flight::SingleFlight;
use crate::store::{OldItem, Store, StoreError, UpdateOutcome};
use crate::telemetry::{self, Invocation, LineWriter, Outcome, RequestLine, RequestLog};

use crate::http::event::MAX_BODY_BYTES;

/// Writes a request may make after its first, each started within `EXTRA_WRITES_BUDGET`
/// of the first: a slow database still answers within the function's timeout
/// (docs/operations.md, time budget). Only an item in the legacy bookkeeping form needs any.
const MAX_EXTRA_WRITES: u32 = 4;
const EXTRA_WRITES_BUDGET: std::time::Duration = std::time::Duration::from_secs(3);

/// The write a request makes next. One per attempt, rarely more than one: boxing the
/// connection would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum Write {
    /// Its own (`store::update::expressions`).
    Plain,
    /// Its own, carrying over the legacy bookkeeping of the item as it was read, pinned to
    /// that version (`store::update::migration`).
    Migration(Connection),
}

/// Everything a request needs, built once per instance.
#[derive(Debug)]
pub struct App {
    store: Store,
    keys: ApiKeyCache,
    /// Concurrent invocations (Managed Instances) missing the cache for one key: one read.
    key_reads: SingleFlight<Result<KeyLookup, StoreError>>,
    line: RequestLine,
    /// `REQUIRE_IF_MATCH`: a write without an entity tag in If-Match is 428.
    require_if_match: bool,
    /// `BOOKKEEPING_FORMAT`: the form writes leave the retry bookkeeping in.
    bookkeeping: BookkeepingFormat,
    /// Set by the first invocation: the request line says which one was the cold start.
    served: AtomicBool,
    warm_up_failed: AtomicBool,
}

impl App {
    /// Request lines go to stdout, as Lambda collects them.
    pub fn new(store: Store, config: &Config) -> Self {
        Self::with_lines_to(store, config, telemetry::stdout)
    }

    /// Request lines go to `sink` (tests, whose harness cannot capture stdout).
    pub fn with_lines_to(store: Store, config: &Config, sink: LineWriter) -> Self {
        Self {
            store,
            keys: ApiKeyCache::new(config.api_key_cache_ttl),
            key_reads: SingleFlight::default(),
            line: RequestLine::new(&config.function_name, &config.function_version, sink),
            require_if_match: config.require_if_match,
            bookkeeping: config.bookkeeping,
            served: AtomicBool::new(false),
            warm_up_failed: AtomicBool::new(false),
        }
    }

    /// Builds the DynamoDB client (see `store::dynamodb_client`).
    pub async fn from_config(config: &Config) -> Self {
        let client = crate::store::dynamodb_client(config.dynamodb).await;
        let store = Store::new(
            client,
            config.connections_table.clone(),
            config.api_keys_table.clone(),
        );
        Self::new(store, config)
    }

    /// Reads a key digest that cannot exist (not hex), bounded by `budget`, and ignores the
    /// answer: the connection, TLS session, endpoint and credentials are then ready before
    /// the first request. Nothing is cached.
    /// A warm-up that fails is said by the first request's log (every line the function
    /// writes names its invocation; init has none).
    pub async fn warm_up(&self, budget: std::time::Duration) {
        let outcome = tokio::time::timeout(budget, self.store.client_for_key("warm-up")).await;
        let warm = matches!(outcome, Ok(Ok(KeyLookup::UnknownOrRevoked)));
        self.warm_up_failed.store(!warm, Ordering::Relaxed);
    }

    /// Handles one event and writes its line (log and metrics).
    pub async fn handle(&self, event: &Event, request_id: &str) -> LambdaResponse {
        self.handle_traced(event, request_id, None).await
    }

    /// As `handle`, with X-Ray's trace id of the invocation: every line written while it
    /// runs carries both ids.
    pub async fn handle_traced(
        &self,
        event: &Event,
        request_id: &str,
        trace_id: Option<&str>,
    ) -> LambdaResponse {
        let invocation = Invocation {
            request_id: request_id.to_owned(),
            trace_id: trace_id.map(str::to_owned),
        };
        invocation
            .scope(self.handle_in_scope(event, request_id, trace_id))
            .await
    }

    async fn handle_in_scope(
        &self,
        event: &Event,
        request_id: &str,
        trace_id: Option<&str>,
    ) -> LambdaResponse {
        let started = Instant::now();
        let cold_start = !self.served.swap(true, Ordering::Relaxed);
        if self.warm_up_failed.swap(false, Ordering::Relaxed) {
            tracing::warn!("dynamodb warm-up did not complete at init; this request connects");
        }
        let mut log = RequestLog::default();
        let (response, problem) = match self.decide(event, request_id, &mut log).await {
            Ok(response) => (response, None),
            Err(problem) => {
                let code = problem.code;
                (problem.into_response(request_id), Some(code.as_str()))
            }
        };
        let outcome = Outcome {
            request_id,
            trace_id,
            cold_start,
            status: response.status,
            problem,
            latency: started.elapsed(),
        };
        self.line.emit(&log, outcome);
        response.for_origin(event.origin())
    }

    async fn decide(
        &self,
        event: &Event,
        request_id: &str,
        log: &mut RequestLog,
    ) -> Result<Response, Problem> {
        // 1. Route and method.
        let raw_id = connection_route(event)?;

        // 2. API key. Nothing else is said to a caller without a valid one.
        let KeyLookup::Active(client_id) =
            self.client_for_key(event.header("x-api-key"), log).await?
        else {
            return Err(Problem::invalid_api_key());
        };
        log.client_id = Some(client_id.as_str().to_owned());

        // 3. Bearer token: present and well-formed; the database judges whether it is right.
        let token = auth::bearer_token(event.header("authorization").single())
            .ok_or_else(Problem::missing_token)?;

        // 4. The id, without touching the database.
        let id = ConnectionId::parse(raw_id).ok_or_else(Problem::not_found)?;
        log.connection_id = Some(id.as_str().to_owned());

        // 5. The body (its media type says what `null` means), If-Match, Idempotency-Key.
        let format = check_media_type(event.header("content-type"))?;
        let body = event.body(MAX_BODY_BYTES)?;
        let patch = Patch::parse(&body, format)?;
        let precondition = Precondition::from_lines(&event.header_lines("if-match"))?;
        let key = IdempotencyKey::from_lines(&event.header_lines("idempotency-key"))?;
        // `*` asks only that the connection exist, and a list without a valid tag names no
        // version: neither can prevent a lost update.
        let names_a_version = matches!(&precondition, Precondition::Versions(v) if !v.is_empty());
        if self.require_if_match && !names_a_version {
            return Err(Problem::precondition_required());
        }
        let idempotency = key.map(|key| Idempotency::new(key, &patch, &precondition));

        // 6. One conditional write carries every remaining rule.
        let request = UpdateRequest {
            id,
            request_id,
            request_digest: Digest::of(request_id.as_bytes()),
            bookkeeping: self.bookkeeping,
            caller: Caller {
                client_id,
                token_sha256: auth::sha256_hex(token),
            },
            patch,
            precondition,
            idempotency,
            now: clock::now(),
        };
        self.write(&request, log).await
    }

    /// The request's write, and what its refusal says. Only a write refused because the
    /// item still holds the legacy bookkeeping leads to another.
    async fn write(
        &self,
        request: &UpdateRequest<'_>,
        log: &mut RequestLog,
    ) -> Result<Response, Problem> {
        let started = Instant::now();
        let mut next = Write::Plain;
        let mut extra = 0;
        loop {
            let written = match &next {
                Write::Plain => {
                    log.time_dynamodb(self.store.update_connection(request))
                        .await
                }
                Write::Migration(old) => {
                    log.time_dynamodb(self.store.migrate_connection(request, old))
                        .await
                }
            }
            .map_err(|e| store_problem("update", &e))?;
            log.add_write_units(written.write_units);
            let old = match written.outcome {
                UpdateOutcome::Updated(connection) => return success(&connection),
                UpdateOutcome::Refused(OldItem::NotFound) => return Err(Problem::not_found()),
                UpdateOutcome::Refused(OldItem::Owned(old)) => old,
            };
            let was_migration = matches!(next, Write::Migration(_));
            let may_write_again =
                extra < MAX_EXTRA_WRITES && started.elapsed() < EXTRA_WRITES_BUDGET;
            // The condition failed on the caller's own item: name the rule, from ALL_OLD.
            next = match why_refused(&old, request) {
                Explanation::Refused(refusal) => return Err(refusal.into()),
                Explanation::AlreadyApplied => return success(&old),
                Explanation::Replayed => {
                    return success(&old).map(|r| r.with_header("idempotent-replayed", "true"));
                }
                Explanation::Migrate if may_write_again => Write::Migration(old),
                // Every rule holds and the legacy form is gone: the migration's version moved
                // on, another write having carried the bookkeeping over. Its own write now.
                Explanation::Unexplained if was_migration && may_write_again => Write::Plain,
                Explanation::Migrate => {
                    tracing::warn!(event = "bookkeeping-migration-contended");
                    return Err(Problem::unavailable());
                }
                Explanation::Unexplained => {
                    tracing::error!(event = "unexplained-condition-failure");
                    return Err(Problem::internal());
                }
            };
            extra += 1;
        }
    }

    /// A missing or implausible key is unknown without a lookup.
    async fn client_for_key(
        &self,
        header: HeaderValue<'_>,
        log: &mut RequestLog,
    ) -> Result<KeyLookup, Problem> {
        let Some(key) = auth::api_key(header.single()) else {
            return Ok(KeyLookup::UnknownOrRevoked);
        };
        let digest = auth::sha256_hex(key);
        if let Some(cached) = self.keys.get(&digest, auth::Stamp::now()) {
            return Ok(cached);
        }
        // Cached before the flight lands, so that no caller finds neither.
        let read = async {
            let answer = log.time_dynamodb(self.store.client_for_key(&digest)).await;
            if let Ok(answer) = &answer {
                self.keys.put(digest.clone(), answer, auth::Stamp::now());
            }
            answer
        };
        // With the cache off every request reads, as the setting promises.
        let answer = if self.keys.remembers() {
            self.key_reads.run(&digest, read).await
        } else {
            read.await
        };
        answer.map_err(|e| store_problem("api-key-lookup", &e))
    }
}
fn success(connection: &Connection) -> Result<Response, Problem> {
    let body = serde_json::to_string(&connection.view()).map_err(|_| Problem::internal())?;
    Ok(Response::json(200, JSON, body).with_header("etag", format!("\"{}\"", connection.version)))
}

/// Internal causes are logged, by code only, and never returned.
fn store_problem(call: &'static str, err: &StoreError) -> Problem {
    if err.is_unavailable() {
        tracing::warn!(call, error = err.log_code(), "dynamodb unavailable");
        Problem::unavailable()
    } else {
        tracing::error!(call, error = err.log_code(), "dynamodb call failed");
        Problem::internal()
    }
}
