//! Which DynamoDB endpoint a client will call, and whether it is this machine's loopback:
//! seed-demo writes public credentials, so it must know before it sends anything.

use std::fmt;
use std::net::IpAddr;

use aws_config::SdkConfig;
use aws_types::service_config::ServiceConfigKey;

/// Where a client sends its requests: a URL, or AWS's own endpoint for a region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub url: Option<String>,
    pub region: Option<String>,
}

impl Endpoint {
    pub fn is_loopback(&self) -> bool {
        self.url.as_deref().is_some_and(is_loopback)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.url, &self.region) {
            (Some(url), _) => f.write_str(url),
            (None, Some(region)) => write!(f, "the default AWS endpoint for region {region}"),
            (None, None) => f.write_str("the default AWS endpoint (no region set)"),
        }
    }
}

/// The endpoint URL a DynamoDB client built from `sdk` uses, picked as the SDK's own
/// `From<&SdkConfig>` picks it (`AWS_ENDPOINT_URL_DYNAMODB`, then `AWS_ENDPOINT_URL`, with
/// their profile keys); `None` means AWS's own endpoint for the region. Pass the answer to
/// the client's builder so that the endpoint checked is the endpoint called.
pub fn dynamodb_endpoint(sdk: &SdkConfig) -> Option<String> {
    if sdk.get_origin("endpoint_url").is_client_config() {
        return sdk.endpoint_url().map(str::to_owned);
    }
    let key = ServiceConfigKey::builder()
        .service_id("DynamoDB")
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .ok();
    sdk.service_config()
        .zip(key)
        .and_then(|(config, key)| config.load_config(key))
        .or_else(|| sdk.endpoint_url().map(str::to_owned))
}

