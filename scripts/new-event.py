#!/usr/bin/env python3
"""Writes an API Gateway HTTP API (payload v2) sample event for a route, for events/ and `sam local invoke`.

usage: scripts/new-event.py FUNCTION "METHOD /route/{param}" /concrete/path [--query k=v&k2=v2]
                            [--body JSON] [--header 'name: value' ...] [--name FILE]
"""
import argparse
import json
import pathlib
import urllib.parse

parser = argparse.ArgumentParser()
parser.add_argument("function")
parser.add_argument("route_key")
parser.add_argument("path")
parser.add_argument("--query", default="")
parser.add_argument("--body")
parser.add_argument("--header", action="append", default=[])
parser.add_argument("--name")
args = parser.parse_args()

method, route = args.route_key.split(" ", 1)
params = {}
for pattern, actual in zip(route.split("/"), args.path.split("/")):
    if pattern.startswith("{") and pattern.endswith("}"):
        params[pattern[1:-1]] = actual
headers = {
    "accept": "application/json",
    "host": "abc123.execute-api.us-east-1.amazonaws.com",
    "user-agent": "curl/8.5.0",
    "x-forwarded-for": "203.0.113.10",
    "x-forwarded-port": "443",
    "x-forwarded-proto": "https",
}
if args.body is not None:
    headers["content-type"] = "application/json"
for header in args.header:
    name, value = header.split(":", 1)
    headers[name.strip().lower()] = value.strip()
event = {
    "version": "2.0",
    "routeKey": args.route_key,
    "rawPath": args.path,
    "rawQueryString": args.query,
    "headers": headers,
}
if args.query:
    event["queryStringParameters"] = {
        k: ",".join(v) for k, v in urllib.parse.parse_qs(args.query, keep_blank_values=True).items()
    }
if params:
    event["pathParameters"] = params
event["requestContext"] = {
    "accountId": "123456789012",
    "apiId": "abc123",
    "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
    "domainPrefix": "abc123",
    "http": {
        "method": method,
        "path": args.path,
        "protocol": "HTTP/1.1",
        "sourceIp": "203.0.113.10",
        "userAgent": "curl/8.5.0",
    },
    "requestId": "JKJaXmPLvHcESHA=",
    "routeKey": args.route_key,
    "stage": "$default",
    "time": "21/Nov/2026:05:00:00 +0000",
    "timeEpoch": 1795150800000,
}
if args.body is not None:
    event["body"] = json.dumps(json.loads(args.body))
event["isBase64Encoded"] = False

name = args.name or (method.lower() + "-" + "-".join(
    s.strip("{}") for s in route.strip("/").split("/")) + ".json")
out = pathlib.Path(__file__).resolve().parent.parent / "events" / args.function / name
out.parent.mkdir(parents=True, exist_ok=True)
out.write_text(json.dumps(event, indent=2) + "\n")
print(out.relative_to(out.parent.parent.parent))
