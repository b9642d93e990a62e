#!/usr/bin/env python3
"""Offline checks of the Kubernetes manifests in k8s/ against the code; helper of
scripts/check-manifests.sh (run with the Python of the
check venv, which has PyYAML and kubernetes-validate).

  validate     --k8s-version V ...   every manifest through `kubernetes-validate --strict`;
                                      documents of CRD kinds are skipped with a printed note
  consistency  --bin-dir DIR         the manifests against what the binaries say they read and
               [--k8s-dir DIR]        serve (`<binary> --describe`, JSON): LEAFSYNC_* variables
                                      and their values, command-line options, the ConfigMap's
                                      service YAML (every key one the loader reads, values of its
                                      type and bounds), the HTTP port, probe and scrape paths;
                                      then the Kafka properties (config/kafka.stg.json),
                                      Services, PDBs, Secrets, KEDA's cap (partitions per topic),
                                      the security context, and the Dockerfile (user,
                                      entrypoint, CI commands). --k8s-dir checks another copy of
                                      k8s/ (scripts/test_check_manifests.py mutates one)

Nothing here lists settings, variables, routes or ports by hand, nor reads them from the C++
sources: each run asks the built binaries (docs/cli.md, "--describe").
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

import yaml

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "k8s"  # --k8s-dir replaces it
NAMESPACE = "leaf-image-management-system"
ENVS = ("stg", "prod")

# Kinds that come from CustomResourceDefinitions: kubernetes-validate has no schema for them
# (it only warns), so they are skipped there explicitly and checked for consistency below.
CRD_KINDS = {
    ("keda.sh/v1alpha1", "ScaledObject"): "KEDA",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "Prometheus Operator",
    ("monitoring.googleapis.com/v1", "PodMonitoring"): "GKE Managed Service for Prometheus",
}

# The binaries the manifests run; what each reads and serves comes from its --describe.
BINARIES = {
    "leafsync-consumer": {
        # The setting that bounds the stop when no broker answers (see the shutdown check).
        "stop_wait": "kafka.first_assignment_wait_ms",
    },
    "leafsync-producer": {},
}

# What reads may hold (the memory check): the binary's own keys, defaults and variables.
READ_LIMIT_KEYS = ("http.max_response_bytes", "http.large_response_slots")


# What a stop takes beyond the consumer's wait for a first assignment: close(), the appliers'
# last commits, the final log line. The stop without a broker measured by
# tests/integration/CommandLineTest.cpp (ConsumerWithoutABrokerStopsWithinItsBound) must stay
# under the default wait plus this margin.
STOP_MARGIN_S = 2

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}
CLUSTER_SCOPED = {"Namespace", "PersistentVolume", "StorageClass", "ClusterRole", "ClusterRoleBinding",
                  "CustomResourceDefinition", "PriorityClass"}


def rel(path: Path) -> str:
    for base in (ROOT, K8S.parent):  # K8S.parent: a copy of k8s/ elsewhere (--k8s-dir)
        try:
            return str(path.relative_to(base))
        except ValueError:
            pass
    return str(path)


# ------------------------------------------------------------------ manifests ---

@dataclass
class Doc:
    path: Path
    obj: dict

    @property
    def kind(self) -> str:
        return self.obj.get("kind", "")

    @property
    def api(self) -> str:
        return self.obj.get("apiVersion", "")

    @property
    def name(self) -> str:
        return (self.obj.get("metadata") or {}).get("name", "")

    @property
    def optional(self) -> bool:
        return self.path.parent.name == "optional"

    def where(self) -> str:
        return f"{rel(self.path)}: {self.kind}/{self.name}"


def manifest_files() -> list[Path]:
    return sorted(p for p in K8S.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def load_docs(path: Path) -> list[Doc]:
    with path.open() as f:
        return [Doc(path, d) for d in yaml.safe_load_all(f) if d is not None]


def env_docs(env: str) -> list[Doc]:
    docs: list[Doc] = []
    for path in manifest_files():
        if path.relative_to(K8S).parts[0] == env:
            docs.extend(load_docs(path))
    return docs


class Report:
    def __init__(self) -> None:
        self.failures: list[str] = []
        self.checked = 0

    def check(self, ok: bool, message: str) -> bool:
        self.checked += 1
        if not ok:
            self.failures.append(message)
        return ok

    def fail(self, message: str) -> None:
        self.check(False, message)


# ------------------------------------------------------------------ validate ---

def cmd_validate(args: argparse.Namespace) -> int:
    import kubernetes_validate.utils as kv  # from the check venv

    versions = [kv.latest_version() if v == "latest" else v for v in args.k8s_version]
    to_validate: list[Path] = []
    resources = 0
    failed = False
    for path in manifest_files():
        docs = load_docs(path)
        crd = [d for d in docs if (d.api, d.kind) in CRD_KINDS]
        if crd and len(crd) != len(docs):
            print(f"FAIL {rel(path)}: mixes CRD documents with core ones; keep optional CRD objects in their own file")
            failed = True
            continue
        if crd:
            for d in crd:
                print(f"SKIP {d.where()}: {d.api} is a CRD of {CRD_KINDS[(d.api, d.kind)]}, which kubernetes-validate "
                      f"has no schema for (optional file; its references are checked by `consistency`)")
            continue
        to_validate.append(path)
        resources += len(docs)
    cli = Path(sys.executable).parent / "kubernetes-validate"
    command = [str(cli), "--strict", "--quiet"]
    for v in versions:
        command += ["-k", v]
    result = subprocess.run(command + [str(p) for p in to_validate], capture_output=True, text=True)
    output = (result.stdout + result.stderr).strip()
    if output:
        print(output)
    if result.returncode != 0 or "ERROR" in output:
        failed = True
    if "Couldn't find schema" in output:
        print("FAIL a document has a kind without schema that is not a known optional CRD kind")
        failed = True
    status = "FAILED" if failed else "ok"
    print(f"kubernetes-validate --strict, Kubernetes {', '.join(versions)}: {len(to_validate)} files, "
          f"{resources} resources: {status}")
    return 1 if failed else 0


# ------------------------------------------------------- what the code says ---

class Binary:
    """What `<binary> --describe` says it reads and serves (docs/cli.md)."""

    def __init__(self, name: str, bin_dir: Path, report: Report) -> None:
        self.name = name
        self.path = bin_dir / name
        d: dict = {}
        if not self.path.is_file():
            report.fail(f"{self.path}: missing; build first (scripts/build.sh) or pass the binary dir")
        else:
            out = subprocess.run([str(self.path), "--describe"], capture_output=True, text=True, timeout=20)
            if report.check(out.returncode == 0, f"{self.path} --describe failed: {out.stderr.strip()}"):
                try:
                    d = json.loads(out.stdout)
                except ValueError as e:
                    report.fail(f"{self.path} --describe printed no JSON: {e}")
        self.describe = d
        self.env = {e["name"]: e for e in d.get("env", [])}
        self.env_names = set(self.env)
        report.check(bool(self.env_names), f"{self.path} --describe: lists no LEAFSYNC_* variables")
        config = d.get("config") or {}
        self.config_keys = {k["key"]: k for k in config.get("keys", [])}
        self.config_option = config.get("option")
        http = d.get("http") or {}
        self.http_command = http.get("command")
        self.routes = {r["path"]: set(r["methods"]) for r in http.get("routes", [])}
        self.get_routes = {path for path, methods in self.routes.items() if "GET" in methods}
        report.check(bool(self.get_routes), f"{self.path} --describe: lists no GET routes")
        self.probes = http.get("probes") or {}
        self.metrics_path = (http.get("metrics") or {}).get("path")
        self.port = http.get("port") or {}
        self.default_http_port = self.port.get("default")
        self.stop_wait_ms = None
        stop_key = BINARIES[name].get("stop_wait")
        if stop_key:
            known = stop_key in self.config_keys
            report.check(known, f"{self.path} --describe: no setting {stop_key}")
            self.stop_wait_ms = self.config_keys[stop_key]["default"] if known else None

    def command_line(self, command: str | None = None) -> dict:
        cl = self.describe.get("command_line") or {}
        if command is None:
            return cl
        return next((c for c in cl.get("commands", []) if c["name"] == command), {})

    def flags(self, command: str | None = None) -> set[str]:
        """The options of the binary, or of one of its subcommands."""
        return {o["name"] for o in self.command_line(command).get("options", [])}

    def commands(self) -> set[str]:
        return {c["name"] for c in self.command_line().get("commands", [])}


def value_error(spec: dict, value) -> str | None:
    """Why `value` is not one of the setting's type and bounds (as --describe gives them), or None."""
    if spec.get("type") == "integer":
        try:
            number = int(value) if not isinstance(value, bool) else None
        except (TypeError, ValueError):
            number = None
        if number is None or str(value).strip() != str(number):
            return f"must be an integer, got {value!r}"
        if not spec.get("min", number) <= number <= spec.get("max", number):
            return f"must be in [{spec.get('min')}, {spec.get('max')}], got {number}"
    elif spec.get("type") == "enum" and "values" in spec and value not in spec["values"]:
        return f"must be one of {', '.join(spec['values'])}, got {value!r}"
    return None


