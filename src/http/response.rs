//! A response, and its shape for each event source.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::event::Origin;

pub const JSON: &str = "application/json";
pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Response {
    pub fn json(status: u16, content_type: &'static str, body: String) -> Self {
        Self {
            status,
            headers: vec![
                ("content-type", content_type.to_owned()),
                // Responses carry personal data and per-request state: never cache them.
                ("cache-control", "no-store".to_owned()),
            ],
            body,
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn for_origin(self, origin: Origin) -> LambdaResponse {
        LambdaResponse {
            origin,
            response: self,
        }
    }
}

/// The JSON the function returns to the runtime: `statusCode`, headers and a text body,
/// with `statusDescription` for ALB and `multiValueHeaders` when the ALB target group
/// uses them (it then ignores `headers`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaResponse {
    pub origin: Origin,
    pub response: Response,
}

impl Serialize for LambdaResponse {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Headers<'a>(&'a [(&'static str, String)], bool);
        impl Serialize for Headers<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut map = serializer.serialize_map(Some(self.0.len()))?;
                for (name, value) in self.0 {
                    if self.1 {
                        map.serialize_entry(name, &[value])?;
                    } else {
                        map.serialize_entry(name, value)?;
                    }
                }
                map.end()
            }
        }

        let r = &self.response;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("statusCode", &r.status)?;
        match self.origin {
            Origin::Alb { multi_value } => {
                map.serialize_entry("statusDescription", &status_line(r.status))?;
                let key = if multi_value {
                    "multiValueHeaders"
                } else {
                    "headers"
                };
                map.serialize_entry(key, &Headers(&r.headers, multi_value))?;
            }
            Origin::RestApi => {
                map.serialize_entry("headers", &Headers(&r.headers, false))?;
            }
            Origin::HttpApi => {
                map.serialize_entry("headers", &Headers(&r.headers, false))?;
                // Optional for API Gateway; required by aws_lambda_events' type, which
                // emulators such as `cargo lambda watch` parse responses with.
                map.serialize_entry("cookies", &[] as &[&str])?;
            }
        }
        map.serialize_entry("body", &r.body)?;
        map.serialize_entry("isBase64Encoded", &false)?;
        map.end()
    }
}

/// ALB's `statusDescription`: the status and its reason phrase.
fn status_line(status: u16) -> String {
    let reason = ::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown");
    format!("{status} {reason}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Response {
        Response::json(200, JSON, "{}".into()).with_header("etag", "\"2\"")
    }

    #[test]
    fn rest_and_http_api_shapes() {
        let headers =
            json!({"content-type":"application/json","cache-control":"no-store","etag":"\"2\""});
        let v = serde_json::to_value(sample().for_origin(Origin::RestApi)).unwrap();
        assert_eq!(
            v,
            json!({"statusCode":200,"headers":headers,"body":"{}","isBase64Encoded":false})
        );
        let v = serde_json::to_value(sample().for_origin(Origin::HttpApi)).unwrap();
        assert_eq!(
            v,
            json!({"statusCode":200,"headers":headers,"cookies":[],"body":"{}","isBase64Encoded":false})
        );
    }

    #[test]
    fn shapes_parse_as_the_aws_lambda_events_types() {
        use lambda_http::aws_lambda_events::apigw::{
            ApiGatewayProxyResponse, ApiGatewayV2httpResponse,
        };
        let v1 = serde_json::to_string(&sample().for_origin(Origin::RestApi)).unwrap();
        assert!(
            serde_json::from_str::<ApiGatewayProxyResponse>(&v1).is_ok(),
            "{v1}"
        );
        let v2 = serde_json::to_string(&sample().for_origin(Origin::HttpApi)).unwrap();
        assert!(
            serde_json::from_str::<ApiGatewayV2httpResponse>(&v2).is_ok(),
            "{v2}"
        );
    }

    #[test]
    fn alb_shapes() {
        let v =
            serde_json::to_value(sample().for_origin(Origin::Alb { multi_value: true })).unwrap();
        assert_eq!(v["statusDescription"], "200 OK");
        assert_eq!(v["multiValueHeaders"]["etag"], json!(["\"2\""]));
        assert!(v.get("headers").is_none());
        let v =
            serde_json::to_value(sample().for_origin(Origin::Alb { multi_value: false })).unwrap();
        assert_eq!(v["headers"]["etag"], "\"2\"");
    }
}
