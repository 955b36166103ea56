// Offline validation of the deploy files (run by scripts/validate-deploy.sh, ctest deploy_lint).
//   node validate.mjs k8s RENDERED.yaml   every object against the Kubernetes OpenAPI schemas
//                                         (kubernetes-models' compiled validators) + relay policy
//   node validate.mjs compose FILE.yml    structure of the compose file (no compose CLI here)
//   node validate.mjs dockerfile FILE     stages, non-root USER, HEALTHCHECK, EXPOSE, STOPSIGNAL,
//                                         COPY sources exist and pass .dockerignore; prints the
//                                         apt packages it installs (checked by apt-cache in the script)
// Exit 0 when valid, 1 with one line per problem otherwise, 2 on usage errors.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const problems = [];
const fail = (where, msg) => problems.push(`${where}: ${msg}`);

function parseYaml(file) {
  const docs = parseAllDocuments(readFileSync(file, "utf8"), { uniqueKeys: true, merge: true });
  const out = [];
  for (const d of docs) {
    for (const e of d.errors) fail(file, `YAML: ${e.message.split("\n")[0]}`);
    const v = d.toJS();
    if (v !== null && v !== undefined) out.push(v);
  }
  return out;
}

// apiVersion "apps/v1" -> "kubernetes-models/apps/v1", core "v1" -> "kubernetes-models/v1".
async function modelFor(apiVersion, kind) {
  if (typeof apiVersion !== "string" || !/^([a-z0-9.-]+\/)?v[0-9]+((alpha|beta)[0-9]+)?$/.test(apiVersion))
    return null;
  let mod;
  try {
    mod = await import(`kubernetes-models/${apiVersion}`);
  } catch {
    return null;
  }
  return typeof mod[kind] === "function" ? mod[kind] : null;
}

const byKind = (objs, kind) => objs.filter((o) => o.kind === kind);
const name = (o) => `${o.kind}/${o.metadata?.name ?? "?"}`;

// Relay-specific rules the schemas cannot express (docs/RUNBOOK.md, README "Deploy").
function relayPolicy(objs) {
  const deps = byKind(objs, "Deployment");
  if (deps.length !== 1) fail("manifests", `expected 1 Deployment, found ${deps.length}`);
  for (const kind of ["Service", "ConfigMap", "PodDisruptionBudget", "HorizontalPodAutoscaler", "NetworkPolicy"])
    if (byKind(objs, kind).length === 0) fail("manifests", `no ${kind}`);
  const cm = new Map(byKind(objs, "ConfigMap").map((c) => [c.metadata?.name, c.data ?? {}]));
  for (const d of deps) {
    const where = name(d);
    const pod = d.spec?.template?.spec ?? {};
    if (pod.securityContext?.runAsNonRoot !== true) fail(where, "pod securityContext.runAsNonRoot must be true");
    if (pod.enableServiceLinks !== false) fail(where, "enableServiceLinks must be false (ADMIN_PORT=tcp://... trap)");
    const c = (pod.containers ?? []).find((x) => x.name === "relay-node");
    if (!c) {
      fail(where, "no container named relay-node");
      continue;
    }
    for (const p of ["readinessProbe", "livenessProbe"])
      if (c[p]?.httpGet?.path !== "/healthz") fail(where, `${p} must be httpGet /healthz`);
    if (!c.lifecycle?.preStop) fail(where, "preStop drain hook missing");
    if (c.securityContext?.readOnlyRootFilesystem !== true) fail(where, "readOnlyRootFilesystem must be true");
    if (c.securityContext?.allowPrivilegeEscalation !== false) fail(where, "allowPrivilegeEscalation must be false");
    if (!c.resources?.requests?.cpu || !c.resources?.limits?.memory) fail(where, "cpu request and memory limit required");
    const env = new Map((c.env ?? []).map((e) => [e.name, e]));
    for (const s of ["NATS_HMAC_SECRET", "ADMIN_TOKEN", "REDIS_URL"]) {
      if (!env.get(s)?.valueFrom?.secretKeyRef) fail(where, `${s} must come from a secretKeyRef`);
    }
    for (const ref of c.envFrom ?? []) {
      const data = ref.configMapRef && cm.get(ref.configMapRef.name);
      if (ref.configMapRef && !data) fail(where, `envFrom ConfigMap ${ref.configMapRef.name} not rendered`);
      for (const s of ["NATS_HMAC_SECRET", "ADMIN_TOKEN", "REDIS_URL"])
        if (data && s in data) fail(`ConfigMap/${ref.configMapRef.name}`, `${s} is a secret: not in a ConfigMap`);
      if (data) {
        const ports = (c.ports ?? []).map((p) => String(p.containerPort));
        for (const k of ["PORT", "ADMIN_PORT"])
          if (data[k] && !ports.includes(String(data[k]))) fail(where, `${k}=${data[k]} is not a containerPort`);
      }
    }
    const pdbSel = byKind(objs, "PodDisruptionBudget").map((p) => p.spec?.selector?.matchLabels);
    const labels = d.spec?.template?.metadata?.labels ?? {};
    const selects = (sel) => sel && Object.entries(sel).every(([k, v]) => labels[k] === v);
    if (!pdbSel.some(selects)) fail(where, "no PodDisruptionBudget selects its pods");
    if (!byKind(objs, "HorizontalPodAutoscaler").some((h) => h.spec?.scaleTargetRef?.name === d.metadata?.name))
      fail(where, "no HorizontalPodAutoscaler targets it");
    else if (d.spec?.replicas !== undefined) fail(where, "replicas set although an HPA owns the count");
    for (const s of byKind(objs, "Service"))
      if (s.spec?.type && s.spec.type !== "ClusterIP" && (s.spec.ports ?? []).some((p) => p.targetPort === "admin" || p.port === 8788))
        fail(name(s), "admin port exposed outside the cluster");
    const np = byKind(objs, "NetworkPolicy").find((n) => selects(n.spec?.podSelector?.matchLabels));
    if (!np) fail(where, "no NetworkPolicy selects its pods");
    else
      for (const rule of np.spec?.ingress ?? []) {
        const admin = (rule.ports ?? []).length === 0 || rule.ports.some((p) => p.port === "admin" || p.port === 8788);
        const open = !rule.from || rule.from.some((f) => f.ipBlock);
        if (admin && open) fail(name(np), "admin port reachable from outside the cluster");
      }
  }
}