def setting(cfg: dict, key: str):
    """The value of a dotted key ("http.port") in a service YAML, None when absent."""
    for part in key.split("."):
        if not isinstance(cfg, dict):
            return None
        cfg = cfg.get(part)
    return cfg


def check_config_keys(cfg: dict, binary: Binary, where: str, report: Report, prefix: str = "") -> None:
    """Every key of the service YAML is one the binary's loader reads (its --describe keys), with a
    value of that key's type and bounds; list items are checked against "key[].field"."""
    keys = binary.config_keys
    for key, value in cfg.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        spec = keys.get(path)
        if spec is not None:
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, dict):
                        check_config_keys(item, binary, where, report, path + "[]")
            elif not isinstance(value, dict):
                problem = value_error(spec, value)
                report.check(problem is None, f"{where}: setting '{path}' {problem}")
            continue
        if isinstance(value, dict) and any(k.startswith(path + ".") for k in keys):
            check_config_keys(value, binary, where, report, path)
            continue
        report.fail(f"{where}: setting '{path}' is not read by {binary.name} "
                    f"(keys in its --describe: {', '.join(k for k in keys if k.startswith(path.split('.')[0]))  or 'none there'})")


def dockerfile() -> dict:
    text = (ROOT / "Dockerfile").read_text()
    joined = re.sub(r"\\\n", " ", text)
    info: dict = {"text": text, "runs": [], "entrypoint": None, "user": None}
    stage = None
    for line in joined.splitlines():
        line = line.strip()
        if line.startswith("FROM "):
            stage = line.split()[-1] if " AS " in line.upper() else line.split()[1]
        elif line.startswith("RUN "):
            info["runs"].append((stage, line[4:]))
        elif line.startswith("ENTRYPOINT "):
            info["entrypoint"] = line[len("ENTRYPOINT "):].strip()
        elif line.startswith("USER "):
            info["user"] = line.split()[1]
    return info


# ------------------------------------------------------------ k8s helpers ---

