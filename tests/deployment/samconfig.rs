//! samconfig.toml against template.yaml: every parameter override of every environment
//! names a real template parameter and gives it a value the template allows (AllowedValues,
//! AllowedPattern, MinLength/MaxLength, Number with MinValue/MaxValue), and the dev and
//! prod environments keep the settings a deployment relies on.

use serde_norway::Value as Yaml;
use toml::{Table, Value as Toml};

const ENVIRONMENTS: [&str; 2] = ["dev", "prod"];

fn read(name: &str) -> String {
    let path = format!("{}/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub(crate) fn samconfig() -> Table {
    read("samconfig.toml")
        .parse()
        .expect("samconfig.toml is TOML")
}

fn parameters() -> Yaml {
    let template: Yaml = serde_norway::from_str(&read("template.yaml")).expect("YAML");
    template["Parameters"].clone()
}

/// `section.key` of one environment's command, e.g. ("deploy", "confirm_changeset").
fn setting<'a>(config: &'a Table, env: &str, command: &str, key: &str) -> Option<&'a Toml> {
    config.get(env)?.get(command)?.get("parameters")?.get(key)
}

/// Every `parameter_overrides` of an environment, per command, as (name, value): the list
/// form `["Name=value", ...]`, a value optionally in double quotes (`Name=""` is empty).
pub(crate) fn overrides(config: &Table, env: &str) -> Vec<(String, String, String)> {
    let mut found = Vec::new();
    let commands = config[env].as_table().expect("an environment is a table");
    for (command, section) in commands {
        let Some(list) = section
            .get("parameters")
            .and_then(|p| p.get("parameter_overrides"))
        else {
            continue;
        };
        let list = list
            .as_array()
            .unwrap_or_else(|| panic!("{env}.{command}: write parameter_overrides as a list"));
        for entry in list {
            let entry = entry.as_str().expect("an override is a string");
            let (name, value) = entry
                .split_once('=')
                .unwrap_or_else(|| panic!("{env}.{command}: {entry:?} is not Name=value"));
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            found.push((command.clone(), name.to_owned(), value.to_owned()));
        }
    }
    found
}

