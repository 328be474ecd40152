//! One pass over an API Gateway REST (v1), HTTP API (v2), function URL or ALB event.
//!
//! We read the event ourselves instead of through `lambda_http::Request`: its conversion
//! panics on an invalid base64 body and on a Host header that is not a valid authority,
//! and it builds a full `http::Request` (URL parsing, header map) that this endpoint does
//! not need. Every field is optional here, so no event shape can make parsing fail.

use std::borrow::Cow;
use std::collections::HashMap;

use base64::Engine;
use serde::Deserialize;
use serde::de::IgnoredAny;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Event {
    http_method: Option<String>,
    path: Option<String>,
    raw_path: Option<String>,
    headers: Option<HashMap<String, Option<String>>>,
    multi_value_headers: Option<HashMap<String, Option<Vec<String>>>>,
    path_parameters: Option<HashMap<String, Option<String>>>,
    request_context: Option<RequestContext>,
    body: Option<String>,
    is_base64_encoded: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RequestContext {
    http: Option<HttpContext>,
    elb: Option<IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct HttpContext {
    method: Option<String>,
}

/// Which response shape the caller of the function expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// REST API (v1 payload).
    RestApi,
    /// HTTP API (v2 payload) and Lambda function URLs.
    HttpApi,
    /// Application Load Balancer; `multi_value` when the target group sends multi-value headers.
    Alb { multi_value: bool },
}

/// A header as the caller sent it. `Many` means it was sent more than once with different
/// values: for credentials that is ambiguous and refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderValue<'a> {
    Missing,
    One(&'a str),
    Many,
}

impl<'a> HeaderValue<'a> {
    pub fn single(self) -> Option<&'a str> {
        match self {
            Self::One(v) => Some(v),
            Self::Missing | Self::Many => None,
        }
    }
}

/// Largest accepted body, in bytes after base64 decoding.
pub const MAX_BODY_BYTES: usize = 8 * 1024;

/// Why a body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    InvalidBase64,
    TooLarge,
}

impl Event {
    /// Any JSON text: a field of an unexpected type (only a direct invoke can send one)
    /// makes an event that routes nowhere, answered 404, instead of a runtime error whose
    /// message would quote the value (it may be a credential).
    pub fn from_json(json: &str) -> Self {
        serde_json::from_str(json).unwrap_or_default()
    }

    pub fn origin(&self) -> Origin {
        let ctx = self.request_context.as_ref();
        if ctx.is_some_and(|c| c.elb.is_some()) {
            Origin::Alb {
                multi_value: self.multi_value_headers.is_some(),
            }
        } else if ctx.is_some_and(|c| c.http.is_some()) {
            Origin::HttpApi
        } else {
            Origin::RestApi
        }
    }

    pub fn method(&self) -> Option<&str> {
        self.request_context
            .as_ref()
            .and_then(|c| c.http.as_ref())
            .and_then(|h| h.method.as_deref())
            .or(self.http_method.as_deref())
    }

    pub fn path(&self) -> Option<&str> {
        self.raw_path.as_deref().or(self.path.as_deref())
    }

    /// The `connection_id` path parameter, when API Gateway routed the request.
    pub fn path_parameter(&self, name: &str) -> Option<&str> {
        self.path_parameters.as_ref()?.get(name)?.as_deref()
    }

    /// A header by case-insensitive name. REST and multi-value ALB events carry every value
    /// in `multiValueHeaders`; the others carry one (HTTP APIs join repeats with commas).
    pub fn header(&self, name: &str) -> HeaderValue<'_> {
        match self.multi_value_headers.as_ref().filter(|m| !m.is_empty()) {
            Some(multi) => one_value(
                multi
                    .iter()
                    .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                    .flat_map(|(_, vs)| vs.iter().flatten())
                    .map(String::as_str),
            ),
            None => one_value(
                self.headers
                    .iter()
                    .flatten()
                    .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                    .filter_map(|(_, v)| v.as_deref()),
            ),
        }
    }

    /// Every line of a list-valued header, in order; RFC 9110 §5.3 makes repeated lines one
    /// comma-separated list, which is how HTTP APIs already deliver them.
    pub fn header_lines(&self, name: &str) -> Vec<&str> {
        match self.multi_value_headers.as_ref().filter(|m| !m.is_empty()) {
            Some(multi) => multi
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .flat_map(|(_, vs)| vs.iter().flatten())
                .map(String::as_str)
                .collect(),
            None => self
                .headers
                .iter()
                .flatten()
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .filter_map(|(_, v)| v.as_deref())
                .collect(),
        }
    }

    /// The body's bytes, decoded from base64 when the event says so. `limit` is checked
    /// before decoding, so an oversized body costs nothing to refuse.
    pub fn body(&self, limit: usize) -> Result<Cow<'_, [u8]>, BodyError> {
        let raw = self.body.as_deref().unwrap_or("");
        if self.is_base64_encoded != Some(true) {
            return if raw.len() > limit {
                Err(BodyError::TooLarge)
            } else {
                Ok(Cow::Borrowed(raw.as_bytes()))
            };
        }
        // Refused by length before decoding, so nothing is allocated for an oversized body:
        // the longest standard (padded, no whitespace) encoding of `limit` bytes.
        if raw.len() > limit.div_ceil(3) * 4 {
            return Err(BodyError::TooLarge);
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(raw)
            .map_err(|_| BodyError::InvalidBase64)?;
        if bytes.len() > limit {
            Err(BodyError::TooLarge)
        } else {
            Ok(Cow::Owned(bytes))
        }
    }
}