def selector_matches(selector: dict | None, labels: dict) -> bool:
    if not selector:
        return False
    match_labels = selector.get("matchLabels") if ("matchLabels" in selector or "matchExpressions" in selector) else selector
    for k, v in (match_labels or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions", []) if isinstance(selector.get("matchExpressions"), list) else []:
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def pod_template(doc: Doc) -> dict | None:
    if doc.kind in WORKLOAD_KINDS:
        return doc.obj["spec"]["template"]
    return None


def binary_of(container: dict) -> str | None:
    command = container.get("command") or []
    name = PurePosixPath(command[0]).name if command else None
    return name if name in BINARIES else None


def volume_for(mount_path: str, container: dict, pod_spec: dict) -> tuple[dict, dict, str] | None:
    """The (volumeMount, volume, path inside the volume) that holds an absolute path."""
    best = None
    for m in container.get("volumeMounts", []):
        mp = m["mountPath"].rstrip("/")
        if mount_path == mp or mount_path.startswith(mp + "/"):
            if best is None or len(mp) > len(best["mountPath"].rstrip("/")):
                best = m
    if best is None:
        return None
    volume = next((v for v in pod_spec.get("volumes", []) if v["name"] == best["name"]), None)
    if volume is None:
        return None
    inner = mount_path[len(best["mountPath"].rstrip("/")):].lstrip("/")
    if best.get("subPath"):
        inner = str(PurePosixPath(best["subPath"]) / inner) if inner else best["subPath"]
    return best, volume, inner


def configmap_file(path: str, container: dict, pod_spec: dict, configmaps: dict) -> tuple[str, str] | None:
    """(ConfigMap name, content) for a file path inside a ConfigMap volume mount."""
    found = volume_for(path, container, pod_spec)
    if not found or "configMap" not in found[1]:
        return None
    volume, inner = found[1], found[2]
    cm = configmaps.get(volume["configMap"]["name"])
    if cm is None:
        return None
    key = inner
    if volume["configMap"].get("items"):
        key = next((i["key"] for i in volume["configMap"]["items"] if i["path"] == inner), None)
    data = cm.obj.get("data", {})
    if key not in data:
        return None
    return cm.name, data[key]


def writable_volume(path: str, container: dict, pod_spec: dict, claim_templates: set[str]) -> bool:
    found = volume_for(path, container, pod_spec)
    if found:
        mount, volume, _ = found
        return not mount.get("readOnly") and ("emptyDir" in volume or "persistentVolumeClaim" in volume
                                              or "ephemeral" in volume)
    # volumeClaimTemplates of a StatefulSet are mounted without a pod volume entry
    for m in container.get("volumeMounts", []):
        mp = m["mountPath"].rstrip("/")
        if (path == mp or path.startswith(mp + "/")) and m["name"] in claim_templates and not m.get("readOnly"):
            return True
    return False


def arg_value(args: list[str], flag: str) -> str | None:
    for i, a in enumerate(args):
        if a == flag and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return None


def literal_env(container: dict) -> dict[str, str | None]:
    """name -> literal value, or None when it comes from a Secret / field / resource."""
    env: dict[str, str | None] = {}
    for e in container.get("env", []):
        env[e["name"]] = e.get("value") if "value" in e else None
    return env


def memory_bytes(quantity: str) -> int:
    units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "K": 10**3, "M": 10**6, "G": 10**9, "k": 10**3}
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([A-Za-z]*)", str(quantity))
    if not m:
        raise ValueError(f"bad quantity {quantity}")
    return int(float(m.group(1)) * units.get(m.group(2), 1))


def prestop_seconds(container: dict) -> int:
    pre = (container.get("lifecycle") or {}).get("preStop") or {}
    if "sleep" in pre:
        return int(pre["sleep"]["seconds"])
    command = (pre.get("exec") or {}).get("command") or []
    if command and PurePosixPath(command[0]).name == "sleep":
        return int(float(command[1]))
    return 0


def service_port_host(url_host: str) -> str | None:
    """Service name for an in-namespace DNS name, None when it points elsewhere."""
    for suffix in (f".{NAMESPACE}.svc.cluster.local", f".{NAMESPACE}.svc", f".{NAMESPACE}"):
        if url_host.endswith(suffix):
            return url_host[: -len(suffix)]
    return url_host if "." not in url_host else None


# ------------------------------------------------------------- consistency ---

