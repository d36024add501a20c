// YAML/JSON side of .ci/check-ci-files (bash drives it; it never touches the network).
// js-yaml comes from the gitlab-ci-local install: GCL_NODE_MODULES=<dir>/node_modules.
//
//   node check-ci-files.mjs lint-templates FILE...   the CI/CD component files
//   node check-ci-files.mjs jobs < list.json          gitlab-ci-local --list-json → job lines
//   node check-ci-files.mjs expanded < preview.yml    gitlab-ci-local --preview → sanity checks
//   node check-ci-files.mjs k8s-facts < rendered.yml  kubectl kustomize output → fact lines
//
// Output is one fact per line, sorted, for bash to diff against the expected lines.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const modules = process.env.GCL_NODE_MODULES;
if (!modules) {
  console.error("GCL_NODE_MODULES is not set (the node_modules of the gitlab-ci-local install)");
  process.exit(2);
}
const require = createRequire(path.join(modules, "noop.js"));
const yaml = require("js-yaml");

const [command, ...args] = process.argv.slice(2);
const stdin = () => fs.readFileSync(0, "utf8");
const errors = [];
const fail = (msg) => errors.push(msg);
const print = (lines) => process.stdout.write([...lines].sort().join("\n") + (lines.length ? "\n" : ""));

switch (command) {
  case "lint-templates":
    for (const file of args) lintTemplate(file);
    break;
  case "jobs":
    print(jobLines(JSON.parse(stdin())));
    break;
  case "expanded":
    checkExpanded(yaml.load(stdin()));
    break;
  case "k8s-facts":
    print(k8sFacts(yaml.loadAll(stdin()).filter((d) => d != null)));
    break;
  default:
    console.error(`unknown command ${command}`);
    process.exit(2);
}
if (errors.length) {
  for (const e of errors) console.error(`error: ${e}`);
  process.exit(1);
}

// A component file: a `spec: inputs:` header, `---`, then only jobs named after job-prefix,
// each with rules and the gitops-bot image. Input types are those GitLab 16.6 knows (no
// `array`), so the files also work with `include: project:` there.
function lintTemplate(file) {
  const text = fs.readFileSync(file, "utf8");
  const docs = yaml.loadAll(text);
  const where = path.basename(file);
  if (docs.length !== 2) return fail(`${where}: want a spec header, ---, and the jobs (2 YAML documents), got ${docs.length}`);
  const [header, body] = docs;
  if (!header || Object.keys(header).join() !== "spec" || Object.keys(header.spec ?? {}).join() !== "inputs")
    return fail(`${where}: the header must be exactly spec: inputs:`);
  const inputs = header.spec.inputs;
  for (const [name, spec] of Object.entries(inputs)) {
    const s = spec ?? {};
    const type = s.type ?? "string";
    if (!["string", "boolean", "number"].includes(type)) fail(`${where}: input ${name}: type ${type} (GitLab 16.6 knows string, boolean, number)`);
    if (typeof s.description !== "string" || !s.description.trim()) fail(`${where}: input ${name} has no description`);
    if ("default" in s && s.default !== null && typeof s.default !== type) fail(`${where}: input ${name}: default ${JSON.stringify(s.default)} is not a ${type}`);
    for (const key of Object.keys(s)) {
      if (!["type", "description", "default", "options", "regex"].includes(key)) fail(`${where}: input ${name}: unknown key ${key}`);
    }
  }
  const bodyText = text.slice(text.search(/^---\s*$/m));
  const used = new Set();
  for (const m of bodyText.matchAll(/\$\[\[\s*inputs\.([\w-]+)\s*(\|[^\]]*)?\]\]/g)) {
    used.add(m[1]);
    if (!(m[1] in inputs)) fail(`${where}: $[[ inputs.${m[1]} ]] is not declared`);
    if (m[2]) fail(`${where}: interpolation functions (${m[2].trim()}) need GitLab 16.3+ and gitlab-ci-local ignores them`);
  }
  for (const name of Object.keys(inputs)) if (!used.has(name)) fail(`${where}: input ${name} is declared but never used`);
  if (!("job-prefix" in inputs) || !("image" in inputs)) fail(`${where}: inputs job-prefix and image are expected`);
  for (const [job, def] of Object.entries(body ?? {})) {
    // Global keywords (stages, workflow, default, variables, …) would leak into the pipeline
    // that includes the component.
    if (!job.startsWith("$[[ inputs.job-prefix ]]-")) fail(`${where}: top-level key ${job}: only jobs named "$[[ inputs.job-prefix ]]-…" belong in a component`);
    if (!Array.isArray(def?.rules) || def.rules.length === 0) fail(`${where}: ${job} has no rules`);
    if (def?.image?.name !== "$[[ inputs.image ]]" || JSON.stringify(def?.image?.entrypoint) !== '[""]')
      fail(`${where}: ${job}: image must be { name: $[[ inputs.image ]], entrypoint: [""] }`);
    const script = (def?.script ?? []).join("\n");
    if (script.includes("$[[")) fail(`${where}: ${job}: pass inputs to script through variables, not pasted into the shell`);
    if (!script.includes("/gitops-bot ")) fail(`${where}: ${job}: the script does not run /gitops-bot`);
  }
}

