#!/usr/bin/env python3
"""Samples, snapshots and reports the stream-versus-batch experiment (bench/experiment.sh).

  sample   --services FILE --out DIR [--interval S]   every S seconds until SIGTERM: the services'
           /metrics (metrics.csv), their CPU and memory, and every change that became visible in
           each copy with its source change time (staleness.csv; exact per-change samples)
  snapshot --services FILE --out FILE                 counters, histograms, CPU and memory, now
  report   --dir DIR [--ci]                           the table (stdout, report.md, report.json) and
           the chart (chart.png); with --ci, exit 1 unless the stream moved fewer bytes than every
           batch strategy and its staleness p99 is below one batch period, and every copy verified

Only the standard library, except matplotlib for the chart (skipped with a warning without it).
"""

import argparse
import csv
import json
import math
import os
import re
import signal
import sqlite3
import sys
import time
import urllib.request

PLANTS = ("potato", "tomato", "pepper")
CLK_TCK = os.sysconf("SC_CLK_TCK")
SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


# --- Prometheus text and /proc ------------------------------------------------------------------

def parse_metrics(text):
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            continue
        labels = dict(LABEL_RE.findall(m.group(2) or ""))
        try:
            value = float(m.group(3))
        except ValueError:
            continue
        out.append((m.group(1), labels, value))
    return out


def fetch(url, timeout=3.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return parse_metrics(r.read().decode())
    except Exception:  # a service that does not answer this second is a gap, not an error
        return None


def total(samples, name, **want):
    return sum(v for n, l, v in samples or [] if n == name and all(l.get(k) == w for k, w in want.items()))


def proc_stats(pid):
    """CPU seconds (user + system), current and peak resident memory (kB) of a live process."""
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)
        rss = hwm = 0
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
        return {"cpu_s": cpu, "rss_kb": rss, "hwm_kb": hwm}
    except (OSError, IndexError, ValueError):
        return None


# What the sampler keeps of each kind of service, per second.
SERIES = {
    "consumer": [("bytes", "leafsync_bytes_consumed_total", {}), ("events", "leafsync_events_consumed_total", {}),
                 ("applied", "leafsync_events_applied_total", {}), ("lag", "leafsync_consumer_lag", {})],
    "producer": [("bytes", "leafsync_bytes_published_total", {}), ("events", "leafsync_events_published_total", {}),
                 ("outbox", "leafsync_outbox_depth", {})],
    "batch": [("bytes", "leafsync_sync_bytes_total", {"direction": "read"}),
              ("bytes_written", "leafsync_sync_bytes_total", {"direction": "written"}),
              ("rows", "leafsync_sync_rows_total", {"direction": "read"}),
              ("running", "leafsync_batch_running", {})],
}


# --- sample -------------------------------------------------------------------------------------

class CopyWatcher:
    """Every change that became visible in one copy: rows whose applied_ms moved, with the source
    change time the copy stored beside them (source_ts_ms). A covering index on applied_ms keeps
    each poll to the rows that changed."""

    def __init__(self, side, path, since_ms):
        self.side = side
        self.db = sqlite3.connect(path, timeout=30)
        for plant in PLANTS:
            self.db.execute(f"CREATE INDEX IF NOT EXISTS xp_applied_{plant} ON image_{plant}"
                            "(applied_ms, source_ts_ms, version, tombstone)")
        self.db.commit()
        self.db.execute("PRAGMA query_only = 1")
        self.last = {p: since_ms for p in PLANTS}
        self.seen = set()

    def poll(self, writer):
        for plant in PLANTS:
            rows = self.db.execute(f"SELECT id, version, source_ts_ms, applied_ms, tombstone FROM image_{plant}"
                                   " WHERE applied_ms >= ?", (self.last[plant],)).fetchall()
            for rid, version, src, applied, tomb in rows:
                key = (plant, rid, version)
                if key in self.seen:
                    continue
                self.seen.add(key)
                self.last[plant] = max(self.last[plant], applied)
                writer.writerow([self.side, plant, rid, version, src, applied, tomb])


