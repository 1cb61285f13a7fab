"""A TCP proxy that holds every byte a client sends for a fixed delay before passing it on, so each request
to the service behind it costs one network round trip of that length, as a call from Lambda to DynamoDB
does. Answers come back at once. It also notes when each HTTP request went in and when its answer began,
so a caller can tell how many calls a piece of work made and how many had to wait for another one.

Used by bench/latency.py; runs alone too:

    python3 bench/delayproxy.py LISTEN_PORT TARGET_HOST TARGET_PORT [DELAY_MS]
"""

import asyncio
import bisect
import sys
import threading
import time


class DelayProxy:
    def __init__(self, target_host, target_port, delay_ms):
        self.target = (target_host, target_port)
        self.delay = delay_ms / 1000
        self.lock = threading.Lock()
        # (request start, answer start or None), in the order requests arrived
        self.calls = []
        # How long each request's first chunk was actually held (the event loop's timers fire a little
        # late), in seconds: the round trip the service was really put behind.
        self.holds = []
        self.port = None
        self._loop = None

    def start(self, port=0):
        """Serves on 127.0.0.1:`port` (0: a free one) from a thread of its own; returns the port."""
        ready = threading.Event()

        def run():
            self._loop = asyncio.new_event_loop()
            server = self._loop.run_until_complete(
                asyncio.start_server(self._client, "127.0.0.1", port)
            )
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        threading.Thread(target=run, daemon=True).start()
        ready.wait()
        return self.port

    def calls_between(self, start, end):
        """The calls whose request went in between `start` and `end` (time.monotonic())."""
        with self.lock:
            # Requests are noted in arrival order, so their start times are sorted.
            first = bisect.bisect_left(self.calls, (start,))
            return [c for c in self.calls[first:] if c[0] <= end]

    async def _client(self, client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        open_calls = []  # indexes into self.calls awaiting their answer, oldest first
        await asyncio.gather(
            self._upstream(client_reader, server_writer, open_calls),
            self._downstream(server_reader, client_writer, open_calls),
            return_exceptions=True,
        )
        for writer in (client_writer, server_writer):
            writer.close()

    async def _upstream(self, reader, writer, open_calls):
        """Client to service: each chunk leaves `delay` after it arrived, in order (timers, not a task
        per chunk, so the delay is kept to within the event loop's own precision)."""
        loop = asyncio.get_running_loop()
        due = 0.0
        while True:
            chunk = await reader.read(65536)
            now = loop.time()
            # Strictly increasing, so the timers fire in arrival order.
            due = max(now + self.delay, due + 1e-9)
            if not chunk:
                loop.call_at(due, lambda: writer.can_write_eof() and writer.write_eof())
                return
            # A new request on this connection starts with its method (HTTP/1.1, one at a time).
            if chunk[:5] in (b"POST ", b"GET /", b"PUT /"):
                with self.lock:
                    self.calls.append((time.monotonic(), None))
                    open_calls.append(len(self.calls) - 1)
                loop.call_at(due, self._pass_on, writer, chunk, now)
            else:
                loop.call_at(due, writer.write, chunk)

    def _pass_on(self, writer, chunk, arrived):
        writer.write(chunk)
        self.holds.append(asyncio.get_running_loop().time() - arrived)

    async def _downstream(self, reader, writer, open_calls):
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            if open_calls:
                at = open_calls.pop(0)
                with self.lock:
                    self.calls[at] = (self.calls[at][0], time.monotonic())
            writer.write(chunk)
            await writer.drain()


def depth(calls):
    """How many calls had to wait for another: the longest chain of calls, each starting after the one
    before it answered (interval scheduling, earliest answer first)."""
    chain, free_at = 0, None
    for start, end in sorted(calls, key=lambda c: c[1] if c[1] is not None else c[0]):
        if free_at is None or start >= free_at:
            chain += 1
            free_at = end if end is not None else start
    return chain


def waiting(calls):
    """How long at least one of `calls` was outstanding (request in to answer out), in seconds: the part
    of a request's latency spent waiting on the service."""
    total, until = 0.0, None
    for start, end in sorted((c[0], c[1]) for c in calls if c[1] is not None):
        if until is None or start > until:
            total += end - start
            until = end
        elif end > until:
            total += end - until
            until = end
    return total


if __name__ == "__main__":
    listen, host, target_port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    delay_ms = float(sys.argv[4]) if len(sys.argv) > 4 else 5.0
    proxy = DelayProxy(host, target_port, delay_ms)
    print(f"127.0.0.1:{proxy.start(listen)} -> {host}:{target_port}, +{delay_ms} ms per request", flush=True)
    threading.Event().wait()

