//! The one conditional `UpdateItem` that carries every rule the database can judge.

use std::collections::HashMap;
use std::sync::LazyLock;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnConsumedCapacity, ReturnValue, ReturnValuesOnConditionCheckFailure,
};

use super::item::{OldItem, connection_from_item, old_item};
use super::{Store, StoreError};
use crate::domain::{
    BookkeepingFormat, Change, Connection, DISCONNECTED, Digest, Idempotency, KeyRecord, Member,
    Precondition, UpdateRequest, WRITE_SCOPE,
};
use crate::schema::connection as attr;

#[derive(Debug)]
pub enum UpdateOutcome {
    /// Written; the item as it is now.
    Updated(Connection),
    /// The condition failed; what the item was, for the caller.
    Refused(OldItem),
}

/// The expression and its placeholders. DynamoDB refuses unused placeholders, so each
/// is added where the expression first uses it.
#[derive(Debug, Default, PartialEq)]
pub struct Expressions {
    pub condition: String,
    pub update: String,
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
}

impl Expressions {
    fn name(&mut self, attribute: &str) -> String {
        let placeholder = format!("#{attribute}");
        self.names.insert(placeholder.clone(), attribute.to_owned());
        placeholder
    }

    fn value(&mut self, placeholder: &str, value: AttributeValue) -> String {
        self.values.insert(placeholder.to_owned(), value);
        placeholder.to_owned()
    }
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn b(digest: &Digest) -> AttributeValue {
    AttributeValue::B(Blob::new(digest.as_bytes().to_vec()))
}

/// The placeholders of `attributes`, in their order.
fn placeholders(e: &mut Expressions, attributes: &[&str]) -> Vec<String> {
    attributes.iter().map(|a| e.name(a)).collect()
}

/// Shifts a list of slots down by one and puts `value` first: every right-hand side reads
/// the item as it was before this update, and an empty slot takes `value` (harmless: it
/// names this write).
fn shift(update: &mut String, slots: &[String], value: &str) {
    for pair in slots.windows(2).rev() {
        let [newer, older] = pair else { continue };
        update.push_str(&format!(", {older} = if_not_exists({newer}, {value})"));
    }
    if let Some(newest) = slots.first() {
        update.push_str(&format!(", {newest} = {value}"));
    }
}

/// The rules the database judges on every write (ownership, token, scope, expiry, not
/// disconnected, the types the answer is read from) and the start of the SET clause.
/// Built once per instance (`COMPACT`, `LEGACY`, `RULES`) instead of once per request.
#[derive(Default)]
struct Common {
    names: HashMap<String, String>,
    condition: String,
    update: String,
}

fn rules() -> Common {
    let mut e = Expressions::default();
    let id = e.name(attr::CONNECTION_ID);
    let client = e.name(attr::CLIENT_ID);
    let token = e.name(attr::TOKEN_SHA256);
    let scopes = e.name(attr::TOKEN_SCOPES);
    let expires = e.name(attr::TOKEN_EXPIRES_AT);
    let status = e.name(attr::STATUS);
    let version = e.name(attr::VERSION);
    let updated_at = e.name(attr::UPDATED_AT);
    // `contains` on a plain string matches a substring ("connections:write-limited"), so
    // the scopes must also be a string set, where it means membership.
    let mut condition = format!(
        "attribute_exists({id}) AND {client} = :client AND {token} = :token \
         AND attribute_type({scopes}, :ss) AND contains({scopes}, :scope) \
         AND (attribute_not_exists({expires}) OR {expires} > :now_epoch) \
         AND {status} <> :disconnected"
    );
    // What the answer is read from must be there, of its type: a write to an item this
    // system could not have written is refused, not committed and then answered 500.
    let retailer = e.name(attr::RETAILER_ID);
    condition.push_str(&format!(" AND attribute_type({retailer}, :S)"));
    for member in Member::ALL.iter().filter(|m| !m.removable()) {
        let name = e.name(member.attribute());
        condition.push_str(&format!(" AND attribute_type({name}, :S)"));
    }
    for name in [&version, &expires] {
        condition.push_str(&format!(
            " AND (attribute_not_exists({name}) OR attribute_type({name}, :N))"
        ));
    }
    Common {
        names: e.names,
        condition,
        update: format!(
            "SET {updated_at} = :now, {version} = if_not_exists({version}, :zero) + :one"
        ),
    }
}

/// Refused while a remembered request id of `form` is this request's (`:rid`, or
/// `:request_id` in the legacy form); the placeholders of its slots.
fn guard_requests(e: &mut Expressions, form: BookkeepingFormat) -> Vec<String> {
    let (slots, guard): (_, fn(&str) -> String) = match form {
        BookkeepingFormat::Compact => (&attr::REQUEST_DIGESTS, |n| format!(" AND NOT {n} = :rid")),
        BookkeepingFormat::Legacy => (&attr::LEGACY_REQUEST_IDS, |n| {
            format!(" AND (attribute_not_exists({n}) OR {n} <> :request_id)")
        }),
    };
    let slots = placeholders(e, slots);
    for name in &slots {
        e.condition.push_str(&guard(name));
    }
    slots
}

/// Refused while a remembered record of `form` carries this request's key (the refusal's
/// ALL_OLD says whether it is a replay or another request); the placeholders of its slots.
fn guard_key(e: &mut Expressions, key: &Idempotency, form: BookkeepingFormat) -> Vec<String> {
    let (slots, guard): (_, fn(&str) -> String) = match form {
        BookkeepingFormat::Compact => {
            e.value(":kd", b(&key.key_digest));
            (&attr::KEY_DIGESTS, |n| format!(" AND NOT {n} = :kd"))
        }
        BookkeepingFormat::Legacy => {
            e.value(":idempotency_key", s(&key.legacy_record_prefix()));
            (&attr::LEGACY_IDEMPOTENCY_RECORDS, |n| {
                format!(" AND NOT begins_with({n}, :idempotency_key)")
            })
        }
    };
    let slots = placeholders(e, slots);
    for name in &slots {
        e.condition.push_str(&guard(name));
    }
    slots
}

/// `rules` and the retry guard of every form the item may hold; then this request's id
/// remembered first, in `form`.
fn write_of(form: BookkeepingFormat) -> Common {
    let Common {
        names,
        condition,
        mut update,
    } = rules();
    let mut e = Expressions {
        names,
        condition,
        ..Expressions::default()
    };
    let digests = guard_requests(&mut e, BookkeepingFormat::Compact);
    match form {
        BookkeepingFormat::Compact => {
            // An item still holding the legacy form is refused, and then carried over
            // (`migration`).
            for attribute in attr::LEGACY_MARKERS {
                let name = e.name(attribute);
                e.condition
                    .push_str(&format!(" AND attribute_not_exists({name})"));
            }
            shift(&mut update, &digests, ":rid");
        }
        BookkeepingFormat::Legacy => {
            let legacy = guard_requests(&mut e, BookkeepingFormat::Legacy);
            shift(&mut update, &legacy, ":request_id");
        }
    }
    Common {
        names: e.names,
        condition: e.condition,
        update,
    }
}

static COMPACT: LazyLock<Common> = LazyLock::new(|| write_of(BookkeepingFormat::Compact));
static LEGACY: LazyLock<Common> = LazyLock::new(|| write_of(BookkeepingFormat::Legacy));
static RULES: LazyLock<Common> = LazyLock::new(rules);

fn start(common: &Common, req: &UpdateRequest<'_>) -> Expressions {
    let mut e = Expressions {
        condition: String::with_capacity(common.condition.len() + 96),
        update: String::with_capacity(common.update.len() + 160),
        names: common.names.clone(),
        values: HashMap::with_capacity(18),
    };
    e.condition.push_str(&common.condition);
    e.update.push_str(&common.update);
    e.value(":client", s(req.caller.client_id.as_str()));
    e.value(":token", s(&req.caller.token_sha256));
    e.value(":scope", s(WRITE_SCOPE));
    e.value(":ss", s("SS"));
    e.value(":S", s("S"));
    e.value(":N", s("N"));
    e.value(":now_epoch", AttributeValue::N(req.now.epoch_number()));
    e.value(":disconnected", s(DISCONNECTED));
    e.value(":now", s(req.now.rfc3339()));
    e.value(":zero", n(0));
    e.value(":one", n(1));
    e
}

/// Builds the condition (the rules, the retry guard, If-Match, the key) and the update
/// (the patch, `updated_at`, `version + 1`, the bookkeeping, `disconnected_at` on
/// disconnect) of a write that leaves its bookkeeping in `req.bookkeeping`'s form.
pub fn expressions(req: &UpdateRequest<'_>) -> Expressions {
    let common = match req.bookkeeping {
        BookkeepingFormat::Compact => &*COMPACT,
        BookkeepingFormat::Legacy => &*LEGACY,
    };
    let mut e = start(common, req);
    e.value(":rid", b(&req.request_digest));
    if req.bookkeeping == BookkeepingFormat::Legacy {
        e.value(":request_id", s(req.request_id));
    }
    // A keyed write: refused while a remembered record carries the key, in either form
    // the item may hold; then remembered first.
    if let Some(idempotency) = &req.idempotency {
        let keys = guard_key(&mut e, idempotency, BookkeepingFormat::Compact);
        match req.bookkeeping {
            BookkeepingFormat::Compact => {
                let fingerprints = placeholders(&mut e, &attr::FINGERPRINTS);
                e.value(":fp", b(&idempotency.fingerprint));
                shift(&mut e.update, &keys, ":kd");
                shift(&mut e.update, &fingerprints, ":fp");
            }
            BookkeepingFormat::Legacy => {
                let slots = guard_key(&mut e, idempotency, BookkeepingFormat::Legacy);
                e.value(":idempotency_record", s(&idempotency.legacy_record()));
                shift(&mut e.update, &slots, ":idempotency_record");
            }
        }
    }
    finish(e, req, Vec::new())
}

/// A compact write to an item that still holds legacy bookkeeping (`Explanation::Migrate`):
/// every remembered request and record, read from `old` in both forms, is written in the
/// compact form with this write's own first, and the legacy attributes are removed. The
/// item must still be at `old`'s version, which pins everything this was computed from.
pub fn migration(req: &UpdateRequest<'_>, old: &Connection) -> Expressions {
    let mut e = start(&RULES, req);
    let version = e.name(attr::VERSION);
    if old.version == 0 {
        e.condition
            .push_str(&format!(" AND attribute_not_exists({version})"));
    } else {
        e.condition.push_str(&format!(" AND {version} = :seen"));
        e.value(":seen", n(old.version));
    }
    // The guards of every write, in both forms: an entry the read could not parse still
    // refuses the write here, instead of being carried over as nothing.
    e.value(":rid", b(&req.request_digest));
    e.value(":request_id", s(req.request_id));
    for form in [BookkeepingFormat::Compact, BookkeepingFormat::Legacy] {
        guard_requests(&mut e, form);
        if let Some(idempotency) = &req.idempotency {
            guard_key(&mut e, idempotency, form);
        }
    }
    // As the shift of a compact write leaves them: this write's entry first, then what the
    // item remembered (legacy first, always the newer), an empty slot taking this write's.
    let slots = attr::SLOTS;
    let mut requests = vec![req.request_digest];
    requests.extend(old.recent_requests.iter().take(slots - 1));
    requests.resize(slots, req.request_digest);
    let records: Vec<KeyRecord> = match &req.idempotency {
        Some(idempotency) => {
            let mine = idempotency.record();
            let mut records = vec![mine];
            records.extend(old.idempotency_records.iter().take(slots - 1));
            records.resize(slots, mine);
            records
        }
        // A write without a key keeps the records as it found them.
        None => old
            .idempotency_records
            .iter()
            .take(slots)
            .copied()
            .collect(),
    };
    let mut remove = Vec::new();
    for (attribute, digest) in attr::REQUEST_DIGESTS.iter().zip(&requests) {
        set_digest(&mut e, attribute, digest);
    }
    for (i, (key, fingerprint)) in attr::KEY_DIGESTS.iter().zip(attr::FINGERPRINTS).enumerate() {
        match records.get(i) {
            Some(record) => {
                set_digest(&mut e, key, &record.key);
                set_digest(&mut e, fingerprint, &record.fingerprint);
            }
            None => {
                remove.push(e.name(key));
                remove.push(e.name(fingerprint));
            }
        }
    }
    for attribute in attr::LEGACY_REQUEST_IDS
        .iter()
        .chain(&attr::LEGACY_IDEMPOTENCY_RECORDS)
    {
        remove.push(e.name(attribute));
    }
    finish(e, req, remove)
}

fn set_digest(e: &mut Expressions, attribute: &str, digest: &Digest) {
    let name = e.name(attribute);
    let placeholder = format!(":{attribute}");
    e.update.push_str(&format!(", {name} = {placeholder}"));
    e.value(&placeholder, b(digest));
}

/// If-Match and the patch, shared by every form of write; `remove` holds the attributes
/// the bookkeeping removes.
fn finish(mut e: Expressions, req: &UpdateRequest<'_>, mut remove: Vec<String>) -> Expressions {
    match &req.precondition {
        Precondition::None | Precondition::Any => {}
        // No tag can match: a condition that is always false, still judged after the
        // others so the caller learns 412 only once it may see the connection.
        Precondition::Versions(versions) if versions.is_empty() => {
            e.condition
                .push_str(" AND attribute_not_exists(#connection_id)");
        }
        Precondition::Versions(versions) => {
            // An item without `version` is at version 0 (its ETag is "0"), as the read-back
            // and the write's `if_not_exists` count it.
            let at_zero = versions.contains(&0);
            e.condition.push_str(if at_zero {
                " AND (attribute_not_exists(#version) OR #version IN ("
            } else {
                " AND #version IN ("
            });
            for (i, v) in versions.iter().enumerate() {
                let placeholder = format!(":v{i}");
                if i > 0 {
                    e.condition.push_str(", ");
                }
                e.condition.push_str(&placeholder);
                e.values.insert(placeholder, n(*v));
            }
            e.condition.push_str(if at_zero { "))" } else { ")" });
        }
    }
    // Each member the patch changes: `:<attribute>` holds a value its parser accepted.
    for (member, change) in req.patch.changes() {
        let attribute = member.attribute();
        match change {
            Change::Keep => {}
            Change::Remove => remove.push(e.name(attribute)),
            Change::Set(value) => {
                let name = e.name(attribute);
                let placeholder = format!(":{attribute}");
                e.update.push_str(&format!(", {name} = {placeholder}"));
                e.value(&placeholder, s(value));
                if let Some(stamp) = member.stamps() {
                    let stamp = e.name(stamp);
                    e.update.push_str(&format!(", {stamp} = :now"));
                }
            }
        }
    }
    if !remove.is_empty() {
        e.update.push_str(" REMOVE ");
        e.update.push_str(&remove.join(", "));
    }
    e
}

/// What a write did, and the write units DynamoDB billed for it when it says (it does for
/// an accepted write; a refused one is billed too but its error carries no figure).
#[derive(Debug)]
pub struct Written {
    pub outcome: UpdateOutcome,
    pub write_units: Option<f64>,
}

impl Store {
    /// The request's write.
    pub async fn update_connection(&self, req: &UpdateRequest<'_>) -> Result<Written, StoreError> {
        self.update(req, expressions(req)).await
    }

