#!/usr/bin/env python3
"""Writes the sample events and expected-status.json. Ids, keys and tokens are demo/seed.json's."""
import base64, json, os
os.chdir(os.path.dirname(os.path.abspath(__file__)))
KEY = "demo-api-key-0001"

def rest(cid, token, body, method="PATCH", b64=False, ct="application/json"):
    h = {"Accept": "application/json", "Content-Type": ct, "Host": "abc123.execute-api.eu-west-1.amazonaws.com",
         "User-Agent": "curl/8.5.0", "X-Forwarded-Proto": "https", "x-api-key": KEY, "Authorization": f"Bearer {token}"}
    return {"resource": "/connections/{connection_id}", "path": f"/connections/{cid}", "httpMethod": method,
            "headers": h, "multiValueHeaders": {k: [v] for k, v in h.items()},
            "queryStringParameters": None, "multiValueQueryStringParameters": None,
            "pathParameters": {"connection_id": cid}, "stageVariables": None,
            "requestContext": {"resourceId": "a1b2c3", "resourcePath": "/connections/{connection_id}", "httpMethod": method,
                               "extendedRequestId": "Xyz123=", "requestTime": "28/Nov/2026:00:00:00 +0000",
                               "path": f"/prod/connections/{cid}", "accountId": "123456789012", "protocol": "HTTP/1.1",
                               "stage": "prod", "domainPrefix": "abc123", "requestTimeEpoch": 1795910400000,
                               "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
                               "identity": {"sourceIp": "203.0.113.10", "userAgent": "curl/8.5.0"},
                               "domainName": "abc123.execute-api.eu-west-1.amazonaws.com", "apiId": "abc123"},
            "body": base64.b64encode(body.encode()).decode() if b64 else body, "isBase64Encoded": b64}


def v2(cid, token, body, function_url=False):
    host = "abcdefghijklmnopqrstuvwxyz0123.lambda-url.eu-west-1.on.aws" if function_url else "abc123.execute-api.eu-west-1.amazonaws.com"
    api = "abcdefghijklmnopqrstuvwxyz0123" if function_url else "abc123"
    route = "$default" if function_url else "PATCH /connections/{connection_id}"
    h = {"accept": "application/json", "content-type": "application/json", "host": host, "user-agent": "curl/8.5.0",
         "x-forwarded-proto": "https", "x-api-key": KEY, "authorization": f"Bearer {token}"}
    ev = {"version": "2.0", "routeKey": route, "rawPath": f"/connections/{cid}", "rawQueryString": "", "headers": h,
          "requestContext": {"accountId": "123456789012", "apiId": api, "domainName": host, "domainPrefix": api,
                             "http": {"method": "PATCH", "path": f"/connections/{cid}", "protocol": "HTTP/1.1",
                                      "sourceIp": "203.0.113.10", "userAgent": "curl/8.5.0"},
                             "requestId": "JKJaXmPLvHcESHA=", "routeKey": route, "stage": "$default",
                             "time": "28/Nov/2026:00:00:00 +0000", "timeEpoch": 1795910400000},
          "body": body, "isBase64Encoded": False}
    if not function_url:
        ev["pathParameters"] = {"connection_id": cid}
    return ev


def alb(cid, token, body):
    h = {"accept": "application/json", "content-type": "application/json",
         "host": "connections-alb-123.eu-west-1.elb.amazonaws.com", "user-agent": "curl/8.5.0",
         "x-forwarded-proto": "https", "x-api-key": KEY, "authorization": f"Bearer {token}"}
    return {"requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/connections/6d0ecf831eec9f09"}},
            "httpMethod": "PATCH", "path": f"/connections/{cid}", "queryStringParameters": {}, "headers": h,
            "body": body, "isBase64Encoded": False}

ID=lambda x: "01J51S0JYV6N7K1030CV1ZKSC"+x
T={"A":"demo-token-active-a","B":"demo-token-active-b","C":"demo-token-initialized-c","D":"demo-token-unauthenticated-d",
   "E":"demo-token-active-e","F":"demo-token-disconnected-f","G":"demo-token-readonly-g","H":"demo-token-expired-h"}
DISC='{"status":"disconnected"}'
events = {
  # file: (event, expected status)
  "rest-v1-disconnect.json": (rest(ID("A"), T["A"], DISC), 200),
  "rest-v1-contact-update.json": (rest(ID("B"), T["B"], '{"email":"bob@example.org","mobile":null}'), 200),
  "rest-v1-base64-body.json": (rest(ID("B"), T["B"], '{"customer_id":"customer-b"}', b64=True), 200),
  "rest-v1-wrong-token.json": (rest(ID("B"), "not-the-right-token", DISC), 401),
  "rest-v1-unknown-connection.json": (rest("01J51S0JYV6N7K1030CV1ZKSZZ", T["A"], DISC), 404),
  "rest-v1-validation-error.json": (rest(ID("B"), T["B"], '{"email":"not-an-email","mobile":"0044 7700","connection_id":"01J51S0JYV6N7K1030CV1ZKSCB"}'), 422),
  "rest-v1-disconnected-conflict.json": (rest(ID("F"), T["F"], '{"email":"new@example.com"}'), 409),
  "rest-v1-insufficient-scope.json": (rest(ID("G"), T["G"], DISC), 403),
  "rest-v1-expired-token.json": (rest(ID("H"), T["H"], DISC), 401),
  "rest-v1-invalid-base64.json": (dict(rest(ID("B"), T["B"], DISC), body="not base64!", isBase64Encoded=True), 400),
  "http-api-v2-disconnect.json": (v2(ID("C"), T["C"], DISC), 200),
  "function-url-contact-update.json": (v2(ID("D"), T["D"], '{"mobile":"+447700900456"}', function_url=True), 200),
  "alb-disconnect.json": (alb(ID("E"), T["E"], DISC), 200),
}
expected = {}
for name, (ev, status) in events.items():
    with open(name, "w") as f:
        json.dump(ev, f, indent=2); f.write("\n")
    expected[name] = status
with open("expected-status.json", "w") as f:
    json.dump(expected, f, indent=2, sort_keys=True); f.write("\n")
