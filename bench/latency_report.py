#!/usr/bin/env python3
"""bench/latency.sh's table: reads OUT/floor.txt and OUT/rate-N/{figures.txt,latency_ms.csv}.

Usage: latency_report.py OUT WARMUP_S RATE...  (events of the first WARMUP_S seconds are left out)  (prints one Markdown table on stdout)
"""
import os
import sys


def kv(path):
    out = {}
    with open(path) as f:
        for line in f:
            if "=" in line:
                k, v = line.strip().split("=", 1)
                out[k] = v
    return out


def quantile(sorted_samples, q):
    if not sorted_samples:
        return float("nan")
    rank = int(q * (len(sorted_samples) - 1) + 0.5)
    return sorted_samples[min(rank, len(sorted_samples) - 1)]


def main():
    out, warmup_ms, rates = sys.argv[1], float(sys.argv[2]) * 1000, sys.argv[3:]
    floor = {k: float(v) for k, v in kv(os.path.join(out, "floor.txt")).items()}
    qs = [("p50", 0.5), ("p99", 0.99), ("p99.9", 0.999), ("max", 1.0)]
    keys = {"p50": "p50", "p99": "p99", "p99.9": "p999", "max": "max"}
    fl = {name: floor["kafka_" + keys[name]] + floor["commit_" + keys[name]] for name, _ in qs}
    rows = []
    rows.append("| run | achieved /s | events | p50 ms | p99 ms | p99.9 ms | max ms | p99 ÷ floor | p99 − floor ms "
                "| consumer CPU s / 1k | producer CPU s / 1k | consumer peak RSS MiB | producer peak RSS MiB |")
    rows.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    rows.append(f"| floor: librdkafka round trip | 1000 | {int(floor['kafka_samples'])} | {floor['kafka_p50']:.2f} "
                f"| {floor['kafka_p99']:.2f} | {floor['kafka_p999']:.2f} | {floor['kafka_max']:.2f} | | | | | | |")
    rows.append(f"| floor: single-row SQLite commit | | {int(floor['commit_samples'])} | {floor['commit_p50']:.2f} "
                f"| {floor['commit_p99']:.2f} | {floor['commit_p999']:.2f} | {floor['commit_max']:.2f} | | | | | | |")
    rows.append(f"| floor (sum) | | | {fl['p50']:.2f} | {fl['p99']:.2f} | {fl['p99.9']:.2f} | {fl['max']:.2f} | 1.0 | 0 | | | | |")
    idle = None
    for rate in rates:
        d = os.path.join(out, f"rate-{rate}")
        fig = kv(os.path.join(d, "figures.txt"))
        with open(os.path.join(d, "latency_ms.csv")) as f:
            pairs = [tuple(int(x) for x in line.split(",")) for line in f if line.strip()]
        start = min(source for source, _ in pairs)
        samples = sorted(applied - source for source, applied in pairs if source >= start + warmup_ms)
        n = len(samples)
        v = {name: (samples[-1] if q == 1.0 else quantile(samples, q)) for name, q in qs}
        # What the load generator reached (its own line: "... = R writes/s (target T) ...").
        with open(os.path.join(d, "load.out")) as f:
            text = f.read()
        achieved = text.split(" writes/s")[0].rsplit("= ", 1)[-1] if " writes/s" in text else "?"
        events = int(fig["events"])  # CPU: over the whole load, warm-up included
        per_k = lambda s: float(s) / events * 1000
        rows.append(
            f"| leafsync {rate}/s | {achieved} | {n} | {v['p50']:.1f} | {v['p99']:.1f} | {v['p99.9']:.1f} | {v['max']:.1f} "
            f"| {v['p99'] / fl['p99']:.1f} | {v['p99'] - fl['p99']:.1f} | {per_k(fig['consumer_cpu_s']):.3f} "
            f"| {per_k(fig['producer_cpu_s']):.3f} | {int(fig['consumer_rss_kib']) / 1024:.0f} "
            f"| {int(fig['producer_rss_kib']) / 1024:.0f} |")
        if fig.get("idle_cpu_fraction"):
            idle = (float(fig["idle_cpu_fraction"]), d)
    print("\n".join(rows))
    if idle:
        threads = open(os.path.join(idle[1], "consumer.threads")).read().strip()
        fig = kv(os.path.join(idle[1], 'figures.txt'))
        wire = f", {int(fig['idle_wire_bytes_per_s'])} wire bytes/s" if fig.get('idle_wire_bytes_per_s') else ""
        print(f"\nidle consumer: {idle[0] * 100:.2f} % of a core, {threads} threads{wire}; "
              f"load average at the end {fig['load']}")


if __name__ == "__main__":
    main()