async function checkK8s(file) {
  const objs = parseYaml(file);
  if (objs.length === 0) fail(file, "no objects");
  for (const o of objs) {
    const Model = await modelFor(o.apiVersion, o.kind);
    if (!Model) {
      fail(name(o), `unknown apiVersion/kind ${o.apiVersion} ${o.kind}`);
      continue;
    }
    try {
      new Model(o).validate();
    } catch (e) {
      fail(name(o), `schema: ${e.message}`);
    }
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(o.metadata?.name ?? "")) fail(name(o), "invalid metadata.name");
  }
  relayPolicy(objs);
  return objs.length;
}

function checkCompose(file) {
  const [doc] = parseYaml(file);
  const services = doc?.services;
  if (!services || typeof services !== "object") return fail(file, "no services");
  const known = new Set(Object.keys(services));
  const relays = [...known].filter((s) => s.startsWith("relay-"));
  if (relays.length !== 3) fail(file, `expected 3 relay-* services, found ${relays.length}`);
  for (const need of ["redis", "nats"]) if (!known.has(need)) fail(file, `no ${need} service`);
  for (const [s, def] of Object.entries(services)) {
    if (!def.image && !def.build) fail(s, "no image or build");
    if (!def.healthcheck?.test) fail(s, "no healthcheck");
    const deps = Array.isArray(def.depends_on) ? def.depends_on : Object.keys(def.depends_on ?? {});
    for (const d of deps) if (!known.has(d)) fail(s, `depends_on unknown service ${d}`);
    if (!relays.includes(s)) continue;
    for (const d of ["redis", "nats"])
      if (def.depends_on?.[d]?.condition !== "service_healthy") fail(s, `depends_on ${d} must wait for service_healthy`);
    const env = def.environment ?? {};
    if (Array.isArray(env)) fail(s, "environment must be a mapping");
    if ("NATS_HMAC_SECRET" in env || "ADMIN_TOKEN" in env) fail(s, "secrets belong in the env_file, not in environment");
    if (!def.env_file) fail(s, "no env_file (NATS_HMAC_SECRET, ADMIN_TOKEN)");
    if (def.read_only !== true) fail(s, "read_only must be true");
  }
  return known.size;
}

