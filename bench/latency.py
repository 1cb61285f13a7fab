#!/usr/bin/env python3
"""Latency of the hot routes when every DynamoDB call costs a network round trip, as it does from Lambda.

Puts bench/delayproxy.py (each request to DynamoDB held DELAY ms) between the release local server and
DynamoDB Local, then sends each route REQUESTS times one after another and prints a Markdown table: median
and p99 latency, and the DynamoDB calls per request with how many of them were on the critical path (had to
wait for another call), as the proxy saw them; then how long the request waited on DynamoDB (some call
outstanding: the delay plus DynamoDB Local's own time) and the rest (Switchboard, the client, the proxy's hops).

    scripts/services.sh start && source .tools/services.env
    bench/latency.py [BIN ...]        # each binary measured in turn (e.g. before and after a change)

Settings (environment): BENCH_DELAY_MS=5 (several, e.g. "0 5": a table for each), BENCH_REQUESTS=200,
BENCH_WARMUP=1000 (unmeasured requests per route first), BENCH_BIN (default: build
target/release/switchboard-local with cargo). Everything stays on 127.0.0.1; each binary gets a table of
its own in DynamoDB Local and a temporary data directory.
"""

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from coldstart import free_port  # noqa: E402
from delayproxy import DelayProxy, depth, waiting  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DELAYS_MS = [float(d) for d in os.environ.get("BENCH_DELAY_MS", "5").split()]
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "200"))
# DynamoDB Local runs on the JVM: its transaction path takes a few thousand calls to be compiled, a real
# table is always warm. Each route's warm-up requests are sent as the measured ones are, and not measured.
WARMUP = int(os.environ.get("BENCH_WARMUP", "1000"))
ADMIN = ("admin", "admin-password-1")


def log(message):
    print(f"[latency] {message}", file=sys.stderr, flush=True)


class Client:
    """One keep-alive HTTP/1.1 connection, kept lean (a request written in one piece, only the status and
    `content-length` read from the answer) so the measured time is the server's more than the client's.
    `send` answers (status, body bytes); `call` also decodes the JSON."""

    def __init__(self, port):
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def send(self, method, path, body=None, token=None):
        data = json.dumps(body).encode() if body is not None else b""
        head = f"{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: {len(data)}\r\n"
        if body is not None:
            head += "content-type: application/json\r\n"
        if token:
            head += f"authorization: Bearer {token}\r\n"
        self.socket.sendall(head.encode() + b"\r\n" + data)
        while b"\r\n\r\n" not in self.buffer:
            self._read()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        length = next((int(line.split(b":", 1)[1]) for line in lines[1:]
                       if line[:15].lower() == b"content-length:"), None)
        if length is None:
            raise SystemExit(f"[latency] an answer without content-length: {head!r}")
        while len(self.buffer) < length:
            self._read()
        answer, self.buffer = self.buffer[:length], self.buffer[length:]
        return int(lines[0].split()[1]), answer

    def _read(self):
        chunk = self.socket.recv(65536)
        if not chunk:
            raise SystemExit("[latency] the server closed the connection")
        self.buffer += chunk

    def call(self, method, path, body=None, token=None):
        status, answer = self.send(method, path, body, token)
        return status, decode(answer)


def decode(answer):
    try:
        return json.loads(answer) if answer else None
    except ValueError:
        return answer.decode()


def expect(ok, what):
    if not ok:
        raise SystemExit(f"[latency] unexpected answer: {what}")


def call_log(session, note="bench"):
    return {
        "logInfo": {"sessionId": session, "direction": "Inbound", "from": {"phoneNumber": "+16505550042"},
                    "to": {"phoneNumber": "+16505550100"}, "duration": 42},
        "contactId": "c1", "contactName": "Ada", "note": note,
    }


def messages(ids):
    return {
        "logInfo": {"conversationId": "c-1", "conversationLogId": "c-1-2026-12-06",
                    "messages": [{"id": i, "type": "SMS", "direction": "Inbound", "subject": "hi",
                                  "from": {"phoneNumber": "+16505550042"}, "to": [{"phoneNumber": "+16505550100"}],
                                  "creationTime": "2026-12-06T05:00:00.000Z"} for i in ids],
                    "correspondents": [{"phoneNumber": "+16505550042"}]},
        "contactId": "c1", "contactName": "Ada",
    }


def measure(binary, dynamodb, delay_ms):
    target = urllib.parse.urlparse(dynamodb)
    proxy = DelayProxy(target.hostname, target.port, delay_ms)
    proxy_port = proxy.start()
    port = free_port()
    data = tempfile.mkdtemp(prefix="switchboard-latency.")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    env.update({
        "SWITCHBOARD_TABLE": f"latency-{uuid.uuid4()}",
        "AWS_ENDPOINT_URL_DYNAMODB": f"http://127.0.0.1:{proxy_port}",
        "SWITCHBOARD_ORG_ID": "default",
        "SWITCHBOARD_ORG_API_KEY": "bench-key",
        "SWITCHBOARD_ORG_API_SECRET": "bench-secret-0123456789abcdef0123456789",
        "SWITCHBOARD_ADMIN_USERNAME": ADMIN[0],
        "SWITCHBOARD_ADMIN_PASSWORD": ADMIN[1],
        "RUST_LOG": "warn",
    })
    # Webhook deliveries run in another function in AWS; here they would share DynamoDB Local and the two
    # cores with the requests measured.
    server = subprocess.Popen([binary, "--port", str(port), "--data-dir", data, "--no-delivery"], env=env,
                              stdout=subprocess.DEVNULL, stderr=open(os.path.join(data, "server.log"), "w"))
    try:
        for _ in range(600):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if server.poll() is not None:
                    raise SystemExit(f"[latency] {binary} exited: see {data}/server.log")
                time.sleep(0.1)
        rows = run_routes(Client(port), proxy)
        return rows, statistics.median(proxy.holds) * 1000
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(data, ignore_errors=True)


