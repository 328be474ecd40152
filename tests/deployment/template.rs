//! template.yaml as CloudFormation receives it: SAM's own translator (the one `sam deploy`
//! and CloudFormation's transform use) turns it into plain CloudFormation with each
//! samconfig.toml environment's parameters (template_tool.py, under .venv/bin/python), and
//! these tests read what would be deployed: the live alias that the API invokes, CodeDeploy's
//! traffic shift and its rollback alarms, alarms that reach someone in prod, the access
//! log, the TLS policy, the dashboard and saved queries, and the pre-traffic hook, whose
//! checks run here through the handler and whose code runs against stand-in clients.
//! No DynamoDB and no AWS: the one database call is answered in process.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::{Value as Json, json};
use update_connection::http::ProblemCode;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const ENVIRONMENTS: [&str; 2] = ["dev", "prod"];
/// The rollback alarms: a deployment that sets off any of them is undone.
const ROLLBACK_ALARMS: [&str; 5] = [
    "FunctionErrorsAlarm",
    "LatencyP99Alarm",
    "VersionServerErrorsAlarm",
    "VersionRefusalsAlarm",
    "Api5xxRateAlarm",
];
/// The rollback alarms that watch only the version being deployed.
const VERSION_ALARMS: [&str; 4] = [
    "FunctionErrorsAlarm",
    "LatencyP99Alarm",
    "VersionServerErrorsAlarm",
    "VersionRefusalsAlarm",
];

/// Runs template_tool.py with SAM's translator from .venv (scripts/test installs it).
fn tool(args: &[&str], stdin: Option<&Json>) -> Json {
    let input = stdin.map(Json::to_string).unwrap_or_default();
    crate::venv::run_json("tests/deployment/template_tool.py", args, &input)
}

/// The deployed template of one set of parameters, with CloudFormation's conditions and
/// `Fn::If` worked out.
pub(crate) struct Stack {
    parameters: BTreeMap<String, String>,
    template: Json,
}

impl Stack {
    fn with(assignments: &[String]) -> Self {
        let mut args = vec!["transform"];
        args.extend(assignments.iter().map(String::as_str));
        let out = tool(&args, None);
        let parameters = out["parameters"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        Self {
            parameters,
            template: out["template"].clone(),
        }
    }

    /// An environment's `sam deploy` parameters from samconfig.toml, then `extra`.
    pub(crate) fn of(env: &str, extra: &[(&str, &str)]) -> Self {
        let mut assignments: Vec<String> =
            crate::samconfig::overrides(&crate::samconfig::samconfig(), env)
                .into_iter()
                .filter(|(command, ..)| command == "deploy")
                .map(|(_, name, value)| format!("{name}={value}"))
                .collect();
        assignments.extend(extra.iter().map(|(k, v)| format!("{k}={v}")));
        Self::with(&assignments)
    }

    pub(crate) fn resource(&self, id: &str) -> &Json {
        let r = &self.template["Resources"][id];
        assert!(r.is_object(), "no resource {id}");
        r
    }

    /// The resources of a type that these parameters create (a false `Condition` creates none).
    fn of_type(&self, kind: &str) -> Vec<(&str, &Json)> {
        self.template["Resources"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, r)| r["Type"] == kind)
            .filter(|(_, r)| {
                r.get("Condition")
                    .and_then(Json::as_str)
                    .is_none_or(|c| self.condition(c))
            })
            .map(|(id, r)| (id.as_str(), r))
            .collect()
    }

    pub(crate) fn parameter(&self, name: &str) -> &str {
        &self.parameters[name]
    }

