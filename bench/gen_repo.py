#!/usr/bin/env python3
"""Deterministic generator of a synthetic Kubernetes config repository.

    python3 bench/gen_repo.py DIR [--files 10000] [--seed 42]
                                  [--image registry.example.com/group/helloworld]
                                  [--tag ci-34] [--check] [--git]
                                  [--summary-json FILE]

Writes DIR/{apps,charts,clusters}/... with --files YAML files (~4 KB average,
~40 MB for 10,000 files, a few files of 100-500 KB). About 1 file in 50
references --image at --tag in one of several forms (see FORMS below); every
other file references other images only. A few "near miss" files mention the
image in a way that is NOT a reference (comments, ConfigMap data, a longer
repository name, another registry) so that substring matching is punished.

Output is a pure function of (files, seed, image, tag): same arguments, same
bytes. DIR must not exist or be empty (it is never deleted by this script).
Only the standard library is needed, except for --check (PyYAML).

A one-line summary goes to stderr; --summary-json writes the same numbers as
JSON (the expected counts a correct bump must report).
"""

import argparse
import json
import os
import random
import subprocess
import sys

TEAMS = ["payments", "search", "identity", "checkout", "platform", "data",
         "growth", "mobile-api", "billing", "logistics", "media", "risk"]
ENVS = ["dev", "staging", "prod", "prod-eu", "prod-us"]
CLUSTERS = ["dev-1", "staging-1", "prod-eu-1", "prod-us-1", "prod-ap-1"]
HUB_IMAGES = ["nginx:1.25", "nginx:1.25.3-alpine", "redis:7.2", "redis:7.2.4-alpine",
              "busybox:1.36", "busybox", "postgres:16.1", "alpine:3.19",
              "bitnami/kubectl:1.29", "bitnami/postgresql:16.1.0",
              "quay.io/prometheus/node-exporter:v1.7.0",
              "ghcr.io/example-org/tooling/migrate:v0.3.1",
              "localhost:5000/tools/debug:latest", "docker.io/library/python:3.11-slim",
              "gcr.io/distroless/static:nonroot", "envoyproxy/envoy:v1.29.1"]
WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima "
         "mike november oscar papa quebec romeo sierra tango uniform victor whiskey "
         "xray yankee zulu cache timeout retry backoff worker queue shard region "
         "replica endpoint token secret pool limit buffer stream batch").split()

# form name -> weight; every reference the generator writes is one of these.
FORMS = {
    "image_plain": 28,        # image: repo:tag
    "image_squote": 8,        # image: 'repo:tag'
    "image_dquote": 10,       # image: "repo:tag"
    "image_comment": 10,      # image: repo:tag # {"$imagepolicy": ...}
    "image_digest": 6,        # image: repo:tag@sha256:...
    "image_init": 6,          # initContainers (+ the main container) use the image
    "helm_registry": 8,       # image: {registry:, repository:, tag:, digest:} block
    "helm_repo": 6,           # image: {repository: full/repo, tag: "..."} block
    "helm_flow": 3,           # image: {repository: ..., tag: ...} flow mapping
    "kustomize_name": 8,      # images: - name: repo / newTag:
    "kustomize_newname": 5,   # images: - name: alias / newName: repo / newTag:
    "argocd": 6,              # spec.source.kustomize.images: ["repo:tag"]
}
# which file kinds can carry which forms
KIND_FORMS = {
    "deployment": ["image_plain", "image_squote", "image_dquote", "image_comment",
                   "image_digest", "image_init"],
    "statefulset": ["image_plain", "image_squote", "image_dquote", "image_comment", "image_digest"],
    "cronjob": ["image_plain", "image_squote", "image_dquote", "image_comment"],
    "patch": ["image_plain", "image_dquote", "image_comment"],
    "rendered": ["image_plain", "image_dquote", "image_digest"],
    "values": ["helm_registry", "helm_repo", "helm_flow"],
    "bigvalues": ["helm_registry", "helm_repo"],
    "kustomization": ["kustomize_name", "kustomize_newname"],
    "argo": ["argocd"],
}


