//! RFC 9457 problem details: every error the endpoint returns.

use serde::Serialize;

use super::event::{BodyError, MAX_BODY_BYTES};
use super::response::{PROBLEM_JSON, Response};
use crate::domain::rules::Refusal;
use crate::domain::{
    BadIdempotencyKey, FieldError, IdempotencyKey, MEMBERS, PatchError, Precondition, TooManyTags,
    WRITE_SCOPE,
};

/// Declares `ProblemCode`, `ALL` and each code's status, name and title from one table, so
/// a new code is one row here; the compiler then points at every match that lacks it.
macro_rules! problem_codes {
    ($($variant:ident => ($status:literal, $code:literal, $title:literal)),+ $(,)?) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ProblemCode {
            $($variant),+
        }

        impl ProblemCode {
            /// Every code, in the contract's table order.
            pub const ALL: &[ProblemCode] = &[$(Self::$variant),+];

            pub const fn status(self) -> u16 {
                match self {
                    $(Self::$variant => $status),+
                }
            }

            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code),+
                }
            }

            pub const fn title(self) -> &'static str {
                match self {
                    $(Self::$variant => $title),+
                }
            }
        }
    };
}

problem_codes! {
    MalformedBody => (400, "malformed-body", "Malformed body"),
    EmptyUpdate => (400, "empty-update", "Empty update"),
    InvalidApiKey => (401, "invalid-api-key", "Invalid API key"),
    InvalidToken => (401, "invalid-token", "Invalid token"),
    InsufficientScope => (403, "insufficient-scope", "Insufficient scope"),
    NotFound => (404, "not-found", "Not found"),
    MethodNotAllowed => (405, "method-not-allowed", "Method not allowed"),
    ConnectionDisconnected => (409, "connection-disconnected", "Connection disconnected"),
    PreconditionFailed => (412, "precondition-failed", "Precondition failed"),
    PayloadTooLarge => (413, "payload-too-large", "Payload too large"),
    UnsupportedMediaType => (415, "unsupported-media-type", "Unsupported media type"),
    ValidationFailed => (422, "validation-failed", "Validation failed"),
    IdempotencyKeyReused => (422, "idempotency-key-reused", "Idempotency key reused"),
    PreconditionRequired => (428, "precondition-required", "Precondition required"),
    Internal => (500, "internal", "Internal error"),
    Unavailable => (503, "unavailable", "Service unavailable"),
}

pub const TYPE_BASE: &str = "https://errors.connections.example/";

/// A problem that only API Gateway answers with, before or instead of the function
/// (template.yaml's `GatewayResponses`): the function itself never returns these codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeProblem {
    pub code: &'static str,
    pub status: u16,
    pub title: &'static str,
}

/// The edge's codes beyond the contract's table: a refusal API Gateway gives for a reason of
/// its own, throttling (stage limits or the optional AWS WAF rate rule), and the function
/// failing or timing out. `tests/deployment/gateway_responses.rs` holds the template to it.
pub const EDGE_PROBLEMS: [EdgeProblem; 4] = [
    EdgeProblem {
        code: "bad-request",
        status: 400,
        title: "Bad request",
    },
    EdgeProblem {
        code: "too-many-requests",
        status: 429,
        title: "Too many requests",
    },
    EdgeProblem {
        code: "bad-gateway",
        status: 502,
        title: "Bad gateway",
    },
    EdgeProblem {
        code: "gateway-timeout",
        status: 504,
        title: "Gateway timeout",
    },
];
/// What a caller is told to send when its bearer token is missing or malformed.
pub const BEARER_CHALLENGE: &str = "Bearer realm=\"connections\"";
pub const INVALID_TOKEN_CHALLENGE: &str = "Bearer realm=\"connections\", error=\"invalid_token\"";
/// Seconds a caller should wait after a 503.
pub const RETRY_AFTER_SECONDS: &str = "1";

/// A problem to report. Internal causes are logged where they happen, never put here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub code: ProblemCode,
    pub detail: String,
    pub errors: Vec<FieldError>,
    /// A 401 for a missing or malformed token: its challenge has no error code (RFC 6750 §3.1).
    bare_challenge: bool,
}