fn scalar(value: &Yaml) -> String {
    match value {
        Yaml::String(s) => s.clone(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        other => panic!("not a scalar: {other:?}"),
    }
}

/// Why the template would refuse `name=value`, or None when it accepts it.
fn refusal(parameters: &Yaml, name: &str, value: &str) -> Option<String> {
    let Some(parameter) = parameters.get(name) else {
        return Some(format!("{name} is not a parameter of template.yaml"));
    };
    if let Some(allowed) = parameter.get("AllowedValues").and_then(Yaml::as_sequence) {
        let allowed: Vec<String> = allowed.iter().map(scalar).collect();
        if !allowed.iter().any(|a| a == value) {
            return Some(format!("{name}={value:?} is not one of {allowed:?}"));
        }
    }
    if let Some(pattern) = parameter.get("AllowedPattern").and_then(Yaml::as_str) {
        // CloudFormation matches the pattern against the whole value.
        let whole = regex::Regex::new(&format!("^(?:{pattern})$")).expect("a valid pattern");
        if !whole.is_match(value) {
            return Some(format!("{name}={value:?} does not match {pattern}"));
        }
    }
    let length = value.chars().count() as u64;
    if let Some(min) = parameter.get("MinLength").and_then(Yaml::as_u64)
        && length < min
    {
        return Some(format!("{name}={value:?} is shorter than {min}"));
    }
    if let Some(max) = parameter.get("MaxLength").and_then(Yaml::as_u64)
        && length > max
    {
        return Some(format!("{name}={value:?} is longer than {max}"));
    }
    if parameter.get("Type").and_then(Yaml::as_str) == Some("Number") {
        let Ok(number) = value.parse::<f64>() else {
            return Some(format!("{name}={value:?} is not a number"));
        };
        if let Some(min) = parameter.get("MinValue").and_then(Yaml::as_f64)
            && number < min
        {
            return Some(format!("{name}={value} is below {min}"));
        }
        if let Some(max) = parameter.get("MaxValue").and_then(Yaml::as_f64)
            && number > max
        {
            return Some(format!("{name}={value} is above {max}"));
        }
    }
    None
}

#[test]
fn every_override_names_a_template_parameter_with_an_allowed_value() {
    let config = samconfig();
    let parameters = parameters();
    let mut problems = Vec::new();
    for env in ENVIRONMENTS {
        let found = overrides(&config, env);
        assert!(
            found.iter().any(|(command, ..)| command == "deploy"),
            "{env}: no deploy parameter_overrides"
        );
        for (command, name, value) in &found {
            if let Some(why) = refusal(&parameters, name, value) {
                problems.push(format!("{env}.{command}: {why}"));
            }
        }
        // A parameter without a default must be given to every deployment.
        for (name, parameter) in parameters.as_mapping().unwrap() {
            let name = name.as_str().unwrap();
            if parameter.get("Default").is_none()
                && !found.iter().any(|(c, n, _)| c == "deploy" && n == name)
            {
                problems.push(format!("{env}.deploy: {name} has no default and no value"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_check_refuses_what_cloudformation_would_refuse() {
    let parameters = parameters();
    for (name, value) in [
        ("NoSuchParameter", "1"),
        ("LogLevel", "VERBOSE"),
        ("TableDeletionProtection", "yes"),
        ("Architecture", "aarch64"),
        ("StageName", "dev-1"),
        ("StageName", ""),
        ("RateLimitPerIp", "-1"),
        ("RateLimitPerIp", "2000000001"),
        ("RateLimitPerIp", "lots"),
        ("LogRetentionDays", "2"),
        ("DynamoDbEndpoint", "ftp://example"),
        ("DeploymentType", "Canary"),
        ("AlarmEmail", "not-an-address"),
        ("AlarmEmail", "two@at@example.com"),
        ("AlarmTopicArn", "my-topic"),
        ("ApiEndpointAccessMode", "LOOSE"),
    ] {
        assert!(
            refusal(&parameters, name, value).is_some(),
            "{name}={value:?} passed the check"
        );
    }
    for (name, value) in [
        ("LogLevel", "DEBUG"),
        ("LogRetentionDays", "30"),
        ("RateLimitPerIp", "0"),
        ("AlarmTopicArn", ""),
        (
            "AlarmTopicArn",
            "arn:aws:sns:eu-west-1:123456789012:update-connection-pager",
        ),
        ("AlarmEmail", ""),
        ("AlarmEmail", "oncall@example.org"),
        ("DeploymentType", "AllAtOnce"),
        ("DynamoDbEndpoint", ""),
    ] {
        assert_eq!(refusal(&parameters, name, value), None, "{name}={value:?}");
    }
}

fn deploy_override(config: &Table, env: &str, name: &str) -> Option<String> {
    overrides(config, env)
        .into_iter()
        .find(|(command, n, _)| command == "deploy" && n == name)
        .map(|(.., value)| value)
}

#[test]
fn dev_and_prod_keep_their_deployment_settings() {
    let config = samconfig();
    for env in ENVIRONMENTS {
        let stack = setting(&config, env, "global", "stack_name")
            .and_then(Toml::as_str)
            .unwrap_or_else(|| panic!("{env}: no global stack_name"));
        assert!(stack.ends_with(env), "{env}: stack {stack}");
        assert_eq!(
            setting(&config, env, "deploy", "capabilities").and_then(Toml::as_str),
            Some("CAPABILITY_IAM"),
            "{env}"
        );
        assert_eq!(
            setting(&config, env, "deploy", "resolve_s3").and_then(Toml::as_bool),
            Some(true),
            "{env}"
        );
        // SAM CLI 1.170 builds rust-cargolambda without its beta flag, which there switches
        // on unrelated experiments.
        assert!(
            setting(&config, env, "build", concat!("beta", "_features")).is_none(),
            "{env}: no beta features"
        );
        assert_eq!(
            deploy_override(&config, env, "Architecture").as_deref(),
            Some("arm64"),
            "{env}"
        );
        for name in ["AlarmTopicArn", "AlarmEmail", "DeploymentType"] {
            assert!(
                deploy_override(&config, env, name).is_some(),
                "{env}: {name} is stated, even when empty"
            );
        }
        assert!(
            config[env]
                .get("deploy")
                .unwrap()
                .get("parameters")
                .unwrap()
                .get("region")
                .is_none(),
            "{env}: the region is the caller's (docs/deploy.md)"
        );
    }
    let confirm =
        |env| setting(&config, env, "deploy", "confirm_changeset").and_then(Toml::as_bool);
    assert_eq!(confirm("dev"), Some(false));
    assert_eq!(confirm("prod"), Some(true));
    assert_eq!(
        deploy_override(&config, "dev", "TableDeletionProtection").as_deref(),
        Some("false")
    );
    assert_eq!(
        deploy_override(&config, "prod", "TableDeletionProtection").as_deref(),
        Some("true")
    );
    let prod_limit: u64 = deploy_override(&config, "prod", "RateLimitPerIp")
        .expect("prod sets RateLimitPerIp")
        .parse()
        .unwrap();
    // AWS WAF's rate-based rules take a limit of at least 10 per 5 minutes.
    assert!(prod_limit >= 10, "prod RateLimitPerIp {prod_limit}");
    assert_eq!(
        deploy_override(&config, "dev", "DeploymentType").as_deref(),
        Some("AllAtOnce")
    );
    let prod_shift = deploy_override(&config, "prod", "DeploymentType").unwrap();
    assert!(
        prod_shift.starts_with("Canary") || prod_shift.starts_with("Linear"),
        "prod shifts traffic gradually, not {prod_shift}"
    );
    let prod_reserved: u64 = deploy_override(&config, "prod", "ReservedConcurrency")
        .expect("prod sets ReservedConcurrency")
        .parse()
        .unwrap();
    assert!(
        (10..=1000).contains(&prod_reserved),
        "prod ReservedConcurrency {prod_reserved}"
    );
}
