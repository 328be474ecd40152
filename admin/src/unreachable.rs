//! A call that never reached DynamoDB, in plain words. The SDK says "dispatch failure: io
//! error: client error (Connect): tcp connect error: Connection refused (os error 111)";
//! an operator needs "cannot reach DynamoDB at http://127.0.0.1:8000: connection refused".

use std::error::Error;
use std::io;
use std::iter::successors;

use aws_smithy_runtime_api::client::result::ConnectorError;

/// Why the request could not be sent, when `error` (or one of its sources) is the SDK's
/// connector failure of an I/O or timeout kind: "connection refused", "timed out", "its host
/// name does not resolve (...)", or the innermost cause's own words. `None` for any other
/// error, such as one that DynamoDB answered or missing credentials.
pub fn unreachable_reason(error: &(dyn Error + 'static)) -> Option<String> {
    let connector = successors(Some(error), |&e| e.source())
        .find_map(|e| e.downcast_ref::<ConnectorError>())?;
    if connector.is_timeout() {
        return Some("timed out".to_owned());
    }
    // The SDK reports a failure to resolve credentials as a dispatch failure too, with an
    // "other" connector error: that one did reach nothing, but not for want of a network.
    if !connector.is_io() {
        return None;
    }
    let causes: Vec<&(dyn Error + 'static)> =
        successors(connector.source(), |&e| e.source()).collect();
    let io = causes.iter().enumerate().find_map(|(at, e)| {
        e.downcast_ref::<io::Error>()
            .map(|io| (io, at.checked_sub(1).map(|before| causes[before])))
    });
    if let Some((io, wrapper)) = io {
        let reason = match io.kind() {
            io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
            io::ErrorKind::TimedOut => "timed out".to_owned(),
            io::ErrorKind::ConnectionReset => "connection reset".to_owned(),
            io::ErrorKind::AddrNotAvailable => format!("address not available ({io})"),
            _ if wrapper.is_some_and(|w| w.to_string().starts_with("dns error")) => {
                format!("its host name does not resolve ({io})")
            }
            _ => io.to_string(),
        };
        return Some(reason);
    }
    let innermost = causes.last().map(ToString::to_string);
    Some(innermost.unwrap_or_else(|| connector.to_string()))
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::config::http::HttpResponse;
    use aws_sdk_dynamodb::error::{BoxError, SdkError};
    use aws_sdk_dynamodb::operation::get_item::GetItemError;

    use super::*;

    /// The error a GetItem returns when its connector fails so, boxed as the admin's
    /// commands return it.
    fn dispatch_failure(connector: ConnectorError) -> BoxError {
        Box::new(SdkError::<GetItemError, HttpResponse>::dispatch_failure(
            connector,
        ))
    }

    /// A stand-in for hyper's "tcp connect error" / "dns error" wrapper around the I/O error.
    #[derive(Debug)]
    struct Wrapper(&'static str, io::Error);

    impl std::fmt::Display for Wrapper {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for Wrapper {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.1)
        }
    }

    #[test]
    fn a_refused_connection_says_so() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        let error = dispatch_failure(ConnectorError::io(Box::new(Wrapper(
            "tcp connect error",
            refused,
        ))));
        assert_eq!(
            unreachable_reason(&*error).as_deref(),
            Some("connection refused")
        );
    }

    #[test]
    fn a_timeout_and_an_unknown_host_say_so() {
        let timeout = dispatch_failure(ConnectorError::timeout("HTTP connect timeout".into()));
        assert_eq!(unreachable_reason(&*timeout).as_deref(), Some("timed out"));

        let lookup = io::Error::other("failed to lookup address information");
        let unknown = dispatch_failure(ConnectorError::io(Box::new(Wrapper("dns error", lookup))));
        assert_eq!(
            unreachable_reason(&*unknown).as_deref(),
            Some("its host name does not resolve (failed to lookup address information)")
        );
    }

    #[test]
    fn an_answer_is_not_unreachable() {
        let error: BoxError = "service error: ResourceNotFoundException".into();
        assert_eq!(unreachable_reason(&*error), None);
        let credentials = dispatch_failure(ConnectorError::other("no credentials".into(), None));
        assert_eq!(unreachable_reason(&*credentials), None);
        let other = dispatch_failure(ConnectorError::io("broken pipe".into()));
        assert_eq!(unreachable_reason(&*other).as_deref(), Some("broken pipe"));
    }
}