def cmd_sample(args):
    cfg = json.load(open(args.services))
    os.makedirs(args.out, exist_ok=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    start_ms = int(time.time() * 1000)
    watchers = []
    for s in cfg["services"]:
        if s.get("db"):
            watchers.append(CopyWatcher(s["side"], s["db"], start_ms))
    with open(os.path.join(args.out, "metrics.csv"), "w", newline="") as mf, \
            open(os.path.join(args.out, "staleness.csv"), "w", newline="") as sf:
        mw, sw = csv.writer(mf), csv.writer(sf)
        mw.writerow(["t", "service", "key", "value"])
        sw.writerow(["side", "plant", "id", "version", "source_ts_ms", "applied_ms", "tombstone"])
        next_t = time.time()
        while not stop:
            t = time.time()
            for s in cfg["services"]:
                samples = fetch(s["url"])
                if samples is not None:
                    for key, name, want in SERIES[s["kind"]]:
                        mw.writerow([f"{t:.3f}", s["name"], key, total(samples, name, **want)])
                p = proc_stats(s.get("pid"))
                if p:
                    mw.writerow([f"{t:.3f}", s["name"], "cpu_s", p["cpu_s"]])
                    mw.writerow([f"{t:.3f}", s["name"], "rss_kb", p["rss_kb"]])
            for w in watchers:
                try:
                    w.poll(sw)
                except sqlite3.Error as e:
                    print(f"sample: {w.side}: {e}", file=sys.stderr)
            mf.flush()
            sf.flush()
            next_t += args.interval
            while not stop and time.time() < next_t:
                time.sleep(min(0.05, max(0.0, next_t - time.time())))
        for w in watchers:  # what became visible since the last poll
            try:
                w.poll(sw)
            except sqlite3.Error:
                pass


# --- snapshot -----------------------------------------------------------------------------------

def cmd_snapshot(args):
    cfg = json.load(open(args.services))
    snap = {"t": time.time(), "services": {}}
    for s in cfg["services"]:
        snap["services"][s["name"]] = {"metrics": fetch(s["url"]) or [], "proc": proc_stats(s.get("pid"))}
    if cfg.get("kafka_pid"):
        snap["kafka"] = proc_stats(cfg["kafka_pid"])
    json.dump(snap, open(args.out, "w"))


# --- report -------------------------------------------------------------------------------------

def hist_delta(s0, s1, name, **want):
    """Bucket counts (cumulative, by upper bound) of a histogram between two snapshots, summed over
    every series that matches."""
    def buckets(samples):
        b = {}
        for n, l, v in samples:
            if n == name + "_bucket" and all(l.get(k) == w for k, w in want.items()):
                le = math.inf if l["le"] == "+Inf" else float(l["le"])
                b[le] = b.get(le, 0.0) + v
        return b
    b0, b1 = buckets(s0), buckets(s1)
    return sorted((le, b1[le] - b0.get(le, 0.0)) for le in b1)


def histogram_quantile(q, buckets):
    """Prometheus's histogram_quantile: linear interpolation inside the bucket holding the rank."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if math.isinf(le):
                return lower  # the highest finite bound, as Prometheus answers
            if count == below:
                return le
            return lower + (le - lower) * (rank - below) / (count - below)
        lower, below = le, count
    return lower


def quantile(sorted_values, q):
    if not sorted_values:
        return None
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def human_bytes(n):
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024.0


def human_seconds(s):
    if s is None:
        return "-"
    if s < 1:
        return f"{s * 1000:.1f} ms"
    return f"{s:.1f} s"


def load_staleness(path, t0, t1):
    by_side = {}
    if not os.path.exists(path):
        return by_side
    with open(path) as f:
        for row in csv.DictReader(f):
            applied = int(row["applied_ms"])
            if not (t0 * 1000 <= applied <= t1 * 1000):
                continue
            side = row["side"]
            if side != "stream" and row["tombstone"] == "1":
                continue  # the batch job cannot know when a row it finds gone was deleted
            by_side.setdefault(side, []).append((applied, (applied - int(row["source_ts_ms"])) / 1000.0))
    return by_side


def cmd_report(args):
    d = args.dir
    cfg = json.load(open(os.path.join(d, "services.json")))
    snap0 = json.load(open(os.path.join(d, "snapshot_t0.json")))
    snap1 = json.load(open(os.path.join(d, "snapshot_t1.json")))
    verify = json.load(open(os.path.join(d, "verify.json"))) if os.path.exists(os.path.join(d, "verify.json")) else {}
    workload = cfg.get("workload", {})
    period = float(cfg["period_s"])
    t0, t1 = snap0["t"], snap1["t"]
    window = t1 - t0
    svc = {s["name"]: s for s in cfg["services"]}

    def m(name, snap):
        return snap["services"].get(name, {}).get("metrics", [])

    def delta(service, metric, **want):
        return total(m(service, snap1), metric, **want) - total(m(service, snap0), metric, **want)

    def has(service, metric):
        return any(n == metric for n, _, _ in m(service, snap1))

    def cpu(service):
        a, b = snap0["services"].get(service, {}).get("proc"), snap1["services"].get(service, {}).get("proc")
        return (b["cpu_s"] - a["cpu_s"]) if a and b else None

    def hwm(service):
        p = snap1["services"].get(service, {}).get("proc")
        return p["hwm_kb"] * 1024 if p else None

    exact = load_staleness(os.path.join(d, "staleness.csv"), t0, t1)
    changes = delta("producer", "leafsync_events_published_total")
    sides = []
    # The stream: relay (producer) → Kafka → consumer.
    stream_hist = hist_delta(m("consumer", snap0), m("consumer", snap1), "leafsync_staleness_seconds", mode="stream")
    stream_cpu = [c for c in (cpu("producer"), cpu("consumer")) if c is not None]
    sides.append({
        "side": "stream",
        "bytes_transferred": delta("consumer", "leafsync_bytes_consumed_total"),
        "bytes_other_hop": delta("producer", "leafsync_bytes_published_total"),
        # What the relay's and the consumer's Kafka clients put on and took off the wire, both
        # directions, compression and protocol included (librdkafka's statistics).
        "wire_bytes": delta("producer", "leafsync_wire_bytes_total") + delta("consumer", "leafsync_wire_bytes_total"),
        # … per hop: relay → broker, broker → consumer (the hop the batch job's read compares to).
        "wire_bytes_relay": delta("producer", "leafsync_wire_bytes_total"),
        "wire_bytes_consumer": delta("consumer", "leafsync_wire_bytes_total"),
        "items": delta("consumer", "leafsync_events_consumed_total"),
        "changed_in_copy": delta("consumer", "leafsync_events_applied_total"),
        "hist": stream_hist,
        "exact": sorted(s for _, s in exact.get("stream", [])),
        "cpu_s": sum(stream_cpu) if stream_cpu else None,
        "peak_rss": (hwm("producer") or 0) + (hwm("consumer") or 0),
        "runs": None,
    })
    for s in cfg["services"]:
        if s["kind"] != "batch":
            continue
        name = s["name"]
        sides.append({
            "side": s["side"],
            "bytes_transferred": delta(name, "leafsync_sync_bytes_total", direction="read"),
            "bytes_other_hop": delta(name, "leafsync_sync_bytes_total", direction="written"),
            # A PostgreSQL source (--postgres): what the job's connection received and sent, as the
            # socket counts it. A SQLite file has no wire: the database pages read from it instead.
            "wire_bytes": delta(name, "leafsync_wire_bytes_total")
                          if has(name, "leafsync_wire_bytes_total") else None,
            "file_bytes": delta(name, "leafsync_file_read_bytes_total")
                          if has(name, "leafsync_file_read_bytes_total") else None,
            "items": delta(name, "leafsync_sync_rows_total", direction="read"),
            "changed_in_copy": delta(name, "leafsync_sync_rows_total", direction="written")
                               + delta(name, "leafsync_sync_rows_total", direction="deleted"),
            "hist": hist_delta(m(name, snap0), m(name, snap1), "leafsync_staleness_seconds", mode="batch"),
            "exact": sorted(v for _, v in exact.get(s["side"], [])),
            "cpu_s": cpu(name),
            "peak_rss": hwm(name),
            "runs": delta(name, "leafsync_batch_runs_total", outcome="success"),
        })
    for side in sides:
        e = side["exact"]
        side["p50"], side["p99"] = quantile(e, 0.5), quantile(e, 0.99)
        side["max"] = e[-1] if e else None
        side["hist_p50"] = histogram_quantile(0.5, side["hist"])
        side["hist_p99"] = histogram_quantile(0.99, side["hist"])
        side["observations"] = side["hist"][-1][1] if side["hist"] else 0
        side["bytes_per_change"] = side["bytes_transferred"] / changes if changes else None
        side["per_second"] = side["items"] / window if window > 0 else None

    # --- the table
    names = [s["side"] for s in sides]
    rows = [
        ("source changes in the window", lambda s: f"{changes:.0f}"),
        ("bytes transferred (stream: consumed from Kafka; batch: read from the source)",
         lambda s: human_bytes(s["bytes_transferred"])),
        ("bytes per change", lambda s: human_bytes(s["bytes_per_change"])),
        ("other hop (stream: published to Kafka; batch: stored in its copy)", lambda s: human_bytes(s["bytes_other_hop"])),
        ("wire bytes (stream: relay + consumer Kafka clients, both directions, as compressed; "
         "batch: its PostgreSQL connection's socket, both directions)",
         lambda s: human_bytes(s["wire_bytes"]) if s.get("wire_bytes") is not None
         else (f"no wire (SQLite file: {human_bytes(s['file_bytes'])} of pages read)"
               if s.get("file_bytes") is not None else "-")),
        ("events or rows read per second", lambda s: f"{s['per_second']:.1f}"),
        ("rows changed in the copy", lambda s: f"{s['changed_in_copy']:.0f}"),
        ("batch runs in the window", lambda s: "-" if s["runs"] is None else f"{s['runs']:.0f}"),
        ("staleness p50 (exact)", lambda s: human_seconds(s["p50"])),
        ("staleness p99 (exact)", lambda s: human_seconds(s["p99"])),
        ("staleness max (exact)", lambda s: human_seconds(s["max"])),
        ("staleness samples (exact / histogram)", lambda s: f"{len(s['exact'])} / {s['observations']:.0f}"),
        ("staleness p50 / p99 (histogram)", lambda s: f"{human_seconds(s['hist_p50'])} / {human_seconds(s['hist_p99'])}"),
        ("CPU seconds in the window", lambda s: "-" if s["cpu_s"] is None else f"{s['cpu_s']:.2f}"),
        ("peak memory (VmHWM)", lambda s: human_bytes(s["peak_rss"])),
    ]
    header = "| | " + " | ".join(names) + " |"
    lines = [header, "|---|" + "---|" * len(names)]
    for label, fn in rows:
        lines.append(f"| {label} | " + " | ".join(fn(s) for s in sides) + " |")
    kafka = None
    if snap0.get("kafka") and snap1.get("kafka"):
        kafka = {"cpu_s": snap1["kafka"]["cpu_s"] - snap0["kafka"]["cpu_s"], "hwm": snap1["kafka"]["hwm_kb"] * 1024}
    wl = (f"workload: {workload.get('seed_images')} images pre-seeded, {workload.get('rate')} writes/s for "
          f"{workload.get('duration_s')} s, mix create:update:delete {workload.get('mix')}, "
          f"{workload.get('image_bytes')} B images; batch period {period:g} s; window {window:.1f} s")
    notes = [wl]
    if workload.get("load_result"):
        notes.append("load: " + workload["load_result"])
    if workload.get("load_process"):
        lp = workload["load_process"]
        notes.append(f"load generator (the source's writes, outbox inserts included; common to both sides): "
                     f"{lp['cpu_s']:.2f} CPU s, peak memory {human_bytes(lp['peak_rss_kb'] * 1024)}")
    if kafka:
        notes.append(f"Kafka broker (stream infrastructure, not in the stream column): {kafka['cpu_s']:.2f} CPU s "
                     f"in the window, peak memory {human_bytes(kafka['hwm'])}")
    if verify:
        notes.append("copies verified equal to the source after the run: " +
                     ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in verify.items()))
    table = "\n".join(lines)
    print("\n" + "\n".join(notes) + "\n\n" + table + "\n")

    result = {"window_s": window, "changes": changes, "period_s": period, "workload": workload, "kafka": kafka,
              "verify": verify, "sides": [{k: v for k, v in s.items() if k not in ("exact", "hist")} for s in sides]}
    json.dump(result, open(os.path.join(d, "report.json"), "w"), indent=2)
    with open(os.path.join(d, "report.md"), "w") as f:
        f.write("\n\n".join(notes) + "\n\n" + table + "\n")

    chart(d, cfg, t0, t1, exact, period)

    if args.ci:
        failures = []
        stream = sides[0]
        mix = [int(x) for x in str(workload.get("mix", "0:1:0")).split(":")]
        if mix[1] * 2 <= sum(mix):
            failures.append(f"the workload is not dominated by metadata updates (mix {workload.get('mix')})")
        for b in sides[1:]:
            if not stream["bytes_transferred"] < b["bytes_transferred"]:
                failures.append(f"stream moved {stream['bytes_transferred']:.0f} B, not fewer than "
                                f"{b['side']} ({b['bytes_transferred']:.0f} B)")
        p99 = stream["p99"] if stream["exact"] else stream["hist_p99"]
        if p99 is None or not p99 < period:
            failures.append(f"stream staleness p99 {p99} s is not below one batch period ({period:g} s)")
        if changes <= 0:
            failures.append("no source changes were measured")
        for k, v in verify.items():
            if not v:
                failures.append(f"copy '{k}' differs from the source after the run")
        if failures:
            for f_ in failures:
                print("FAIL: " + f_)
            return 1
        print("PASS: stream moved fewer bytes than " + ", ".join(s["side"] for s in sides[1:]) +
              f"; stream staleness p99 {human_seconds(p99)} < batch period {period:g} s; copies verified")
    return 0


def chart(d, cfg, t0, t1, exact, period):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("report: matplotlib is not installed; no chart (apt-get install python3-matplotlib)", file=sys.stderr)
        return
    series = {}
    with open(os.path.join(d, "metrics.csv")) as f:
        for row in csv.DictReader(f):
            t = float(row["t"])
            if t0 - 1 <= t <= t1 + 1:
                series.setdefault((row["service"], row["key"]), []).append((t - t0, float(row["value"])))
    colors = {"stream": "tab:blue", "batch-full": "tab:red", "batch-watermark": "tab:orange"}
    lines = [("stream", "consumer", "stream (consumed from Kafka)")]
    for s in cfg["services"]:
        if s["kind"] == "batch":
            lines.append((s["side"], s["name"], f"{s['side']} (read from the source)"))
    fig, (ax1, ax2, ax3) = plt.subplots(3, 1, figsize=(11, 11), sharex=True)
    for side, service, label in lines:
        pts = series.get((service, "bytes"), [])
        if len(pts) < 2:
            continue
        base = pts[0][1]
        style = "--" if side == "batch-watermark" else "-"
        ax1.plot([p[0] for p in pts], [(p[1] - base) / 2**20 for p in pts], label=label, color=colors.get(side),
                 linestyle=style)
        rate_t, rate_v = [], []
        for (ta, va), (tb, vb) in zip(pts, pts[1:]):
            if tb > ta:
                rate_t.append(tb)
                rate_v.append(max(0.0, (vb - va) / (tb - ta)))
        ax2.plot(rate_t, [max(v, 1.0) for v in rate_v], label=label, color=colors.get(side), linewidth=1,
                 linestyle=style)
    ax1.set_ylabel("bytes transferred since start (MiB)")
    ax1.set_title("Stream vs batch: the same workload, side by side")
    ax1.legend(loc="upper left")
    ax1.grid(alpha=0.3)
    ax2.set_yscale("log")
    ax2.set_ylabel("bytes/s (1 s samples, log; 0 drawn as 1)")
    ax2.grid(alpha=0.3, which="both")
    for side, pts in sorted(exact.items()):
        ax3.scatter([(a / 1000.0) - t0 for a, _ in pts], [max(s, 1e-4) for _, s in pts], s=4, alpha=0.5,
                    label=f"{side} ({len(pts)} changes)", color=colors.get(side))
    ax3.axhline(period, color="gray", linestyle="--", linewidth=1, label=f"batch period ({period:g} s)")
    ax3.set_yscale("log")
    ax3.set_ylabel("staleness per change (s, log)")
    ax3.set_xlabel("seconds since the workload started")
    ax3.legend(loc="center right")
    ax3.grid(alpha=0.3, which="both")
    fig.tight_layout()
    out = os.path.join(d, "chart.png")
    fig.savefig(out, dpi=90)
    print(f"chart: {out}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample")
    s.add_argument("--services", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--interval", type=float, default=1.0)
    s = sub.add_parser("snapshot")
    s.add_argument("--services", required=True)
    s.add_argument("--out", required=True)
    s = sub.add_parser("report")
    s.add_argument("--dir", required=True)
    s.add_argument("--ci", action="store_true")
    args = p.parse_args()
    if args.cmd == "sample":
        cmd_sample(args)
        return 0
    if args.cmd == "snapshot":
        cmd_snapshot(args)
        return 0
    return cmd_report(args)


if __name__ == "__main__":
    sys.exit(main())