def run_routes(api, proxy):
    status, body = api.call("POST", "/sessions", {"username": ADMIN[0], "password": ADMIN[1]})
    expect(status == 201, body)
    admin = body["accessToken"]
    status, body = api.call("POST", "/accounts", {"username": "robin", "password": "robin-password-1",
                                                   "profile": {"name": "Robin"}})
    expect(status == 201, body)
    profile = body["profile"]["id"]
    status, body = api.call("POST", "/sessions", {"username": "robin", "password": "robin-password-1"})
    user = body["accessToken"]
    status, body = api.call("POST", "/users/me/api-keys", {}, admin)
    expect(status == 201, body)
    status, body = api.call("POST", "/apiKeyLogin", {"platform": "switchboard", "apiKey": body["key"]})
    jwt = body["jwtToken"]
    q = f"jwtToken={jwt}"
    status, body = api.call("POST", f"/contact?{q}", {"phoneNumber": "+16505550042", "newContactName": "Ada"})
    expect(body.get("successful") is True, body)
    for session in ("s-1", "s-2", "s-3"):
        api.call("POST", f"/callLog?{q}", call_log(session))
    nonce = uuid.uuid4().hex[:8]
    routes = [
        ("GET /contact", lambda i: ("GET", f"/contact?{q}&phoneNumber=%2B16505550042&overridingFormat="
                                           "(***)%20***-****,***-***-****", None, None)),
        ("POST /callLog (new)", lambda i: ("POST", f"/callLog?{q}", call_log(f"n-{nonce}-{i}"), None)),
        ("POST /callLog (duplicate)", lambda i: ("POST", f"/callLog?{q}", call_log("s-1"), None)),
        ("GET /callLog", lambda i: ("GET", f"/callLog?{q}&sessionIds=s-1,s-2,s-3", None, None)),
        ("POST /messageLog", lambda i: ("POST", f"/messageLog?{q}", messages([f"m-{nonce}-{i}"]), None)),
        ("GET /user/settings", lambda i: ("GET", f"/user/settings?{q}", None, None)),
        ("GET /users/{profileId}", lambda i: ("GET", f"/users/{profile}", None, user)),
    ]
    rows = []
    for name, request in routes:
        latencies, counts, depths, waits, latencies_in_order = [], [], [], [], []
        for i in range(-WARMUP, REQUESTS):
            method, path, body, token = request(i)
            started = time.monotonic()
            status, answer = api.send(method, path, body, token)
            ended = time.monotonic()
            expect(status == 200, f"{name}: {status} {decode(answer)}")
            if i >= 0:
                time.sleep(0.002)  # let the proxy note the last answer
                calls = proxy.calls_between(started, ended)
                latencies.append((ended - started) * 1000)
                latencies_in_order.append(latencies[-1])
                counts.append(len(calls))
                depths.append(depth(calls))
                waits.append(waiting(calls) * 1000)
        latencies.sort()
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        others = [latency - wait for latency, wait in zip(latencies_in_order, waits)]
        rows.append((name, statistics.median(latencies), p99, statistics.median(counts),
                     statistics.median(depths), max(depths), statistics.median(waits), statistics.median(others)))
        log(f"{name}: median {rows[-1][1]:.2f} ms, p99 {p99:.2f} ms")
    return rows


def main():
    dynamodb = os.environ.get("SWITCHBOARD_TEST_DYNAMODB_URL")
    if not dynamodb:
        raise SystemExit("[latency] SWITCHBOARD_TEST_DYNAMODB_URL is not set: "
                         "scripts/services.sh start && source .tools/services.env")
    binaries = sys.argv[1:] or [os.environ.get("BENCH_BIN", "")]
    if binaries == [""]:
        log("cargo build --release -p switchboard-local")
        subprocess.run(["cargo", "build", "--release", "-p", "switchboard-local"], cwd=ROOT, check=True,
                       stdout=sys.stderr)
        binaries = [os.path.join(ROOT, "target", "release", "switchboard-local")]
    for delay_ms in DELAYS_MS:
        for binary in binaries:
            log(f"{binary}: {delay_ms:g} ms per DynamoDB call, {REQUESTS} sequential requests per route")
            rows, held = measure(binary, dynamodb, delay_ms)
            print(f"\n{binary}, delay {delay_ms:g} ms (each request held {held:.2f} ms, median), {REQUESTS} "
                  "sequential requests per route\n")
            print("| route | median ms | p99 ms | DynamoDB calls | on the critical path (median / max) "
                  "| waiting on DynamoDB, median ms | the rest, median ms |")
            print("|---|---:|---:|---:|---:|---:|---:|")
            for name, median, p99, count, chain, worst, wait, other in rows:
                print(f"| {name} | {median:.2f} | {p99:.2f} | {count:g} | {chain:g} / {worst} | {wait:.2f} "
                      f"| {other:.2f} |")


if __name__ == "__main__":
    main()