    /// A parameter's AllowedValues, as strings.
    pub(crate) fn allowed(&self, name: &str) -> Vec<String> {
        self.template["Parameters"][name]["AllowedValues"]
            .as_array()
            .map(|values| {
                values
                    .iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A string with `Fn::Sub`'s parameter references filled in (others left as written).
    fn sub(&self, v: &Json) -> Json {
        match v.get("Fn::Sub").and_then(Json::as_str) {
            Some(text) => {
                let mut out = text.to_owned();
                for (name, value) in &self.parameters {
                    out = out.replace(&format!("${{{name}}}"), value);
                }
                json!(out)
            }
            None => self.resolve(v).unwrap_or(Json::Null),
        }
    }

    /// A condition expression (Conditions, Rules) with these parameters.
    fn holds(&self, expr: &Json) -> bool {
        let (function, args) = expr
            .as_object()
            .and_then(|o| o.iter().next())
            .unwrap_or_else(|| panic!("not a condition: {expr}"));
        let items = || args.as_array().unwrap().iter();
        match function.as_str() {
            "Fn::Equals" => {
                let values: Vec<Json> = items().map(|v| self.value(v)).collect();
                values[0] == values[1]
            }
            "Fn::Not" => !self.holds(&args[0]),
            "Fn::And" => items().all(|c| self.holds(c)),
            "Fn::Or" => items().any(|c| self.holds(c)),
            "Condition" => self.condition(args.as_str().unwrap()),
            other => panic!("condition function {other} is not known here"),
        }
    }

    fn condition(&self, name: &str) -> bool {
        self.holds(&self.template["Conditions"][name])
    }

    /// A parameter's value or a literal, as CloudFormation compares them: as strings (a
    /// parameter is a string; YAML's `0` and `true` are "0" and "true" to Fn::Equals).
    fn value(&self, v: &Json) -> Json {
        // Fn::Join of a list parameter (CommaDelimitedList): its items joined.
        if let Some(Json::Array(args)) = v.get("Fn::Join") {
            let list = self.value(&args[1]);
            let items: Vec<&str> = list.as_str().unwrap().split(',').collect();
            return json!(items.join(args[0].as_str().unwrap()));
        }
        match v {
            Json::Number(n) => json!(n.to_string()),
            Json::Bool(b) => json!(b.to_string()),
            _ => match v.get("Ref").and_then(Json::as_str) {
                Some(name) if self.parameters.contains_key(name) => {
                    json!(self.parameters[name])
                }
                _ => v.clone(),
            },
        }
    }

    /// `v` with every `Fn::If` decided, `AWS::NoValue` dropped and parameters filled in;
    /// None when the whole value is `AWS::NoValue`.
    fn resolve(&self, v: &Json) -> Option<Json> {
        match v {
            Json::Object(o) if o.len() == 1 && o.contains_key("Fn::If") => {
                let args = o["Fn::If"].as_array().unwrap();
                let chosen = if self.condition(args[0].as_str().unwrap()) {
                    &args[1]
                } else {
                    &args[2]
                };
                self.resolve(chosen)
            }
            Json::Object(o) if o.get("Ref") == Some(&json!("AWS::NoValue")) => None,
            Json::Object(o) if o.len() == 1 && o.contains_key("Ref") => Some(self.value(v)),
            Json::Object(o) => Some(Json::Object(
                o.iter()
                    .filter_map(|(k, v)| Some((k.clone(), self.resolve(v)?)))
                    .collect(),
            )),
            Json::Array(a) => Some(Json::Array(
                a.iter().filter_map(|v| self.resolve(v)).collect(),
            )),
            other => Some(other.clone()),
        }
    }

    /// The function these parameters deploy: classic, or on Managed Instances.
    pub(crate) fn function_id(&self) -> &'static str {
        if self.condition("IsManaged") {
            "UpdateConnectionManagedFunction"
        } else {
            "UpdateConnectionFunction"
        }
    }

    /// `v` decided (`resolve`), with an `Fn::Sub` written in its short form: a list's
    /// variables put back as the references they stand for (`${Fn}` with `Fn: !Ref X` is
    /// `${X}`), so that both forms compare alike.
    fn sub_text(&self, v: &Json) -> Json {
        let v = self.resolve(v).unwrap_or(Json::Null);
        match v.get("Fn::Sub") {
            Some(Json::Array(parts)) => {
                let mut text = parts[0].as_str().unwrap().to_owned();
                for (name, value) in parts[1].as_object().unwrap() {
                    let target = match (value.get("Ref"), value.get("Fn::GetAtt")) {
                        (Some(r), _) => r.as_str().unwrap().to_owned(),
                        (_, Some(Json::Array(a))) => {
                            format!("{}.{}", a[0].as_str().unwrap(), a[1].as_str().unwrap())
                        }
                        _ => panic!("{name}: {value} is not a reference"),
                    };
                    text = text.replace(&format!("${{{name}}}"), &format!("${{{target}}}"));
                }
                json!({"Fn::Sub": text})
            }
            _ => v,
        }
    }

    /// The assertions of the template's Rules that fail with these parameters.
    fn refusals(&self) -> Vec<String> {
        let mut refused = Vec::new();
        for rule in self.template["Rules"].as_object().unwrap().values() {
            if rule.get("RuleCondition").is_some_and(|c| !self.holds(c)) {
                continue;
            }
            for assertion in rule["Assertions"].as_array().unwrap() {
                if !self.holds(&assertion["Assert"]) {
                    refused.push(assertion["AssertDescription"].as_str().unwrap().to_owned());
                }
            }
        }
        refused
    }
}

fn reference(v: &Json) -> Option<&str> {
    v.get("Ref").and_then(Json::as_str)
}

/// Every logical id that a value refers to (Ref, GetAtt, ${...} in Sub).
fn mentions(v: &Json, found: &mut BTreeSet<String>) {
    match v {
        Json::Object(o) => {
            for (k, v) in o {
                match (k.as_str(), v) {
                    ("Ref", Json::String(id)) => {
                        found.insert(id.clone());
                    }
                    ("Fn::GetAtt", Json::Array(a)) => {
                        found.insert(a[0].as_str().unwrap().to_owned());
                    }
                    _ => {}
                }
                mentions(v, found);
            }
        }
        Json::Array(a) => a.iter().for_each(|v| mentions(v, found)),
        Json::String(s) => {
            for part in s.split("${").skip(1) {
                let id = part.split('}').next().unwrap();
                found.insert(id.split('.').next().unwrap().to_owned());
            }
        }
        _ => {}
    }
}

#[test]
fn no_tracked_file_asks_sam_for_its_beta_flag() {
    // Spelled in pieces so that this file does not find itself.
    let flag = concat!("--beta", "-features");
    let setting = concat!("beta", "_features");
    let listed = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(ROOT)
        .output()
        .expect("git");
    assert!(listed.status.success());
    let mut found = Vec::new();
    let mut checked = 0;
    for path in listed.stdout.split(|b| *b == 0).filter(|p| !p.is_empty()) {
        let path = std::str::from_utf8(path).unwrap();
        // BENCHMARKS.md is the record of an earlier run, written by
        // perf/scripts/write_benchmarks.py (which is checked) the next time perf/scripts/bench runs.
        if path == "BENCHMARKS.md" {
            continue;
        }
        let Ok(bytes) = std::fs::read(format!("{ROOT}/{path}")) else {
            continue; // listed but not in this checkout
        };
        checked += 1;
        let text = String::from_utf8_lossy(&bytes);
        for (n, line) in text.lines().enumerate() {
            if line.contains(flag) || line.contains(setting) {
                found.push(format!("{path}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(checked > 50, "only {checked} tracked files read");
    assert!(
        found.is_empty(),
        "SAM CLI 1.170 builds rust-cargolambda without its beta flag, which switches on \
         unrelated experiments there:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_api_invokes_the_live_alias() {
    for stack in [Stack::of("dev", &[]), Stack::of("dev", &MANAGED)] {
        the_api_invokes_the_live_alias_of(&stack);
    }
}

fn the_api_invokes_the_live_alias_of(stack: &Stack) {
    let aliases = stack.of_type("AWS::Lambda::Alias");
    assert_eq!(aliases.len(), 1, "one alias");
    let (alias, resource) = aliases[0];
    assert_eq!(resource["Properties"]["Name"], "live");
    assert_eq!(
        reference(&resource["Properties"]["FunctionName"]),
        Some(stack.function_id())
    );
    // The integration's URI names the alias's ARN, and only the alias may be invoked by
    // API Gateway.
    let paths = &stack.resource("ConnectionsApi")["Properties"]["Body"]["paths"];
    let mut integrations = 0;
    for (path, methods) in paths.as_object().unwrap() {
        for (method, operation) in methods.as_object().unwrap() {
            let uri = stack.resolve(&operation["x-amazon-apigateway-integration"]["uri"]);
            let uri = uri
                .as_ref()
                .and_then(|u| u["Fn::Sub"].as_str())
                .unwrap_or_else(|| panic!("{path} {method}: no integration"));
            // By the function's name, which the function must carry.
            let name = stack.resource(stack.function_id())["Properties"]["FunctionName"]["Fn::Sub"]
                .as_str()
                .unwrap();
            assert!(
                uri.ends_with(&format!(":function:{name}:live/invocations")),
                "{path} {method} invokes {uri}, not the live alias"
            );
            integrations += 1;
        }
    }
    assert_eq!(integrations, 1);
    let permissions = stack.of_type("AWS::Lambda::Permission");
    assert!(!permissions.is_empty());
    for (id, permission) in permissions {
        assert_eq!(
            reference(
                &stack
                    .resolve(&permission["Properties"]["FunctionName"])
                    .unwrap()
            ),
            Some(alias),
            "{id}"
        );
    }
}

#[test]
fn codedeploy_shifts_the_alias_and_rolls_back_on_the_alarms_that_matter() {
    for env in ENVIRONMENTS {
        let stack = Stack::of(env, &[]);
        let (_, alias) = stack.of_type("AWS::Lambda::Alias")[0];
        let update = &alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"];
        assert_eq!(
            reference(&update["BeforeAllowTrafficHook"]),
            Some("PreTrafficHook"),
            "{env}"
        );
        let group_id = reference(&update["DeploymentGroupName"]).expect("a deployment group");
        let group = &stack.resource(group_id)["Properties"];
        let wanted = stack.parameter("DeploymentType");
        assert_eq!(
            group["DeploymentConfigName"],
            json!({"Fn::Sub": ["CodeDeployDefault.Lambda${ConfigName}", {"ConfigName": wanted}]}),
            "{env}"
        );
        if env == "dev" {
            assert_eq!(wanted, "AllAtOnce");
        } else {
            assert!(
                wanted.starts_with("Canary") || wanted.starts_with("Linear"),
                "{env}: {wanted}"
            );
        }
        let rollback = &group["AutoRollbackConfiguration"];
        assert_eq!(rollback["Enabled"], true);
        assert!(
            rollback["Events"]
                .as_array()
                .unwrap()
                .contains(&json!("DEPLOYMENT_STOP_ON_ALARM"))
        );
        assert_eq!(group["AlarmConfiguration"]["Enabled"], true);
        let alarms: BTreeSet<&str> = group["AlarmConfiguration"]["Alarms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| reference(&a["Name"]).expect("an alarm of this stack"))
            .collect();
        assert_eq!(alarms, BTreeSet::from(ROLLBACK_ALARMS), "{env}");
        for id in alarms {
            assert_eq!(stack.resource(id)["Type"], "AWS::CloudWatch::Alarm");
        }
    }
    // The latency alarm watches the alias, that is, every version traffic is shifted to.
    let stack = Stack::of("prod", &[]);
    let latency = &stack.resource("LatencyP99Alarm")["Properties"];
    assert_eq!(latency["Namespace"], "AWS/Lambda");
    assert_eq!(latency["MetricName"], "Duration");
    assert_eq!(latency["ExtendedStatistic"], "p99");
    let resource = latency["Dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["Name"] == "Resource")
        .map(|d| stack.sub_text(&d["Value"]));
    assert_eq!(
        resource,
        Some(json!({"Fn::Sub": "${UpdateConnectionFunction}:live"})),
        "{latency}"
    );
}

#[test]
fn every_alarm_reaches_someone_in_prod_and_says_what_to_do() {
    let email = "oncall@example.org";
    let topic = "arn:aws:sns:eu-west-1:123456789012:pager";
    for (extra, reaches) in [
        (vec![("AlarmEmail", email)], "email"),
        (vec![("AlarmEmail", ""), ("AlarmTopicArn", topic)], "topic"),
    ] {
        let stack = Stack::of("prod", &extra);
        assert!(stack.refusals().is_empty(), "{:?}", stack.refusals());
        let alarms = stack.of_type("AWS::CloudWatch::Alarm");
        assert!(alarms.len() >= 9, "{} alarms", alarms.len());
        for (id, alarm) in &alarms {
            let alarm = stack.resolve(&alarm["Properties"]).unwrap();
            for key in ["AlarmActions", "OKActions"] {
                let actions = alarm[key]
                    .as_array()
                    .unwrap_or_else(|| panic!("{id}: {key}"));
                assert!(
                    actions.contains(&json!({"Ref": "AlarmTopic"})),
                    "{id}: {key} {actions:?}"
                );
                if reaches == "topic" {
                    assert!(actions.contains(&json!(topic)), "{id}: {key} {actions:?}");
                }
            }
            let description = alarm["AlarmDescription"].as_str().unwrap();
            assert!(description.contains("Runbook:"), "{id}: {description}");
            assert_eq!(alarm["TreatMissingData"], "notBreaching", "{id}");
        }
        let subscriptions = stack
            .resolve(&stack.resource("AlarmTopic")["Properties"])
            .unwrap()["Subscription"]
            .clone();
        if reaches == "email" {
            assert_eq!(
                subscriptions,
                json!([{"Protocol": "email", "Endpoint": email}])
            );
        } else {
            assert!(subscriptions.is_null(), "{subscriptions}");
        }
    }
    // The alarms an operator pages on, beyond the rollback alarms.
    let stack = Stack::of("dev", &[]);
    let metric = |id: &str| {
        let p = &stack.resource(id)["Properties"];
        let dims: BTreeMap<String, Json> = p["Dimensions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (d["Name"].as_str().unwrap().to_owned(), d["Value"].clone()))
            .collect();
        (
            p["Namespace"].as_str().unwrap().to_owned(),
            p["MetricName"].as_str().unwrap().to_owned(),
            dims,
        )
    };
    assert_eq!(metric("FunctionThrottlesAlarm").1, "Throttles");
    for (id, name, table, operation) in [
        (
            "ConnectionsTableThrottlesAlarm",
            "ThrottledRequests",
            "ConnectionsTable",
            "UpdateItem",
        ),
        (
            "ApiKeysTableThrottlesAlarm",
            "ThrottledRequests",
            "ApiKeysTable",
            "GetItem",
        ),
        (
            "ConnectionsTableSystemErrorsAlarm",
            "SystemErrors",
            "ConnectionsTable",
            "UpdateItem",
        ),
        (
            "ApiKeysTableSystemErrorsAlarm",
            "SystemErrors",
            "ApiKeysTable",
            "GetItem",
        ),
    ] {
        let (namespace, metric_name, dims) = metric(id);
        assert_eq!(
            (namespace.as_str(), metric_name.as_str()),
            ("AWS/DynamoDB", name),
            "{id}"
        );
        assert_eq!(dims["TableName"], json!({"Ref": table}), "{id}");
        assert_eq!(dims["Operation"], operation, "{id}");
    }
}

#[test]
fn the_auth_refusals_alarm_counts_every_credential_code_the_function_emits() {
    let stack = Stack::of("prod", &[]);
    let alarm = &stack.resource("AuthRefusalsAlarm")["Properties"];
    let mut outcomes = BTreeSet::new();
    for query in alarm["Metrics"].as_array().unwrap() {
        let Some(stat) = query.get("MetricStat") else {
            continue;
        };
        let metric = &stat["Metric"];
        // The EMF record of src/telemetry.rs: namespace, metric and dimensions.
        assert_eq!(
            metric["Namespace"],
            update_connection::telemetry::METRICS_NAMESPACE
        );
        assert_eq!(metric["MetricName"], "Requests");
        let dims = metric["Dimensions"].as_array().unwrap();
        assert_eq!(
            stack.resolve(&dims[0]),
            Some(json!({"Name": "FunctionName", "Value": {"Ref": "UpdateConnectionFunction"}}))
        );
        assert_eq!(dims[1]["Name"], "Outcome");
        outcomes.insert(dims[1]["Value"].as_str().unwrap().to_owned());
        assert_eq!(query["ReturnData"], false);
    }
    let credential_codes: BTreeSet<String> = ProblemCode::ALL
        .iter()
        .filter(|c| matches!(c.status(), 401 | 403))
        .map(|c| c.as_str().to_owned())
        .collect();
    assert_eq!(outcomes, credential_codes);
    let summed = alarm["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["ReturnData"] == true)
        .expect("one expression is the alarm's");
    let expression = summed["Expression"].as_str().unwrap();
    for query in alarm["Metrics"].as_array().unwrap() {
        if query.get("MetricStat").is_some() {
            assert!(
                expression.contains(query["Id"].as_str().unwrap()),
                "{expression}"
            );
        }
    }
}

#[test]
fn prod_cannot_deploy_without_an_alarm_destination() {
    // samconfig.toml's own prod values: the placeholder address is refused.
    let refused = Stack::of("prod", &[]).refusals();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(refused[0].contains("placeholder"), "{refused:?}");
    let refused = Stack::of("prod", &[("AlarmEmail", ""), ("AlarmTopicArn", "")]).refusals();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(refused[0].contains("alarm destination"), "{refused:?}");
    // A throwaway stage needs none.
    assert!(Stack::of("dev", &[]).refusals().is_empty());
}

#[test]
fn the_access_log_carries_api_gateways_own_request_id() {
    let stack = Stack::of("prod", &[("AlarmEmail", "oncall@example.org")]);
    let stages = stack.of_type("AWS::ApiGateway::Stage");
    assert_eq!(stages.len(), 1);
    let format = stages[0].1["Properties"]["AccessLogSetting"]["Format"]
        .as_str()
        .unwrap();
    // Every variable in quotes, so the line is JSON whatever the values.
    let rendered = regex::Regex::new(r"\$context\.[A-Za-z.]+")
        .unwrap()
        .replace_all(format, "v");
    let line: Json = serde_json::from_str(&rendered)
        .unwrap_or_else(|e| panic!("the access log line is not JSON ({e}): {format}"));
    assert!(format.contains(r#""requestId":"$context.requestId""#));
    assert!(format.contains(r#""extendedRequestId":"$context.extendedRequestId""#));
    assert!(line.get("ip").is_some() && line.get("status").is_some());
}

/// RequireIfMatch reaches the function as the variable its configuration reads, and the
/// function then answers 428 to a write without an entity tag.
#[test]
fn require_if_match_is_a_parameter_the_function_reads() {
    for value in ["true", "false"] {
        let stack = Stack::of("dev", &[("RequireIfMatch", value)]);
        let (_, function) = stack
            .of_type("AWS::Lambda::Function")
            .into_iter()
            .find(|(id, _)| id.starts_with("UpdateConnectionFunction"))
            .expect("the function");
        let variables = &function["Properties"]["Environment"]["Variables"];
        // Table names are resources' names, not known before deployment.
        let lookup = |name: &str| match name {
            "CONNECTIONS_TABLE" | "API_KEYS_TABLE" => Some("t".to_owned()),
            _ => stack
                .resolve(&variables[name])
                .and_then(|v| v.as_str().map(str::to_owned)),
        };
        let config = update_connection::Config::from_lookup(lookup).expect("a valid configuration");
        assert_eq!(config.require_if_match, value == "true", "{variables}");
    }
}

/// BookkeepingFormat reaches the function as the variable its configuration reads, in both
/// forms of the function.
#[test]
fn bookkeeping_format_is_a_parameter_the_function_reads() {
    use update_connection::domain::BookkeepingFormat;
    for managed in [false, true] {
        for (value, wanted) in [
            ("compact", BookkeepingFormat::Compact),
            ("legacy", BookkeepingFormat::Legacy),
        ] {
            let mut parameters = vec![("BookkeepingFormat", value)];
            if managed {
                parameters.extend(MANAGED);
            }
            let stack = Stack::of("dev", &parameters);
            let function = stack.resource(stack.function_id());
            let function = stack.resolve(&function["Properties"]).unwrap();
            let variables = &function["Environment"]["Variables"];
            let lookup = |name: &str| match name {
                "CONNECTIONS_TABLE" | "API_KEYS_TABLE" => Some("t".to_owned()),
                _ => variables[name].as_str().map(str::to_owned),
            };
            let config =
                update_connection::Config::from_lookup(lookup).expect("a valid configuration");
            assert_eq!(config.bookkeeping, wanted, "{value}, managed {managed}");
        }
    }
}

#[test]
fn the_api_speaks_tls_1_2_with_forward_secrecy_or_1_3() {
    let stack = Stack::of("prod", &[("AlarmEmail", "oncall@example.org")]);
    let apis = stack.of_type("AWS::ApiGateway::RestApi");
    assert_eq!(apis.len(), 1);
    let api = stack.resolve(&apis[0].1["Properties"]).unwrap();
    assert_eq!(
        api["SecurityPolicy"],
        "SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09"
    );
    assert_eq!(api["EndpointAccessMode"], "STRICT");
    assert_eq!(api["EndpointConfiguration"]["Types"], json!(["REGIONAL"]));
}

#[test]
fn the_dashboard_and_saved_queries_show_what_the_runbooks_use() {
    let stack = Stack::of("prod", &[("AlarmEmail", "oncall@example.org")]);
    let body = stack.sub_text(&stack.resource("Dashboard")["Properties"]["DashboardBody"]);
    let body = body["Fn::Sub"].as_str().unwrap();
    let mut referred = BTreeSet::new();
    mentions(&json!(body), &mut referred);
    for id in &referred {
        assert!(
            id.starts_with("AWS::")
                || stack.parameters.contains_key(id)
                || stack.template["Resources"].get(id).is_some(),
            "the dashboard names {id}, which this stack does not have"
        );
    }
    let rendered = regex::Regex::new(r"\$\{[^}]+\}")
        .unwrap()
        .replace_all(body, "x");
    let dashboard: Json = serde_json::from_str(&rendered)
        .unwrap_or_else(|e| panic!("the dashboard body is not JSON ({e})"));
    let text = dashboard.to_string();
    for (needle, why) in [
        (r#""UpdateConnection","Requests""#, "request rate"),
        (r#""stat":"p99""#, "latency percentiles"),
        ("{UpdateConnection,FunctionName,Outcome}", "problem codes"),
        (r#""UpdateConnection","ColdStarts""#, "cold starts"),
        (r#""UpdateConnection","DynamoDBLatency""#, "DynamoDB time"),
    ] {
        assert!(
            text.contains(needle),
            "the dashboard shows no {why} ({needle})"
        );
    }
    let alarms_widget = dashboard["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["type"] == "alarm")
        .expect("an alarm widget");
    assert_eq!(
        alarms_widget["properties"]["alarms"]
            .as_array()
            .unwrap()
            .len(),
        stack.of_type("AWS::CloudWatch::Alarm").len()
    );

    let queries: BTreeMap<String, String> = stack
        .of_type("AWS::Logs::QueryDefinition")
        .into_iter()
        .map(|(_, q)| {
            let name = q["Properties"]["Name"]["Fn::Sub"].as_str().unwrap();
            (
                name.trim_start_matches("${AWS::StackName}/").to_owned(),
                q["Properties"]["QueryString"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(queries["cold-starts"].contains("cold_start = 1"));
    assert!(queries["errors-by-problem-code"].contains("by problem_code"));
    // The runbooks name the queries as STACK/<name>.
    for (id, alarm) in stack.of_type("AWS::CloudWatch::Alarm") {
        let description = alarm["Properties"]["AlarmDescription"].as_str().unwrap();
        for part in description.split("STACK/").skip(1) {
            let name: String = part
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            assert!(
                queries.contains_key(&name),
                "{id} names a query {name} that is not saved"
            );
        }
    }
}

/// The hook's checks, as the template gives them to it.
fn pre_traffic_checks() -> Vec<Json> {
    let stack = Stack::of("dev", &[]);
    let variables = &stack.resource("PreTrafficHook")["Properties"]["Environment"]["Variables"];
    assert_eq!(
        stack.resolve(&variables["NEW_VERSION"]),
        Some(json!({"Ref": stack.of_type("AWS::Lambda::Version")[0].0})),
        "the hook checks the version being deployed"
    );
    serde_json::from_str(variables["PRE_TRAFFIC_CHECKS"].as_str().unwrap())
        .expect("PRE_TRAFFIC_CHECKS is JSON")
}

/// The handler, with DynamoDB answered in process: no API key exists, and nothing else may
/// be asked (the checks need no stored data).
async fn app_without_data() -> update_connection::App {
    use aws_smithy_http_client::test_util::infallible_client_fn;
    use update_connection::store::{Store, dynamodb_client_at};

    let base = dynamodb_client_at("http://dynamodb.in-process").await;
    let http = infallible_client_fn(|req| {
        let target = req
            .headers()
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert_eq!(
            target, "DynamoDB_20120810.GetItem",
            "a pre-traffic check reached DynamoDB beyond the key lookup"
        );
        let mut response = http::Response::new("{}".to_owned());
        response.headers_mut().insert(
            "content-type",
            http::HeaderValue::from_static("application/x-amz-json-1.0"),
        );
        response
    });
    let client =
        aws_sdk_dynamodb::Client::from_conf(base.config().to_builder().http_client(http).build());
    let config = update_connection::Config::for_tables("connections", "api-keys");
    update_connection::App::with_lines_to(
        Store::new(client, "connections".into(), "api-keys".into()),
        &config,
        |_| {},
    )
}

#[tokio::test]
async fn pre_traffic_checks_get_from_the_handler_what_the_hook_expects() {
    let checks = pre_traffic_checks();
    assert!(checks.len() >= 4);
    let app = app_without_data().await;
    for check in &checks {
        let event = update_connection::Event::from_json(&check["event"].to_string());
        let response = app.handle(&event, "pre-traffic-test").await;
        let answer = serde_json::to_value(&response).unwrap();
        let body: Json = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
        assert_eq!(
            (&answer["statusCode"], &body["code"]),
            (&check["status"], &check["code"]),
            "{}",
            check["name"]
        );
    }
    let names: BTreeSet<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), checks.len(), "check names are unique");
    // The hook's own code runs against the built function in canary.rs.
}

/// The parameters a value refers to (Ref, and ${Name} in Sub).
fn parameters_in(stack: &Stack, v: &Json) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    mentions(v, &mut found);
    found.retain(|name| stack.parameters.contains_key(name));
    found
}

#[test]
fn one_stage_and_every_path_to_the_function_carries_its_protections() {
    for (env, extra) in [
        ("dev", vec![]),
        ("prod", vec![("AlarmEmail", "oncall@example.org")]),
    ] {
        let stack = Stack::of(env, &extra);
        let stages = stack.of_type("AWS::ApiGateway::Stage");
        assert_eq!(stages.len(), 1, "{env}: one stage");
        let (stage_id, stage) = stages[0];
        // A Deployment with a StageName creates a stage of its own (SAM's "Stage").
        for (id, deployment) in stack.of_type("AWS::ApiGateway::Deployment") {
            assert!(
                deployment["Properties"].get("StageName").is_none(),
                "{env}: {id} creates a second stage {}",
                deployment["Properties"]["StageName"]
            );
        }
        for kind in ["AWS::ApiGatewayV2::Api", "AWS::Lambda::Url"] {
            assert!(
                stack.of_type(kind).is_empty(),
                "{env}: no other way in ({kind})"
            );
        }
        let p = &stage["Properties"];
        assert_eq!(reference(&p["StageName"]), Some("StageName"), "{env}");
        assert!(
            stack
                .resolve(&p["AccessLogSetting"]["DestinationArn"])
                .is_some()
        );
        assert_eq!(p["TracingEnabled"], true, "{env}");
        let settings = &p["MethodSettings"][0];
        assert_eq!(
            (&settings["ResourcePath"], &settings["HttpMethod"]),
            (&json!("/*"), &json!("*")),
            "{env}: throttling covers every route"
        );
        assert!(settings["ThrottlingRateLimit"].as_f64().unwrap() > 0.0);
        // WAF, when on, is associated with that stage.
        let rate_limited = stack.condition("HasRateLimit");
        assert_eq!(rate_limited, env == "prod", "samconfig: WAF in prod");
        if rate_limited {
            let association = &stack.resource("RateLimitWebAclAssociation")["Properties"];
            let arn = association["ResourceArn"]["Fn::Sub"].as_str().unwrap();
            assert!(
                arn.ends_with(&format!(
                    "/restapis/${{ConnectionsApi}}/stages/${{{stage_id}}}"
                )),
                "{arn}"
            );
        }
        // API Gateway may invoke the function for this stage only.
        let permissions = stack.of_type("AWS::Lambda::Permission");
        assert_eq!(permissions.len(), 1, "{env}: one invoke permission");
        for (id, permission) in permissions {
            let p = &permission["Properties"];
            assert_eq!(p["Principal"], "apigateway.amazonaws.com", "{id}");
            let arn = stack.sub(&p["SourceArn"]);
            let arn = arn.as_str().unwrap();
            let wanted = format!(
                "${{ConnectionsApi}}/{}/*/connections/*",
                stack.parameter("StageName")
            );
            assert!(arn.ends_with(&wanted), "{env}: {id} allows {arn}");
        }
    }
}

#[test]
fn a_changed_setting_publishes_a_new_version() {
    for env in ENVIRONMENTS {
        let base = Stack::of(env, &[("AlarmEmail", "oncall@example.org")]);
        let fingerprint = |stack: &Stack| {
            let versions = stack.of_type("AWS::Lambda::Version");
            assert_eq!(versions.len(), 1);
            let (id, version) = versions[0];
            // A new logical id, or a new Description (a replacement), publishes a version.
            (
                id.to_owned(),
                stack.sub(&version["Properties"]["Description"]),
            )
        };
        let before = fingerprint(&base);
        // Every parameter that lands in the function's configuration; reserved concurrency
        // belongs to the function, not to a version.
        let function = &base.resource("UpdateConnectionFunction")["Properties"];
        let mut settings = BTreeSet::new();
        for (name, value) in function.as_object().unwrap() {
            if name != "ReservedConcurrentExecutions" {
                settings.extend(parameters_in(&base, value));
            }
        }
        for expected in [
            "LogLevel",
            "RequireIfMatch",
            "Architecture",
            "DynamoDbEndpoint",
        ] {
            assert!(settings.contains(expected), "{env}: {settings:?}");
        }
        for name in &settings {
            let current = base.parameter(name).to_owned();
            let other = base
                .allowed(name)
                .into_iter()
                .find(|v| *v != current)
                .unwrap_or_else(|| {
                    if current.is_empty() {
                        "http://127.0.0.1:8000".into()
                    } else {
                        String::new()
                    }
                });
            let changed = Stack::of(env, &[("AlarmEmail", "oncall@example.org"), (name, &other)]);
            assert_ne!(
                fingerprint(&changed),
                before,
                "{env}: {name}={other} (was {current}) would not reach the live alias"
            );
        }
        // A parameter outside the function's configuration publishes nothing.
        let same = Stack::of(
            env,
            &[
                ("AlarmEmail", "oncall@example.org"),
                ("LogRetentionDays", "90"),
            ],
        );
        assert_eq!(fingerprint(&same), before, "{env}");
    }
}

#[test]
fn the_function_logs_json_at_the_log_level_parameter() {
    for env in ENVIRONMENTS {
        let stack = Stack::of(env, &[("AlarmEmail", "oncall@example.org")]);
        let logging = &stack.resource("UpdateConnectionFunction")["Properties"]["LoggingConfig"];
        assert_eq!(logging["ApplicationLogLevel"], json!({"Ref": "LogLevel"}));
        assert_eq!(logging["LogFormat"], "JSON");
        assert_eq!(logging["SystemLogLevel"], "INFO", "REPORT records are INFO");
        assert!(
            stack
                .allowed("LogLevel")
                .contains(&stack.parameter("LogLevel").to_owned())
        );
    }
}

#[test]
fn waf_keeps_no_sampled_requests() {
    let stack = Stack::of("prod", &[("AlarmEmail", "oncall@example.org")]);
    let acl = &stack.resource("RateLimitWebAcl")["Properties"];
    let mut configs = vec![&acl["VisibilityConfig"]];
    configs.extend(
        acl["Rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| &r["VisibilityConfig"]),
    );
    assert_eq!(configs.len(), 2);
    for config in configs {
        assert_eq!(config["SampledRequestsEnabled"], false, "{config}");
        assert_eq!(config["CloudWatchMetricsEnabled"], true, "{config}");
    }
    let rule = &acl["Rules"][0]["Statement"]["RateBasedStatement"];
    assert_eq!(
        rule["AggregateKeyType"], "IP",
        "never a credential header as the key"
    );
    assert!(rule.get("CustomKeys").is_none());
}

#[test]
fn rollback_alarms_watch_the_version_being_deployed() {
    let stack = Stack::of("prod", &[("AlarmEmail", "oncall@example.org")]);
    let (version, _) = stack.of_type("AWS::Lambda::Version")[0];
    let number = json!({"Fn::Select": [7, {"Fn::Split": [":", {"Ref": version}]}]});
    for id in VERSION_ALARMS {
        let alarm = &stack.resolve(&stack.resource(id)["Properties"]).unwrap();
        let mut dimension_sets: Vec<&Json> = Vec::new();
        if let Some(d) = alarm.get("Dimensions") {
            dimension_sets.push(d);
        }
        for metric in alarm["Metrics"].as_array().into_iter().flatten() {
            if let Some(d) = metric.pointer("/MetricStat/Metric/Dimensions") {
                dimension_sets.push(d);
            }
        }
        // Each metric of the alarm is the version's own, except the whole function's
        // share that VersionRefusalsAlarm compares it with.
        let scoped = dimension_sets
            .iter()
            .filter(|dims| {
                dims.as_array().unwrap().iter().any(|d| {
                    (d["Name"] == "ExecutedVersion" || d["Name"] == "Version")
                        && d["Value"] == number
                })
            })
            .count();
        assert!(scoped >= 1, "{id} watches the whole function: {alarm}");
        if id != "VersionRefusalsAlarm" {
            assert_eq!(scoped, dimension_sets.len(), "{id}: {alarm}");
        }
        assert_eq!(alarm["TreatMissingData"], "notBreaching", "{id}");
    }
    // The EMF metrics the version alarms read are the ones the function declares.
    let declared = emf_metrics_by_dimensions();
    for id in ["VersionServerErrorsAlarm", "VersionRefusalsAlarm"] {
        for metric in stack.resource(id)["Properties"]["Metrics"]
            .as_array()
            .unwrap()
        {
            let Some(m) = metric.pointer("/MetricStat/Metric") else {
                continue;
            };
            let dims: Vec<String> = m["Dimensions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["Name"].as_str().unwrap().to_owned())
                .collect();
            let key = (m["MetricName"].as_str().unwrap().to_owned(), dims);
            assert_eq!(m["Namespace"], "UpdateConnection");
            assert!(declared.contains(&key), "{id}: {key:?} is not emitted");
        }
    }
}

/// (metric, dimension names) pairs that the function's request line declares.
fn emf_metrics_by_dimensions() -> BTreeSet<(String, Vec<String>)> {
    use update_connection::telemetry::{Outcome, RequestLine, RequestLog};
    let line = RequestLine::new("f", "3", |_| {});
    let outcome = Outcome {
        request_id: "r",
        trace_id: None,
        cold_start: false,
        status: 200,
        problem: None,
        latency: std::time::Duration::ZERO,
    };
    let v: Json = serde_json::from_str(&line.line(
        &RequestLog::default(),
        outcome,
        &update_connection::clock::now(),
    ))
    .unwrap();
    let mut out = BTreeSet::new();
    for directive in v["_aws"]["CloudWatchMetrics"].as_array().unwrap() {
        for metric in directive["Metrics"].as_array().unwrap() {
            for dims in directive["Dimensions"].as_array().unwrap() {
                let names = dims
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d.as_str().unwrap().to_owned())
                    .collect();
                out.insert((metric["Name"].as_str().unwrap().to_owned(), names));
            }
        }
    }
    out
}

#[test]
fn the_harness_compares_as_cloudformation_does() {
    // RateLimitPerIp is 0 in dev (a YAML number in the template, "0" as a parameter).
    let dev = Stack::of("dev", &[]);
    assert!(!dev.condition("HasRateLimit"));
    assert!(!dev.condition("HasReservedConcurrency"));
    assert!(
        dev.of_type("AWS::WAFv2::WebACL").is_empty(),
        "its Condition is false"
    );
    let prod = Stack::of("prod", &[("AlarmEmail", "oncall@example.org")]);
    assert!(prod.condition("HasRateLimit") && prod.condition("HasReservedConcurrency"));
    assert_eq!(prod.of_type("AWS::WAFv2::WebACL").len(), 1);
}

#[test]
fn sam_local_start_api_serves_the_one_route() {
    // SAM CLI reads the route from the API's DefinitionBody; an integration URI it cannot
    // parse leaves `sam local start-api` with no API at all.
    let routes = tool(&["local-routes"], None);
    let methods = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"];
    assert_eq!(
        routes,
        json!([[
            "/connections/{connection_id}",
            methods,
            "UpdateConnectionFunction"
        ]])
    );
}

/// What a stack on Lambda Managed Instances needs: its subnets, VPC and (optionally) route
/// tables for the DynamoDB gateway endpoint.
const MANAGED: [(&str, &str); 4] = [
    ("ManagedInstances", "true"),
    (
        "ManagedInstancesSubnetIds",
        "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
    ),
    ("ManagedInstancesVpcId", "vpc-0123456789abcdef0"),
    ("ManagedInstancesRouteTableIds", "rtb-0123456789abcdef0"),
];

#[test]
fn managed_instances_are_off_by_default_and_complete_when_on() {
    // Off: classic Lambda, nothing of the capacity provider.
    for env in ENVIRONMENTS {
        let stack = Stack::of(env, &[("AlarmEmail", "oncall@example.org")]);
        assert_eq!(stack.function_id(), "UpdateConnectionFunction", "{env}");
        for kind in [
            "AWS::Lambda::CapacityProvider",
            "AWS::EC2::VPCEndpoint",
            "AWS::EC2::SecurityGroup",
        ] {
            assert!(stack.of_type(kind).is_empty(), "{env}: {kind}");
        }
        let functions = stack.of_type("AWS::Lambda::Function");
        let (_, function) = functions
            .iter()
            .find(|(id, _)| *id == "UpdateConnectionFunction")
            .expect("the classic function");
        assert!(
            function["Properties"]
                .get("CapacityProviderConfig")
                .is_none()
        );
    }

    // On: the same binary on the capacity provider, in the given subnets, reaching
    // DynamoDB through a gateway endpoint on their route tables.
    let stack = Stack::of("dev", &MANAGED);
    assert!(stack.refusals().is_empty(), "{:?}", stack.refusals());
    assert_eq!(stack.function_id(), "UpdateConnectionManagedFunction");
    let providers = stack.of_type("AWS::Lambda::CapacityProvider");
    assert_eq!(providers.len(), 1);
    let (provider_id, provider) = providers[0];
    let provider = stack.resolve(&provider["Properties"]).unwrap();
    assert_eq!(
        provider["VpcConfig"]["SubnetIds"],
        json!("subnet-0123456789abcdef0,subnet-0123456789abcdef1")
    );
    assert_eq!(
        provider["VpcConfig"]["SecurityGroupIds"],
        json!([{"Ref": "ManagedInstancesSecurityGroup"}])
    );
    // Its cap, as ReservedConcurrency is classic Lambda's.
    assert_eq!(
        provider["CapacityProviderScalingConfig"]["MaxVCpuCount"],
        json!("16")
    );
    let function = stack.resolve(&stack.resource("UpdateConnectionManagedFunction")["Properties"]);
    let function = function.unwrap();
    let config =
        &function["CapacityProviderConfig"]["LambdaManagedInstancesCapacityProviderConfig"];
    assert_eq!(
        config["CapacityProviderArn"],
        json!({"Fn::GetAtt": [provider_id, "Arn"]})
    );
    assert_eq!(config["PerExecutionEnvironmentMaxConcurrency"], json!("8"));
    assert!(function.get("ReservedConcurrentExecutions").is_none());
    assert!(function["MemorySize"].as_u64().unwrap() >= 2048);
    let (_, endpoint) = stack.of_type("AWS::EC2::VPCEndpoint")[0];
    let endpoint = stack.resolve(&endpoint["Properties"]).unwrap();
    assert_eq!(endpoint["VpcEndpointType"], "Gateway");
    assert_eq!(
        endpoint["ServiceName"],
        json!({"Fn::Sub": "com.amazonaws.${AWS::Region}.dynamodb"})
    );
    assert_eq!(endpoint["RouteTableIds"], json!("rtb-0123456789abcdef0"));
    // This account's tables only: no way out to another account's.
    assert_eq!(
        endpoint["PolicyDocument"]["Statement"][0]["Condition"]["StringEquals"]["aws:ResourceAccount"],
        json!({"Ref": "AWS::AccountId"})
    );
    // No route tables given: the VPC routes DynamoDB already; no second endpoint.
    let without = Stack::of("dev", &[MANAGED[0], MANAGED[1], MANAGED[2]]);
    assert!(without.of_type("AWS::EC2::VPCEndpoint").is_empty());

    // Every path to the function reaches the managed one: one alias, the API's URI, the
    // invoke permission, the hook's version, the alarms' dimensions, the dashboard.
    let aliases = stack.of_type("AWS::Lambda::Alias");
    assert_eq!(aliases.len(), 1);
    assert_eq!(
        reference(&aliases[0].1["Properties"]["FunctionName"]),
        Some("UpdateConnectionManagedFunction")
    );
    for (id, resource) in stack.template["Resources"].as_object().unwrap() {
        let created = resource
            .get("Condition")
            .and_then(Json::as_str)
            .is_none_or(|c| stack.condition(c));
        if created {
            let text = stack.sub_text(resource).to_string();
            assert!(
                !text.contains("UpdateConnectionFunction"),
                "{id} names the classic function: {text}"
            );
        }
    }

    // Refused: without subnets or VPC, or with classic Lambda's reserved concurrency.
    for (broken, why) in [
        (vec![MANAGED[0], MANAGED[2]], "ManagedInstancesSubnetIds"),
        (vec![MANAGED[0], MANAGED[1]], "ManagedInstancesVpcId"),
        (
            vec![
                MANAGED[0],
                MANAGED[1],
                MANAGED[2],
                ("ReservedConcurrency", "10"),
            ],
            "ReservedConcurrency",
        ),
    ] {
        let refusals = Stack::of("dev", &broken).refusals();
        assert!(
            refusals.iter().any(|r| r.contains(why)),
            "{why}: {refusals:?}"
        );
    }
}

#[test]
fn a_changed_managed_instances_setting_publishes_a_new_version() {
    let version = |concurrency: &str| {
        let mut parameters = MANAGED.to_vec();
        parameters.push(("ManagedInstancesConcurrency", concurrency));
        let stack = Stack::of("dev", &parameters);
        let (id, version) = stack.of_type("AWS::Lambda::Version")[0];
        (
            id.to_owned(),
            stack.sub(&version["Properties"]["Description"]),
        )
    };
    assert_ne!(version("8"), version("16"));
}
