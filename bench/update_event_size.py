#!/usr/bin/env python3
"""Do the JSON field names of a metadata update matter on the wire? Bytes per update event in the
current form (docs/events.md) and in two shorter forms, raw and compressed the way the relay's
batches are (zstd level 3, librdkafka's default level; lz4): one event alone (a batch at a low
rate holds one), ten, and a thousand (a full batch under load). Uses the zstd and lz4 command
line tools (Debian's zstd, lz4); their frame header (~10 B) is counted, Kafka's batch framing is
not. python3 bench/update_event_size.py
"""
import json, random, subprocess
random.seed(7)
D = ["Healthy", "Early blight", "Late blight", "Bacterial spot", "Leaf mold"]
def ev(i, short, strip):
    ts = 1764059990456 + i * 50
    us = f"2026-11-25T08:{(i//60)%60:02d}:{i%60:02d}.{random.randrange(10**6):06d}"
    f = {"disease": random.choice(D), "percentage": random.randrange(10000) / 100, "is_active": random.random() < .5, "updated_at": us}
    e = {"op": "u", "plant": "potato", "id": random.randrange(1, 6472), "version": random.randrange(2, 40), "ts_ms": ts, "fields": f}
    if short:
        e = {"o": "u", "p": "potato", "i": e["id"], "v": e["version"], "t": ts,
             "f": {"d": f["disease"], "pc": f["percentage"], "a": f["is_active"], "u": us}}
        if strip: del e["p"]; del e["i"]
    return json.dumps(e, separators=(",", ":")).encode()
def z(b, tool):
    args = {"zstd": ["zstd", "-3", "-c", "-q"], "lz4": ["lz4", "-1", "-c", "-q"]}[tool]
    out = subprocess.run(args, input=b, capture_output=True).stdout
    return len(out)
for name, short, strip in (("current", False, False), ("short keys", True, False), ("short keys, no plant/id", True, True)):
    evs = [ev(i, short, strip) for i in range(1000)]
    raw = sum(map(len, evs)) / len(evs)
    one_z = sum(z(e, "zstd") for e in evs[:50]) / 50
    batch = b"".join(evs)
    print(f"{name:26s} raw {raw:6.1f} B | zstd alone {one_z:6.1f} B | zstd in 1000s {z(batch,'zstd')/1000:5.1f} B | lz4 in 1000s {z(batch,'lz4')/1000:5.1f} B | 10s {sum(z(b''.join(evs[k:k+10]),'zstd') for k in range(0,1000,10))/1000:5.1f} B")
