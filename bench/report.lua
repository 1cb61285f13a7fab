-- Machine-readable summary for bench/run.sh: one "BENCH key=value ..." line after wrk's own report.
-- Latency figures are wrk's, in microseconds; req/s is requests / wall time, as wrk prints it.
-- Used on its own for GET routes (wrk -s bench/report.lua); bench/call-log.lua defines the same done().

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d rps=%.2f p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
    "non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout))
end
