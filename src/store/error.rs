use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

/// A failed call, reduced to what the caller's answer depends on. Only the error code is
/// kept: SDK messages can quote request values, and those must not reach a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// Throttled, unreachable, too slow or failing on its side: 503, worth a retry.
    Unavailable(String),
    /// Anything else (a missing table, a permission, a bug): 500.
    Failed(String),
    /// The item read back does not have the attributes a connection must have.
    MalformedItem(&'static str),
}

const RETRYABLE_CODES: [&str; 7] = [
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "LimitExceededException",
    "TransactionConflictException",
];

impl StoreError {
    pub fn from_sdk<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> Self {
        match err {
            SdkError::TimeoutError(_) => Self::Unavailable("timeout".into()),
            SdkError::DispatchFailure(_) => Self::Unavailable("dispatch-failure".into()),
            SdkError::ResponseError(_) => Self::Unavailable("unreadable-response".into()),
            SdkError::ServiceError(service) => {
                let code = service.err().code().unwrap_or("unknown").to_owned();
                let server_side = service_status(err).is_some_and(|s| s >= 500);
                if server_side || RETRYABLE_CODES.contains(&code.as_str()) {
                    Self::Unavailable(code)
                } else {
                    Self::Failed(code)
                }
            }
            SdkError::ConstructionFailure(_) => Self::Failed("construction-failure".into()),
            _ => Self::Failed("unknown".into()),
        }
    }

    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }

    /// A short, value-free description for the log.
    pub fn log_code(&self) -> &str {
        match self {
            Self::Unavailable(code) | Self::Failed(code) => code,
            Self::MalformedItem(what) => what,
        }
    }
}

fn service_status<E>(err: &SdkError<E, HttpResponse>) -> Option<u16> {
    match err {
        SdkError::ServiceError(_) => err.raw_response().map(|r| r.status().as_u16()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    use super::*;

    type Err = SdkError<UpdateItemError, HttpResponse>;

    fn response() -> HttpResponse {
        HttpResponse::new(StatusCode::try_from(200).unwrap(), SdkBody::from("{"))
    }

    /// The failures that never reached a service answer: each is a 503 or a 500 by kind,
    /// whatever the SDK says inside (the service's own codes: dynamodb_errors.rs).
    #[test]
    fn failures_without_a_service_answer_are_classified_by_kind() {
        let cases: [(Err, bool, &str); 4] = [
            (SdkError::timeout_error("slow"), true, "timeout"),
            (
                SdkError::dispatch_failure(ConnectorError::io("refused".into())),
                true,
                "dispatch-failure",
            ),
            // An answer that cannot be read (cut off, not JSON): the service's side.
            (
                SdkError::response_error("not JSON", response()),
                true,
                "unreadable-response",
            ),
            (
                SdkError::construction_failure("bug"),
                false,
                "construction-failure",
            ),
        ];
        for (err, unavailable, code) in cases {
            let e = StoreError::from_sdk(&err);
            assert_eq!(
                (e.is_unavailable(), e.log_code()),
                (unavailable, code),
                "{err:?}"
            );
        }
    }
}
