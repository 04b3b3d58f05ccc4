#!/usr/bin/env python3
"""Static checks of deploy/: the Kubernetes manifests, the compose file and the Containerfiles.

Runs in CI (ctest -L deploy) without a cluster or a container engine: every YAML file parses,
the objects the deployment needs are there, and the pieces agree with each other and with the
server's flags, as the ConfigMap's flagfile sets them: probe and container ports against
--address/--metrics_address, the grace period against --drain_grace_s, the Secret mounts
against --api_keys_file, the HPA against the Deployment and the metric names prometheus-adapter
serves; the images run as a non-root user, expose 50051 and 9090 and have a HEALTHCHECK.
Where kubectl is installed, every kustomization also renders (`kubectl kustomize`, offline).

  deploy/validate_manifests.py [DEPLOY_DIR]    exit 0: all good; 1: each problem on a line
  deploy/validate_manifests.py --self-test     breaks copies of the manifests on purpose and
                                               checks that every break is reported
Needs python3-yaml (Debian) for /usr/bin/python3.
"""

import copy
import os
import re
import shutil
import subprocess
import sys

try:
    import yaml
except ImportError:
    sys.exit("validate_manifests: needs PyYAML (apt-get install python3-yaml)")

GPU_RESOURCE = "nvidia.com/gpu"
# After the drain, the server gives gRPC's Shutdown this long (server/server.cc, Drain).
SHUTDOWN_DEADLINE_S = 5
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")


def load_bundle(deploy_dir):
    """Reads everything the checks look at; parse errors are problems, not exceptions."""
    b = {"dir": deploy_dir, "yaml": {}, "containerfiles": {}, "problems": []}
    for root, dirs, files in os.walk(deploy_dir):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            rel = os.path.relpath(path, deploy_dir)
            if name.endswith((".yaml", ".yml")):
                try:
                    with open(path, encoding="utf-8") as f:
                        docs = [d for d in yaml.safe_load_all(f) if d is not None]
                except yaml.YAMLError as e:
                    b["problems"].append(f"{rel}: not valid YAML: {e}")
                    continue
                for i, d in enumerate(docs):
                    if not isinstance(d, dict):
                        b["problems"].append(f"{rel}: document {i + 1} is not a mapping")
                b["yaml"][rel] = [d for d in docs if isinstance(d, dict)]
            elif name.startswith("Containerfile"):
                with open(path, encoding="utf-8") as f:
                    b["containerfiles"][rel] = f.read()
    return b


def parse_flags(text):
    """--flag=value lines of an Abseil flagfile -> {flag: value}; later lines win."""
    flags = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"--([A-Za-z0-9_]+)(?:=(.*))?", line)
        if m:
            flags[m.group(1)] = m.group(2) if m.group(2) is not None else "true"
    return flags


def port_of(address):
    m = re.search(r":(\d+)$", address or "")
    return int(m.group(1)) if m else None


