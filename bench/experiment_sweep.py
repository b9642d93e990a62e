#!/usr/bin/env python3
"""Scales the sweep's short runs (bench/experiment_sweep.sh) to bytes per hour at the real period.

  --points DIR   one bench/experiment.sh output directory per measured point (report.json)
  --out DIR      writes report.md, report.json and sweep-chart.png there; the table also to stdout
  --tables LIST  table sizes (images) to scale to
  --ci           exit 1 unless every point measured a positive cost on every side

What is measured and what is scaled (the same text goes into report.md):

- stream, per hour = Kafka wire bytes (librdkafka statistics, both directions, compressed,
  protocol included) per second of the measured window × 3600, for the hop into the copy's side
  (the consumer's clients: what the batch job's source read compares to) and for both hops
  (relay → broker as well). The stream's cost depends on the change rate, the mix and the image
  size — measured at each point — and not on the table size (it never re-reads a row), so it is
  not scaled by it. Between the measured rates it is the line idle + per-write × rate fitted to
  the points (least squares on relative error), beyond the fastest point that line extrapolated.
- batch-full, per hour = (3600 / period) runs × rows × bytes per row read, the last measured per
  image size (row bytes read / rows read in the full job's runs of the window).
- batch-watermark, per hour = (3600 / period) runs × (rows created in a period + distinct rows
  updated in it) × bytes per row + rows × 8 (the id set of the delete check). Updates pick their
  row uniformly (as the load generator does), so U updates touch rows × (1 - e^(-U/rows))
  distinct rows. Checked against each point's own watermark job (measured / predicted).
- rows = the table size at the start of the hour plus half the hour's net creates (its mean).
- batch bytes are row payload read (what the batch job counts), not the database's wire bytes:
  the wire adds the protocol around each row (measured in BatchWireBytesTest), so the batch
  figures are a floor and the stream's advantage is, if anything, larger than shown.
"""

import argparse
import json
import math
import os
import sys

PERIOD_S = 600.0  # the db_synchronizer_job's period
LIMS_ROWS = 3 * 2157  # the seed's total_images, per plant, three plants


def human_bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024.0


def side(report, name):
    return next((s for s in report["sides"] if s["side"] == name), None)


def load_point(d):
    report = json.load(open(os.path.join(d, "report.json")))
    w = report["workload"]
    mix = [int(x) for x in str(w["mix"]).split(":")]
    weight = sum(mix)
    stream, full, wm = side(report, "stream"), side(report, "batch-full"), side(report, "batch-watermark")
    window = report["window_s"]
    p = {
        "dir": os.path.basename(d),
        "image_bytes": int(w["image_bytes"]),
        "rate": float(w["rate"]),
        "mix": str(w["mix"]),
        "shares": [m / weight for m in mix],
        "seed_rows": int(w["seed_images"]),
        "period_s": float(report["period_s"]),
        "window_s": window,
        "changes": report["changes"],
        "stream_wire_per_s": stream.get("wire_bytes_consumer", stream["wire_bytes"]) / window,
        "stream_both_hops_per_s": stream["wire_bytes"] / window,
        "stream_payload_per_event": stream["bytes_transferred"] / report["changes"] if report["changes"] else None,
        "stream_p50": stream.get("p50"),
        "stream_p99": stream.get("p99"),
        "row_bytes": full["bytes_transferred"] / full["items"] if full and full["items"] else None,
        "full_measured": full["bytes_transferred"] if full else None,
        "full_runs": full["runs"] if full else None,
        "wm_measured": wm["bytes_transferred"] if wm else None,
        "wm_runs": wm["runs"] if wm else None,
    }
    return p


def mean_rows(rows, rate, shares, hours=1.0):
    c, _, d = shares
    return rows + rate * (c - d) * 3600.0 * hours / 2.0


def full_per_hour(rows, row_bytes, rate, shares, period=PERIOD_S):
    return (3600.0 / period) * mean_rows(rows, rate, shares) * row_bytes


def watermark_per_period(rows, row_bytes, rate, shares, period):
    c, u, _ = shares
    updates = rate * u * period
    # never more than the table: a row created and updated within the period is read once
    touched = min(rows, rate * c * period + (rows * (1.0 - math.exp(-updates / rows)) if rows > 0 else 0.0))
    return touched * row_bytes + rows * 8


def watermark_per_hour(rows, row_bytes, rate, shares, period=PERIOD_S):
    return (3600.0 / period) * watermark_per_period(mean_rows(rows, rate, shares), row_bytes, rate, shares, period)


