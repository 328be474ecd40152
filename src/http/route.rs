//! Step 1 of the contract: is this `PATCH /connections/{id}`? And the body's media type.

use super::event::{Event, HeaderValue};
use super::problem::Problem;
use crate::domain::PatchFormat;

/// The raw `{connection_id}`: from the path parameters when API Gateway routed the request,
/// else from the path, `/connections/{id}` or `/{stage}/connections/{id}`.
pub fn connection_route(event: &Event) -> Result<&str, Problem> {
    let id = event
        .path_parameter("connection_id")
        .or_else(|| event.path().and_then(id_from_path))
        .ok_or_else(Problem::no_such_route)?;
    if event.method() == Some("PATCH") {
        Ok(id)
    } else {
        Err(Problem::method_not_allowed())
    }
}

fn id_from_path(path: &str) -> Option<&str> {
    let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
    let id = match segments.as_slice() {
        ["connections", id] | [_, "connections", id] => *id,
        _ => return None,
    };
    (!id.is_empty()).then_some(id)
}

/// `application/json` or `application/merge-patch+json`, any case, with parameters; a
/// charset other than UTF-8 is refused, since JSON is UTF-8 (RFC 8259 §8.1).
pub fn check_media_type(content_type: HeaderValue<'_>) -> Result<PatchFormat, Problem> {
    let unsupported = Problem::unsupported_media_type;
    let value = content_type.single().ok_or_else(unsupported)?;
    let mut parts = value.split(';');
    let essence = parts.next().unwrap_or("").trim();
    let format = if essence.eq_ignore_ascii_case("application/json") {
        Some(PatchFormat::Json)
    } else if essence.eq_ignore_ascii_case("application/merge-patch+json") {
        Some(PatchFormat::MergePatch)
    } else {
        None
    };
    let utf8 = parts.all(|param| match param.split_once('=') {
        Some((name, value)) if name.trim().eq_ignore_ascii_case("charset") => {
            let charset = value.trim().trim_matches('"');
            charset.eq_ignore_ascii_case("utf-8") || charset.eq_ignore_ascii_case("utf8")
        }
        _ => true,
    });
    match format {
        Some(format) if utf8 => Ok(format),
        _ => Err(unsupported()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(id_from_path("/connections/abc"), Some("abc"));
        assert_eq!(id_from_path("/prod/connections/abc"), Some("abc"));
        for bad in [
            "",
            "/",
            "/connections",
            "/connections/",
            "/connections/a/b",
            "connections/a",
            "/a/b/connections/c",
            "/connection/abc",
            "/prod/x/abc",
        ] {
            assert_eq!(id_from_path(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_routed_path_parameter_wins_over_the_path() {
        // A custom domain's base path mapping leaves `path` longer than the route, e.g.
        // `/api/v2/connections/{id}`: only the path parameter names the connection then.
        let event = |path: &str| {
            Event::from_json(&format!(
                r#"{{"httpMethod":"PATCH","path":"{path}","pathParameters":{{"connection_id":"abc"}}}}"#
            ))
        };
        assert_eq!(
            connection_route(&event("/api/v2/connections/abc")).ok(),
            Some("abc")
        );
        assert_eq!(
            connection_route(&event("/connections/other")).ok(),
            Some("abc")
        );
        let unrouted = Event::from_json(r#"{"httpMethod":"PATCH","path":"/connections/xyz"}"#);
        assert_eq!(connection_route(&unrouted).ok(), Some("xyz"));
    }

    #[test]
    fn media_types() {
        for ok in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/merge-patch+json;charset=\"UTF-8\"",
            "application/json ; foo=bar",
        ] {
            assert!(check_media_type(HeaderValue::One(ok)).is_ok(), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/json-patch+json",
            "application/jsonx",
            "application/json; charset=latin1",
            "",
            "application/x-www-form-urlencoded",
        ] {
            assert!(check_media_type(HeaderValue::One(bad)).is_err(), "{bad}");
        }
        assert!(check_media_type(HeaderValue::Missing).is_err());
        assert!(check_media_type(HeaderValue::Many).is_err());
    }
}
