#!/usr/bin/env python3
"""Runs the arm64 `bootstrap` files that ship (scripts/package.sh) under qemu-aarch64, behind a Lambda Runtime
API emulator (bench/coldstart.py's), against the test services, and feeds each its sample events from events/
(the HTTP ones with a real token, and its triggers). Fails on a crash, a runtime error, a 5xx, or an answer
that differs from the x86_64 build's for the same event (ids, tokens and times aside).

    scripts/services.sh start && source .tools/services.env
    scripts/artifact-test.sh [FUNCTION ...]     # default: health contact accounts event-dispatch

Each architecture runs on a fresh table set up the same way (switchboard-local: the admin signs in, makes an
API key, logs in to the CRM API, creates a contact), so both see the same state, one event after another in
the same process, as a warm Lambda does.
"""

import json
import os
import queue
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from coldstart import SAMPLE_TOKEN, Runtime, private_s3, setup  # noqa: E402

DEFAULT = ["health", "contact", "accounts", "event-dispatch"]
CRM = {"contact", "call-log", "message-log", "crm-auth"}
QEMU = ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"]
# What differs between two correct runs: ids, tokens, secrets and times.
VOLATILE = [
    (re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+"), "<jwt>"),
    (re.compile(r"\b(sb_\w+?_)[\w.-]+"), r"\1<secret>"),
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"\b[0-9a-f]{64}\b"), "<sha256>"),
    (re.compile(r"\b[0-9a-f]{32}\b"), "<id>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"), "<time>"),
    (re.compile(r"\b1[78]\d{8}(\d{3})?\b"), "<epoch>"),
    (re.compile(r"(X-Amz-(Date|Signature|Credential)=)[^&\"]+"), r"\1<sig>"),
]


def log(message):
    print(f"[artifact-test] {message}", file=sys.stderr, flush=True)


def events_of(function, creds):
    """(name, event) of every sample event of `function`, with the run's real token in place of the sample."""
    folder = ROOT / "events" / function
    if not folder.is_dir():
        folder = ROOT / "events" / "triggers" / function
    token = creds["jwt"] if function in CRM else creds["access"]
    out = []
    for path in sorted(folder.glob("*.json")):
        out.append((path.stem, json.loads(path.read_text().replace(SAMPLE_TOKEN, token))))
    if not out:
        sys.exit(f"[artifact-test] no sample events for {function} in events/")
    return out


def normalized(reply):
    text = json.dumps(reply, sort_keys=True)
    for pattern, placeholder in VOLATILE:
        text = pattern.sub(placeholder, text)
    value = json.loads(text)
    # A JSON body is compared as JSON, whatever its key order.
    if isinstance(value, dict) and isinstance(value.get("body"), str):
        try:
            value["body"] = json.loads(value["body"])
        except ValueError:
            pass
    # Headers: their names and content type; values such as request ids differ run to run.
    headers = value.get("headers") if isinstance(value, dict) else None
    if isinstance(headers, dict):
        value["headers"] = {k: (v if k.lower() == "content-type" else "…") for k, v in headers.items()}
    return value


def run(runtime, command, env, events):
    """Starts `command` once and hands it `events` in turn; answers (kind, reply) per event."""
    runtime.reset()
    output = tempfile.TemporaryFile()
    process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)

    def crashed(why):
        output.seek(0)
        tail = output.read().decode(errors="replace")[-2000:]
        raise SystemExit(f"[artifact-test] {command[-1]} {why}; its output ends:\n{tail}")

    replies = []
    try:
        for name, event in events:
            runtime.events.put((secrets.token_hex(8), json.dumps(event).encode()))
            deadline = time.monotonic() + 120
            while True:
                try:
                    _, kind, body = runtime.replies.get(timeout=0.2)
                    break
                except Exception:
                    if process.poll() is not None:
                        crashed(f"crashed on {name} (exit {process.returncode})")
                    if time.monotonic() > deadline:
                        crashed(f"gave no answer to {name} in 120 s")
            replies.append((kind, json.loads(body or b"null")))
        # Stopped only once it asks for the next event: a request of it still on its way could otherwise
        # take the next process's first event (bench/coldstart.py waits the same way).
        try:
            while runtime.arrivals.get(timeout=30) <= len(events):
                pass
        except queue.Empty:
            crashed("did not ask for another event")
    finally:
        process.kill()
        process.wait()
        output.close()
    return replies