// Instructions with line continuations joined; comments dropped.
function dockerInstructions(text) {
  const out = [];
  let cur = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!cur && (line === "" || line.startsWith("#"))) continue;
    cur += (cur ? " " : "") + line.replace(/\\$/, "").trim();
    if (!line.endsWith("\\")) {
      const [op, ...rest] = cur.split(/\s+/);
      out.push({ op: op.toUpperCase(), args: rest.join(" ") });
      cur = "";
    }
  }
  return out;
}

// .dockerignore semantics for the patterns we use: "*" then "!dir/" re-includes a top-level entry.
function passesDockerignore(path, patterns) {
  let included = true;
  const top = path.replace(/\/$/, "").split("/")[0];
  for (const p of patterns) {
    const neg = p.startsWith("!");
    const pat = (neg ? p.slice(1) : p).replace(/\/$/, "");
    if (pat === "*" || pat === top) included = neg;
  }
  return included;
}

function checkDockerfile(file) {
  const dir = file.includes("/") ? file.slice(0, file.lastIndexOf("/")) : ".";
  const ins = dockerInstructions(readFileSync(file, "utf8"));
  let ignore = [];
  try {
    ignore = readFileSync(`${dir}/.dockerignore`, "utf8").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  } catch {
    fail(file, "no .dockerignore beside it");
  }
  const froms = ins.filter((i) => i.op === "FROM");
  if (froms.length < 2) fail(file, "not multi-stage");
  for (const f of froms) if (!/^debian:12-slim(\s|$)/.test(f.args)) fail(file, `FROM ${f.args}: must be debian:12-slim`);
  const last = ins.slice(ins.lastIndexOf(froms[froms.length - 1]));
  const user = last.filter((i) => i.op === "USER").pop();
  if (!user || /^(root|0)(:|$)/.test(user.args)) fail(file, "final stage must switch to a non-root USER");
  for (const op of ["HEALTHCHECK", "EXPOSE", "STOPSIGNAL", "ENTRYPOINT"])
    if (!last.some((i) => i.op === op)) fail(file, `final stage has no ${op}`);
  if (!last.some((i) => i.op === "STOPSIGNAL" && i.args === "SIGTERM")) fail(file, "STOPSIGNAL must be SIGTERM (the relay drains on it)");
  if (!last.some((i) => i.op === "HEALTHCHECK" && i.args.includes("/healthz"))) fail(file, "HEALTHCHECK must probe /healthz");
  const stages = new Set(froms.map((f) => f.args.split(/\s+AS\s+/i)[1]).filter(Boolean));
  const packages = [];
  for (const i of ins) {
    if (i.op === "COPY") {
      const from = /--from=(\S+)/.exec(i.args);
      const parts = i.args.split(/\s+/).filter((a) => !a.startsWith("--"));
      if (from) {
        if (!stages.has(from[1])) fail(file, `COPY --from=${from[1]}: no such stage`);
        continue;
      }
      for (const src of parts.slice(0, -1)) {
        try {
          readFileSync(`${dir}/${src}`);
        } catch (e) {
          if (e.code !== "EISDIR") fail(file, `COPY ${src}: not in the build context`);
        }
        if (!passesDockerignore(src, ignore)) fail(file, `COPY ${src}: excluded by .dockerignore`);
      }
    }
    if (i.op === "RUN")
      for (const m of i.args.matchAll(/apt-get install ((?:-\S+\s+)*)((?:[a-z0-9][a-z0-9.+-]*\s*)+)/g))
        packages.push(...m[2].trim().split(/\s+/));
  }
  if (packages.length === 0) fail(file, "no apt-get install found");
  console.log(`packages: ${packages.join(" ")}`);
  return ins.length;
}

const [mode, file] = process.argv.slice(2);
const modes = { k8s: checkK8s, compose: checkCompose, dockerfile: checkDockerfile };
if (!file || !(mode in modes)) {
  console.error("usage: node validate.mjs k8s|compose|dockerfile FILE");
  process.exit(2);
}
const n = await modes[mode](file);
if (problems.length) {
  for (const p of problems) console.error(`INVALID ${p}`);
  process.exit(1);
}
console.log(`valid: ${file} (${n} ${{ k8s: "objects", compose: "services", dockerfile: "instructions" }[mode]})`);