impl Problem {
    pub fn new(code: ProblemCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            errors: Vec::new(),
            bare_challenge: false,
        }
    }

    // The catalogue: every detail the function says, in the contract's order of checks.

    pub fn no_such_route() -> Self {
        Self::new(ProblemCode::NotFound, "no such resource")
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            ProblemCode::MethodNotAllowed,
            "this resource accepts PATCH only",
        )
    }

    pub fn invalid_api_key() -> Self {
        Self::new(
            ProblemCode::InvalidApiKey,
            "the x-api-key header must hold an active API key",
        )
    }

    pub fn missing_token() -> Self {
        Self {
            bare_challenge: true,
            ..Self::new(
                ProblemCode::InvalidToken,
                "the Authorization header must hold a Bearer token for this connection",
            )
        }
    }

    pub fn rejected_token() -> Self {
        Self::new(
            ProblemCode::InvalidToken,
            "the token is not valid for this connection, or has expired",
        )
    }

    pub fn insufficient_scope() -> Self {
        Self::new(
            ProblemCode::InsufficientScope,
            "the token lacks the connections:write scope",
        )
    }

    pub fn not_found() -> Self {
        Self::new(ProblemCode::NotFound, "no such connection")
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(
            ProblemCode::UnsupportedMediaType,
            "Content-Type must be application/json or application/merge-patch+json (UTF-8)",
        )
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.len() {
            1 => "1 field is invalid".to_owned(),
            n => format!("{n} fields are invalid"),
        };
        Self {
            code: ProblemCode::ValidationFailed,
            detail,
            errors,
            bare_challenge: false,
        }
    }

    pub fn precondition_failed() -> Self {
        Self::new(
            ProblemCode::PreconditionFailed,
            "the connection has changed since the ETag in If-Match",
        )
    }

    pub fn precondition_required() -> Self {
        Self::new(
            ProblemCode::PreconditionRequired,
            "this API requires If-Match with the connection's ETag on every write",
        )
    }

    /// A 422, so it names the field like every 422 does.
    pub fn idempotency_key_reused() -> Self {
        Self {
            errors: vec![FieldError {
                field: "Idempotency-Key".into(),
                message: "was used for another request on this connection".into(),
            }],
            ..Self::new(
                ProblemCode::IdempotencyKeyReused,
                "the Idempotency-Key was used for another request on this connection",
            )
        }
    }

    pub fn disconnected() -> Self {
        Self::new(
            ProblemCode::ConnectionDisconnected,
            "the connection is disconnected and can no longer change",
        )
    }

    pub fn internal() -> Self {
        Self::new(ProblemCode::Internal, "the request could not be completed")
    }

    pub fn unavailable() -> Self {
        Self::new(
            ProblemCode::Unavailable,
            "the connection store is unavailable; retry after a short wait",
        )
    }

    pub fn into_response(self, request_id: &str) -> Response {
        #[derive(Serialize)]
        struct Body<'a> {
            r#type: String,
            title: &'static str,
            status: u16,
            detail: &'a str,
            code: &'static str,
            #[serde(skip_serializing_if = "<[_]>::is_empty")]
            errors: &'a [FieldErrorBody<'a>],
            request_id: &'a str,
        }
        #[derive(Serialize)]
        struct FieldErrorBody<'a> {
            field: &'a str,
            message: &'a str,
        }

        let code = self.code;
        let errors: Vec<FieldErrorBody<'_>> = self
            .errors
            .iter()
            .map(|e| FieldErrorBody {
                field: &e.field,
                message: &e.message,
            })
            .collect();
        let body = Body {
            r#type: format!("{TYPE_BASE}{}", code.as_str()),
            title: code.title(),
            status: code.status(),
            detail: &self.detail,
            code: code.as_str(),
            errors: &errors,
            request_id,
        };
        // Serialising plain strings and numbers cannot fail; keep a fixed body just in case.
        let json = serde_json::to_string(&body).unwrap_or_else(|_| {
            format!(
                r#"{{"status":{},"code":"{}"}}"#,
                code.status(),
                code.as_str()
            )
        });
        let response = Response::json(code.status(), PROBLEM_JSON, json);
        match code {
            ProblemCode::InvalidApiKey => {
                response.with_header("www-authenticate", "ApiKey realm=\"connections\"")
            }
            ProblemCode::InvalidToken if self.bare_challenge => {
                response.with_header("www-authenticate", BEARER_CHALLENGE)
            }
            ProblemCode::InvalidToken => {
                response.with_header("www-authenticate", INVALID_TOKEN_CHALLENGE)
            }
            ProblemCode::InsufficientScope => response.with_header(
                "www-authenticate",
                format!("Bearer error=\"insufficient_scope\", scope=\"{WRITE_SCOPE}\""),
            ),
            ProblemCode::MethodNotAllowed => response.with_header("allow", "PATCH"),
            ProblemCode::Unavailable => response.with_header("retry-after", RETRY_AFTER_SECONDS),
            // Listed, not `_`: a new code has to decide whether it needs a header.
            ProblemCode::MalformedBody
            | ProblemCode::EmptyUpdate
            | ProblemCode::NotFound
            | ProblemCode::ConnectionDisconnected
            | ProblemCode::PreconditionFailed
            | ProblemCode::PayloadTooLarge
            | ProblemCode::UnsupportedMediaType
            | ProblemCode::ValidationFailed
            | ProblemCode::IdempotencyKeyReused
            | ProblemCode::PreconditionRequired
            | ProblemCode::Internal => response,
        }
    }
}