def duration_s(value):
    """A compose duration (45s, 1m30s) or a number of seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    total, matched = 0.0, False
    for num, unit in re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s)", str(value)):
        matched = True
        total += float(num) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[unit]
    return total if matched else None


def check(b):
    problems = list(b["problems"])

    def bad(where, what):
        problems.append(f"{where}: {what}")

    # ---- the objects kustomization.yaml applies ----
    base_dir = os.path.join("k8s", "base")
    kust_rel = os.path.join(base_dir, "kustomization.yaml")
    kust = (b["yaml"].get(kust_rel) or [{}])[0]
    if not kust:
        bad(kust_rel, "missing")
    listed = kust.get("resources", []) or []
    objects = []  # (file, doc)
    for res in listed:
        rel = os.path.normpath(os.path.join(base_dir, res))
        if rel not in b["yaml"]:
            bad(kust_rel, f"lists {res}, which is missing or not YAML")
            continue
        for d in b["yaml"][rel]:
            objects.append((rel, d))
    # A manifest in k8s/base/ that kustomization.yaml forgot would never be applied.
    for rel in b["yaml"]:
        if (os.path.dirname(rel) == base_dir and rel != kust_rel
                and os.path.basename(rel) not in listed):
            bad(kust_rel, f"does not list {os.path.basename(rel)}")
    for rel, d in objects:
        for key in ("apiVersion", "kind"):
            if key not in d:
                bad(rel, f"an object without {key}")
        if not (d.get("metadata") or {}).get("name"):
            bad(rel, f"a {d.get('kind')} without metadata.name")

    def of_kind(kind):
        return [(rel, d) for rel, d in objects if d.get("kind") == kind]

    for kind in ("ConfigMap", "Secret", "PersistentVolumeClaim", "Deployment", "Service",
                 "HorizontalPodAutoscaler", "PodDisruptionBudget"):
        if not of_kind(kind):
            bad(kust_rel, f"no {kind} among the resources")
    deployments = of_kind("Deployment")
    if not deployments:
        return problems
    dep_rel, dep = deployments[0]
    dep_name = dep["metadata"].get("name")
    pod = ((dep.get("spec") or {}).get("template") or {}).get("spec") or {}
    pod_labels = (((dep.get("spec") or {}).get("template") or {}).get("metadata") or {}).get(
        "labels") or {}
    containers = pod.get("containers") or []
    if not containers:
        bad(dep_rel, "no containers")
        return problems
    c = containers[0]
    volumes = {v.get("name"): v for v in pod.get("volumes") or []}
    mounts = c.get("volumeMounts") or []

    def mount_for(path):
        """The volume mount whose mountPath holds path (the longest match)."""
        best = None
        for m in mounts:
            mp = m.get("mountPath", "").rstrip("/")
            if path == mp or path.startswith(mp + "/"):
                if best is None or len(mp) > len(best["mountPath"].rstrip("/")):
                    best = m
        return best

    # ---- the flags: the flagfile in the ConfigMap the container is given ----
    flags, flagfile = {}, None
    for arg in c.get("args") or []:
        m = re.fullmatch(r"--flagfile=(.+)", str(arg))
        if m:
            flagfile = m.group(1)
    if flagfile is None:
        bad(dep_rel, "container args have no --flagfile=PATH (the flags come from the ConfigMap)")
    else:
        m = mount_for(flagfile)
        vol = volumes.get(m.get("name")) if m else None
        if not vol or "configMap" not in vol:
            bad(dep_rel, f"--flagfile={flagfile} is not on a ConfigMap volume mount")
        else:
            cm_name = vol["configMap"].get("name")
            key = os.path.relpath(flagfile, m["mountPath"])
            cms = [d for _, d in of_kind("ConfigMap") if d["metadata"].get("name") == cm_name]
            if not cms:
                bad(dep_rel, f"volume {m['name']} names ConfigMap {cm_name}, which is not listed")
            elif key not in (cms[0].get("data") or {}):
                bad("k8s ConfigMap " + cm_name, f"has no key {key} (--flagfile={flagfile})")
            else:
                flags = parse_flags(cms[0]["data"][key])
    grpc_port = port_of(flags.get("address"))
    metrics_port = port_of(flags.get("metrics_address"))
    if flags and grpc_port is None:
        bad("k8s ConfigMap flags", "no --address=HOST:PORT")
    if flags and metrics_port is None:
        bad("k8s ConfigMap flags", "no --metrics_address=HOST:PORT")
    if flags and not re.match(r"0\.0\.0\.0:|\[::\]:|:", flags.get("address", "")):
        bad("k8s ConfigMap flags", f"--address={flags.get('address')} does not listen on every "
            "interface; probes and Services cannot reach it")
    drain_s = float(flags.get("drain_grace_s", 30))

    # ---- ports and probes ----
    ports = {p.get("name"): p.get("containerPort") for p in c.get("ports") or []}
    if grpc_port is not None and ports.get("grpc") != grpc_port:
        bad(dep_rel, f"containerPort grpc is {ports.get('grpc')}, --address says {grpc_port}")
    if metrics_port is not None and ports.get("metrics") != metrics_port:
        bad(dep_rel, f"containerPort metrics is {ports.get('metrics')}, "
            f"--metrics_address says {metrics_port}")
    for probe_name in PROBES:
        probe = c.get(probe_name)
        if not probe:
            bad(dep_rel, f"no {probe_name}")
            continue
        if "grpc" in probe:
            port = probe["grpc"].get("port")
        elif "exec" in probe:
            cmd = " ".join(map(str, probe["exec"].get("command") or []))
            m = re.search(r"mot-cli health .*--server[= ]\S*:(\d+)", cmd)
            port = int(m.group(1)) if m else None
        else:
            bad(dep_rel, f"{probe_name} is neither a grpc probe nor mot-cli health")
            continue
        if port != grpc_port:
            bad(dep_rel, f"{probe_name} checks port {port}, the server listens on {grpc_port}")
    annotations = (((dep.get("spec") or {}).get("template") or {}).get("metadata") or {}).get(
        "annotations") or {}
    if "prometheus.io/port" in annotations and int(annotations["prometheus.io/port"]) != \
            metrics_port:
        bad(dep_rel, f"prometheus.io/port is {annotations['prometheus.io/port']}, "
            f"the metrics listen on {metrics_port}")

    # ---- resources, grace period, user ----
    res = c.get("resources") or {}
    for part in ("requests", "limits"):
        if not res.get(part):
            bad(dep_rel, f"no resources.{part}")
    if GPU_RESOURCE not in (res.get("limits") or {}):
        bad(dep_rel, f"resources.limits does not request {GPU_RESOURCE}")
    grace = pod.get("terminationGracePeriodSeconds")
    pre_stop_s = 0.0
    pre = (((c.get("lifecycle") or {}).get("preStop") or {}).get("exec") or {}).get("command")
    if pre:
        m = re.search(r"sleep\s+(\d+(?:\.\d+)?)", " ".join(map(str, pre)))
        pre_stop_s = float(m.group(1)) if m else 0.0
    need = pre_stop_s + drain_s + SHUTDOWN_DEADLINE_S
    if grace is None or grace <= need:
        bad(dep_rel, f"terminationGracePeriodSeconds is {grace}: it must exceed preStop "
            f"{pre_stop_s:g} s + --drain_grace_s {drain_s:g} s + shutdown "
            f"{SHUTDOWN_DEADLINE_S} s = {need:g} s, or streams are killed mid-drain")
    psc, csc = pod.get("securityContext") or {}, c.get("securityContext") or {}
    if not (psc.get("runAsNonRoot") or csc.get("runAsNonRoot")):
        bad(dep_rel, "securityContext.runAsNonRoot is not true")
    uid = csc.get("runAsUser", psc.get("runAsUser"))
    if uid == 0:
        bad(dep_rel, "securityContext.runAsUser is 0 (root)")
    if csc.get("allowPrivilegeEscalation") is not False:
        bad(dep_rel, "container securityContext.allowPrivilegeEscalation is not false")

    # ---- volumes: the model read-only, the Secret holding what the flags name ----
    ckpt = flags.get("checkpoint", "/models/default")
    m = mount_for(ckpt)
    if not m:
        bad(dep_rel, f"nothing is mounted at --checkpoint={ckpt}")
    else:
        if not m.get("readOnly"):
            bad(dep_rel, f"the model mount {m['mountPath']} is not readOnly")
        vol = volumes.get(m.get("name")) or {}
        claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
        if claim:
            pvcs = [d["metadata"]["name"] for _, d in of_kind("PersistentVolumeClaim")]
            if claim not in pvcs:
                bad(dep_rel, f"the model volume claims {claim}, no such PersistentVolumeClaim")
    secrets = {d["metadata"].get("name"): d for _, d in of_kind("Secret")}
    secret_flags = [f for f in ("api_keys_file", "tls_cert", "tls_key") if flags.get(f)]
    if flags and "api_keys_file" not in secret_flags:
        bad("k8s ConfigMap flags", "no --api_keys_file: the server would accept anyone")
    for f in secret_flags:
        path = flags[f]
        m = mount_for(path)
        vol = volumes.get(m.get("name")) if m else None
        if not vol or "secret" not in vol:
            bad(dep_rel, f"--{f}={path} is not on a Secret volume mount")
            continue
        name = vol["secret"].get("secretName")
        key = os.path.relpath(path, m["mountPath"])
        s = secrets.get(name)
        if s is None:
            bad(dep_rel, f"volume {m['name']} names Secret {name}, which is not listed")
        elif key not in {**(s.get("data") or {}), **(s.get("stringData") or {})}:
            bad("k8s Secret " + name, f"has no key {key} (--{f}={path})")
    for name, s in secrets.items():
        keys = {**(s.get("data") or {}), **(s.get("stringData") or {})}
        for key in ("tls.crt", "tls.key"):
            if key not in keys:
                bad("k8s Secret " + name, f"has no {key} (TLS for --tls_cert/--tls_key)")

    # ---- Services, HPA, PDB ----
    def selects_pod(selector):
        return bool(selector) and all(pod_labels.get(k) == v for k, v in selector.items())

    def target_port(p):
        t = p.get("targetPort", p.get("port"))
        return ports.get(t) if isinstance(t, str) else t

    services = of_kind("Service")
    headless = [d for _, d in services if (d.get("spec") or {}).get("clusterIP") == "None"]
    if not headless:
        bad(kust_rel, "no headless Service (clusterIP: None) for client-side load balancing")
    if not [d for _, d in services if (d.get("spec") or {}).get("clusterIP") != "None"]:
        bad(kust_rel, "no ClusterIP Service")
    for rel, svc in services:
        spec = svc.get("spec") or {}
        name = svc["metadata"].get("name")
        if not selects_pod(spec.get("selector")):
            bad(rel, f"Service {name}'s selector does not match the Deployment's pods")
        if grpc_port not in [target_port(p) for p in spec.get("ports") or []]:
            bad(rel, f"Service {name} has no port to the gRPC port {grpc_port}")
    adapter = (b["yaml"].get(os.path.join("k8s", "prometheus-adapter-values.yaml")) or [{}])[0]
    served = {((r.get("name") or {}).get("as")) for r in
              ((adapter.get("rules") or {}).get("custom") or [])}
    for rel, hpa in of_kind("HorizontalPodAutoscaler"):
        spec = hpa.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        if (ref.get("kind"), ref.get("name"), ref.get("apiVersion")) != (
                "Deployment", dep_name, "apps/v1"):
            bad(rel, f"scaleTargetRef is {ref}, not apps/v1 Deployment {dep_name}")
        if not spec.get("metrics"):
            bad(rel, "no metrics")
        for metric in spec.get("metrics") or []:
            if metric.get("type") == "Pods":
                mname = ((metric.get("pods") or {}).get("metric") or {}).get("name")
                if mname not in served:
                    bad(rel, f"scales on {mname}, which prometheus-adapter-values.yaml does not "
                        "serve")
        if (spec.get("minReplicas") or 1) > (spec.get("maxReplicas") or 0):
            bad(rel, "minReplicas > maxReplicas")
    for rel, pdb in of_kind("PodDisruptionBudget"):
        if not selects_pod(((pdb.get("spec") or {}).get("selector") or {}).get("matchLabels")):
            bad(rel, "the PodDisruptionBudget's selector does not match the Deployment's pods")

    # ---- overlays: each JSON-patch path exists in the object it patches ----
    for rel, docs in b["yaml"].items():
        if rel == kust_rel or os.path.basename(rel) != "kustomization.yaml":
            continue
        for p in (docs[0].get("patches") or []) if docs else []:
            target = p.get("target") or {}
            objs = [d for _, d in objects if d.get("kind") == target.get("kind")
                    and d["metadata"].get("name") == target.get("name")]
            if not objs:
                bad(rel, f"patches {target}, which the base does not have")
                continue
            for op in yaml.safe_load(p.get("patch", "")) or []:
                node = objs[0]
                for part in op.get("path", "").split("/")[1:]:
                    part = part.replace("~1", "/").replace("~0", "~")
                    node = (node[int(part)] if isinstance(node, list) and part.isdigit()
                            and int(part) < len(node)
                            else node.get(part) if isinstance(node, dict) else None)
                    if node is None:
                        break
                if op.get("op") in ("remove", "replace") and node is None:
                    bad(rel, f"{op.get('op')} {op.get('path')}: no such path in the base")

    # ---- the Containerfiles ----
    if not b["containerfiles"]:
        bad("deploy", "no Containerfile.*")
    for rel, text in b["containerfiles"].items():
        joined = re.sub(r"\\\n", " ", text)
        lines = [l.strip() for l in joined.splitlines() if l.strip() and not
                 l.strip().startswith("#")]
        last_from = max((i for i, l in enumerate(lines) if l.upper().startswith("FROM ")),
                        default=-1)
        final = lines[last_from:]  # the runtime stage is the image
        users = [l.split(None, 1)[1] for l in final if l.upper().startswith("USER ")]
        if not users:
            bad(rel, "no USER in the final stage: the server would run as root")
        elif users[-1].split(":")[0] in ("root", "0"):
            bad(rel, f"USER {users[-1]} is root")
        elif uid is not None and users[-1].split(":")[0] != str(uid):
            bad(rel, f"USER {users[-1]} is not the Deployment's runAsUser {uid}")
        exposed = set()
        for l in final:
            if l.upper().startswith("EXPOSE "):
                exposed |= {int(p.split("/")[0]) for p in l.split()[1:]}
        for want in (50051, 9090):
            if want not in exposed:
                bad(rel, f"does not EXPOSE {want}")
        hcs = [l for l in final if l.upper().startswith("HEALTHCHECK ")]
        if not hcs or "mot-cli" not in hcs[-1] or "health" not in hcs[-1]:
            bad(rel, "no HEALTHCHECK running mot-cli health")
        elif not re.search(r":50051\b", hcs[-1]):
            bad(rel, "the HEALTHCHECK does not check port 50051")
        eps = [l for l in final if l.upper().startswith("ENTRYPOINT ")]
        ep = eps[-1] if eps else ""
        for flag, want in (("address", 50051), ("metrics_address", 9090)):
            m = re.search(rf"--{flag}=([^\"'\s,]+)", ep)
            if not m or port_of(m.group(1)) != want or not m.group(1).startswith("0.0.0.0:"):
                bad(rel, f"ENTRYPOINT does not set --{flag}=0.0.0.0:{want}")
        if "--checkpoint=/models/default" not in ep:
            bad(rel, "ENTRYPOINT does not set --checkpoint=/models/default")

    # ---- compose ----
    compose = (b["yaml"].get("compose.yaml") or [{}])[0]
    svc = (compose.get("services") or {}).get("mot-server")
    if not svc:
        bad("compose.yaml", "no service mot-server")
    else:
        published = " ".join(map(str, svc.get("ports") or []))
        for want in (50051, 9090):
            if not re.search(rf":{want}\b", published):
                bad("compose.yaml", f"does not publish container port {want}")
        model = [v for v in svc.get("volumes") or [] if isinstance(v, dict)
                 and v.get("target") == "/models/default"]
        if not model or not model[0].get("read_only"):
            bad("compose.yaml", "/models/default is not a read_only volume")
        test = " ".join(map(str, (svc.get("healthcheck") or {}).get("test") or []))
        if "mot-cli health" not in test:
            bad("compose.yaml", "the healthcheck does not run mot-cli health")
        cdrain = drain_s
        for a in svc.get("command") or []:
            m = re.fullmatch(r"--drain_grace_s=(\S+)", str(a))
            if m:
                cdrain = float(m.group(1))
        sg = duration_s(svc.get("stop_grace_period", "10s"))
        if sg is None or sg <= cdrain + SHUTDOWN_DEADLINE_S:
            bad("compose.yaml", f"stop_grace_period {svc.get('stop_grace_period', '10s')} does "
                f"not exceed --drain_grace_s {cdrain:g} s + {SHUTDOWN_DEADLINE_S} s")
    return problems


def render_checks(deploy_dir):
    """Renders every kustomization with `kubectl kustomize` (offline) where kubectl exists.

    Returns (problems, note). The CPU overlay's output must hold no GPU request."""
    kubectl = shutil.which("kubectl")
    if not kubectl:
        return [], "kubectl not on PATH: kustomize rendering not checked"
    problems, rendered = [], 0
    for root, dirs, files in os.walk(os.path.join(deploy_dir, "k8s")):
        dirs.sort()
        if "kustomization.yaml" not in files:
            continue
        rel = os.path.relpath(root, deploy_dir)
        try:
            r = subprocess.run([kubectl, "kustomize", root], capture_output=True, text=True,
                               timeout=120)
        except subprocess.TimeoutExpired:
            problems.append(f"{rel}: kubectl kustomize timed out")
            continue
        if r.returncode != 0:
            problems.append(f"{rel}: kubectl kustomize failed: {r.stderr.strip()}")
            continue
        rendered += 1
        docs = [d for d in yaml.safe_load_all(r.stdout) if isinstance(d, dict)]
        deps = [d for d in docs if d.get("kind") == "Deployment"]
        if not deps:
            problems.append(f"{rel}: renders no Deployment")
        if os.path.basename(root) == "cpu" and GPU_RESOURCE in r.stdout:
            problems.append(f"{rel}: the CPU overlay still mentions {GPU_RESOURCE}")
    return problems, f"kubectl kustomize rendered {rendered} kustomization(s)"