    /// The same write, carrying `old`'s legacy bookkeeping over (`migration`).
    pub async fn migrate_connection(
        &self,
        req: &UpdateRequest<'_>,
        old: &Connection,
    ) -> Result<Written, StoreError> {
        self.update(req, migration(req, old)).await
    }

    async fn update(&self, req: &UpdateRequest<'_>, e: Expressions) -> Result<Written, StoreError> {
        // Boxed: the SDK's future is large, and lambda_runtime moves the handler's future
        // several times per invocation (memcpy of every byte each time).
        let result = Box::pin(
            self.client
                .update_item()
                .table_name(&self.connections_table)
                .key(attr::CONNECTION_ID, s(req.id.as_str()))
                .condition_expression(e.condition)
                .update_expression(e.update)
                .set_expression_attribute_names(Some(e.names))
                .set_expression_attribute_values(Some(e.values))
                .return_values(ReturnValue::AllNew)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send(),
        )
        .await;
        match result {
            Ok(output) => {
                let write_units = output
                    .consumed_capacity
                    .as_ref()
                    .and_then(|c| c.write_capacity_units.or(c.capacity_units));
                let item = output
                    .attributes
                    .ok_or(StoreError::MalformedItem("attributes"))?;
                Ok(Written {
                    outcome: UpdateOutcome::Updated(connection_from_item(&item)?),
                    write_units,
                })
            }
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => Ok(Written {
                    outcome: UpdateOutcome::Refused(old_item(
                        failed.item(),
                        &req.caller.client_id,
                    )?),
                    write_units: None,
                }),
                _ => Err(StoreError::from_sdk(&err)),
            },
        }
    }
}
