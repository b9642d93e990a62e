#!/usr/bin/env python3
"""Mutation tests of scripts/check_manifests.py's leafsync-specific checks: each case copies k8s/,
breaks one thing a binary's --describe contradicts (a LEAFSYNC_* variable it does not read, a
probe path it does not serve, a wrong port, a ConfigMap key its loader does not read...), and
expects `check_manifests.py consistency` to fail naming it. The unmutated copy must pass.

Run by scripts/check-manifests.sh (with the Python of its venv, which has PyYAML):
  tests/manifests/check_manifests_test.py --bin-dir build/bin [--checker PATH] [-k NAME]
--checker runs another copy of the check (e.g. an older commit's, to see what it missed).
Exit 0 when every case behaves, 1 otherwise.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

import yaml

ROOT = Path(__file__).resolve().parents[2]


def edit(k8s: Path, rel: str, change: Callable[[list], None]) -> None:
    """Loads every document of k8s/<rel>, lets `change` edit them, writes them back."""
    path = k8s / rel
    docs = list(yaml.safe_load_all(path.read_text()))
    change(docs)
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))


def container(docs: list, workload: str) -> dict:
    for d in docs:
        if d and d.get("kind") in ("Deployment", "StatefulSet") and d["metadata"]["name"] == workload:
            return d["spec"]["template"]["spec"]["containers"][0]
    raise KeyError(workload)


def pod_annotations(docs: list, workload: str) -> dict:
    for d in docs:
        if d and d.get("kind") == "Deployment" and d["metadata"]["name"] == workload:
            return d["spec"]["template"]["metadata"]["annotations"]
    raise KeyError(workload)


def service_yaml(docs: list, key: str, change: Callable[[dict], None]) -> None:
    """Edits the service YAML held under data.<key> of the ConfigMap."""
    cm = next(d for d in docs if d and d.get("kind") == "ConfigMap")
    cfg = yaml.safe_load(cm["data"][key])
    change(cfg)
    cm["data"][key] = yaml.safe_dump(cfg, sort_keys=False)


def add_env(c: dict, name: str, value: str) -> None:
    c.setdefault("env", []).append({"name": name, "value": value})


def set_probe(workload: str, probe: str, path: str) -> Callable[[list], None]:
    def change(docs: list) -> None:
        container(docs, workload)[probe]["httpGet"]["path"] = path
    return change


def set_nested(cfg: dict, key: str, value) -> None:
    *sections, last = key.split(".")
    for s in sections:
        cfg = cfg.setdefault(s, {})
    cfg[last] = value


# (name, file under k8s/, mutation, text the failure must contain)
CASES: list[tuple[str, str, Callable[[list], None], str]] = [
    ("env var the consumer does not read", "stg/40-consumer.yaml",
     lambda docs: add_env(container(docs, "leafsync-consumer"), "LEAFSYNC_BATCHSIZE", "10"),
     "env LEAFSYNC_BATCHSIZE is not read by leafsync-consumer"),
    ("consumer's variable on the producer", "prod/30-producer.yaml",
     lambda docs: add_env(container(docs, "leafsync-producer"), "LEAFSYNC_GROUP_ID", "g"),
     "env LEAFSYNC_GROUP_ID is not read by leafsync-producer"),
    ("env value out of the variable's bounds", "stg/40-consumer.yaml",
     lambda docs: add_env(container(docs, "leafsync-consumer"), "LEAFSYNC_HTTP_THREADS", "0"),
     "env LEAFSYNC_HTTP_THREADS must be in [1, 64], got 0"),
    ("readiness probe on a path not served", "stg/40-consumer.yaml",
     set_probe("leafsync-consumer", "readinessProbe", "/readyzz"),
     "readinessProbe path /readyzz is not leafsync-consumer's /readyz"),
    ("liveness probe on the readiness path", "prod/40-consumer.yaml",
     set_probe("leafsync-consumer", "livenessProbe", "/readyz"),
     "livenessProbe path /readyz is not leafsync-consumer's /healthz"),
    # The old check took routes from every .cpp of producer/, batch-sync's included.
    ("producer probe on a route only the batch job serves", "stg/30-producer.yaml",
     set_probe("leafsync-producer", "startupProbe", "/batch-status"),
     "startupProbe path /batch-status is not leafsync-producer's"),
    ("wrong container port", "stg/40-consumer.yaml",
     lambda docs: container(docs, "leafsync-consumer")["ports"][0].update(containerPort=8081),
     "the service listens on 8080 (http.port / LEAFSYNC_HTTP_PORT); declare containerPort 8080"),
    ("port moved by the variable, not in the manifest", "prod/30-producer.yaml",
     lambda docs: add_env(container(docs, "leafsync-producer"), "LEAFSYNC_HTTP_PORT", "9090"),
     "the service listens on 9090"),
    ("scrape path not the metrics path", "stg/40-consumer.yaml",
     lambda docs: pod_annotations(docs, "leafsync-consumer").update({"prometheus.io/path": "/metric"}),
     "prometheus.io/path /metric is not leafsync-consumer's metrics path /metrics"),
    ("ConfigMap key the loader does not read", "stg/10-configmap.yaml",
     lambda docs: service_yaml(docs, "consumer.yaml", lambda cfg: set_nested(cfg, "apply.batchsize", 10)),
     "setting 'apply.batchsize' is not read by leafsync-consumer"),
    ("ConfigMap key of a list item the loader does not read", "prod/10-configmap.yaml",
     lambda docs: service_yaml(docs, "consumer.yaml", lambda cfg: cfg["topics"][0].update(plantt="potato")),
     "setting 'topics[].plantt' is not read by leafsync-consumer"),
    ("ConfigMap value out of its bounds", "stg/10-configmap.yaml",
     lambda docs: service_yaml(docs, "producer.yaml", lambda cfg: set_nested(cfg, "http.threads", 0)),
     "setting 'http.threads' must be in [1, 64], got 0"),
    ("ConfigMap value not one of the setting's values", "prod/10-configmap.yaml",
     lambda docs: service_yaml(docs, "consumer.yaml", lambda cfg: set_nested(cfg, "log_level", "verbose")),
     "setting 'log_level' must be one of debug, info, warn, error"),
    ("option the binary does not have", "stg/40-consumer.yaml",
     lambda docs: container(docs, "leafsync-consumer")["args"].append("--no-relay"),
     "option --no-relay is not an option of `leafsync-consumer`"),
]


def run_check(checker: Path, bin_dir: Path, k8s: Path) -> tuple[int, str]:
    out = subprocess.run([sys.executable, str(checker), "consistency", "--bin-dir", str(bin_dir), "--k8s-dir", str(k8s)],
                         capture_output=True, text=True, timeout=120)
    return out.returncode, out.stdout + out.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin-dir", default=str(ROOT / "build/bin"))
    parser.add_argument("--checker", default=str(ROOT / "scripts/check_manifests.py"))
    parser.add_argument("-k", dest="only", help="only the cases whose name contains this")
    args = parser.parse_args()
    checker, bin_dir = Path(args.checker).resolve(), Path(args.bin_dir).resolve()
    failed = []
    with tempfile.TemporaryDirectory(prefix="check-manifests-") as tmp:
        k8s = Path(tmp) / "k8s"
        shutil.copytree(ROOT / "k8s", k8s)
        rc, out = run_check(checker, bin_dir, k8s)
        if rc != 0:
            failed.append("unmutated k8s/")
            print(f"FAIL unmutated k8s/ does not pass:\n{out}")
        else:
            print("ok   unmutated k8s/ passes")
        for name, rel, mutate, expected in CASES:
            if args.only and args.only not in name:
                continue
            shutil.rmtree(k8s)
            shutil.copytree(ROOT / "k8s", k8s)
            edit(k8s, rel, mutate)
            rc, out = run_check(checker, bin_dir, k8s)
            fails = [line for line in out.splitlines() if line.startswith("FAIL ")]
            if rc == 1 and any(expected in line for line in fails):
                print(f"ok   {name} ({rel}): fails")
            else:
                failed.append(name)
                print(f"FAIL {name} ({rel}): exit {rc}, no failure containing {expected!r}; failures: {fails or 'none'}")
    print(f"check_manifests mutations: {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
