//! The one conditional `UpdateItem` that carries every rule the database can judge.

use std::collections::HashMap;
use std::sync::LazyLock;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::item::{OldItem, RECENT_REQUEST_IDS, connection_from_item, old_item};
use super::{Store, StoreError};
use crate::domain::{
    Change, Connection, DISCONNECTED, Member, Precondition, UpdateRequest, WRITE_SCOPE,
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

/// What every write has in common: the names it always uses, the condition without
/// If-Match, and the start of the SET clause. Built once per instance instead of once per
/// request (`expressions` builds everything else around it).
struct Common {
    names: HashMap<String, String>,
    condition: String,
    set: String,
}

static COMMON: LazyLock<Common> = LazyLock::new(|| {
    let mut e = Expressions::default();
    let id = e.name(attr::CONNECTION_ID);
    let client = e.name(attr::CLIENT_ID);
    let token = e.name(attr::TOKEN_SHA256);
    let scopes = e.name(attr::TOKEN_SCOPES);
    let expires = e.name(attr::TOKEN_EXPIRES_AT);
    let status = e.name(attr::STATUS);
    let version = e.name(attr::VERSION);
    let recent: Vec<String> = RECENT_REQUEST_IDS.iter().map(|a| e.name(a)).collect();
    let updated_at = e.name(attr::UPDATED_AT);
    // `contains` on a plain string matches a substring ("connections:write-limited"), so
    // the scopes must also be a string set, where it means membership.
    let mut condition = format!(
        "attribute_exists({id}) AND {client} = :client AND {token} = :token \
         AND attribute_type({scopes}, :ss) AND contains({scopes}, :scope) \
         AND (attribute_not_exists({expires}) OR {expires} > :now_epoch) \
         AND {status} <> :disconnected"
    );
    for name in &recent {
        condition.push_str(&format!(
            " AND (attribute_not_exists({name}) OR {name} <> :request_id)"
        ));
    }
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
    let mut set = vec![
        format!("{updated_at} = :now"),
        format!("{version} = if_not_exists({version}, :zero) + :one"),
    ];
    // Shift the recent ids down by one: every right-hand side reads the item as it was
    // before this update. An empty slot is filled with this request's id, which is harmless.
    for pair in recent.windows(2).rev() {
        let [newer, older] = pair else { continue };
        set.push(format!("{older} = if_not_exists({newer}, :request_id)"));
    }
    if let Some(newest) = recent.first() {
        set.push(format!("{newest} = :request_id"));
    }
    Common {
        names: e.names,
        condition,
        set: format!("SET {}", set.join(", ")),
    }
});

/// Builds the condition (ownership, token, scope, expiry, not disconnected, version) and
/// the update (the patch, `updated_at`, `version + 1`, `disconnected_at` on disconnect).
pub fn expressions(req: &UpdateRequest<'_>) -> Expressions {
    let common = &*COMMON;
    let mut e = Expressions {
        condition: String::with_capacity(common.condition.len() + 64),
        update: String::with_capacity(common.set.len() + 128),
        names: common.names.clone(),
        values: HashMap::with_capacity(16),
    };
    e.condition.push_str(&common.condition);
    e.update.push_str(&common.set);
    e.value(":request_id", s(req.request_id));
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
    // A keyed write: refused while any remembered record carries the key (the refusal's
    // ALL_OLD says whether it is a replay or another request), and then remembered first.
    if let Some(idempotency) = &req.idempotency {
        let slots: Vec<String> = attr::IDEMPOTENCY_RECORDS
            .iter()
            .map(|a| e.name(a))
            .collect();
        e.value(":idempotency_key", s(&idempotency.record_prefix()));
        e.value(":idempotency_record", s(&idempotency.record()));
        for slot in &slots {
            e.condition
                .push_str(&format!(" AND NOT begins_with({slot}, :idempotency_key)"));
        }
        for pair in slots.windows(2).rev() {
            let [newer, older] = pair else { continue };
            e.update.push_str(&format!(
                ", {older} = if_not_exists({newer}, :idempotency_record)"
            ));
        }
        if let Some(newest) = slots.first() {
            e.update
                .push_str(&format!(", {newest} = :idempotency_record"));
        }
    }
    // Each member the patch changes: `:<attribute>` holds a value its parser accepted.
    let mut remove = Vec::new();
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

impl Store {
    pub async fn update_connection(
        &self,
        req: &UpdateRequest<'_>,
    ) -> Result<UpdateOutcome, StoreError> {
        let e = expressions(req);
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
                .send(),
        )
        .await;
        match result {
            Ok(output) => {
                let item = output
                    .attributes
                    .ok_or(StoreError::MalformedItem("attributes"))?;
                Ok(UpdateOutcome::Updated(connection_from_item(&item)?))
            }
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => Ok(
                    UpdateOutcome::Refused(old_item(failed.item(), &req.caller.client_id)?),
                ),
                _ => Err(StoreError::from_sdk(&err)),
            },
        }
    }
}
