#!/usr/bin/env python3
"""Cold-start benchmark: each release Lambda binary under a Lambda Runtime API emulator, against DynamoDB Local.

For every case the emulator starts the binary as Lambda would (AWS_LAMBDA_RUNTIME_API pointing at it), hands it
one API Gateway v2 event from events/ (with a real token), then a second one, and measures:

  init    spawn -> the runtime's first GET /runtime/invocation/next (ready for its first event)
  first   spawn -> the first response POSTed back (init + the first request, cold)
  warm    second event handed over -> its response
  rss     peak resident set (VmHWM) after both requests
and per binary the stripped size and the size of the deployment zip (the binary as `bootstrap`, deflate -9).
Each case runs --runs times (default 9); the table shows medians.

    scripts/services.sh start >/dev/null && source .tools/services.env
    bench/coldstart.py                              # builds the release binaries first (nice -n 19)
    bench/coldstart.py --bin-dir /path/to/release   # measure existing binaries
    scripts/services.sh stop

Setup uses switchboard-local (release) on a fresh table of DynamoDB Local: the bootstrapped admin signs in,
creates an API key, logs in to the CRM API and creates the contact that GET /contact finds. The functions then
run with the same table and secrets. Everything stays on 127.0.0.1.
"""

import argparse
import atexit
import copy
import http.server
import io
import json
import os
import queue
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = [
    "accounts",
    "avatar-processor",
    "avatar-upload-url",
    "call-log",
    "contact",
    "crm-auth",
    "event-dispatch",
    "health",
    "message-log",
    "push",
    "push-dispatch",
    "server-api",
    "users",
    "webhook-deliver",
    "webhooks",
]
SAMPLE_TOKEN = "eyJhbGciOiJIUzI1NiJ9.sample.token"
ADMIN = ("admin", "admin-password-1")
NUMBER = "+16505559876"


