//! Configuration from the environment, read once at init: every variable the function
//! reads is read here (the SDK reads its own: region, endpoint, credentials).

use std::time::Duration;

use tracing::Level;

use crate::domain::BookkeepingFormat;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub connections_table: String,
    pub api_keys_table: String,
    pub api_key_cache_ttl: Duration,
    /// One cheap DynamoDB read during init, so that the first request does not pay for the
    /// connection, TLS handshake and credentials (`DYNAMODB_WARM_UP`, default on).
    pub warm_up: bool,
    /// `REQUIRE_IF_MATCH` (default false): a write without an entity tag in If-Match is
    /// answered 428 `precondition-required`.
    pub require_if_match: bool,
    /// `BOOKKEEPING_FORMAT` (`compact`, the default, or `legacy`): the form a write leaves
    /// the item's retry bookkeeping in. Both are always read; docs/deploy.md says when
    /// `legacy` is needed.
    pub bookkeeping: BookkeepingFormat,
    /// The metrics' `FunctionName` dimension (`AWS_LAMBDA_FUNCTION_NAME`).
    pub function_name: String,
    /// The metrics' `Version` dimension (`AWS_LAMBDA_FUNCTION_VERSION`: the published
    /// version being run, `$LATEST` when none), which the rollback alarms watch.
    pub function_version: String,
    pub dynamodb: DynamoDbSettings,
}

/// What the DynamoDB client is built from, beside the SDK's own variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DynamoDbSettings {
    /// `AWS_ACCESS_KEY_ID` is set: credentials come from the environment, as on Lambda.
    pub env_credentials: bool,
    /// `AWS_ENDPOINT_URL_DYNAMODB` or `AWS_ENDPOINT_URL` is set (DynamoDB Local).
    pub endpoint_override: bool,
    /// `SSL_CERT_FILE` or `SSL_CERT_DIR` is set: the system's roots are trusted too.
    pub custom_roots: bool,
}

impl DynamoDbSettings {
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Self {
        let set = |name: &str| var(name).is_some();
        Self {
            env_credentials: set("AWS_ACCESS_KEY_ID"),
            endpoint_override: set("AWS_ENDPOINT_URL_DYNAMODB") || set("AWS_ENDPOINT_URL"),
            custom_roots: set("SSL_CERT_FILE") || set("SSL_CERT_DIR"),
        }
    }
}

/// Level from Lambda's `AWS_LAMBDA_LOG_LEVEL` (set by the function's LoggingConfig), else
/// `RUST_LOG` when it is a bare level, else INFO. Read before the rest, so that a bad
/// configuration can be logged.
pub fn log_level(var: impl Fn(&str) -> Option<String>) -> Level {
    ["AWS_LAMBDA_LOG_LEVEL", "RUST_LOG"]
        .iter()
        .filter_map(|name| var(name))
        .find_map(|v| v.trim().parse::<Level>().ok())
        .unwrap_or(Level::INFO)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    Missing(&'static str),
    Invalid(&'static str, &'static str),
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing(name) => write!(f, "environment variable {name} must be set"),
            Self::Invalid(name, what) => write!(f, "environment variable {name} {what}"),
        }
    }
}

impl std::error::Error for ConfigError {}

pub const DEFAULT_API_KEY_CACHE_TTL: Duration = Duration::from_secs(60);
/// A revoked key keeps working on a warm instance for up to the TTL; this bounds that.
pub const MAX_API_KEY_CACHE_TTL: Duration = Duration::from_secs(300);

impl Config {
    /// Two tables and every default, without a warm-up read: where tests, benchmarks and
    /// fuzz targets start.
    pub fn for_tables(connections: impl Into<String>, api_keys: impl Into<String>) -> Self {
        Self {
            connections_table: connections.into(),
            api_keys_table: api_keys.into(),
            api_key_cache_ttl: DEFAULT_API_KEY_CACHE_TTL,
            warm_up: false,
            require_if_match: false,
            bookkeeping: BookkeepingFormat::Compact,
            function_name: "update-connection".into(),
            function_version: "$LATEST".into(),
            dynamodb: DynamoDbSettings::default(),
        }
    }