class EnvCheck:
    """All checks of one environment directory (k8s/stg or k8s/prod)."""

    def __init__(self, env: str, binaries: dict[str, Binary], report: Report, partitions: int) -> None:
        self.env = env
        self.docs = env_docs(env)
        self.binaries = binaries
        self.r = report
        self.partitions = partitions
        self.configmaps = {d.name: d for d in self.docs if d.kind == "ConfigMap"}
        self.services = {d.name: d for d in self.docs if d.kind == "Service"}
        self.workloads = [d for d in self.docs if d.kind in WORKLOAD_KINDS]
        self.secret_templates = {d.name: d for d in self.docs if d.kind == "Secret"}
        self.effective: dict[str, dict] = {}  # workload name -> settings of its leafsync container

    # -- helpers
    def workloads_selected(self, selector: dict | None) -> list[Doc]:
        return [w for w in self.workloads if selector_matches(selector, pod_template(w)["metadata"].get("labels", {}))]

    def container_ports(self, workload: Doc) -> dict:
        ports = {}
        for c in pod_template(workload)["spec"]["containers"]:
            for p in c.get("ports", []):
                ports[p["containerPort"]] = p.get("name")
        return ports

    def resolve_port(self, port, workload: Doc) -> int | None:
        ports = self.container_ports(workload)
        if isinstance(port, int):
            return port if port in ports else None
        return next((num for num, name in ports.items() if name == port), None)

    # -- checks
    def run(self) -> None:
        self.check_layout()
        for w in self.workloads:
            self.check_workload(w)
        for d in self.docs:
            if d.kind == "Service":
                self.check_service(d)
            elif d.kind == "PodDisruptionBudget":
                self.check_pdb(d)
            elif d.kind == "ScaledObject":
                self.check_scaledobject(d)
            elif d.kind in ("ServiceMonitor", "PodMonitoring"):
                self.check_monitor(d)
            elif d.kind == "Ingress":
                self.check_ingress(d)
        self.check_secret_template_keys()

    def check_layout(self) -> None:
        core = sorted(p for p in (K8S / self.env).glob("*.yaml"))
        self.r.check(bool(core), f"k8s/{self.env}: no manifests")
        if not core:
            return
        for p in core:
            self.r.check(re.fullmatch(r"\d\d-[a-z0-9-]+\.yaml", p.name) is not None,
                         f"{rel(p)}: core files are named NN-name.yaml so that `kubectl apply` order is the name order")
        first = load_docs(core[0])
        self.r.check(any(d.kind == "Namespace" and d.name == NAMESPACE for d in first),
                     f"{rel(core[0])}: the first file in name order must create Namespace {NAMESPACE}")
        for d in self.docs:
            ns = (d.obj.get("metadata") or {}).get("namespace")
            if d.kind not in CLUSTER_SCOPED:
                self.r.check(ns == NAMESPACE, f"{d.where()}: metadata.namespace must be {NAMESPACE} (is {ns})")
            if not d.optional:
                self.r.check((d.api, d.kind) not in CRD_KINDS,
                             f"{d.where()}: CRD objects belong in optional/, or `kubectl apply -f` fails without the CRD")
                self.r.check(d.kind != "Secret", f"{d.where()}: no Secret in the applied files; templates go in optional/")

    def check_workload(self, w: Doc) -> None:
        tpl = pod_template(w)
        spec = tpl["spec"]
        claim_templates = {c["metadata"]["name"] for c in w.obj["spec"].get("volumeClaimTemplates", [])}
        psc = spec.get("securityContext") or {}
        # Pod Security "restricted" essentials kube-score does not test (it tests resources,
        # readOnlyRootFilesystem, user and group ids, Service and PDB selectors: check-manifests.sh).
        self.r.check(psc.get("runAsNonRoot") is True, f"{w.where()}: pod securityContext.runAsNonRoot must be true")
        self.r.check((psc.get("seccompProfile") or {}).get("type") == "RuntimeDefault",
                     f"{w.where()}: pod securityContext.seccompProfile.type must be RuntimeDefault")
        for c in spec.get("initContainers", []) + spec["containers"]:
            where = f"{w.where()} container {c['name']}"
            sc = c.get("securityContext") or {}
            self.r.check(sc.get("allowPrivilegeEscalation") is False, f"{where}: allowPrivilegeEscalation must be false")
            self.r.check("ALL" in ((sc.get("capabilities") or {}).get("drop") or []), f"{where}: capabilities.drop must hold ALL")
            for m in c.get("volumeMounts", []):
                self.r.check(any(v["name"] == m["name"] for v in spec.get("volumes", [])) or m["name"] in claim_templates,
                             f"{where}: volumeMount {m['name']} has no volume")
            for e in c.get("env", []):
                ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    self.check_secret_ref(ref, f"{where} env {e['name']}")
                ref = (e.get("valueFrom") or {}).get("configMapKeyRef")
                if ref:
                    cm = self.configmaps.get(ref["name"])
                    self.r.check(cm is not None and ref["key"] in cm.obj.get("data", {}),
                                 f"{where} env {e['name']}: ConfigMap {ref['name']} has no key {ref['key']}")
            if not w.optional:
                self.r.check(writable_volume("/tmp", c, spec, claim_templates),
                             f"{where}: the root filesystem is read-only, so /tmp needs a writable volume (emptyDir)")
        for v in spec.get("volumes", []):
            if "configMap" in v:
                self.r.check(v["configMap"]["name"] in self.configmaps or v["configMap"].get("optional") is True,
                             f"{w.where()}: volume {v['name']} names ConfigMap {v['configMap']['name']}, not defined in k8s/{self.env}")
        for c in spec["containers"]:
            if binary_of(c):
                self.check_leafsync_container(w, c, claim_templates)

    def check_secret_ref(self, ref: dict, where: str) -> None:
        template = self.secret_templates.get(ref["name"])
        if not self.r.check(template is not None,
                            f"{where}: Secret {ref['name']} has no template in k8s/{self.env}/optional/secret.example.yaml"):
            return
        keys = set((template.obj.get("stringData") or {})) | set((template.obj.get("data") or {}))
        self.r.check(ref["key"] in keys, f"{where}: key {ref['key']} missing from the template of Secret {ref['name']}")

    def check_secret_template_keys(self) -> None:
        used = set()
        for w in self.workloads:
            for c in pod_template(w)["spec"]["containers"]:
                for e in c.get("env", []):
                    ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                    if ref:
                        used.add((ref["name"], ref["key"]))
        for t in self.secret_templates.values():
            values = {**(t.obj.get("data") or {}), **(t.obj.get("stringData") or {})}
            for key, value in values.items():
                self.r.check((t.name, key) in used, f"{t.where()}: key {key} is used by no container")
                self.r.check("CHANGE-ME" in str(value), f"{t.where()}: key {key} must hold a CHANGE-ME placeholder, not a value")
                if key.endswith("database-url"):
                    url = urlparse(str(value).strip())
                    self.r.check(url.scheme in ("postgresql", "postgres", "sqlite"),
                                 f"{t.where()}: {key} must be a postgresql:// (or sqlite:) URL")
                    if url.hostname:
                        self.check_cluster_address(url.hostname, url.port or 5432, f"{t.where()} {key}")

    def check_cluster_address(self, host: str, port: int, where: str) -> None:
        name = service_port_host(host)
        if name is None:
            return  # outside the namespace: not ours to check
        svc = self.services.get(name)
        if svc is None:
            print(f"note: {where}: {host} is not defined in k8s/{self.env} (expected to be provided by the LIMS)")
            return
        ports = [p["port"] for p in svc.obj["spec"].get("ports", [])]
        self.r.check(port in ports, f"{where}: Service {name} has no port {port} (has {ports})")

    def check_leafsync_container(self, w: Doc, c: dict, claim_templates: set[str]) -> None:
        name = binary_of(c)
        binary = self.binaries[name]
        where = f"{w.where()} container {c['name']} ({name})"
        spec = pod_template(w)["spec"]
        psc = spec.get("securityContext") or {}
        env = literal_env(c)
        df = DOCKERFILE

        # The image: where the binaries are, which user runs them, the placeholder start.*.sh replace.
        entry = json.loads(df["entrypoint"]) if df["entrypoint"] and df["entrypoint"].startswith("[") else None
        if entry:
            self.r.check(str(PurePosixPath(c["command"][0]).parent) == str(PurePosixPath(entry[0]).parent),
                         f"{where}: command {c['command'][0]} is not where the Dockerfile installs the binaries "
                         f"({PurePosixPath(entry[0]).parent})")
        uid = (df["user"] or "").split(":")[0]
        self.r.check(str(psc.get("runAsUser")) == uid, f"{where}: runAsUser {psc.get('runAsUser')} differs from the Dockerfile's USER {uid}")
        self.r.check(c.get("image") == IMAGE_PLACEHOLDER,
                     f"{where}: image must be the placeholder {IMAGE_PLACEHOLDER} that k8s/start.*.sh replace")
        self.r.check(CONFIG_HASH_PLACEHOLDER in (pod_template(w)["metadata"].get("annotations") or {}).values(),
                     f"{where}: pod annotation leafsync/config-hash: {CONFIG_HASH_PLACEHOLDER} missing (start.*.sh roll pods on config changes)")
        self.r.check(spec.get("enableServiceLinks") is False,
                     f"{w.where()}: enableServiceLinks must be false (service links inject LEAFSYNC_<SERVICE>_* variables)")
        self.r.check(spec.get("automountServiceAccountToken") is False,
                     f"{w.where()}: automountServiceAccountToken must be false (the services never call the API server)")
        self.r.check(not c.get("envFrom"), f"{where}: envFrom hides which variables are set; list them in env")

        # Command line: only options the binary's --describe lists.
        args = c.get("args") or []
        command = None
        if name == "leafsync-producer":
            self.r.check(bool(args) and args[0] in binary.commands(),
                         f"{where}: first argument must be one of the producer's commands {sorted(binary.commands())}")
            command, args = (args[0], args[1:]) if args else (None, args)
            self.r.check(not c.get("args") or c["args"][0] == binary.http_command,
                         f"{where}: the producer Deployment runs `{binary.http_command}`, the command that serves HTTP")
        flags = binary.flags(command)
        for a in args:
            if a.startswith("--"):
                self.r.check(a.split("=")[0] in flags,
                             f"{where}: option {a} is not an option of `{name}{' ' + command if command else ''}` (--describe)")

        # Environment: every LEAFSYNC_* variable is one the binary reads, a literal value of its type.
        for var, value in env.items():
            if not var.startswith("LEAFSYNC_"):
                continue
            if self.r.check(var in binary.env_names, f"{where}: env {var} is not read by {name} "
                            f"(its --describe: {', '.join(sorted(binary.env_names))})") and value is not None:
                problem = value_error(binary.env[var], value)
                self.r.check(problem is None, f"{where}: env {var} {problem}")

        # Service YAML from the ConfigMap, and what it implies.
        config_path = arg_value(c.get("args") or [], binary.config_option or "--config")
        if not self.r.check(config_path is not None and config_path.startswith("/"),
                            f"{where}: args must name the service YAML with --config /absolute/path"):
            return
        found = configmap_file(config_path, c, spec, self.configmaps)
        if not self.r.check(found is not None, f"{where}: --config {config_path} is not a key of a mounted ConfigMap"):
            return
        cm_name, text = found
        cfg = yaml.safe_load(text) or {}
        check_config_keys(cfg, binary, f"{where}: ConfigMap {cm_name} {PurePosixPath(config_path).name}", self.r)

        props_file = env.get("LEAFSYNC_KAFKA_PROPERTIES") or str(
            PurePosixPath(config_path).parent / ((cfg.get("kafka") or {}).get("properties") or ""))
        kafka = {}
        props = configmap_file(props_file, c, spec, self.configmaps)
        if self.r.check(props is not None, f"{where}: Kafka properties {props_file} are not a key of a mounted ConfigMap"):
            kafka = json.loads(props[1])
            repo_copy = ROOT / "config" / PurePosixPath(props_file).name
            if self.r.check(repo_copy.is_file(), f"{where}: no {rel(repo_copy)} to compare {props_file} with"):
                self.r.check(kafka == json.loads(repo_copy.read_text()),
                             f"{where}: ConfigMap {PurePosixPath(props_file).name} differs from {rel(repo_copy)}")
        bootstrap = env.get("LEAFSYNC_BOOTSTRAP_SERVERS") or kafka.get("bootstrap.servers", "")
        for server in filter(None, bootstrap.split(",")):
            host, _, port = server.rpartition(":")
            self.check_cluster_address(host, int(port), f"{where} bootstrap.servers")

        # The port it listens on: the variable, else the YAML's key, else the default (--describe).
        port_env, port_key = binary.port.get("env"), binary.port.get("key")
        http_port = int(env.get(port_env) or (setting(cfg, port_key) if port_key else None)
                        or binary.default_http_port or 0)
        ports = {p["containerPort"]: p.get("name") for p in c.get("ports", [])}
        self.r.check(ports.get(http_port) == "http",
                     f"{where}: the service listens on {http_port} ({port_key} / {port_env}); "
                     f"declare containerPort {http_port} named http (have {ports})")

        # Probes on real routes and the real port.
        paths = {}
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            p = c.get(probe)
            if not self.r.check(p is not None and "httpGet" in p, f"{where}: {probe} with httpGet is required"):
                continue
            path, port = p["httpGet"]["path"], p["httpGet"]["port"]
            paths[probe] = path
            # Liveness on the liveness path, readiness on the readiness path; a startup probe
            # on either (--describe's probes).
            allowed = {"livenessProbe": [binary.probes.get("liveness")],
                       "readinessProbe": [binary.probes.get("readiness")]}.get(
                probe, [binary.probes.get("liveness"), binary.probes.get("readiness")])
            self.r.check(path in allowed and path in binary.get_routes,
                         f"{where}: {probe} path {path} is not {name}'s {' or '.join(map(str, allowed))} "
                         f"(probes in its --describe: {binary.probes})")
            resolved = port if isinstance(port, int) else next((n for n, nm in ports.items() if nm == port), None)
            self.r.check(resolved == http_port, f"{where}: {probe} port {port} is not the HTTP port {http_port}")
        if "livenessProbe" in paths and "readinessProbe" in paths:
            self.r.check(paths["livenessProbe"] != paths["readinessProbe"],
                         f"{where}: liveness must not use the readiness endpoint (a Kafka or database outage would restart every pod)")

        ann = pod_template(w)["metadata"].get("annotations") or {}
        if self.r.check(ann.get("prometheus.io/scrape") == "true", f"{w.where()}: annotation prometheus.io/scrape: \"true\" missing"):
            self.r.check(ann.get("prometheus.io/port") == str(http_port), f"{w.where()}: prometheus.io/port must be {http_port}")
            self.r.check(ann.get("prometheus.io/path") == binary.metrics_path,
                         f"{w.where()}: prometheus.io/path {ann.get('prometheus.io/path')} is not {name}'s metrics path "
                         f"{binary.metrics_path} (--describe)")

        # Shutdown: the grace period covers the preStop sleep plus the longest stop: the drain
        # (>= 5 s) and, for the consumer, the stop when no broker answers, bounded by its wait
        # for a first assignment (the pod's value: env, else the ConfigMap, else the default).
        grace = spec.get("terminationGracePeriodSeconds")
        pre = prestop_seconds(c)
        budget, why = 5, "the drain budget (>= 5 s)"
        stop_key = BINARIES[name].get("stop_wait")
        if stop_key and binary.stop_wait_ms is not None:
            stop_env = binary.config_keys[stop_key].get("env")
            wait_ms = (env.get(stop_env) if stop_env else None) or setting(cfg, stop_key) or binary.stop_wait_ms
            stop_s = -(-int(wait_ms) // 1000) + STOP_MARGIN_S
            if stop_s > budget:
                budget = stop_s
                why = (f"the stop without a broker ({stop_key} {int(wait_ms)} ms + {STOP_MARGIN_S} s)")
        self.r.check(grace is not None and grace - pre >= budget,
                     f"{w.where()}: terminationGracePeriodSeconds ({grace}) must exceed the preStop sleep ({pre}) by {why}")

        # Memory: the consumer's budget plus what reads may hold stays within 80 % of the pod's
        # limit (docs/deploy.md#memory). Reads: http.large_response_slots large responses at
        # once, each adding at most 2 × http.max_response_bytes while it is sent (the pod's
        # values: env, else the ConfigMap, else the default --describe gives).
        budget_mb = int(env.get("LEAFSYNC_MEMORY_BUDGET_MB") or (cfg.get("memory") or {}).get("budget_mb") or 0)
        if budget_mb and self.r.check(all(k in binary.config_keys for k in READ_LIMIT_KEYS),
                                      f"{binary.path} --describe: lists no {' or '.join(READ_LIMIT_KEYS)}"):
            limits = {}
            for key in READ_LIMIT_KEYS:
                described = binary.config_keys[key]
                var = described.get("env")
                limits[key.split(".", 1)[1]] = int((env.get(var) if var else None) or setting(cfg, key) or described["default"])
            reads = limits["large_response_slots"] * 2 * limits["max_response_bytes"]
            limit = memory_bytes(((c.get("resources") or {}).get("limits") or {}).get("memory", "0"))
            self.r.check(budget_mb * 2**20 + reads <= 0.8 * limit,
                         f"{where}: memory.budget_mb {budget_mb} + {reads / 2**20:g} MiB of reads "
                         f"(http.large_response_slots {limits['large_response_slots']} × 2 × http.max_response_bytes "
                         f"{limits['max_response_bytes']}) must stay within 80 % of the memory limit")

        # Database: a SQLite file must be on a writable volume.
        db_url = env.get("LEAFSYNC_DATABASE_URL") if "LEAFSYNC_DATABASE_URL" in env else (cfg.get("database") or {}).get("url")
        db_from_secret = "LEAFSYNC_DATABASE_URL" in env and env["LEAFSYNC_DATABASE_URL"] is None
        if db_url and db_url.startswith("sqlite:"):
            path = db_url.split(":", 1)[1].removeprefix("//")
            self.r.check(path.startswith("/") and writable_volume(str(PurePosixPath(path).parent), c, spec, claim_templates),
                         f"{where}: SQLite database {path} must be an absolute path on a writable volume (emptyDir / PVC)")
        else:
            self.r.check(db_from_secret or bool(db_url), f"{where}: no database URL (database.url or LEAFSYNC_DATABASE_URL)")

        # Where writes are forwarded: a Service of this directory that selects the producer.
        if env.get("LEAFSYNC_PRODUCER_URL") or cfg.get("producer_url"):
            url = urlparse(env.get("LEAFSYNC_PRODUCER_URL") or cfg.get("producer_url"))
            svc_name = service_port_host(url.hostname or "")
            svc = self.services.get(svc_name or "")
            if self.r.check(svc is not None, f"{where}: producer URL {url.geturl()} names no Service of k8s/{self.env}"):
                sp = next((p for p in svc.obj["spec"]["ports"] if p["port"] == (url.port or 80)), None)
                targets = self.workloads_selected(svc.obj["spec"].get("selector"))
                self.r.check(sp is not None and any(binary_of(cc) == "leafsync-producer"
                                                    for t in targets for cc in pod_template(t)["spec"]["containers"]),
                             f"{where}: producer URL {url.geturl()} does not reach the leafsync-producer pods")

        if env.get("LEAFSYNC_TOPICS"):
            topics = [t for t in env["LEAFSYNC_TOPICS"].split(",") if t]
        elif isinstance(cfg.get("topics"), list):  # consumer: [{name, plant, format}]
            topics = [t.get("name") for t in cfg["topics"] if isinstance(t, dict)]
        elif isinstance(cfg.get("topics"), dict):  # producer: {plant: topic}
            topics = list(cfg["topics"].values())
        else:
            topics = []
        self.effective[w.name] = {
            "binary": name, "http_port": http_port, "bootstrap": bootstrap, "topics": topics,
            "group_id": env.get("LEAFSYNC_GROUP_ID") or kafka.get("group.id"),
            "replicas": w.obj["spec"].get("replicas", 1),
        }
        if name == "leafsync-consumer":
            self.r.check(w.kind != "Deployment" or w.obj["spec"].get("replicas", 1) <= self.partitions,
                         f"{w.where()}: replicas beyond the {self.partitions} partitions per topic never get an assignment")
            strategy = w.obj["spec"].get("strategy") or {}
            surge = (strategy.get("rollingUpdate") or {}).get("maxSurge", "25%")
            self.r.check(strategy.get("type") == "Recreate" or surge in (0, "0", "0%"),
                         f"{w.where()}: maxSurge must be 0 (a surge consumer finds every partition taken and never turns ready)")
            if db_url and str(db_url).startswith("sqlite:"):
                self.r.check(w.obj["spec"].get("replicas", 1) == 1,
                             f"{w.where()}: a SQLite copy is per pod: several replicas would each hold only their partitions")
        if name == "leafsync-producer":
            self.r.check(w.obj["spec"].get("replicas", 1) == 1 and (w.obj["spec"].get("strategy") or {}).get("type") == "Recreate",
                         f"{w.where()}: one producer replica with the Recreate strategy (never two outbox relays at once)")

    def check_service(self, svc: Doc) -> None:
        # Whether the selector matches a pod is kube-score's service-targets-pod; the ports are not.
        targets = self.workloads_selected(svc.obj["spec"].get("selector"))
        for p in svc.obj["spec"].get("ports", []):
            target = p.get("targetPort", p["port"])
            for t in targets:
                self.r.check(self.resolve_port(target, t) is not None,
                             f"{svc.where()}: targetPort {target} is not a container port of {t.where()}")

    def check_ingress(self, ing: Doc) -> None:
        """Backends are Services of this environment with that port; each path reaches a GET route
        of the binary behind it (Exact: the route; Prefix: some route starting with it); the pods
        have an HTTP readinessProbe on the served port (GKE derives its health check from it)."""
        for rule in ing.obj["spec"].get("rules", []):
            for p in (rule.get("http") or {}).get("paths", []):
                svc_ref = p["backend"]["service"]
                where = f"{ing.where()} path {p.get('path')}"
                svc = next((d for d in self.docs if d.kind == "Service" and d.name == svc_ref["name"]), None)
                if not self.r.check(svc is not None, f"{where}: no Service {svc_ref['name']} in k8s/{self.env}"):
                    continue
                want = svc_ref.get("port") or {}
                port = next((sp for sp in svc.obj["spec"]["ports"]
                             if sp.get("name") == want.get("name") or sp["port"] == want.get("number")), None)
                if not self.r.check(port is not None, f"{where}: {svc.where()} has no port {want}"):
                    continue
                target = port.get("targetPort", port["port"])
                for w in self.workloads_selected(svc.obj["spec"].get("selector")):
                    num = self.resolve_port(target, w)
                    for c in pod_template(w)["spec"]["containers"]:
                        if not binary_of(c):
                            continue
                        routes = self.binaries[binary_of(c)].get_routes
                        path = p.get("path", "/")
                        ok = path in routes if p.get("pathType") == "Exact" else any(r.startswith(path) for r in routes)
                        self.r.check(ok, f"{where}: no GET route of {binary_of(c)} under {path} ({p.get('pathType')})")
                        probe = (c.get("readinessProbe") or {}).get("httpGet") or {}
                        self.r.check(bool(probe) and self.resolve_port(probe.get("port"), w) == num,
                                     f"{where}: {w.where()} needs an httpGet readinessProbe on port {num}, the load "
                                     f"balancer's health check")

    def check_pdb(self, pdb: Doc) -> None:
        # That a PDB selects each workload is kube-score's *-has-poddisruptionbudget; not that its
        # budget lets a node drain.
        targets = self.workloads_selected(pdb.obj["spec"].get("selector"))
        if len(targets) != 1:
            return
        replicas = targets[0].obj["spec"].get("replicas", 1)
        min_available = pdb.obj["spec"].get("minAvailable")
        self.r.check(not (isinstance(min_available, int) and min_available >= replicas),
                     f"{pdb.where()}: minAvailable {min_available} with {replicas} replica(s) blocks every node drain")

    def check_scaledobject(self, so: Doc) -> None:
        target = so.obj["spec"]["scaleTargetRef"]
        deployment = next((w for w in self.workloads if w.kind == target.get("kind", "Deployment") and w.name == target["name"]), None)
        if not self.r.check(deployment is not None, f"{so.where()}: scaleTargetRef {target['name']} is not a workload of k8s/{self.env}"):
            return
        eff = self.effective.get(deployment.name, {})
        lo, hi = so.obj["spec"].get("minReplicaCount", 0), so.obj["spec"].get("maxReplicaCount", 100)
        self.r.check(hi <= self.partitions,
                     f"{so.where()}: maxReplicaCount {hi} exceeds the {self.partitions} partitions per topic "
                     f"(each consumer process runs one consumer per topic)")
        self.r.check(1 <= lo <= hi, f"{so.where()}: need 1 <= minReplicaCount ({lo}) <= maxReplicaCount ({hi}); the consumers serve reads")
        kafka_topics = set()
        for t in so.obj["spec"].get("triggers", []):
            if t.get("type") != "kafka":
                continue
            md = t.get("metadata", {})
            kafka_topics.add(md.get("topic"))
            self.r.check(md.get("bootstrapServers") == eff.get("bootstrap"),
                         f"{so.where()}: trigger bootstrapServers {md.get('bootstrapServers')} != the consumer's {eff.get('bootstrap')}")
            self.r.check(md.get("consumerGroup") == eff.get("group_id"),
                         f"{so.where()}: trigger consumerGroup {md.get('consumerGroup')} != the consumer's group.id {eff.get('group_id')}")
        self.r.check(kafka_topics == set(eff.get("topics", [])),
                     f"{so.where()}: one kafka trigger per consumed topic expected: triggers {sorted(filter(None, kafka_topics))}, "
                     f"topics {sorted(eff.get('topics', []))}")

    def check_monitor(self, mon: Doc) -> None:
        selector = mon.obj["spec"].get("selector")
        for ep in mon.obj["spec"].get("endpoints", []):
            if mon.kind == "ServiceMonitor":
                services = [s for s in self.services.values() if selector_matches(selector, s.obj["metadata"].get("labels", {}))]
                self.r.check(bool(services), f"{mon.where()}: selector matches no Service")
                workloads = []
                for s in services:
                    self.r.check(any(p.get("name") == ep.get("port") for p in s.obj["spec"]["ports"]),
                                 f"{mon.where()}: {s.where()} has no port named {ep.get('port')}")
                    workloads += self.workloads_selected(s.obj["spec"].get("selector"))
            else:
                workloads = self.workloads_selected(selector)
                self.r.check(bool(workloads), f"{mon.where()}: selector matches no pods")
                for w in workloads:
                    self.r.check(self.resolve_port(ep.get("port"), w) is not None, f"{mon.where()}: {w.where()} has no port {ep.get('port')}")
            for w in workloads:
                for c in pod_template(w)["spec"]["containers"]:
                    if binary_of(c):
                        metrics_path = self.binaries[binary_of(c)].metrics_path
                        self.r.check(ep.get("path") == metrics_path,
                                     f"{mon.where()}: path {ep.get('path')} is not {binary_of(c)}'s metrics path {metrics_path}")


def k8s_lib_value(name: str) -> str:
    m = re.search(rf"^readonly {name}=(\S+)", (K8S / "lib.sh").read_text(), re.M)
    if not m:
        raise SystemExit(f"k8s/lib.sh: no `readonly {name}=...`")
    return m.group(1)


DOCKERFILE: dict = {}
IMAGE_PLACEHOLDER = ""
CONFIG_HASH_PLACEHOLDER = ""


def kafka_partitions(report: Report) -> int:
    m = re.search(r"KAFKA_PARTITIONS=\$\{KAFKA_PARTITIONS:-(\d+)\}", (ROOT / "scripts/kafka.sh").read_text())
    report.check(m is not None, "scripts/kafka.sh: cannot read the default KAFKA_PARTITIONS")
    return int(m.group(1)) if m else 0


def check_dockerfile(report: Report) -> None:
    df = DOCKERFILE
    report.check(df["entrypoint"] is not None and df["entrypoint"].startswith("["),
                 "Dockerfile: ENTRYPOINT must be exec form (a JSON array), so SIGTERM reaches the binary")
    report.check(df["user"] is not None and df["user"].split(":")[0].isdigit() and df["user"].split(":")[0] != "0",
                 "Dockerfile: USER must be a numeric non-root uid (runAsNonRoot can only verify numeric users)")
    # The build stage runs exactly the commands CI's test script runs.
    test_sh = (ROOT / "scripts/test.sh").read_text()
    ci_commands = re.findall(r"^(scripts/(?:install-deps|build)\.sh\b[^\n]*)$", test_sh, re.M)
    report.check(len(ci_commands) >= 2, "scripts/test.sh: cannot find its install-deps/build commands")
    build_runs = " && ".join(run for stage, run in df["runs"] if stage == "build")
    for command in ci_commands:
        if command.startswith("scripts/build.sh") and "-DLEAFSYNC_SANITIZE" in command:
            continue  # the sanitizer build is a test variant, not what ships
        report.check(re.search(rf"(^|[\s;&|]){re.escape(command.strip())}($|[\s;&|])", build_runs) is not None,
                     f"Dockerfile: the build stage must run `{command.strip()}` as scripts/test.sh does")


def check_partitions_in_dev_broker(partitions: int, consumer_topics: set[str], report: Report) -> None:
    for d in env_docs("stg"):
        if d.kind != "Job":
            continue
        for c in pod_template(d)["spec"]["containers"]:
            topics = next((e.get("value") for e in c.get("env", []) if e["name"] == "TOPICS"), None)
            if topics is None:
                continue
            spec = dict(t.rsplit(":", 1) for t in topics.split())
            for t in consumer_topics:
                report.check(spec.get(t) == str(partitions),
                             f"{d.where()}: topic {t} must be created with {partitions} partitions (scripts/kafka.sh), has {spec.get(t)}")


def cmd_consistency(args: argparse.Namespace) -> int:
    global DOCKERFILE, IMAGE_PLACEHOLDER, CONFIG_HASH_PLACEHOLDER
    report = Report()
    DOCKERFILE = dockerfile()
    IMAGE_PLACEHOLDER = k8s_lib_value("IMAGE_PLACEHOLDER")
    CONFIG_HASH_PLACEHOLDER = k8s_lib_value("CONFIG_HASH_PLACEHOLDER")
    global K8S
    K8S = Path(args.k8s_dir).resolve()
    bin_dir = Path(args.bin_dir).resolve()
    binaries = {name: Binary(name, bin_dir, report) for name in BINARIES}
    check_dockerfile(report)
    partitions = kafka_partitions(report)
    consumer_topics: set[str] = set()
    for env in ENVS:
        check = EnvCheck(env, binaries, report, partitions)
        check.run()
        for eff in check.effective.values():
            if eff["binary"] == "leafsync-consumer":
                consumer_topics |= set(eff["topics"])
    check_partitions_in_dev_broker(partitions, consumer_topics, report)
    for name, b in binaries.items():
        print(f"{name} --describe: {len(b.env_names)} LEAFSYNC_* variables, {len(b.config_keys)} settings, GET routes "
              f"{' '.join(sorted(r for r in b.get_routes if ':' not in r))}, probes {b.probes}, metrics {b.metrics_path}, "
              f"default http port {b.default_http_port}")
    print(f"partitions per topic (scripts/kafka.sh): {partitions}")
    for f in report.failures:
        print(f"FAIL {f}")
    print(f"consistency: {report.checked} checks, {len(report.failures)} failed")
    return 1 if report.failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("validate")
    p.add_argument("--k8s-version", action="append", default=[])
    p = sub.add_parser("consistency")
    p.add_argument("--bin-dir", default=str(ROOT / "build/bin"))
    p.add_argument("--k8s-dir", default=str(K8S))
    args = parser.parse_args()
    if args.command == "validate":
        args.k8s_version = args.k8s_version or ["latest"]
        return cmd_validate(args)
    return cmd_consistency(args)


if __name__ == "__main__":
    sys.exit(main())