def main():
    functions = sys.argv[1:] or DEFAULT
    if "SWITCHBOARD_TEST_DYNAMODB_URL" not in os.environ:
        sys.exit("[artifact-test] no test services: scripts/services.sh start && source .tools/services.env")
    env = {k: v for k, v in os.environ.items() if k.startswith("AWS_") or k in ("PATH", "HOME", "TZ")}
    env.update({
        "AWS_ENDPOINT_URL_DYNAMODB": os.environ["SWITCHBOARD_TEST_DYNAMODB_URL"],
        "SWITCHBOARD_TOKEN_SECRET": secrets.token_urlsafe(32),
        "APP_SERVER_SECRET_KEY": secrets.token_urlsafe(32),
        "SWITCHBOARD_ORG_ID": "default",
        "SWITCHBOARD_ORG_API_KEY": "artifact-key",
        "SWITCHBOARD_ORG_API_SECRET": "artifact-secret-0123456789abcdef0123456",
        "SWITCHBOARD_BUCKET": "switchboard-avatars",
        "SWITCHBOARD_PUBLIC_URL": "https://abc123.execute-api.us-east-1.amazonaws.com",
        "SWITCHBOARD_MAIL_FROM": "switchboard@example.com",
        "RUST_LOG": "warn",
    })
    # The other AWS services the trigger functions call: moto (SQS, SNS, SES) and s3s-fs (S3).
    moto = os.environ.get("SWITCHBOARD_TEST_MOTO_URL")
    if moto:
        for service in ("SQS", "SNS", "SESV2"):
            env[f"AWS_ENDPOINT_URL_{service}"] = moto
        env["SWITCHBOARD_WEBHOOK_QUEUE_URL"] = moto + "/123456789012/artifact-webhooks"
    # An s3s-fs of its own, holding the bucket the processor's sample event names.
    s3 = private_s3(env)
    if s3:
        env["AWS_ENDPOINT_URL_S3"] = s3
    runtime = Runtime()
    builds = {
        "x86_64": lambda f: [str(ROOT / "target" / "debug" / f)],
        "arm64": lambda f: QEMU + [str(ROOT / "target" / "lambda" / f / "bootstrap")],
    }
    answers = {}
    for arch, command in builds.items():
        table = f"artifact-{arch}-{int(time.time())}-{secrets.token_hex(3)}"
        arch_env = {**env, "SWITCHBOARD_TABLE": table}
        creds = setup(ROOT / "target" / "debug", arch_env)
        lambda_env = {
            **arch_env,
            "AWS_LAMBDA_RUNTIME_API": runtime.address,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/artifact-test",
            "AWS_LAMBDA_LOG_STREAM_NAME": "artifact-test",
        }
        for function in functions:
            events = events_of(function, creds)
            started = time.monotonic()
            replies = run(runtime, command(function), {**lambda_env, "AWS_LAMBDA_FUNCTION_NAME": function}, events)
            log(f"{arch} {function}: {len(events)} events in {time.monotonic() - started:.1f} s")
            for (name, _), (kind, reply) in zip(events, replies):
                if kind != "response":
                    sys.exit(f"[artifact-test] {arch} {function} {name}: {kind}: {json.dumps(reply)[:300]}")
                if isinstance(reply, dict) and reply.get("statusCode", 200) >= 500:
                    sys.exit(f"[artifact-test] {arch} {function} {name}: {reply['statusCode']} {reply.get('body', '')[:300]}")
                answers.setdefault((function, name), {})[arch] = normalized(reply)
    differ = [key for key, by_arch in answers.items() if by_arch["x86_64"] != by_arch["arm64"]]
    for function, name in differ:
        log(f"{function} {name} differs:\n  x86_64 {answers[(function, name)]['x86_64']}\n"
            f"  arm64  {answers[(function, name)]['arm64']}")
    if differ:
        sys.exit(1)
    log(f"{len(answers)} events, the same answers from both builds: {', '.join(functions)}")


if __name__ == "__main__":
    main()