def self_test(deploy_dir):
    """Each break below must be reported; the unbroken bundle must pass."""
    base = load_bundle(deploy_dir)
    if check(base):
        print("validate_manifests: the manifests themselves fail; fix them first")
        return 1

    def deployment(b):
        return next(d for d in b["yaml"]["k8s/base/deployment.yaml"] if d.get("kind") == "Deployment")

    def container(b):
        return deployment(b)["spec"]["template"]["spec"]["containers"][0]

    def flags_cm(b):
        return b["yaml"]["k8s/base/configmap.yaml"][0]["data"]

    def secret(b):
        return b["yaml"]["k8s/base/secret.yaml"][0]["stringData"]

    def set_cf(b, old, new):
        for k in b["containerfiles"]:
            b["containerfiles"][k] = b["containerfiles"][k].replace(old, new)

    breaks = {
        "probe port": (lambda b: container(b)["readinessProbe"]["grpc"].update(port=50052),
                       "readinessProbe checks port 50052"),
        "server port moved": (lambda b: flags_cm(b).update(flags=flags_cm(b)["flags"].replace(
            "0.0.0.0:50051", "0.0.0.0:6000")), "containerPort grpc is 50051"),
        "grace too short": (lambda b: deployment(b)["spec"]["template"]["spec"].update(
            terminationGracePeriodSeconds=30), "terminationGracePeriodSeconds is 30"),
        "root": (lambda b: deployment(b)["spec"]["template"]["spec"]["securityContext"].pop(
            "runAsNonRoot"), "runAsNonRoot"),
        "secret key": (lambda b: secret(b).pop("api_keys"), "has no key api_keys"),
        "hpa target": (lambda b: b["yaml"]["k8s/base/hpa.yaml"][0]["spec"]["scaleTargetRef"].update(
            name="other"), "scaleTargetRef"),
        "no startup probe": (lambda b: container(b).pop("startupProbe"), "no startupProbe"),
        "no gpu": (lambda b: container(b)["resources"]["limits"].pop(GPU_RESOURCE),
                   "does not request nvidia.com/gpu"),
        "model writable": (lambda b: container(b)["volumeMounts"][0].pop("readOnly"),
                           "is not readOnly"),
        "user root": (lambda b: set_cf(b, "USER 10001:10001", "USER root"), "is root"),
        "expose": (lambda b: set_cf(b, "EXPOSE 50051 9090", "EXPOSE 50051"),
                   "does not EXPOSE 9090"),
        "healthcheck": (lambda b: set_cf(b, "HEALTHCHECK", "# HEALTHCHECK"), "no HEALTHCHECK"),
        "unlisted file": (lambda b: b["yaml"].update({"k8s/base/extra.yaml": []}),
                          "does not list extra.yaml"),
    }
    failed = 0
    for name, (mutate, expect) in breaks.items():
        b = copy.deepcopy(base)
        mutate(b)
        found = check(b)
        if not any(expect in p for p in found):
            print(f"self-test {name}: expected a problem containing '{expect}', got {found}")
            failed += 1
    print(f"validate_manifests self-test: {len(breaks) - failed}/{len(breaks)} breaks reported")
    return 1 if failed else 0


def main(argv):
    args = [a for a in argv[1:] if a != "--self-test"]
    deploy_dir = args[0] if args else os.path.dirname(os.path.abspath(__file__))
    if "--self-test" in argv:
        return self_test(deploy_dir)
    b = load_bundle(deploy_dir)
    problems = check(b)
    render_problems, note = render_checks(deploy_dir)
    problems += render_problems
    print(f"validate_manifests: {note}")
    if problems:
        print(f"validate_manifests: {len(problems)} problem(s) in {deploy_dir}:")
        for p in problems:
            print("  " + p)
        return 1
    n_objects = sum(len(d) for r, d in b["yaml"].items() if r.startswith("k8s"))
    print(f"validate_manifests: OK ({len(b['yaml'])} YAML files, {n_objects} documents in k8s/, "
          f"{len(b['containerfiles'])} Containerfiles)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