class Gen:
    def __init__(self, seed, image, tag):
        self.rng = random.Random(seed)
        self.image = image
        self.tag = tag
        reg, _, rest = image.partition("/")
        # split "registry/path" the way Helm charts usually do
        if "." in reg or ":" in reg or reg == "localhost":
            self.image_registry, self.image_path = reg, rest
        else:
            self.image_registry, self.image_path = "docker.io", image
        self.form_counts = {f: 0 for f in FORMS}

    # ---------------------------------------------------------------- helpers
    def hexs(self, n):
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    def words(self, n, sep=" "):
        return sep.join(self.rng.choice(WORDS) for _ in range(n))

    def other_image(self):
        r = self.rng.random()
        if r < 0.6:
            repo = "registry.example.com/group/app-%04d" % self.rng.randint(1, 2500)
            t = self.rng.random()
            if t < 0.4:
                tag = "%d.%d.%d" % (self.rng.randint(0, 4), self.rng.randint(0, 30), self.rng.randint(0, 20))
            elif t < 0.7:
                tag = "ci-%d" % self.rng.randint(1, 900)
            elif t < 0.9:
                tag = "main-" + self.hexs(7)
            else:
                return repo + "@sha256:" + self.hexs(64)
            if self.rng.random() < 0.05:
                tag += "@sha256:" + self.hexs(64)
            return repo + ":" + tag
        return self.rng.choice(HUB_IMAGES)

    @staticmethod
    def split_image(ref):
        name, _, digest = ref.partition("@")
        slash = name.rfind("/")
        colon = name.rfind(":")
        if colon > slash:
            return name[:colon], name[colon + 1:], digest
        return name, "", digest

    def render_scalar(self, s, style):
        if style == "squote":
            return "'" + s.replace("'", "''") + "'"
        if style == "dquote":
            return '"' + s + '"'
        return s

    def target_ref(self, form):
        if form == "image_digest":
            return "%s:%s@sha256:%s" % (self.image, self.tag, self.hexs(64))
        return "%s:%s" % (self.image, self.tag)

    def count(self, form):
        self.form_counts[form] += 1

    # ------------------------------------------------------------ containers
    def container(self, L, ind, si, name, image, style="plain", comment=None, small=False):
        """Append one container list item; `ind` is the column of the '-'."""
        rng = self.rng
        p = " " * ind
        q = " " * (ind + 2)
        L.append(p + "- name: " + name)
        line = q + "image: " + self.render_scalar(image, style)
        if comment:
            line += "  # " + comment
        L.append(line)
        if rng.random() < 0.7:
            L.append(q + "imagePullPolicy: " + rng.choice(["IfNotPresent", "Always"]))
        if small:
            return
        if rng.random() < 0.4:
            L.append(q + "args:")
            for _ in range(rng.randint(1, 5)):
                L.append(q + " " * si + "- --" + self.words(1) + "=" + self.words(1))
        if rng.random() < 0.8:
            L.append(q + "ports:")
            for port in rng.sample([8080, 8081, 9090, 9091, 5432, 6379, 3000], rng.randint(1, 3)):
                L.append(q + " " * si + "- name: p%d" % port)
                L.append(q + " " * si + "  containerPort: %d" % port)
                L.append(q + " " * si + "  protocol: TCP")
        n_env = int(rng.lognormvariate(2.8, 0.8))
        if n_env:
            L.append(q + "env:")
            for i in range(min(n_env, 120)):
                k = (self.words(2, "_") + "_%d" % i).upper()
                e = q + " " * si
                r = rng.random()
                L.append(e + "- name: " + k)
                if r < 0.6:
                    L.append(e + "  value: " + rng.choice([
                        '"%d"' % rng.randint(0, 65535), '"true"', "'false'",
                        self.words(1), '"%s"' % self.words(3),
                        "https://%s.internal.example.com/%s" % (self.words(1), self.words(1))]))
                elif r < 0.85:
                    L.append(e + "  valueFrom:")
                    L.append(e + "    secretKeyRef:")
                    L.append(e + "      name: " + self.words(1) + "-secrets")
                    L.append(e + "      key: " + self.words(1))
                else:
                    L.append(e + "  valueFrom:")
                    L.append(e + "    fieldRef:")
                    L.append(e + "      fieldPath: metadata.namespace")
        L.append(q + "resources:")
        L.append(q + "  requests:")
        L.append(q + "    cpu: %dm" % rng.choice([50, 100, 250, 500]))
        L.append(q + "    memory: %dMi" % rng.choice([64, 128, 256, 512]))
        L.append(q + "  limits:")
        L.append(q + "    memory: %dMi" % rng.choice([256, 512, 1024]))
        if rng.random() < 0.6:
            for probe in ("livenessProbe", "readinessProbe"):
                L.append(q + probe + ":")
                L.append(q + "  httpGet:")
                L.append(q + "    path: /" + rng.choice(["healthz", "ready", "live", "status"]))
                L.append(q + "    port: " + rng.choice(["http", "8080", "p8080"]))
                L.append(q + "  periodSeconds: %d" % rng.choice([5, 10, 15]))
        if rng.random() < 0.5:
            L.append(q + "volumeMounts:")
            for _ in range(rng.randint(1, 3)):
                L.append(q + " " * si + "- name: " + self.words(1))
                L.append(q + " " * si + "  mountPath: /etc/" + self.words(1))
                if rng.random() < 0.3:
                    L.append(q + " " * si + "  readOnly: true")

    def pod_spec(self, L, ind, si, app, target_form=None, n_containers=None):
        """Pod spec keys at column `ind`. Returns nothing; counts target forms."""
        rng = self.rng
        p = " " * ind
        if rng.random() < 0.5:
            L.append(p + "serviceAccountName: " + app)
        init = []
        if target_form == "image_init":
            init.append(("migrate", self.target_ref("image_plain"), "plain", None))
            self.count("image_init")
        elif rng.random() < 0.2:
            init.append(("init-" + self.words(1), self.other_image(), "plain", None))
        if init:
            L.append(p + "initContainers:")
            for (n, im, st, cm) in init:
                self.container(L, ind + si, si, n, im, st, cm, small=True)
        L.append(p + "containers:")
        n = n_containers or (1 if rng.random() < 0.6 else rng.randint(2, 3))
        tpos = rng.randrange(n) if target_form else -1
        for i in range(n):
            name = app if i == 0 else self.words(1) + "-sidecar"
            style, comment = rng.choice(["plain"] * 6 + ["dquote"] * 2 + ["squote"]), None
            if rng.random() < 0.08:
                comment = '{"$imagepolicy": "flux-system:%s"}' % name
            if i == tpos:
                f = "image_plain" if target_form == "image_init" else target_form
                img = self.target_ref(f)
                style = {"image_squote": "squote", "image_dquote": "dquote"}.get(f, "plain")
                comment = None
                if f == "image_comment":
                    comment = rng.choice(['{"$imagepolicy": "flux-system:helloworld"}',
                                          "bumped by CI", "keep in sync with overlays/prod",
                                          "image: do-not-edit-by-hand"])
                self.count(f)
            else:
                img = self.other_image()
            self.container(L, ind + si, si, name, img, style, comment)
        if rng.random() < 0.3:
            L.append(p + "nodeSelector:")
            L.append(p + "  kubernetes.io/os: linux")
        if rng.random() < 0.3:
            L.append(p + "tolerations:")
            L.append(p + " " * si + "- key: dedicated")
            L.append(p + " " * si + "  operator: Equal")
            L.append(p + " " * si + "  value: " + self.words(1))
            L.append(p + " " * si + "  effect: NoSchedule")
        if rng.random() < 0.4:
            L.append(p + "volumes:")
            L.append(p + " " * si + "- name: config")
            L.append(p + " " * si + "  configMap:")
            L.append(p + " " * si + "    name: " + app + "-config")

    def metadata(self, L, name, ns, labels_anchor=False, team="platform"):
        L.append("metadata:")
        L.append("  name: " + name)
        L.append("  namespace: " + ns)
        L.append("  labels:" + (" &labels" if labels_anchor else ""))
        L.append("    app.kubernetes.io/name: " + name)
        L.append("    app.kubernetes.io/part-of: " + team)
        if self.rng.random() < 0.5:
            L.append('    app.kubernetes.io/version: "%d.%d"' % (self.rng.randint(0, 9), self.rng.randint(0, 40)))
        if self.rng.random() < 0.4:
            L.append("  annotations:")
            L.append("    example.com/owner: team-" + team)
            L.append('    example.com/description: "%s"' % self.words(8))

    # ---------------------------------------------------------------- kinds
    def workload(self, kind, app, ns, team, target_form, si):
        rng = self.rng
        L = []
        if rng.random() < 0.3:
            L.append("# yaml-language-server: $schema=https://json.example.com/%s.json" % kind.lower())
        if rng.random() < 0.3:
            L.append("---")
        anchor = rng.random() < 0.35
        L.append("apiVersion: " + ("batch/v1" if kind == "CronJob" else "apps/v1"))
        L.append("kind: " + kind)
        self.metadata(L, app, ns, anchor, team)
        L.append("spec:")
        if kind == "CronJob":
            L.append('  schedule: "%d */%d * * *"' % (rng.randint(0, 59), rng.randint(1, 6)))
            L.append("  concurrencyPolicy: Forbid")
            L.append("  jobTemplate:")
            L.append("    spec:")
            L.append("      backoffLimit: 2")
            L.append("      template:")
            L.append("        spec:")
            L.append("          restartPolicy: OnFailure")
            self.pod_spec(L, 10, si, app, target_form, n_containers=1)
        else:
            if kind == "StatefulSet":
                L.append("  serviceName: " + app)
            L.append("  replicas: %d" % rng.choice([1, 2, 3, 5]))
            L.append("  selector:")
            if anchor:
                L.append("    matchLabels: *labels")
            else:
                L.append("    matchLabels:")
                L.append("      app.kubernetes.io/name: " + app)
            L.append("  template:")
            L.append("    metadata:")
            if anchor:
                L.append("      labels: *labels")
            else:
                L.append("      labels:")
                L.append("        app.kubernetes.io/name: " + app)
            L.append("    spec:")
            self.pod_spec(L, 6, si, app, target_form)
            if kind == "StatefulSet":
                L.append("  volumeClaimTemplates:")
                L.append(" " * (2 + si) + "- metadata:")
                L.append(" " * (2 + si) + "    name: data")
                L.append(" " * (2 + si) + "  spec:")
                L.append(" " * (2 + si) + "    accessModes: [ReadWriteOnce]")
                L.append(" " * (2 + si) + "    resources:")
                L.append(" " * (2 + si) + "      requests:")
                L.append(" " * (2 + si) + "        storage: %dGi" % rng.choice([1, 10, 50]))
        # multi-doc: Service / PDB / HPA appended to the same file
        for _ in range(rng.choice([0, 0, 1, 1, 2])):
            L.append("---")
            L.extend(self.small_doc(app, ns, team))
        return L

    def small_doc(self, app, ns, team):
        rng = self.rng
        r = rng.random()
        L = []
        if r < 0.5:
            L += ["apiVersion: v1", "kind: Service"]
            self.metadata(L, app, ns, False, team)
            L += ["spec:", "  type: ClusterIP", "  selector:", "    app.kubernetes.io/name: " + app, "  ports:"]
            for port in rng.sample([80, 443, 8080, 9090], rng.randint(1, 2)):
                L += ["  - name: p%d" % port, "    port: %d" % port, "    targetPort: %d" % port]
        elif r < 0.75:
            L += ["apiVersion: policy/v1", "kind: PodDisruptionBudget"]
            self.metadata(L, app, ns, False, team)
            L += ["spec:", "  minAvailable: 1", "  selector:", "    matchLabels:",
                  "      app.kubernetes.io/name: " + app]
        else:
            L += ["apiVersion: autoscaling/v2", "kind: HorizontalPodAutoscaler"]
            self.metadata(L, app, ns, False, team)
            L += ["spec:", "  scaleTargetRef:", "    apiVersion: apps/v1", "    kind: Deployment",
                  "    name: " + app, "  minReplicas: 2", "  maxReplicas: %d" % rng.randint(3, 30),
                  "  metrics:", "  - type: Resource", "    resource:", "      name: cpu",
                  "      target:", "        type: Utilization", "        averageUtilization: 70"]
        return L

    def configmap(self, app, ns, team, target_bytes, near_miss=False):
        rng = self.rng
        L = ["apiVersion: v1", "kind: ConfigMap"]
        self.metadata(L, app + "-config", ns, False, team)
        L.append("data:")
        size = sum(len(x) + 1 for x in L)
        kinds = ["props", "yaml", "json", "kv"]
        entry = 0
        while size < target_bytes:
            entry += 1
            k = rng.choice(kinds)
            lines = []
            if k == "kv":
                key = self.words(2, "_").upper() + "_%d" % entry
                lines.append('  %s: "%s"' % (key, self.words(rng.randint(1, 6))))
            else:
                fname = self.words(1) + "-%d" % entry + {"props": ".properties", "yaml": ".yaml", "json": ".json"}[k]
                lines.append("  %s: |" % fname)
                n = max(3, int(rng.lognormvariate(3.0, 1.0)))
                n = min(n, max(3, (target_bytes - size) // 40 + 3))
                if k == "props":
                    for _ in range(n):
                        lines.append("    %s.%s=%s" % (self.words(1), self.words(2, "."), self.words(rng.randint(1, 4), "-")))
                elif k == "yaml":
                    for i in range(n):
                        lines.append("    %s%s: %s" % ("  " * (i % 3), self.words(1) + str(i), self.words(rng.randint(1, 3))))
                else:
                    lines.append("    {")
                    for i in range(n):
                        lines.append('      "%s_%d": "%s",' % (self.words(1), i, self.words(rng.randint(1, 5))))
                    lines.append('      "end": true')
                    lines.append("    }")
            L.extend(lines)
            size += sum(len(x) + 1 for x in lines)
        if near_miss:
            # mentions of the image that are NOT references a bump may touch
            L.append("  DEPLOY_NOTES: |")
            L.append("    upstream image %s:%s is built by CI" % (self.image, self.tag))
            L.append('  UPSTREAM_IMAGE: "%s:%s"' % (self.image, self.tag))
        return L

    def kustomization(self, app, ns, overlay, target_form, si):
        rng = self.rng
        L = ["apiVersion: kustomize.config.k8s.io/v1beta1", "kind: Kustomization"]
        if overlay:
            L += ["namespace: " + ns, "resources:", " " * si + "- ../../base"]
            if rng.random() < 0.7:
                L += ["patches:", " " * si + "- path: patch-deployment.yaml"]
        else:
            L += ["resources:"] + [" " * si + "- " + f for f in ("deployment.yaml", "service.yaml", "configmap.yaml")]
            L += ["labels:", " " * si + "- includeSelectors: true", " " * si + "  pairs:",
                  " " * si + "    app.kubernetes.io/name: " + app]
        entries = []
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            repo, tag, digest = self.split_image(self.other_image())
            alias = rng.random() < 0.3
            entries.append((repo.rsplit("/", 1)[-1] if alias else repo, repo if alias else None,
                            tag or None, digest or None))
        if target_form:
            t = (self.image, None, self.tag, None) if target_form == "kustomize_name" else \
                ("helloworld", self.image, self.tag, None)
            entries.insert(rng.randrange(len(entries) + 1), t)
            self.count(target_form)
        L.append("images:")
        d = " " * si
        for (name, new_name, tag, digest) in entries:
            L.append(d + "- name: " + name)
            if new_name:
                L.append(d + "  newName: " + new_name)
            if tag:
                quoted = tag[0].isdigit() or rng.random() < 0.3
                L.append(d + "  newTag: " + ('"%s"' % tag if quoted else tag)
                         + ("  # bumped by CI" if rng.random() < 0.1 else ""))
            if digest:
                L.append(d + "  digest: " + digest)
        if rng.random() < 0.3:
            L += ["configMapGenerator:", d + "- name: " + app + "-env", d + "  literals:",
                  d + "  - LOG_LEVEL=" + rng.choice(["info", "debug"])]
        return L

    def patch(self, app, ns, target_form, si):
        L = ["apiVersion: apps/v1", "kind: Deployment", "metadata:", "  name: " + app, "spec:",
             "  replicas: %d" % self.rng.choice([1, 2, 4, 6]), "  template:", "    spec:"]
        L.append("      containers:")
        if target_form:
            f = target_form
            self.count(f)
            st = "dquote" if f == "image_dquote" else "plain"
            c = "bumped by CI" if f == "image_comment" else None
            self.container(L, 6 + si, si, app, self.target_ref(f), st, c, small=True)
        else:
            self.container(L, 6 + si, si, app, self.other_image(), "plain", None, small=True)
        c = " " * (8 + si)
        L += [c + "resources:", c + "  limits:", c + "    memory: %dMi" % self.rng.choice([512, 1024])]
        return L

    def helm_image_block(self, L, ind, ref=None, form=None):
        """image: mapping at column ind. ref is a full image ref (other image) or None for target."""
        rng = self.rng
        p = " " * ind
        if form:
            self.count(form)
            if form == "helm_registry":
                L += [p + "image:", p + "  registry: " + self.image_registry,
                      p + "  repository: " + self.image_path,
                      p + "  tag: " + rng.choice([self.tag, '"%s"' % self.tag]),
                      p + '  digest: ""', p + "  pullPolicy: IfNotPresent"]
            elif form == "helm_repo":
                L += [p + "image:", p + "  repository: " + self.image,
                      p + '  tag: "%s"  # overwritten by CI' % self.tag, p + "  pullPolicy: Always"]
            else:
                L += [p + "image: {repository: %s, tag: %s}" % (self.image, self.tag)]
            return
        repo, tag, _ = self.split_image(ref)
        tag = tag or "latest"
        if rng.random() < 0.5 and "/" in repo and ("." in repo.split("/")[0]):
            reg, path = repo.split("/", 1)
            L += [p + "image:", p + "  registry: " + reg, p + "  repository: " + path,
                  p + '  tag: "%s"' % tag, p + '  digest: ""']
        elif rng.random() < 0.1:
            L += [p + "image: {repository: %s, tag: '%s'}" % (repo, tag)]
        else:
            # unquoted numeric-looking tags become floats (a classic gotcha)
            L += [p + "image:", p + "  repository: " + repo,
                  p + "  tag: " + (tag if rng.random() < 0.15 else '"%s"' % tag)]

    def values(self, chart, target_form, big_bytes=0):
        rng = self.rng
        L = ["# Default values for %s." % chart, "# This is a YAML-formatted file.", ""]
        L += ["replicaCount: %d" % rng.randint(1, 5), ""]
        tgt_pos = rng.randrange(3) if target_form else -1
        if tgt_pos == 0:
            self.helm_image_block(L, 0, form=target_form)
        else:
            self.helm_image_block(L, 0, ref=self.other_image())
        L += ["", "defaults: &defaults", "  resources:", "    requests:", "      cpu: 100m",
              "      memory: 128Mi", "  podSecurityContext:", "    runAsNonRoot: true", ""]
        L += ["imagePullSecrets: []", 'nameOverride: ""', 'fullnameOverride: ""', "",
              "service:", "  type: ClusterIP", "  port: 80", "",
              "ingress:", "  enabled: %s" % rng.choice(["true", "false"]), "  hosts:",
              "    - host: %s.example.com" % chart, "      paths:", "        - path: /",
              "          pathType: Prefix", ""]
        subs = ["worker", "scheduler", "redis", "metrics"]
        for i, sub in enumerate(rng.sample(subs, rng.randint(1, 3))):
            L.append(sub + ":")
            L.append("  <<: *defaults")
            L.append("  enabled: true")
            if i + 1 == tgt_pos:
                self.helm_image_block(L, 2, form=target_form)
            else:
                self.helm_image_block(L, 2, ref=self.other_image())
            L.append("")
        if tgt_pos > i + 1:
            # fewer subcharts than tgt_pos: put it in a dedicated section
            L.append("helloworld:")
            self.helm_image_block(L, 2, form=target_form)
        n = 0
        size = sum(len(x) + 1 for x in L)
        while size < big_bytes:
            n += 1
            sec = ["service%04d:" % n, "  enabled: %s" % rng.choice(["true", "false"])]
            self.helm_image_block(sec, 2, ref=self.other_image())
            sec += ["  env:"] + ["    %s_%d: \"%s\"" % (self.words(2, "_").upper(), j, self.words(2)) for j in range(rng.randint(2, 12))]
            L += sec
            size += sum(len(x) + 1 for x in sec)
        # real values files are mostly documented settings
        L.append("config:")
        for j in range(int(rng.lognormvariate(4.3, 0.7))):
            if rng.random() < 0.5:
                L.append("  ## %s" % self.words(rng.randint(4, 12)).capitalize())
            k = self.words(1) + self.words(1).capitalize() + str(j)
            v = rng.choice(['"%s"' % self.words(2), str(rng.randint(0, 5000)), "true", "false", "null", "[]", "{}"])
            L.append(("  # %s: %s" if rng.random() < 0.3 else "  %s: %s") % (k, v))
        L += ["nodeSelector: {}", "tolerations: []", "affinity: {}"]
        return L

    def argo(self, app, team, cluster, env, target_form):
        rng = self.rng
        flow = rng.random() < 0.5
        imgs = [self.other_image().split("@")[0] for _ in range(rng.choice([0, 1, 1, 2]))]
        if target_form:
            imgs.insert(rng.randrange(len(imgs) + 1), "%s:%s" % (self.image, self.tag))
            self.count(target_form)
        L = ["apiVersion: argoproj.io/v1alpha1", "kind: Application", "metadata:",
             "  name: %s-%s" % (app, env), "  namespace: argocd",
             "  finalizers:", "    - resources-finalizer.argocd.argoproj.io", "spec:",
             "  project: " + team, "  source:",
             "    repoURL: https://git.example.com/platform/config.git",
             "    targetRevision: main", "    path: apps/%s/%s/overlays/%s" % (team, app, env)]
        if imgs:
            L.append("    kustomize:")
            if flow:
                L.append("      images: [%s]" % ", ".join('"%s"' % i for i in imgs))
            else:
                L.append("      images:")
                L += ["        - " + i for i in imgs]
        L += ["  destination:", "    server: https://%s.k8s.example.com" % cluster,
              "    namespace: " + app, "  syncPolicy:", "    automated:", "      prune: true",
              "      selfHeal: true", "    syncOptions:", "      - CreateNamespace=true"]
        return L

    def rendered(self, cluster, target_form, big_bytes, si):
        """A big multi-doc rendered manifest (kustomize build output)."""
        L = ["# Source: rendered by `kustomize build` for %s -- do not edit" % cluster]
        size = 0
        i = 0
        tpos = self.rng.randrange(6) if target_form else -1
        while size < big_bytes or i <= tpos:
            i += 1
            doc = self.workload(self.rng.choice(["Deployment", "Deployment", "StatefulSet"]),
                                "svc-%04d" % i, "ns-%02d" % (i % 40), self.rng.choice(TEAMS),
                                target_form if i - 1 == tpos else None, si)
            while doc and (doc[0] == "---" or doc[0].startswith("#")):
                doc = doc[1:]
            if i > 1:
                L.append("---")
            L.extend(doc)
            size += sum(len(x) + 1 for x in doc)
        return L

    def near_miss_workload(self, app, ns, team, si):
        L = ["# this app used to run %s:ci-12 (see INC-%d)" % (self.image, self.rng.randint(100, 999))]
        L += self.workload("Deployment", app, ns, team, None, si)
        # replace the first container image with a look-alike repository
        lookalike = self.rng.choice([self.image + "-worker", self.image + "/sidecar",
                                     "other.example.com/" + self.image.split("/", 1)[-1]])
        for j, x in enumerate(L):
            if x.lstrip().startswith("image: "):
                ind = x[:len(x) - len(x.lstrip())]
                L[j] = "%simage: %s:%s" % (ind, lookalike, self.tag)
                break
        return L


def plan_files(gen, n_files):
    """Deterministic list of (path, kind, ctx) with exactly n_files entries."""
    rng = gen.rng
    plan = []
    app_no = 0
    while len(plan) < n_files:
        app_no += 1
        team = TEAMS[app_no % len(TEAMS)]
        app = "%s-%s-%04d" % (team.split("-")[0], rng.choice(WORDS), app_no)
        base = "apps/%s/%s" % (team, app)
        ns = team
        ctx = dict(app=app, team=team, ns=ns)
        plan.append((base + "/base/deployment.yaml", "deployment", ctx))
        plan.append((base + "/base/kustomization.yaml", "kustomization", ctx))
        plan.append((base + "/base/configmap.yaml", "configmap", ctx))
        if rng.random() < 0.5:
            plan.append((base + "/base/service.yaml", "service", ctx))
        if rng.random() < 0.2:
            plan.append((base + "/base/cronjob.yaml", "cronjob", ctx))
        if rng.random() < 0.15:
            plan.append((base + "/base/statefulset.yml", "statefulset", ctx))
        envs = rng.sample(ENVS, rng.randint(1, 4))
        for env in envs:
            o = "%s/overlays/%s" % (base, env)
            plan.append((o + "/kustomization.yaml", "kustomization_overlay", ctx))
            if rng.random() < 0.6:
                plan.append((o + "/patch-deployment.yaml", "patch", ctx))
            if rng.random() < 0.4:
                plan.append((o + "/configmap.yaml", "configmap", ctx))
            cluster = CLUSTERS[ENVS.index(env) % len(CLUSTERS)]
            plan.append(("clusters/%s/apps/%s-%s.yaml" % (cluster, app, env), "argo",
                         dict(ctx, cluster=cluster, env=env)))
        if rng.random() < 0.3:
            plan.append(("charts/%s/values.yaml" % app, "values", ctx))
            if rng.random() < 0.5:
                plan.append(("charts/%s/values-prod.yaml" % app, "values", ctx))
    plan = plan[:n_files]
    # a few large files (100-500 KB): ~1 per 500 files, at least one
    n_large = max(1, n_files // 500)
    idx = rng.sample(range(len(plan)), n_large)
    for j, i in enumerate(sorted(idx)):
        path, kind, ctx = plan[i]
        big = int(rng.uniform(100_000, 500_000))
        bk = ["bigconfig", "bigvalues", "rendered"][j % 3]
        d = os.path.dirname(path)
        name = {"bigconfig": "dashboards-configmap.yaml", "bigvalues": "values-all.yaml",
                "rendered": "rendered-all.yaml"}[bk]
        plan[i] = (d + "/" + name, bk, dict(ctx, big=big))
    return plan


def generate(out_dir, n_files, seed, image, tag):
    gen = Gen(seed, image, tag)
    rng = gen.rng
    plan = plan_files(gen, n_files)
    # choose target files: by form weight, then a compatible file
    n_target = max(1, round(n_files / 50))
    by_kind = {}
    for i, (_, kind, _) in enumerate(plan):
        k = "kustomization" if kind == "kustomization_overlay" else kind
        by_kind.setdefault(k, []).append(i)
    forms, weights = list(FORMS), list(FORMS.values())
    target = {}
    attempts = 0
    while len(target) < n_target and attempts < 100 * n_target:
        attempts += 1
        form = rng.choices(forms, weights)[0]
        kinds = [k for k, fs in KIND_FORMS.items() if form in fs and by_kind.get(k)]
        if not kinds:
            continue
        k = rng.choice(kinds)
        i = rng.choice(by_kind[k])
        if i not in target:
            target[i] = form
    non_target = [i for i in range(len(plan)) if i not in target]
    crlf = set(rng.sample(non_target, min(len(non_target), max(1, n_files // 100))))
    crlf |= set(sorted(target)[:3])  # some CRLF files carry references too
    near = set(rng.sample(non_target, min(len(non_target), max(2, n_files // 200)))) - crlf
    total = 0
    crlf_ref_files = 0
    large = 0
    seen_paths = set()
    for i, (path, kind, ctx) in enumerate(plan):
        if path in seen_paths:  # big-file renames can collide: keep paths unique
            root, ext = os.path.splitext(path)
            path = "%s-%d%s" % (root, i, ext)
        seen_paths.add(path)
        tf = target.get(i)
        si = 2 if rng.random() < 0.5 else 0  # '- ' indented under its key or not
        app, ns, team = ctx["app"], ctx["ns"], ctx["team"]
        if kind == "deployment":
            L = gen.near_miss_workload(app, ns, team, si) if i in near else \
                gen.workload("Deployment", app, ns, team, tf, si)
        elif kind == "statefulset":
            L = gen.workload("StatefulSet", app + "-db", ns, team, tf, si)
        elif kind == "cronjob":
            L = gen.workload("CronJob", app + "-cron", ns, team, tf, si)
        elif kind == "service":
            L = gen.small_doc(app, ns, team)
        elif kind == "configmap":
            L = gen.configmap(app, ns, team, int(min(80_000, rng.lognormvariate(9.1, 0.9))), i in near)
        elif kind == "bigconfig":
            L = gen.configmap(app + "-dashboards", ns, team, ctx["big"], i in near)
        elif kind in ("kustomization", "kustomization_overlay"):
            L = gen.kustomization(app, ns, kind == "kustomization_overlay", tf, si)
        elif kind == "patch":
            L = gen.patch(app, ns, tf, si)
        elif kind == "values":
            L = gen.values(app, tf)
        elif kind == "bigvalues":
            L = gen.values(app, tf, ctx["big"])
        elif kind == "argo":
            L = gen.argo(app, team, ctx["cluster"], ctx["env"], tf)
        elif kind == "rendered":
            L = gen.rendered(ctx.get("cluster", "prod-eu-1"), tf, ctx["big"], si)
        else:
            raise AssertionError(kind)
        if kind in ("bigconfig", "bigvalues", "rendered"):
            large += 1
        if i in near and kind not in ("deployment", "configmap", "bigconfig"):
            L.insert(0, "# note: %s:%s is the upstream base image" % (image, tag))
        if rng.random() < 0.005:
            L.append("---")  # trailing empty document
        nl = "\r\n" if i in crlf else "\n"
        data = (nl.join(L) + nl).encode()
        if i in crlf and tf:
            crlf_ref_files += 1
        full = os.path.join(out_dir, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as fh:
            fh.write(data)
        total += len(data)
    refs = sum(gen.form_counts.values())
    summary = dict(files=len(plan), bytes=total, ref_files=len(target), refs=refs,
                   forms=gen.form_counts, crlf_files=len(crlf), crlf_ref_files=crlf_ref_files,
                   near_miss_files=len(near), large_files=large, seed=seed,
                   image="%s:%s" % (image, tag))
    return summary


def check(out_dir):
    import yaml
    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # PyYAML silently accepts duplicate keys; real tools do not
        def construct_mapping(self, node, deep=False):
            keys = set()
            for k, _ in node.value:
                if k.tag != "tag:yaml.org,2002:merge":
                    if (k.tag, k.value) in keys:
                        raise yaml.constructor.ConstructorError(None, None, "duplicate key %r" % k.value, k.start_mark)
                    keys.add((k.tag, k.value))
            return super().construct_mapping(node, deep)
    n = docs = 0
    for root, dirs, files in os.walk(out_dir):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        for f in sorted(files):
            if f.endswith((".yaml", ".yml")):
                p = os.path.join(root, f)
                with open(p, "rb") as fh:
                    try:
                        docs += sum(1 for _ in yaml.load_all(fh, Loader=Loader))
                    except yaml.YAMLError as e:
                        sys.exit("check: %s does not parse: %s" % (p, e))
                n += 1
    print("check: %d files, %d documents parse with PyYAML safe_load_all (no duplicate keys)" % (n, docs),
          file=sys.stderr)


def git_commit(out_dir):
    env = dict(os.environ, GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.com",
               GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.com",
               GIT_AUTHOR_DATE="2024-01-01T00:00:00Z", GIT_COMMITTER_DATE="2024-01-01T00:00:00Z")
    for cmd in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"],
                ["git", "-c", "core.autocrlf=false", "commit", "-q", "-m", "synthetic config repo"]):
        subprocess.run(cmd, cwd=out_dir, env=env, check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--image", default="registry.example.com/group/helloworld")
    ap.add_argument("--tag", default="ci-34")
    ap.add_argument("--check", action="store_true", help="parse every file with PyYAML afterwards")
    ap.add_argument("--git", action="store_true", help="git init + commit the tree (deterministic)")
    ap.add_argument("--summary-json", help="write the summary as JSON here")
    a = ap.parse_args()
    if os.path.isdir(a.dir) and os.listdir(a.dir):
        sys.exit("gen_repo: %s exists and is not empty" % a.dir)
    os.makedirs(a.dir, exist_ok=True)
    s = generate(a.dir, a.files, a.seed, a.image, a.tag)
    forms = " ".join("%s=%d" % kv for kv in s["forms"].items())
    print("gen_repo: files=%d bytes=%d (%.1f MiB) ref_files=%d refs=%d [%s] crlf_files=%d "
          "(with refs %d) near_miss_files=%d large_files=%d seed=%d image=%s"
          % (s["files"], s["bytes"], s["bytes"] / 2**20, s["ref_files"], s["refs"], forms,
             s["crlf_files"], s["crlf_ref_files"], s["near_miss_files"], s["large_files"],
             s["seed"], s["image"]), file=sys.stderr)
    if a.summary_json:
        with open(a.summary_json, "w") as fh:
            json.dump(s, fh, indent=1, sort_keys=True)
            fh.write("\n")
    if a.check:
        check(a.dir)
    if a.git:
        git_commit(a.dir)


if __name__ == "__main__":
    main()