// gitlab-ci-local --list-json lists every job with the `when` its rules gave; a job whose
// rules did not match has when "never" and is not in the pipeline.
function jobLines(jobs) {
  return jobs
    .filter((j) => j.when !== "never")
    .map((j) => `${j.name} stage=${j.stage} when=${j.when} allow_failure=${j.allow_failure === true || j.allow_failure?.exit_codes != null}`);
}

function checkExpanded(data) {
  // gitlab-ci-local does not evaluate workflow:rules: job lists would not be exact.
  if (data && data.workflow) fail("the expanded configuration has workflow:, which gitlab-ci-local ignores: the job lists of this check would not be exact (extend the check before adding workflow rules)");
  const jobs = Object.keys(data ?? {}).filter((k) => !["stages", "variables", "workflow", "image", "services", "cache"].includes(k));
  if (jobs.length === 0) fail("the expanded configuration has no jobs");
  for (const j of jobs) if (JSON.stringify(data[j]).includes("$[[")) fail(`job ${j} still holds an $[[ … ]] interpolation after expansion`);
  console.log(`${jobs.length} jobs after expansion: ${jobs.sort().join(", ")}`);
}

// Facts about the rendered objects, security first. A Secret, a ClusterRole or any object not
// expected shows up as an extra line.
function k8sFacts(objects) {
  const lines = [];
  const id = (o) => `${o.kind} ${o.metadata?.namespace ? o.metadata.namespace + "/" : ""}${generic(o.metadata?.name)}`;
  // configMapGenerator appends a content hash (which differs between kustomize versions).
  const generic = (name) => String(name).replace(/-[a-z0-9]{10}$/, "-HASH");
  const configMaps = new Set(objects.filter((o) => o.kind === "ConfigMap").map((o) => o.metadata.name));
  const secrets = new Set(objects.filter((o) => o.kind === "Secret").map((o) => o.metadata.name));
  for (const o of objects) {
    const me = id(o);
    lines.push(me);
    switch (o.kind) {
      case "Namespace": {
        const l = o.metadata.labels ?? {};
        lines.push(`${me} pod-security enforce=${l["pod-security.kubernetes.io/enforce"] ?? "-"}`);
        break;
      }
      case "ServiceAccount":
        lines.push(`${me} automountServiceAccountToken=${o.automountServiceAccountToken}`);
        break;
      case "ConfigMap":
        lines.push(`${me} keys=${Object.keys(o.data ?? {}).sort().join(",")}`);
        break;
      case "Role":
      case "ClusterRole":
        for (const rule of o.rules ?? []) {
          for (const group of rule.apiGroups ?? ["(none)"]) {
            for (const resource of rule.resources ?? ["(none)"]) {
              const g = group === "" ? "core" : group;
              lines.push(`${me} ${g}/${resource} ${[...(rule.verbs ?? [])].sort().join(",")}${rule.resourceNames ? " names=" + rule.resourceNames.join(",") : ""}`);
            }
          }
        }
        break;
      case "RoleBinding":
      case "ClusterRoleBinding": {
        const subjects = (o.subjects ?? []).map((s) => `${s.kind}:${s.namespace ?? ""}/${s.name}`).join(",");
        lines.push(`${me} roleRef=${o.roleRef?.kind}/${o.roleRef?.name} subjects=${subjects}`);
        break;
      }
      case "Deployment":
        deploymentFacts(o, me, lines, configMaps, secrets);
        break;
      case "Service":
        lines.push(`${me} ports=${(o.spec.ports ?? []).map((p) => `${p.port}->${p.targetPort}/${p.protocol ?? "TCP"}`).join(",")}`);
        break;
      case "PodDisruptionBudget":
        lines.push(`${me} minAvailable=${o.spec.minAvailable ?? "-"} maxUnavailable=${o.spec.maxUnavailable ?? "-"}`);
        break;
      case "NetworkPolicy": {
        // One line per rule: which peers, which ports ("any" = no restriction).
        const labels = (sel) => Object.entries(sel?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join("&") + (sel?.matchExpressions ? "&expr" : "");
        const peer = (p) => [p.namespaceSelector && `ns(${labels(p.namespaceSelector)})`, p.podSelector && `pod(${labels(p.podSelector)})`, p.ipBlock && `ip(${p.ipBlock.cidr})`].filter(Boolean).join("+");
        const rule = (dir, r, peers) =>
          `${me} ${dir} peers=${peers ? peers.map(peer).join(",") : "any"} ports=${r.ports ? r.ports.map((p) => `${p.port}/${p.protocol ?? "TCP"}`).sort().join(",") : "any"}`;
        lines.push(`${me} policyTypes=${[...(o.spec.policyTypes ?? [])].sort().join(",")}`);
        for (const r of o.spec.ingress ?? []) lines.push(rule("ingress", r, r.from));
        for (const r of o.spec.egress ?? []) lines.push(rule("egress", r, r.to));
        break;
      }
    }
  }
  return lines;
}

function deploymentFacts(o, me, lines, configMaps, secrets) {
  const pod = o.spec.template.spec;
  const psc = pod.securityContext ?? {};
  lines.push(`${me} replicas=${o.spec.replicas}`);
  lines.push(`${me} serviceAccountName=${pod.serviceAccountName ?? "default"} automountServiceAccountToken=${pod.automountServiceAccountToken ?? "unset"}`);
  for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
    const csc = c.securityContext ?? {};
    // What applies to the container: its own settings, else the pod's.
    const eff = (key) => csc[key] ?? psc[key] ?? "unset";
    const c0 = `${me} container=${c.name}`;
    lines.push(`${c0} runAsNonRoot=${eff("runAsNonRoot")} runAsUser=${eff("runAsUser")} runAsGroup=${eff("runAsGroup")}`);
    lines.push(`${c0} readOnlyRootFilesystem=${csc.readOnlyRootFilesystem ?? "unset"} allowPrivilegeEscalation=${csc.allowPrivilegeEscalation ?? "unset"} privileged=${csc.privileged ?? false}`);
    lines.push(`${c0} capabilities drop=${(csc.capabilities?.drop ?? []).join(",") || "-"} add=${(csc.capabilities?.add ?? []).join(",") || "-"}`);
    lines.push(`${c0} seccomp=${(csc.seccompProfile ?? psc.seccompProfile)?.type ?? "unset"}`);
    const probe = (p) => (p?.httpGet ? `${p.httpGet.path}@${p.httpGet.port}` : p ? "non-http" : "none");
    lines.push(`${c0} liveness=${probe(c.livenessProbe)} readiness=${probe(c.readinessProbe)}`);
    const r = c.resources ?? {};
    lines.push(`${c0} requests=${Object.keys(r.requests ?? {}).sort().join(",") || "-"} limits=${Object.keys(r.limits ?? {}).sort().join(",") || "-"}`);
    lines.push(`${c0} ports=${(c.ports ?? []).map((p) => `${p.name ?? ""}:${p.containerPort}/${p.protocol ?? "TCP"}`).join(",")}`);
    for (const e of c.env ?? []) {
      const s = e.valueFrom?.secretKeyRef;
      const m = e.valueFrom?.configMapKeyRef;
      let how;
      if (s) how = `secret:${s.name}/${s.key}${secrets.has(s.name) ? " (rendered: a Secret value would be committed)" : ""}`;
      else if (m) how = `configmap:${m.name.replace(/-[a-z0-9]{10}$/, "-HASH")}/${m.key}${configMaps.has(m.name) ? "" : " (NOT RENDERED)"}`;
      else how = e.valueFrom ? "valueFrom" : "literal";
      lines.push(`${c0} env ${e.name}=${how}`);
    }
    for (const f of c.envFrom ?? []) lines.push(`${c0} envFrom ${f.secretRef ? "secret" : "configmap"}`);
  }
}