    /// `CONNECTIONS_TABLE` and `API_KEYS_TABLE` are required; `API_KEY_CACHE_TTL_SECONDS`
    /// defaults to 60, at most 300 (0 turns the cache off); `DYNAMODB_WARM_UP` defaults to
    /// true, `REQUIRE_IF_MATCH` to false (flags: true/false, 1/0, on/off). The DynamoDB
    /// endpoint is the SDK's own (`AWS_ENDPOINT_URL_DYNAMODB`, else `AWS_ENDPOINT_URL`).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| {
            var(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or(ConfigError::Missing(name))
        };
        let ttl = match var("API_KEY_CACHE_TTL_SECONDS") {
            None => DEFAULT_API_KEY_CACHE_TTL,
            Some(v) => v.trim().parse().map(Duration::from_secs).map_err(|_| {
                ConfigError::Invalid(
                    "API_KEY_CACHE_TTL_SECONDS",
                    "must be a whole number of seconds",
                )
            })?,
        };
        if ttl > MAX_API_KEY_CACHE_TTL {
            return Err(ConfigError::Invalid(
                "API_KEY_CACHE_TTL_SECONDS",
                "must be at most 300 seconds",
            ));
        }
        let flag = |name: &'static str, default: bool| match var(name).as_deref().map(str::trim) {
            None => Ok(default),
            Some("1" | "true" | "on") => Ok(true),
            Some("0" | "false" | "off") => Ok(false),
            Some(_) => Err(ConfigError::Invalid(name, "must be true or false")),
        };
        let warm_up = flag("DYNAMODB_WARM_UP", true)?;
        let require_if_match = flag("REQUIRE_IF_MATCH", false)?;
        let bookkeeping = match var("BOOKKEEPING_FORMAT") {
            None => BookkeepingFormat::default(),
            Some(v) => BookkeepingFormat::parse(v.trim()).ok_or(ConfigError::Invalid(
                "BOOKKEEPING_FORMAT",
                "must be compact or legacy",
            ))?,
        };
        Ok(Self {
            connections_table: required("CONNECTIONS_TABLE")?,
            api_keys_table: required("API_KEYS_TABLE")?,
            api_key_cache_ttl: ttl,
            warm_up,
            require_if_match,
            bookkeeping,
            function_name: var("AWS_LAMBDA_FUNCTION_NAME")
                .unwrap_or_else(|| "update-connection".into()),
            function_version: var("AWS_LAMBDA_FUNCTION_VERSION")
                .unwrap_or_else(|| "$LATEST".into()),
            dynamodb: DynamoDbSettings::from_lookup(&var),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn names_the_missing_variable() {
        let err = Config::from_lookup(lookup(&[("CONNECTIONS_TABLE", "c")])).unwrap_err();
        assert_eq!(err, ConfigError::Missing("API_KEYS_TABLE"));
        assert!(err.to_string().contains("API_KEYS_TABLE"));
        let err = Config::from_lookup(lookup(&[
            ("API_KEYS_TABLE", "k"),
            ("CONNECTIONS_TABLE", " "),
        ]))
        .unwrap_err();
        assert_eq!(err, ConfigError::Missing("CONNECTIONS_TABLE"));
    }

    #[test]
    fn reads_ttl() {
        let c = Config::from_lookup(lookup(&[
            ("CONNECTIONS_TABLE", "c"),
            ("API_KEYS_TABLE", "k"),
        ]))
        .unwrap();
        assert_eq!(c.api_key_cache_ttl, DEFAULT_API_KEY_CACHE_TTL);
        assert!(c.warm_up);
        let c = Config::from_lookup(lookup(&[
            ("CONNECTIONS_TABLE", "c"),
            ("API_KEYS_TABLE", "k"),
            ("API_KEY_CACHE_TTL_SECONDS", "5"),
        ]))
        .unwrap();
        assert_eq!(c.api_key_cache_ttl, Duration::from_secs(5));
        assert!(
            Config::from_lookup(lookup(&[
                ("CONNECTIONS_TABLE", "c"),
                ("API_KEYS_TABLE", "k"),
                ("API_KEY_CACHE_TTL_SECONDS", "soon"),
            ]))
            .is_err()
        );
    }

    #[test]
    fn ttl_has_an_upper_bound() {
        let at = |v: &'static str| {
            Config::from_lookup(move |name| match name {
                "CONNECTIONS_TABLE" => Some("c".into()),
                "API_KEYS_TABLE" => Some("k".into()),
                "API_KEY_CACHE_TTL_SECONDS" => Some(v.into()),
                _ => None,
            })
        };
        assert_eq!(at("300").unwrap().api_key_cache_ttl, MAX_API_KEY_CACHE_TTL);
        assert_eq!(at("0").unwrap().api_key_cache_ttl, Duration::ZERO);
        let err = at("301").unwrap_err();
        assert!(
            matches!(err, ConfigError::Invalid("API_KEY_CACHE_TTL_SECONDS", _)),
            "{err:?}"
        );
        assert!(err.to_string().contains("API_KEY_CACHE_TTL_SECONDS"));
        assert!(at("86400").is_err());
    }

    /// Each variable alone moves the one setting it names, as the function's init reads
    /// them: with `AWS_ENDPOINT_URL` or `AWS_ENDPOINT_URL_DYNAMODB` and no credentials
    /// (DynamoDB Local, sam local), placeholder credentials instead of every request failing;
    /// with `SSL_CERT_FILE` or `SSL_CERT_DIR`, the system's roots too (a TLS proxy). Catches
    /// `from_lookup` returning the defaults, or requiring both variables of a pair.
    #[test]
    fn each_dynamodb_variable_alone_sets_its_setting() {
        let settings = |extra: &'static str| {
            Config::from_lookup(move |name| match name {
                "CONNECTIONS_TABLE" => Some("c".into()),
                "API_KEYS_TABLE" => Some("k".into()),
                _ if name == extra => Some("x".into()),
                _ => None,
            })
            .unwrap()
            .dynamodb
        };
        let none = DynamoDbSettings::default();
        assert_eq!(settings("NOTHING"), none);
        for (variable, expected) in [
            (
                "AWS_ACCESS_KEY_ID",
                DynamoDbSettings {
                    env_credentials: true,
                    ..none
                },
            ),
            (
                "AWS_ENDPOINT_URL_DYNAMODB",
                DynamoDbSettings {
                    endpoint_override: true,
                    ..none
                },
            ),
            (
                "AWS_ENDPOINT_URL",
                DynamoDbSettings {
                    endpoint_override: true,
                    ..none
                },
            ),
            (
                "SSL_CERT_FILE",
                DynamoDbSettings {
                    custom_roots: true,
                    ..none
                },
            ),
            (
                "SSL_CERT_DIR",
                DynamoDbSettings {
                    custom_roots: true,
                    ..none
                },
            ),
        ] {
            assert_eq!(settings(variable), expected, "{variable}");
        }
    }
}