def fit_stream(points):
    """stream bytes/s = idle + per_event × rate, least squares on relative error (rates differ 100×)."""
    if len(points) == 1:
        return 0.0, points[0]["stream_wire_per_s"] / points[0]["rate"]
    # minimise sum(((a + b r) / y - 1)^2): normal equations in a, b
    saa = sab = sbb = sa = sb = 0.0
    for p in points:
        y, r = p["stream_wire_per_s"], p["rate"]
        saa += 1 / y**2
        sab += r / y**2
        sbb += r * r / y**2
        sa += 1 / y
        sb += r / y
    det = saa * sbb - sab * sab
    a = (sa * sbb - sb * sab) / det
    b = (saa * sb - sab * sa) / det
    if a < 0 or b < 0:  # noise: fall back to the per-event cost of the fastest point, no idle term
        fastest = max(points, key=lambda p: p["rate"])
        return 0.0, fastest["stream_wire_per_s"] / fastest["rate"]
    return a, b


def crossovers(stream_fit, row_bytes, rows, shares, lo=0.01, hi=1e6):
    """Every rate in [lo, hi] where the stream's bytes per hour equal the watermark batch's, ascending.
    There can be two: the stream's fixed polling loses to a watermark run at a trickle, the stream
    wins in the middle, and far above the measured rates a watermark run's once-a-period read of a
    hot row can win again. Each sign change on a log grid is bisected on log r."""
    a, b = stream_fit
    diff = lambda r: (a + b * r) * 3600 - watermark_per_hour(rows, row_bytes, r, shares)
    steps = 240
    grid = [lo * (hi / lo) ** (k / steps) for k in range(steps + 1)]
    found = []
    for left, right in zip(grid, grid[1:]):
        if (diff(left) > 0) == (diff(right) > 0):
            continue
        sign_left = diff(left) > 0
        for _ in range(100):
            mid = math.sqrt(left * right)
            if (diff(mid) > 0) == sign_left:
                left = mid
            else:
                right = mid
        found.append(math.sqrt(left * right))
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tables", default="1000,10000,100000,6471")
    ap.add_argument("--fetch-wait-ms", default="1000")
    ap.add_argument("--ci", action="store_true")
    args = ap.parse_args()

    points = []
    for name in sorted(os.listdir(args.points)):
        d = os.path.join(args.points, name)
        if os.path.isdir(d) and os.path.exists(os.path.join(d, "report.json")):
            points.append(load_point(d))
    if not points:
        sys.exit("no measured points in " + args.points)
    tables = [int(x) for x in args.tables.split(",")]

    # Bytes per row read by size: the batch's per-row cost does not depend on the rate or the mix.
    row_bytes = {}
    for p in points:
        if p["row_bytes"]:
            row_bytes.setdefault(p["image_bytes"], []).append(p["row_bytes"])
    row_bytes = {s: sum(v) / len(v) for s, v in row_bytes.items()}

    # The model against each point's own watermark job, at the point's own period and table.
    for p in points:
        runs = p["wm_runs"] or 0
        rb = row_bytes.get(p["image_bytes"])
        if runs and rb and p["wm_measured"]:
            rows = p["seed_rows"] + p["rate"] * (p["shares"][0] - p["shares"][2]) * p["window_s"] / 2
            # + one re-read of the seed: it was written within one second, so the first run of the
            # window still finds it within the watermark's 2 s overlap of the mark (the mark moves
            # only with newer rows), an artefact of seeding in a burst.
            predicted = runs * watermark_per_period(rows, rb, p["rate"], p["shares"], p["period_s"]) \
                + p["seed_rows"] * rb
            p["wm_model_check"] = p["wm_measured"] / predicted
        else:
            p["wm_model_check"] = None

    lines = []
    lines.append("Measured points (one bench/experiment.sh run each; period %g s; window = load + drain):" %
                 points[0]["period_s"])
    lines.append("")
    lines.append("| image | writes/s | mix | window | stream wire B/s | stream payload B/event | stream p50 / p99 | "
                 "batch B/row read | watermark measured / model |")
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for p in sorted(points, key=lambda p: (p["mix"], p["image_bytes"], p["rate"])):
        chk = "-" if p["wm_model_check"] is None else f"{p['wm_model_check']:.2f}"
        st = "-" if p["stream_p99"] is None else f"{p['stream_p50'] * 1000:.0f} / {p['stream_p99'] * 1000:.0f} ms"
        lines.append(f"| {human_bytes(p['image_bytes'])} | {p['rate']:g} | {p['mix']} | {p['window_s']:.0f} s | "
                     f"{human_bytes(p['stream_wire_per_s'])} | {human_bytes(p['stream_payload_per_event'] or 0)} | {st} | "
                     f"{human_bytes(p['row_bytes'] or 0)} | {chk} |")

    # The grid, scaled to an hour at the 600 s period.
    grid = []
    lines.append("")
    lines.append(f"Bytes per hour at the {PERIOD_S:g} s period (stream: measured wire bytes/s × 3600; batch: "
                 "per-row cost × rows per run × 6 runs; see how each is scaled above the table):")
    lines.append("")
    lines.append("| images | image | writes/s | mix | stream (consumer hop) | stream (both hops) | batch-full | "
                 "batch-watermark | full / stream | watermark / stream | staleness stream p99 / batch p50, max |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for rows in tables:
        for p in sorted(points, key=lambda p: (p["mix"], p["image_bytes"], p["rate"])):
            rb = row_bytes.get(p["image_bytes"])
            if not rb:
                continue
            s = p["stream_wire_per_s"] * 3600
            s2 = p["stream_both_hops_per_s"] * 3600
            f = full_per_hour(rows, rb, p["rate"], p["shares"])
            w = watermark_per_hour(rows, rb, p["rate"], p["shares"])
            grid.append({"rows": rows, "image_bytes": p["image_bytes"], "rate": p["rate"], "mix": p["mix"],
                         "stream": s, "stream_both_hops": s2, "full": f, "watermark": w})
            st = "-" if p["stream_p99"] is None else f"{p['stream_p99'] * 1000:.0f} ms"
            lines.append(f"| {rows} | {human_bytes(p['image_bytes'])} | {p['rate']:g} | {p['mix']} | {human_bytes(s)} | {human_bytes(s2)} | "
                         f"{human_bytes(f)} | {human_bytes(w)} | {f / s:.1f}× | {w / s:.2f}× | "
                         f"{st} / {PERIOD_S / 2 / 60:.0f} min, {PERIOD_S / 60:.0f} min + run |")

    # LIMS: 3 × 2,157 images of 16 KiB, metadata updates dominating.
    lims_size = 16384 if 16384 in row_bytes else max(row_bytes)
    lims_mix = "10:85:5" if any(p["mix"] == "10:85:5" for p in points) else points[0]["mix"]
    lims_points = [p for p in points if p["image_bytes"] == lims_size and p["mix"] == lims_mix]
    shares = lims_points[0]["shares"]
    fit = fit_stream(lims_points)
    rb = row_bytes[lims_size]
    crosses = crossovers(fit, rb, LIMS_ROWS, shares)
    cross = crosses[0] if crosses else None  # the chart marks the lowest
    summary = {
        "lims_rows": LIMS_ROWS, "image_bytes": lims_size, "mix": lims_mix,
        "stream_idle_bytes_per_s": fit[0], "stream_bytes_per_event": fit[1], "batch_bytes_per_row": rb,
        "crossover_writes_per_s": cross,
        "crossovers_writes_per_s": crosses,
        "at_rates": [{"rate": p["rate"], "stream": p["stream_wire_per_s"] * 3600,
                      "stream_both_hops": p["stream_both_hops_per_s"] * 3600,
                      "full": full_per_hour(LIMS_ROWS, rb, p["rate"], shares),
                      "watermark": watermark_per_hour(LIMS_ROWS, rb, p["rate"], shares)} for p in lims_points],
    }
    lines.append("")
    lines.append(f"LIMS ({LIMS_ROWS} images = 3 × 2,157, {human_bytes(lims_size)} images, mix {lims_mix}): "
                 f"stream ≈ {human_bytes(fit[0])}/s idle + {human_bytes(fit[1])} per write (fit of the measured "
                 f"points; fetch.wait.max.ms {args.fetch_wait_ms}); batch {human_bytes(rb)} per row read.")
    for a in summary["at_rates"]:
        lines.append(f"- at {a['rate']:g} writes/s: stream {human_bytes(a['stream'])}/h (both hops "
                     f"{human_bytes(a['stream_both_hops'])}/h), batch-full {human_bytes(a['full'])}/h "
                     f"(stream = 1/{a['full'] / a['stream']:.0f}, both hops 1/{a['full'] / a['stream_both_hops']:.0f}), "
                     f"watermark {human_bytes(a['watermark'])}/h (stream = 1/{a['watermark'] / a['stream']:.1f})")
    a_, b_ = fit
    edges = [0.01] + crosses + [1e6]
    for k, rate in enumerate(crosses):
        # which side is cheaper just below this crossing
        below = math.sqrt(edges[k] * rate)
        watermark_below = (a_ + b_ * below) * 3600 > watermark_per_hour(LIMS_ROWS, rb, below, shares)
        measured = max(p["rate"] for p in lims_points)
        lines.append(f"- crossover with the watermark batch at {rate:.2g} writes/s: below it the "
                     + ("watermark batch moves fewer bytes" if watermark_below else "stream moves fewer bytes")
                     + ", above it the " + ("stream" if watermark_below else "watermark batch")
                     + (" (the fitted line, extrapolated beyond the measured rates)" if rate > measured else ""))
    if not crosses:
        lines.append("- no crossover with the watermark batch between 0.01 and 10^6 writes/s")
    text = "\n".join(lines)
    print(text)
    doc = __doc__.split("What is measured and what is scaled (the same text goes into report.md):", 1)[1]
    with open(os.path.join(args.out, "report.md"), "w") as f:
        f.write("How each figure is scaled:\n" + doc.strip() + "\n\n" + text + "\n")
    json.dump({"points": points, "grid": grid, "lims": summary, "row_bytes": row_bytes},
              open(os.path.join(args.out, "report.json"), "w"), indent=1)

    chart(args.out, points, fit, rb, shares, cross, lims_size, lims_mix, row_bytes)

    if args.ci:
        failures = [f"{p['dir']}: no stream wire bytes" for p in points if not p["stream_wire_per_s"] > 0]
        failures += [f"{p['dir']}: no batch bytes per row" for p in points if not p["row_bytes"]]
        if failures:
            print("\n".join("sweep check failed: " + f for f in failures), file=sys.stderr)
            sys.exit(1)
        print("sweep check passed: every point measured both sides", file=sys.stderr)


def chart(out, points, fit, rb, shares, cross, lims_size, lims_mix, row_bytes):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no matplotlib: no chart", file=sys.stderr)
        return
    rates = [10 ** (k / 20) for k in range(-40, 81)]  # 0.01 … 10^4 writes/s
    fig, ax = plt.subplots(figsize=(9, 6))
    a, b = fit
    ax.plot(rates, [(a + b * r) * 3600 for r in rates], color="tab:green", lw=2,
            label=f"stream, Kafka wire into the consumer (fit: {human_bytes(a)}/s + {human_bytes(b)}/write)")
    a2, b2 = fit_stream([dict(p, stream_wire_per_s=p["stream_both_hops_per_s"]) for p in points
                         if p["image_bytes"] == lims_size and p["mix"] == lims_mix])
    ax.plot(rates, [(a2 + b2 * r) * 3600 for r in rates], color="tab:green", lw=1, ls="--",
            label="stream, both hops (relay → broker → consumer)")
    lp = [p for p in points if p["image_bytes"] == lims_size and p["mix"] == lims_mix]
    ax.scatter([p["rate"] for p in lp], [p["stream_wire_per_s"] * 3600 for p in lp], color="tab:green", zorder=5,
               label="stream, measured points")
    for rows, style in ((1000, ":"), (LIMS_ROWS, "-"), (100000, "--")):
        lw = 2 if rows == LIMS_ROWS else 1
        ax.plot(rates, [full_per_hour(rows, rb, r, shares) for r in rates], color="tab:red", ls=style, lw=lw,
                label=f"batch-full, {rows} images")
        ax.plot(rates, [watermark_per_hour(rows, rb, r, shares) for r in rates], color="tab:blue", ls=style, lw=lw,
                label=f"batch-watermark, {rows} images")
    if cross:
        y = (a + b * cross) * 3600
        ax.axvline(cross, color="gray", lw=1)
        ax.annotate(f"crossover with watermark\n({LIMS_ROWS} images): {cross:.2g} writes/s", (cross, y),
                    xytext=(0.35, 0.92), textcoords="axes fraction", arrowprops={"arrowstyle": "->"})
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("change rate (writes/s)")
    ax.set_ylabel("bytes per hour (600 s batch period)")
    ax.set_title(f"Stream vs batch: {human_bytes(lims_size)} images, mix {lims_mix} (create:update:delete)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "sweep-chart.png"), dpi=110)


if __name__ == "__main__":
    main()
