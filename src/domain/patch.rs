//! The request body, parsed into the one change it asks for.

use std::fmt;

use serde::de::{self, Deserialize, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::member::{Member, Members, READ_ONLY};

/// What a patch does to one member.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Change {
    #[default]
    Keep,
    Remove,
    /// A value its member's parser accepted.
    Set(String),
}

/// A valid, non-empty update: one change per member. Only `Member::parse` makes a `Set`,
/// and only a removable member gets `Remove`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    changes: Members<Change>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchError {
    /// Not JSON, not an object, or ambiguous (a member given twice). 400 `malformed-body`.
    Malformed(String),
    /// Valid, but asks for no change. 400 `empty-update`.
    Empty,
    /// Unknown members or bad values, one entry per member. 422 `validation-failed`.
    Invalid(Vec<FieldError>),
}

/// How a body's `null` is read, by its media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchFormat {
    /// `application/json`: `null` removes a removable member and leaves a required one
    /// unchanged.
    Json,
    /// `application/merge-patch+json` (RFC 7396): `null` removes; a required member's
    /// `null` is refused, since it cannot be removed.
    MergePatch,
}

impl Patch {
    /// Parses an `application/json` body.
    pub fn from_json(body: &[u8]) -> Result<Self, PatchError> {
        Self::parse(body, PatchFormat::Json)
    }

    /// Parses a body. Unknown members and bad values win over "empty": a body that
    /// names `connection_id` is rejected naming it, even if it asks for nothing else.
    pub fn parse(body: &[u8], format: PatchFormat) -> Result<Self, PatchError> {
        if nested_deeper_than(body, MAX_NESTING) {
            return Err(PatchError::Malformed(format!(
                "the body's JSON is nested deeper than {MAX_NESTING} levels"
            )));
        }
        let mut de = serde_json::Deserializer::from_slice(body);
        // The depth is bounded above; serde_json's own limit would refuse 128 levels.
        de.disable_recursion_limit();
        let fields = BodyVisitor
            .deserialize(&mut de)
            .and_then(|fields| de.end().map(|()| fields))
            .map_err(|e| PatchError::Malformed(malformed_detail(&e)))?;
        let fields = fields?;

        let mut errors = Vec::new();
        let mut changes = Members::<Change>::default();
        for (name, field) in fields {
            let outcome = match field {
                Field::Known(member, value) => {
                    change(member, value, format).map(|c| changes[member] = c)
                }
                Field::Unknown if READ_ONLY.contains(&name.as_str()) => Err("is read-only"),
                Field::Unknown => Err("is not a member of this resource"),
            };
            if let Err(message) = outcome {
                errors.push(FieldError {
                    field: name,
                    message: message.to_owned(),
                });
            }
        }

        let patch = Patch { changes };
        if !errors.is_empty() {
            Err(PatchError::Invalid(errors))
        } else if patch.is_empty() {
            Err(PatchError::Empty)
        } else {
            Ok(patch)
        }
    }

    pub fn change(&self, member: Member) -> &Change {
        &self.changes[member]
    }

    /// Every member the patch changes, in `Member::ALL`'s order.
    pub fn changes(&self) -> impl Iterator<Item = (Member, &Change)> {
        self.changes.iter().filter(|(_, c)| **c != Change::Keep)
    }

    /// True when the patch sets the status (to `disconnected`, the only one it can).
    pub fn disconnects(&self) -> bool {
        matches!(self.change(Member::Status), Change::Set(_))
    }

    fn is_empty(&self) -> bool {
        self.changes().next().is_none()
    }
}

/// A body member's value as its member reads it.
fn change(member: Member, value: Value, format: PatchFormat) -> Result<Change, &'static str> {
    match (value, format) {
        (Value::Null, _) if member.removable() => Ok(Change::Remove),
        (Value::Null, PatchFormat::Json) => Ok(Change::Keep),
        (Value::Null, PatchFormat::MergePatch) => Err("cannot be removed"),
        (value, _) => set(member, value),
    }
}