impl From<BodyError> for Problem {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge => Self::new(
                ProblemCode::PayloadTooLarge,
                format!("the body must be at most {MAX_BODY_BYTES} bytes"),
            ),
            BodyError::InvalidBase64 => {
                Self::new(ProblemCode::MalformedBody, "the body is not valid base64")
            }
        }
    }
}

impl From<PatchError> for Problem {
    fn from(e: PatchError) -> Self {
        match e {
            PatchError::Malformed(detail) => Self::new(ProblemCode::MalformedBody, detail),
            PatchError::Empty => Self::new(
                ProblemCode::EmptyUpdate,
                format!("the body must set at least one of {}", MEMBERS.join(", ")),
            ),
            PatchError::Invalid(errors) => Self::validation(errors),
        }
    }
}

/// A header, not a body member, but the same kind of fault: a value the endpoint will not
/// process, named so that the caller can fix it.
impl From<TooManyTags> for Problem {
    fn from(_: TooManyTags) -> Self {
        let max = Precondition::MAX_TAGS;
        Self {
            detail: format!("the If-Match header lists more than {max} entity tags"),
            ..Self::validation(vec![FieldError {
                field: "If-Match".into(),
                message: format!("must list at most {max} entity tags"),
            }])
        }
    }
}

impl From<BadIdempotencyKey> for Problem {
    fn from(e: BadIdempotencyKey) -> Self {
        let message = match e {
            BadIdempotencyKey::Repeated => "must be given once".to_owned(),
            BadIdempotencyKey::Invalid => format!(
                "must be one key of 1 to {} visible ASCII characters without quotes, backslashes, spaces or commas",
                IdempotencyKey::MAX_LEN
            ),
        };
        Self {
            detail: "the Idempotency-Key header is invalid".to_owned(),
            ..Self::validation(vec![FieldError {
                field: "Idempotency-Key".into(),
                message,
            }])
        }
    }
}

/// Why the write was refused, as the caller is told.
impl From<Refusal> for Problem {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::NotFound => Self::not_found(),
            Refusal::InvalidToken => Self::rejected_token(),
            Refusal::InsufficientScope => Self::insufficient_scope(),
            Refusal::PreconditionFailed => Self::precondition_failed(),
            Refusal::Disconnected => Self::disconnected(),
            Refusal::IdempotencyKeyReused => Self::idempotency_key_reused(),
        }
    }
}
