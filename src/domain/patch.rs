//! The request body, parsed into the one change it asks for.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde_json::Value;

use super::{CustomerId, DISCONNECTED, Email, Mobile};

/// What to do with an optional attribute. `null` in the body means `Remove`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change<T> {
    Keep,
    Remove,
    Set(T),
}

impl<T> Change<T> {
    pub fn as_ref(&self) -> Change<&T> {
        match self {
            Change::Keep => Change::Keep,
            Change::Remove => Change::Remove,
            Change::Set(v) => Change::Set(v),
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Change<U> {
        match self {
            Change::Keep => Change::Keep,
            Change::Remove => Change::Remove,
            Change::Set(v) => Change::Set(f(v)),
        }
    }
}

/// A valid, non-empty update. `customer_id` and `status` have no `Remove`: the contract
/// reads their `null` as "leave unchanged".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    pub customer_id: Option<CustomerId>,
    pub email: Change<Email>,
    pub mobile: Change<Mobile>,
    pub disconnect: bool,
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

impl Patch {
    /// Parses a JSON body. Unknown members and bad values win over "empty": a body that
    /// names `connection_id` is rejected naming it, even if it asks for nothing else.
    pub fn from_json(body: &[u8]) -> Result<Self, PatchError> {
        let mut de = serde_json::Deserializer::from_slice(body);
        let members = BodyVisitor
            .deserialize(&mut de)
            .and_then(|members| de.end().map(|()| members))
            .map_err(|e| PatchError::Malformed(malformed_detail(&e)))?;
        let members = members?;

        let mut errors = Vec::new();
        let mut patch = Patch {
            customer_id: None,
            email: Change::Keep,
            mobile: Change::Keep,
            disconnect: false,
        };
        for (name, value) in members {
            let outcome = match (name.as_str(), value) {
                ("customer_id", Value::Null) => Ok(()),
                ("customer_id", Value::String(s)) => {
                    CustomerId::parse(&s).map(|v| patch.customer_id = Some(v))
                }
                ("customer_id", _) => Err("must be a string"),
                ("email", Value::Null) => {
                    patch.email = Change::Remove;
                    Ok(())
                }
                ("email", Value::String(s)) => {
                    Email::parse(&s).map(|v| patch.email = Change::Set(v))
                }
                ("email", _) => Err("must be a string or null"),
                ("mobile", Value::Null) => {
                    patch.mobile = Change::Remove;
                    Ok(())
                }
                ("mobile", Value::String(s)) => {
                    Mobile::parse(&s).map(|v| patch.mobile = Change::Set(v))
                }
                ("mobile", _) => Err("must be a string or null"),
                ("status", Value::Null) => Ok(()),
                ("status", Value::String(s)) if s == DISCONNECTED => {
                    patch.disconnect = true;
                    Ok(())
                }
                ("status", _) => Err("can only be \"disconnected\""),
                ("connection_id" | "retailer_id", _) => Err("is read-only"),
                _ => Err("is not a member of this resource"),
            };
            if let Err(message) = outcome {
                errors.push(FieldError {
                    field: name,
                    message: message.to_owned(),
                });
            }
        }

        if !errors.is_empty() {
            Err(PatchError::Invalid(errors))
        } else if patch.is_empty() {
            Err(PatchError::Empty)
        } else {
            Ok(patch)
        }
    }

    fn is_empty(&self) -> bool {
        self.customer_id.is_none()
            && self.email == Change::Keep
            && self.mobile == Change::Keep
            && !self.disconnect
    }
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

const KNOWN: [&str; 4] = ["customer_id", "email", "mobile", "status"];

/// Walks the top-level object once: keeps known members' values, names unknown ones, and
/// refuses a member given twice (JSON parsers disagree on which copy wins, so neither is
/// taken). Unknown values are parsed as fully as known ones, so that what is malformed
/// (a number out of range, nesting too deep) does not depend on the member's name.
struct BodyVisitor;

type Members = Result<Vec<(String, Value)>, PatchError>;

impl<'de> DeserializeSeed<'de> for BodyVisitor {
    type Value = Members;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Members, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for BodyVisitor {
    type Value = Members;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
        let mut members: Vec<(String, Value)> = Vec::new();
        let mut names: Vec<String> = Vec::new();
        let mut duplicate = None;
        while let Some(name) = map.next_key::<String>()? {
            if KNOWN.contains(&name.as_str()) {
                let value = map.next_value::<Value>()?;
                members.push((name.clone(), value));
            } else {
                map.next_value::<Value>()?;
                members.push((name.clone(), Value::Null));
            }
            if duplicate.is_none() && names.contains(&name) {
                duplicate = Some(name.clone());
            }
            names.push(name);
        }
        Ok(match duplicate {
            Some(name) => Err(PatchError::Malformed(format!(
                "member \"{}\" appears more than once",
                name.escape_debug()
            ))),
            None => Ok(members),
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
        assert_eq!(p.email, Change::Remove);
        assert_eq!(
            p.mobile,
            Change::Set(Mobile::parse("+14155550123").unwrap())
        );
        assert_eq!(p.customer_id, None);
        assert!(!p.disconnect);

        let p = parse(r#"{"status":"disconnected"}"#).unwrap();
        assert!(p.disconnect);
        assert_eq!((p.email, p.mobile), (Change::Keep, Change::Keep));
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
    fn unicode_escapes_are_decoded_before_validation() {
        let p = parse(r#"{"customer_id":"caf\u00e9 \ud83d\ude00"}"#).unwrap();
        assert_eq!(p.customer_id.unwrap().as_str(), "café 😀");
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
}