fn set(member: Member, value: Value) -> Result<Change, &'static str> {
    match value {
        Value::Null => Err("cannot be removed"),
        Value::String(s) => member.parse(&s).map(Change::Set),
        Value::Other => Err(member.wrong_type()),
    }
}

/// The contract refuses JSON nested deeper than this (arrays and objects, the body's own
/// object included).
pub const MAX_NESTING: usize = 128;

/// Whether arrays and objects nest deeper than `limit` in `body`, counted outside strings.
/// One pass over the bytes, before anything recurses.
fn nested_deeper_than(body: &[u8], limit: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in body {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                (false, _) => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// serde's messages can quote the input; the caller gets only the position.
fn malformed_detail(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Data => "the body must be a JSON object".to_owned(),
        Category::Eof => "the body ends before its JSON does".to_owned(),
        Category::Syntax | Category::Io => format!(
            "the body is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ),
    }
}

/// What a member's value is, as far as the patch cares. Every value is read whole, so
/// serde_json's depth limit and number range apply to every member alike; but not as a
/// `serde_json::Value`: with serde_json's `raw_value` feature, on in this build, a `Value`
/// reads `{"$serde_json::private::RawValue": "..."}` as the JSON inside the string.
#[derive(Debug, PartialEq)]
enum Value {
    Null,
    String(String),
    Other,
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Value, E> {
        Ok(Value::Other)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Value, E> {
        Ok(Value::Other)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Value, E> {
        Ok(Value::Other)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Value, E> {
        Ok(Value::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        while seq.next_element::<Value>()?.is_some() {}
        Ok(Value::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value::<Value>()?;
        }
        Ok(Value::Other)
    }
}

/// One top-level member of a body: a member of the patch with its value, or a name the
/// patch does not know (its value is read, to the same limits, and dropped).
#[derive(Debug, PartialEq)]
enum Field {
    Known(Member, Value),
    Unknown,
}

/// Walks the top-level object once, and refuses a member given twice (JSON parsers
/// disagree on which copy wins, so neither is taken).
struct BodyVisitor;

type Fields = Result<Vec<(String, Field)>, PatchError>;

impl<'de> DeserializeSeed<'de> for BodyVisitor {
    type Value = Fields;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Fields, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for BodyVisitor {
    type Value = Fields;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
        let mut fields: Vec<(String, Field)> = Vec::new();
        let mut duplicate = None;
        while let Some(name) = map.next_key::<String>()? {
            let value = map.next_value::<Value>()?;
            let field = match Member::from_name(&name) {
                Some(member) => Field::Known(member, value),
                None => Field::Unknown,
            };
            if duplicate.is_none() && fields.iter().any(|(n, _)| *n == name) {
                duplicate = Some(name.clone());
            }
            fields.push((name, field));
        }
        Ok(match duplicate {
            Some(name) => Err(PatchError::Malformed(format!(
                "member \"{}\" appears more than once",
                name.escape_debug()
            ))),
            None => Ok(fields),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<Patch, PatchError> {
        Patch::from_json(body.as_bytes())
    }

    fn fields(result: Result<Patch, PatchError>) -> Vec<(String, String)> {
        match result {
            Err(PatchError::Invalid(errors)) => {
                errors.into_iter().map(|e| (e.field, e.message)).collect()
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn absent_null_and_value_are_three_things() {
        let p = parse(r#"{"email":null,"mobile":"+14155550123","customer_id":null}"#).unwrap();
        assert_eq!(p.change(Member::Email), &Change::Remove);
        assert_eq!(
            p.change(Member::Mobile),
            &Change::Set("+14155550123".into())
        );
        assert_eq!(p.change(Member::CustomerId), &Change::Keep);
        assert!(!p.disconnects());

        let p = parse(r#"{"status":"disconnected"}"#).unwrap();
        assert!(p.disconnects());
        assert_eq!(
            p.changes().map(|(m, _)| m).collect::<Vec<_>>(),
            [Member::Status]
        );
    }

    #[test]
    fn every_member_is_parsed_by_its_own_rules() {
        // A string each member accepts, and what its null means.
        for m in Member::ALL {
            let good = m.example();
            let p = parse(&format!(r#"{{"{}":"{good}"}}"#, m.name())).unwrap();
            assert_eq!(p.change(*m), &Change::Set(good.into()), "{m:?}");
            let null = parse(&format!(r#"{{"{}":null}}"#, m.name()));
            if m.removable() {
                assert_eq!(null.unwrap().change(*m), &Change::Remove, "{m:?}");
            } else {
                assert_eq!(null, Err(PatchError::Empty), "{m:?}");
            }
        }
    }

    #[test]
    fn merge_patch_nulls_remove_or_are_refused() {
        let merge = |b: &str| Patch::parse(b.as_bytes(), PatchFormat::MergePatch);
        for m in Member::ALL {
            let body = format!(r#"{{"{}":null}}"#, m.name());
            if m.removable() {
                assert_eq!(merge(&body).unwrap().change(*m), &Change::Remove, "{m:?}");
            } else {
                assert_eq!(
                    fields(merge(&body)),
                    vec![(m.name().to_owned(), "cannot be removed".to_owned())]
                );
            }
        }
        assert_eq!(merge("{}"), Err(PatchError::Empty));
    }

    #[test]
    fn nothing_to_change_is_empty() {
        for body in [
            "{}",
            r#"{"customer_id":null}"#,
            r#"{"status":null}"#,
            " { } ",
        ] {
            assert_eq!(parse(body), Err(PatchError::Empty), "{body}");
        }
    }

    #[test]
    fn unknown_and_read_only_members_are_named_even_without_a_change() {
        assert_eq!(
            fields(parse(r#"{"connection_id":"x","nested":{"a":[1,2]}}"#)),
            vec![
                ("connection_id".into(), "is read-only".into()),
                ("nested".into(), "is not a member of this resource".into()),
            ]
        );
        assert_eq!(
            fields(parse(r#"{"Email":"a@b.co"}"#)),
            vec![("Email".into(), "is not a member of this resource".into())]
        );
    }

    #[test]
    fn one_error_per_bad_field() {
        let errors = fields(parse(
            r#"{"email":"nope","mobile":4155550123,"status":"active","customer_id":""}"#,
        ));
        let names: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(names, ["email", "mobile", "status", "customer_id"]);
        assert_eq!(errors[2].1, "can only be \"disconnected\"");
        assert_eq!(
            fields(parse(r#"{"status":["disconnected"],"customer_id":7}"#)).len(),
            2
        );
    }

    #[test]
    fn duplicate_members_are_malformed() {
        let r = parse(r#"{"email":"a@b.co","email":"c@d.co"}"#);
        assert!(
            matches!(r, Err(PatchError::Malformed(ref d)) if d.contains("\"email\"")),
            "{r:?}"
        );
        let r = parse(r#"{"x":1,"x":2}"#);
        assert!(matches!(r, Err(PatchError::Malformed(_))), "{r:?}");
    }

    #[test]
    fn not_an_object_or_not_json_is_malformed() {
        for body in [
            "",
            "null",
            "[]",
            "\"s\"",
            "1",
            "{",
            "{\"email\":}",
            "{} {}",
            "{}x",
            "\u{feff}{}",
            "{'email':'a@b.co'}",
            "{\"email\":1e400}",
            "{\"nickname\":1e400}",
            "{\"x\":[[1e400]]}",
        ] {
            assert!(
                matches!(parse(body), Err(PatchError::Malformed(_))),
                "{body:?}"
            );
        }
        assert!(matches!(
            Patch::from_json(b"{\"email\":\"\xff@b.co\"}"),
            Err(PatchError::Malformed(_))
        ));
    }

    #[test]
    fn nesting_up_to_the_contracts_limit_is_read_and_one_more_is_refused() {
        // The body's object and 127 arrays: 128 levels, a value of the wrong type.
        let at_limit = format!(
            "{{\"email\":{}{}}}",
            "[".repeat(MAX_NESTING - 1),
            "]".repeat(MAX_NESTING - 1)
        );
        assert!(
            matches!(parse(&at_limit), Err(PatchError::Invalid(_))),
            "{:?}",
            parse(&at_limit)
        );
        let over = format!(
            "{{\"email\":{}{}}}",
            "[".repeat(MAX_NESTING),
            "]".repeat(MAX_NESTING)
        );
        assert!(
            matches!(parse(&over), Err(PatchError::Malformed(d)) if d.contains("deeper than 128"))
        );
        // Brackets inside strings, escaped quotes included, are not nesting.
        let quoted = format!("{{\"email\":\"a\\\"{}\"}}", "[".repeat(500));
        assert!(!nested_deeper_than(quoted.as_bytes(), MAX_NESTING));
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let nest = |name: &str| format!("{{\"{name}\":{}{}}}", "[".repeat(5000), "]".repeat(5000));
        // serde_json's depth limit refuses it, whether the member is known or not.
        for name in ["email", "x"] {
            assert!(
                matches!(parse(&nest(name)), Err(PatchError::Malformed(_))),
                "{name}"
            );
        }
    }

    #[test]
    fn serde_json_private_keys_are_plain_members() {
        let raw =
            |inner: &str| format!(r#"{{"email":{{"$serde_json::private::RawValue":{inner}}}}}"#);
        // An object is not a string, whatever its key; nor is such an object malformed.
        for inner in [r#" "\"a@b.co\"" "#, r#" "a@b.co\"" "#, "1"] {
            assert_eq!(
                fields(parse(&raw(inner))),
                vec![("email".into(), "must be a string or null".into())],
                "{inner}"
            );
        }
    }

    #[test]
    fn unicode_escapes_are_decoded_before_validation() {
        let p = parse(r#"{"customer_id":"caf\u00e9 \ud83d\ude00"}"#).unwrap();
        assert_eq!(p.change(Member::CustomerId), &Change::Set("café 😀".into()));
        assert_eq!(
            fields(parse(r#"{"customer_id":"a\u0000b"}"#)),
            vec![(
                "customer_id".into(),
                "must not contain control characters".into()
            )]
        );
    }

    #[test]
    fn the_malformed_detail_never_echoes_the_body() {
        let Err(PatchError::Malformed(detail)) = parse(r#"{"email": secret-value}"#) else {
            panic!("expected malformed");
        };
        assert!(!detail.contains("secret"), "{detail}");
    }

    #[test]
    fn a_member_of_the_wrong_type_is_told_what_it_must_be() {
        assert_eq!(
            fields(parse(
                r#"{"customer_id":1,"email":true,"mobile":[],"status":2}"#
            )),
            [
                ("customer_id".into(), "must be a string".into()),
                ("email".into(), "must be a string or null".into()),
                ("mobile".into(), "must be a string or null".into()),
                ("status".into(), "can only be \"disconnected\"".into()),
            ]
        );
    }

    #[test]
    fn malformed_details_say_what_is_wrong() {
        let detail = |body: &str| match parse(body) {
            Err(PatchError::Malformed(detail)) => detail,
            other => panic!("expected malformed for {body:?}, got {other:?}"),
        };
        assert_eq!(detail("[1]"), "the body must be a JSON object");
        assert_eq!(detail(r#"{"email":"#), "the body ends before its JSON does");
        assert_eq!(
            detail("{\n  \"email\" x}"),
            "the body is not valid JSON (line 2, column 11)"
        );
    }
}