/// Whether `endpoint`'s host is an address in 127.0.0.0/8 or ::1. Anything else, or a URL
/// this cannot read, is not: the check must fail closed. Names are not accepted, not even
/// `localhost`: the resolver decides where a name goes (a hosts file without it and a DNS
/// search domain sent `localhost` to another machine).
pub fn is_loopback(endpoint: &str) -> bool {
    let Some((scheme, rest)) = endpoint.split_once("://") else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return false;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // Userinfo would hide the real host after it (http://localhost@example.org).
    if authority.contains('@') {
        return false;
    }
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((host, port)) if port.is_empty() || port.starts_with(':') => host,
            _ => return false,
        },
        None => match authority.split_once(':') {
            Some((host, _port)) => host,
            None => authority,
        },
    };
    host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_config::{BehaviorVersion, Region};
    use aws_types::origin::Origin;
    use aws_types::os_shim_internal::Env;
    use aws_types::service_config::LoadServiceConfig;

    #[test]
    fn an_endpoint_is_named_by_its_url_or_its_region() {
        let at = |url: Option<&str>, region: Option<&str>| Endpoint {
            url: url.map(str::to_owned),
            region: region.map(str::to_owned),
        };
        let local = at(Some("http://127.0.0.1:8000"), Some("eu-west-1"));
        assert!(local.is_loopback());
        assert_eq!(local.to_string(), "http://127.0.0.1:8000");
        let aws = at(None, Some("eu-west-1"));
        assert!(!aws.is_loopback());
        assert_eq!(
            aws.to_string(),
            "the default AWS endpoint for region eu-west-1"
        );
        assert_eq!(
            at(None, None).to_string(),
            "the default AWS endpoint (no region set)"
        );
    }

    #[test]
    fn only_loopback_hosts_are_loopback() {
        for yes in [
            "http://127.0.0.1:8000",
            "http://127.0.0.1",
            "https://127.255.0.9:443/",
            "HTTP://127.0.0.1:8000/path",
            "http://[::1]:8000",
            "http://[::1]",
        ] {
            assert!(is_loopback(yes), "{yes}");
        }
        for no in [
            "http://192.0.2.1:8000",
            "https://dynamodb.eu-west-1.amazonaws.com",
            "http://0.0.0.0:8000",
            "http://[::ffff:127.0.0.1]:8000",
            "http://[::]:8000",
            "http://127.0.0.1.example.org:8000",
            "http://localhost.example.org",
            "http://localhost:8000",
            "HTTP://LocalHost:8000/path",
            "http://localhost@192.0.2.1:8000",
            "http://[::1]x:8000",
            "http://[::1",
            "127.0.0.1:8000",
            "ftp://127.0.0.1",
            "",
        ] {
            assert!(!is_loopback(no), "{no}");
        }
    }

    #[derive(Debug)]
    struct Fake(Vec<(&'static str, &'static str)>);

    impl LoadServiceConfig for Fake {
        fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
            let env = Env::from_slice(&self.0);
            let service = format!("{}_{}", key.env(), key.service_id().to_ascii_uppercase());
            env.get(&service).or_else(|_| env.get(key.env())).ok()
        }
    }

    fn sdk(env: Vec<(&'static str, &'static str)>, global: Option<(&str, Origin)>) -> SdkConfig {
        let mut builder = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::from_static("eu-west-1"))
            .service_config(Fake(env));
        if let Some((url, origin)) = global {
            builder.set_endpoint_url(Some(url.to_owned()));
            builder.insert_origin("endpoint_url", origin);
        }
        builder.build()
    }

    #[test]
    fn the_endpoint_is_the_one_the_client_would_use() {
        let local = "http://127.0.0.1:8000";
        let far = "http://192.0.2.1:8000";
        assert_eq!(dynamodb_endpoint(&sdk(vec![], None)), None);
        let service = vec![("AWS_ENDPOINT_URL_DYNAMODB", far)];
        assert_eq!(dynamodb_endpoint(&sdk(service, None)).as_deref(), Some(far));
        let both = vec![
            ("AWS_ENDPOINT_URL_DYNAMODB", far),
            ("AWS_ENDPOINT_URL", local),
        ];
        assert_eq!(dynamodb_endpoint(&sdk(both, None)).as_deref(), Some(far));
        let global = vec![("AWS_ENDPOINT_URL", far)];
        assert_eq!(dynamodb_endpoint(&sdk(global, None)).as_deref(), Some(far));
        // The shared config's endpoint from the environment yields to the service's own.
        let env = vec![("AWS_ENDPOINT_URL_DYNAMODB", far)];
        let from_env = sdk(env, Some((local, Origin::shared_environment_variable())));
        assert_eq!(dynamodb_endpoint(&from_env).as_deref(), Some(far));
        let from_env = sdk(vec![], Some((far, Origin::shared_environment_variable())));
        assert_eq!(dynamodb_endpoint(&from_env).as_deref(), Some(far));
        // One set on the loader itself (--endpoint) wins over the environment.
        let env = vec![("AWS_ENDPOINT_URL_DYNAMODB", local)];
        let set = sdk(env, Some((far, Origin::shared_config())));
        assert_eq!(dynamodb_endpoint(&set).as_deref(), Some(far));
    }

    /// Where a real client built from `sdk` sends a request (scheme and authority).
    async fn called(sdk: &SdkConfig) -> String {
        use aws_sdk_dynamodb::config::{Builder, Credentials};
        use aws_smithy_http_client::test_util::infallible_client_fn;
        use std::sync::{Arc, Mutex};
        let seen = Arc::new(Mutex::new(String::new()));
        let write = seen.clone();
        let http = infallible_client_fn(move |req| {
            let uri: http::Uri = req.uri().to_string().parse().unwrap();
            *write.lock().unwrap() = format!(
                "{}://{}",
                uri.scheme_str().unwrap(),
                uri.authority().unwrap()
            );
            http::Response::new(r#"{"TableNames":[]}"#)
        });
        let config = Builder::from(sdk)
            .http_client(http)
            .credentials_provider(Credentials::new("a", "b", None, None, "test"))
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
            .list_tables()
            .send()
            .await
            .unwrap();
        seen.lock().unwrap().clone()
    }

    #[tokio::test]
    async fn the_sdk_calls_the_endpoint_found() {
        let far = "http://192.0.2.1:8000";
        let local = "http://127.0.0.1:8000";
        for config in [
            sdk(
                vec![
                    ("AWS_ENDPOINT_URL_DYNAMODB", far),
                    ("AWS_ENDPOINT_URL", local),
                ],
                None,
            ),
            sdk(vec![("AWS_ENDPOINT_URL", far)], None),
            sdk(
                vec![("AWS_ENDPOINT_URL_DYNAMODB", far)],
                Some((local, Origin::shared_environment_variable())),
            ),
            sdk(
                vec![("AWS_ENDPOINT_URL_DYNAMODB", local)],
                Some((far, Origin::shared_config())),
            ),
        ] {
            assert_eq!(dynamodb_endpoint(&config).as_deref(), Some(far));
            assert_eq!(called(&config).await, far);
        }
        let default = sdk(vec![], None);
        assert_eq!(dynamodb_endpoint(&default), None);
        assert_eq!(
            called(&default).await,
            "https://dynamodb.eu-west-1.amazonaws.com"
        );
    }
}