def log(message):
    print(f"[coldstart] {message}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the Runtime API emulator ----------------------------------------------------------------------------------


class Runtime:
    """The three endpoints a custom runtime uses. One function process at a time."""

    def __init__(self):
        self.events = queue.Queue()
        self.replies = queue.Queue()
        self.next_calls = []
        self.arrivals = queue.Queue()
        # What Lambda hands each invocation; `traced` makes it what active tracing hands over.
        self.trace_id = "Root=1-00000000-000000000000000000000000"
        runtime = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_):
                pass

            def do_GET(self):
                if self.path != "/2018-06-01/runtime/invocation/next":
                    return self.reply(404, b"{}")
                events, calls = runtime.events, runtime.next_calls
                calls.append(time.perf_counter())
                runtime.arrivals.put(len(calls))
                item = events.get()
                if item is None:  # the process is gone; let the connection close
                    return
                request_id, event = item
                try:
                    self.send_event(request_id, event)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the process was stopped while it waited

            def send_event(self, request_id, event):
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30_000))
                self.send_header(
                    "Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench"
                )
                self.send_header("Lambda-Runtime-Trace-Id", runtime.trace_id)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(event)))
                self.end_headers()
                self.wfile.write(event)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                at = time.perf_counter()
                parts = self.path.split("/")
                # /2018-06-01/runtime/invocation/<id>/response|error, /2018-06-01/runtime/init/error
                kind = parts[-1]
                runtime.replies.put((at, kind, body))
                self.reply(202, b'{"status":"OK"}')

            def reply(self, status, body):
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the benchmark stopped the process once its response was in

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
                    super().handle_error(request, client_address)  # a stopped process's connection is fine

        self.server = Server(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reset(self):
        """Fresh queues for the next process; a request of the last one still waiting gets `None`."""
        self.events.put(None)
        self.events, self.replies, self.arrivals = queue.Queue(), queue.Queue(), queue.Queue()
        self.next_calls = []

    def invoke_cold(self, command, env, events, log_file):
        """Starts `command`, hands it `events` one after another; returns the measurements and the replies."""
        self.reset()
        self.events.put((secrets.token_hex(8), events[0]))
        start = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            at, first = self.reply(command, process=process)
            timings = {"init": self.next_calls[0] - start, "first": at - start}
            handed = time.perf_counter()
            self.events.put((secrets.token_hex(8), events[1]))
            at, second = self.reply(command, process=process)
            timings["warm"] = at - handed
            # Stop it only once it waits for a third event, so that request is not left in flight for the
            # next process's turn.
            while self.arrivals.get(timeout=10) < 3:
                pass
            timings["rss"] = peak_rss(process.pid)
            return timings, [first, second]
        finally:
            process.kill()
            process.wait()

    def profile(self, command, env, events, requests, log_file):
        """Runs `command` until it asks for event number `requests + 1`, then stops it with SIGTERM (valgrind
        writes its profile then)."""
        self.reset()
        process = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            for n in range(requests + 1):
                while self.arrivals.get(timeout=600) <= n:
                    pass
                if n < requests:
                    self.events.put((secrets.token_hex(8), events[n]))
                    self.reply(command, timeout=600)
            process.terminate()
            process.wait(timeout=600)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

    def reply(self, command, timeout=60, process=None):
        deadline = time.monotonic() + timeout
        while True:
            try:
                at, kind, body = self.replies.get(timeout=0.2)
                break
            except queue.Empty:
                if process is not None and process.poll() is not None:
                    raise RuntimeError(f"{command[-1]} exited with {process.returncode} before answering")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{command[-1]}: no answer in {timeout} s") from None
        if kind != "response":
            raise RuntimeError(f"{command[-1]}: {kind}: {body[:300]!r}")
        return at, json.loads(body)


def peak_rss(pid):
    """VmHWM in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM")


# --- setup ---------------------------------------------------------------------------------------------------


def api(base, method, path, body=None, token=None):
    request = urllib.request.Request(base + path, method=method)
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, data=data, timeout=30) as response:
        return json.loads(response.read() or b"null")


def setup(bin_dir, env):
    """Bootstraps the table through switchboard-local; returns the credentials the events need."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data:
        server = subprocess.Popen(
            [str(bin_dir / "switchboard-local"), "--port", str(port), "--data-dir", data],
            env={**env, "SWITCHBOARD_ADMIN_USERNAME": ADMIN[0], "SWITCHBOARD_ADMIN_PASSWORD": ADMIN[1]},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(300):
                try:
                    urllib.request.urlopen(base + "/is-alive", timeout=1).close()
                    break
                except OSError:
                    if server.poll() is not None:
                        raise RuntimeError("switchboard-local exited during start-up")
                    time.sleep(0.1)
            session = api(base, "POST", "/sessions", {"username": ADMIN[0], "password": ADMIN[1]})
            access = session["accessToken"]
            key = api(base, "POST", "/users/me/api-keys", {}, access)["key"]
            jwt = api(base, "POST", "/apiKeyLogin", {"platform": "switchboard", "apiKey": key})["jwtToken"]
            created = api(
                base,
                "POST",
                f"/contact?jwtToken={jwt}",
                {"phoneNumber": NUMBER, "newContactName": "Ada Lovelace", "newContactType": "Contact"},
            )
            assert created["successful"], created
            # The bootstrapped admin's profile: the avatar upload URL is issued for it.
            profile = api(base, "GET", f"/users?identityId={session['account']['id']}", None, access)[0]["id"]
            return {"access": access, "key": key, "jwt": jwt, "profile": profile}
        finally:
            server.terminate()
            server.wait()


# --- cases ---------------------------------------------------------------------------------------------------


def load_event(name):
    return json.loads((ROOT / "events" / f"{name}.json").read_text())


def load_trigger(name):
    return json.loads((ROOT / "events" / "triggers" / f"{name}.json").read_text())


def with_token(event, token, header=False):
    text = json.dumps(event).replace(SAMPLE_TOKEN, token)
    event = json.loads(text)
    if header:
        event["headers"]["authorization"] = f"Bearer {token}"
    return event


def with_body(event, body):
    event = copy.deepcopy(event)
    event["body"] = json.dumps(body)
    return event


def cases(creds):
    """(label, function, make_events(run) -> [event, event], the status both replies must have, check)."""
    contact_found = lambda reply: json.loads(reply["body"])["successful"] is True  # noqa: E731

    def call_log(run):
        base = with_token(load_event("call-log/post-callLog"), creds["jwt"])
        out = []
        for n in range(2):
            body = json.loads(base["body"])
            body["logInfo"]["sessionId"] = f"cold-{os.getpid()}-{run}-{n}-{secrets.token_hex(4)}"
            out.append(with_body(base, body))
        return out

    def message_log(run):
        base = with_token(load_event("message-log/post-messageLog"), creds["jwt"])
        body = json.loads(base["body"])
        body["logInfo"]["conversationLogId"] = f"cold-{os.getpid()}-{run}-{secrets.token_hex(4)}"
        return [with_body(base, body)] * 2

    def same(event):
        return lambda run: [event, event]

    upload = load_event("avatar-upload-url/get-user-profiles-profileId-avatar-upload-url")
    sample_profile = upload["pathParameters"]["profileId"]
    upload_url = with_token(json.loads(json.dumps(upload).replace(sample_profile, creds["profile"])), creds["access"], header=True)
    sign_in = with_body(load_event("accounts/post-sessions"), {"username": ADMIN[0], "password": ADMIN[1]})
    key_login = with_body(load_event("crm-auth/post-apiKeyLogin"), {"platform": "switchboard", "apiKey": creds["key"]})
    return [
        ("health: GET /is-alive", "health", same(load_event("health/get-is-alive")), 200, None),
        ("contact: GET /contact, bad token", "contact", same(load_event("contact/get-contact")), 400, None),
        (
            "contact: GET /contact (found; 2 DynamoDB calls)",
            "contact",
            same(with_token(load_event("contact/get-contact"), creds["jwt"])),
            200,
            contact_found,
        ),
        ("call-log: POST /callLog (new log)", "call-log", call_log, 200, None),
        ("message-log: POST /messageLog", "message-log", message_log, 200, None),
        ("crm-auth: POST /apiKeyLogin", "crm-auth", same(key_login), 200, None),
        (
            "accounts: GET /sessions",
            "accounts",
            same(with_token(load_event("accounts/get-sessions"), creds["access"], header=True)),
            200,
            None,
        ),
        ("accounts: POST /sessions (argon2id)", "accounts", same(sign_in), 201, None),
        (
            "users: GET /users/me/api-keys",
            "users",
            same(with_token(load_event("users/get-users-me-api-keys"), creds["access"], header=True)),
            200,
            None,
        ),
        ("server-api: POST /api/v1/client/validate-key, bad key", "server-api", same(load_event("server-api/post-api-v1-client-validate-key")), None, None),
        (
            "avatar-upload-url: presigned PUT (no S3 call)",
            "avatar-upload-url",
            same(upload_url),
            200,
            None,
        ),
        (
            "push: GET /users/me/devices",
            "push",
            same(with_token(load_event("push/get-users-me-devices"), creds["access"], header=True)),
            200,
            None,
        ),
        (
            "webhooks: GET /webhooks",
            "webhooks",
            same(with_token(load_event("webhooks/get-webhooks"), creds["access"], header=True)),
            200,
            None,
        ),
        # Triggers: their replies are batch item failures, not HTTP responses.
        ("push-dispatch: stream batch", "push-dispatch", same(load_trigger("push-dispatch/notification-recorded")), None, None),
        ("event-dispatch: scheduled sweep", "event-dispatch", same(load_trigger("event-dispatch/schedule-sweep")), None, None),
        ("webhook-deliver: SQS batch", "webhook-deliver", same(load_trigger("webhook-deliver/sqs-one-malformed-message")), None, None),
        ("avatar-processor: S3 ObjectCreated", "avatar-processor", same(load_trigger("avatar-processor/object-created")), None, None),
    ]


# --- main ----------------------------------------------------------------------------------------------------


def zipped_size(binary):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.write(binary, "bootstrap")
    return buffer.tell()


def private_s3(env):
    """An s3s-fs of its own (the test services' binary) holding the configured bucket and the one the
    processor's sample event names, stopped at exit; its URL, or None without s3s-fs."""
    binary = ROOT / ".tools" / "cargo" / "bin" / "s3s-fs"
    if not binary.exists():
        return None
    event = load_trigger("avatar-processor/object-created")
    root = tempfile.mkdtemp(prefix="coldstart-s3-")
    atexit.register(shutil.rmtree, root, True)
    for bucket in {event["Records"][0]["s3"]["bucket"]["name"], env["SWITCHBOARD_BUCKET"]}:
        (Path(root) / bucket).mkdir()
    port = free_port()
    server = subprocess.Popen(
        [str(binary), "--host", "127.0.0.1", "--port", str(port), "--access-key", env["AWS_ACCESS_KEY_ID"],
         "--secret-key", env["AWS_SECRET_ACCESS_KEY"], root],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    atexit.register(server.terminate)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("s3s-fs did not start")


def build(target):
    packages = [arg for name in FUNCTIONS + ["switchboard-local"] for arg in ("-p", name)]
    log(f"nice -n 19 cargo build --release {' '.join(packages)} (target {target})")
    subprocess.run(
        ["nice", "-n", "19", "cargo", "build", "--release", *packages],
        cwd=ROOT,
        env={**os.environ, "CARGO_TARGET_DIR": str(target)},
        check=True,
    )
    return Path(target) / "release"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--bin-dir", type=Path, help="release binaries to measure (default: build them)")
    parser.add_argument("--target", type=Path, default=ROOT / "target", help="CARGO_TARGET_DIR for the build")
    parser.add_argument("--only", help="comma-separated functions to measure")
    parser.add_argument("--case", help="only the cases whose label contains this")
    parser.add_argument("--json", type=Path, help="also write every run's figures here")
    parser.add_argument(
        "--tracing",
        action="store_true",
        help="run the functions as Lambda does with the template's Tracing=Active: the X-Ray daemon's "
        "environment and a sampled trace header on each invocation",
    )
    parser.add_argument(
        "--callgrind",
        type=Path,
        help="instead of timing, write callgrind profiles of init, init + first request and init + first + "
        "warm request of each case to this directory (name.0/1/2.out); diff them with bench/profile-diff.py",
    )
    args = parser.parse_args()

    endpoint = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("SWITCHBOARD_TEST_DYNAMODB_URL")
    if not endpoint or "AWS_ACCESS_KEY_ID" not in os.environ:
        sys.exit("no DynamoDB Local: scripts/services.sh start >/dev/null && source .tools/services.env")
    bin_dir = args.bin_dir or build(args.target)

    env = {
        key: value
        for key, value in os.environ.items()
        # SSL_CERT_FILE/SSL_CERT_DIR choose the TLS roots the SDK loads at init (an experiment knob).
        if key.startswith("AWS_") or key in ("PATH", "HOME", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR")
    }
    env.update(
        {
            "AWS_REGION": env.get("AWS_REGION", "us-east-1"),
            "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
            "SWITCHBOARD_TABLE": f"coldstart-{int(time.time())}-{secrets.token_hex(3)}",
            "SWITCHBOARD_TOKEN_SECRET": secrets.token_urlsafe(32),
            "APP_SERVER_SECRET_KEY": secrets.token_urlsafe(32),
            "SWITCHBOARD_ORG_ID": "default",
            "SWITCHBOARD_ORG_API_KEY": "bench-key",
            "SWITCHBOARD_ORG_API_SECRET": "bench-secret-0123456789abcdef0123456789",
            "RUST_LOG": "info",
            # Presigning is local; the processor reads from the test services' S3 (s3s-fs) when it runs.
            "SWITCHBOARD_BUCKET": "switchboard-avatars",
        }
    )
    s3 = private_s3(env)
    if s3:
        env["AWS_ENDPOINT_URL_S3"] = s3
    # The webhook queue the event functions are configured with (the sweep of an empty outbox sends nothing).
    if os.environ.get("SWITCHBOARD_TEST_MOTO_URL"):
        env["AWS_ENDPOINT_URL_SQS"] = os.environ["SWITCHBOARD_TEST_MOTO_URL"]
        env["SWITCHBOARD_WEBHOOK_QUEUE_URL"] = os.environ["SWITCHBOARD_TEST_MOTO_URL"] + "/123456789012/bench-webhooks"
    log(f"setting up table {env['SWITCHBOARD_TABLE']}")
    creds = setup(bin_dir, env)

    runtime = Runtime()
    lambda_env = {
        **env,
        "AWS_LAMBDA_RUNTIME_API": runtime.address,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
    }
    if args.tracing:
        # As Lambda sets them with active tracing (the daemon itself is the platform's, not measured here).
        lambda_env.update({
            "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
            "_AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129",
            "_AWS_XRAY_DAEMON_PORT": "2000",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        })
        runtime.trace_id = "Root=1-675a1b2c-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1"
    only = set(args.only.split(",")) if args.only else None
    rows, raw = [], {}
    with tempfile.TemporaryFile() as function_log:
        for label, function, make_events, status, check in cases(creds):
            if (only and function not in only) or (args.case and args.case not in label):
                continue
            binary = bin_dir / function
            if args.callgrind:
                args.callgrind.mkdir(parents=True, exist_ok=True)
                events = [json.dumps(e).encode() for e in make_events(0)]
                slug = "".join(c if c.isalnum() else "-" for c in label).strip("-")
                for requests in range(3):
                    out = args.callgrind / f"{slug}.{requests}.out"
                    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", str(binary)]
                    log(f"{label}: callgrind, {requests} request(s) -> {out}")
                    runtime.profile(command, {**lambda_env, "AWS_LAMBDA_FUNCTION_NAME": function}, events, requests, function_log)
                continue
            runs = []
            for run in range(args.runs):
                events = [json.dumps(e).encode() for e in make_events(run)]
                timings, replies = runtime.invoke_cold(
                    [str(binary)], {**lambda_env, "AWS_LAMBDA_FUNCTION_NAME": function}, events, function_log
                )
                for reply in replies:
                    if status is not None and reply.get("statusCode") != status:
                        raise RuntimeError(f"{label}: status {reply.get('statusCode')}: {reply.get('body', '')[:300]}")
                    if check and not check(reply):
                        raise RuntimeError(f"{label}: unexpected reply {reply.get('body', '')[:300]}")
                runs.append(timings)
            median = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            size, zipped = binary.stat().st_size, zipped_size(binary)
            raw[label] = {"runs": runs, "median": median, "size": size, "zip": zipped}
            log(
                f"{label}: init {median['init'] * 1e3:.1f} ms, first {median['first'] * 1e3:.1f} ms, "
                f"warm {median['warm'] * 1e3:.2f} ms, rss {median['rss'] / 2**20:.1f} MiB"
            )
            # What the first request costs beyond a warm one: work done once per process on the request path.
            once = statistics.median(r["first"] - r["init"] - r["warm"] for r in runs)
            rows.append(
                f"| {label} | {median['init'] * 1e3:.1f} ms | {median['first'] * 1e3:.1f} ms | "
                f"{median['warm'] * 1e3:.2f} ms | {once * 1e3:.1f} ms | {median['rss'] / 2**20:.1f} MiB | "
                f"{size / 2**20:.1f} MiB | {zipped / 2**20:.1f} MiB |"
            )
    if args.callgrind:
        return
    if args.json:
        args.json.write_text(json.dumps(raw, indent=1))
    print("| case | init | first response | warm request | first − init − warm | peak RSS | stripped | zip |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    print()
    print(
        f"Medians of {args.runs} cold starts each; {os.cpu_count()} CPUs, x86_64, DynamoDB Local on loopback, "
        f"{time.strftime('%Y-%m-%d', time.gmtime())}."
    )


if __name__ == "__main__":
    main()