/// Repeats of one identical value are one value; different values are `Many`.
fn one_value<'a>(values: impl Iterator<Item = &'a str>) -> HeaderValue<'a> {
    let mut found = HeaderValue::Missing;
    for value in values {
        match found {
            HeaderValue::Missing => found = HeaderValue::One(value),
            HeaderValue::One(prev) if prev == value => {}
            HeaderValue::One(_) | HeaderValue::Many => return HeaderValue::Many,
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base64_event(body: &str) -> Event {
        Event {
            body: Some(body.to_owned()),
            is_base64_encoded: Some(true),
            ..Event::default()
        }
    }

    #[test]
    fn a_header_sent_twice_is_one_value_only_when_both_agree() {
        let rest = |values: &str| {
            Event::from_json(&format!(
                r#"{{"multiValueHeaders":{{"X-Api-Key":{values}}},"headers":{{"x-api-key":"ignored"}}}}"#
            ))
        };
        assert_eq!(
            rest(r#"["k1"]"#).header("x-api-key"),
            HeaderValue::One("k1")
        );
        assert_eq!(
            rest(r#"["k1","k1"]"#).header("x-api-key"),
            HeaderValue::One("k1")
        );
        assert_eq!(
            rest(r#"["k1","k2"]"#).header("x-api-key"),
            HeaderValue::Many
        );
        assert_eq!(
            rest(r#"["k1","k2","k1"]"#).header("x-api-key"),
            HeaderValue::Many
        );
        assert_eq!(
            rest(r#"["k1"]"#).header("authorization"),
            HeaderValue::Missing
        );
        // Without multi-value headers: HTTP APIs send one lower-case line per name, so two
        // spellings of one name come only from a hand-made event; they still must agree.
        let http = Event::from_json(r#"{"headers":{"x-api-key":"k1","X-API-KEY":"k1"}}"#);
        assert_eq!(http.header("X-Api-Key"), HeaderValue::One("k1"));
        let http = Event::from_json(r#"{"headers":{"x-api-key":"k1","X-API-KEY":"k2"}}"#);
        assert_eq!(http.header("x-api-key"), HeaderValue::Many);
    }

    #[test]
    fn a_base64_body_is_judged_by_its_decoded_size() {
        let encode = |n: usize| base64::engine::general_purpose::STANDARD.encode(vec![b'x'; n]);
        for n in [0, 1, 8190, 8191, 8192] {
            let event = base64_event(&encode(n));
            assert_eq!(event.body(8192).map(|b| b.len()), Ok(n), "{n} bytes");
        }
        // 8193 bytes encode to 10,924 characters, as 8192 do: the decoded size refuses it.
        // From 8194 on, the encoding alone is too long and nothing is decoded.
        for n in [8193, 8194, 8195, 20_000] {
            assert_eq!(
                base64_event(&encode(n)).body(8192).map(|b| b.len()),
                Err(BodyError::TooLarge),
                "{n} bytes"
            );
        }
    }

    #[test]
    fn an_oversized_body_is_refused_before_it_is_decoded() {
        // Longer than any encoding of 8 KiB, and not base64 at all: the size decides.
        let junk = "!".repeat(8192_usize.div_ceil(3) * 4 + 1);
        assert_eq!(base64_event(&junk).body(8192), Err(BodyError::TooLarge));
        let short_junk = "!".repeat(8192_usize.div_ceil(3) * 4);
        assert_eq!(
            base64_event(&short_junk).body(8192),
            Err(BodyError::InvalidBase64)
        );
    }
}
