import yaml from 'js-yaml';
import path from 'node:path';

/**
 * Least privilege, decided from facts: what kube-apiserver's audit log says an identity did, against what
 * the shipped RBAC grants it. Pure functions (the file reads are injected), so the logic is unit-tested with
 * hand-made audit lines and rules; e2e/suites/zz-least-privilege.e2e.ts runs them on a real run's log.
 */

// ---------------------------------------------------------------- the audit log

/** The fields of an audit.k8s.io/v1 Event this module reads (Metadata level has no bodies). */
export interface AuditEvent {
  auditID: string;
  stage: string;
  verb: string;
  requestURI: string;
  user: { username: string; groups?: string[] };
  objectRef?: { apiGroup?: string; resource?: string; subresource?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number };
  annotations?: Record<string, string>;
  requestReceivedTimestamp?: string;
}

/** One request of the identity, after its audit stages are merged. */
export interface AuditedRequest {
  auditID: string;
  verb: string;
  /** '' for the core group. */
  apiGroup: string;
  /** `resource` or `resource/subresource`; undefined for a non-resource URL. */
  resource?: string;
  namespace?: string;
  name?: string;
  /** The path, for non-resource requests and messages (query and anything behind `/proxy` removed). */
  path: string;
  code?: number;
  /** The authorizer's decision annotation (`allow`, `forbid`), when the API server recorded one. */
  decision?: string;
  /** When the API server received it (ms since the epoch). */
  at?: number;
}

export const serviceAccountUser = (namespace: string, name: string) => `system:serviceaccount:${namespace}:${name}`;

/** JSON lines; blank lines skipped; a malformed line is an error naming its number (never its content). */
export function parseAuditLog(text: string): AuditEvent[] {
  const events: AuditEvent[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let e: AuditEvent;
    try {
      e = JSON.parse(line) as AuditEvent;
    } catch {
      throw new Error(`audit log line ${i + 1} is not JSON`);
    }
    if (typeof e.auditID !== 'string' || typeof e.verb !== 'string' || typeof e.user?.username !== 'string')
      throw new Error(`audit log line ${i + 1} is not an audit event`);
    events.push(e);
  });
  return events;
}

/**
 * The request path without its query and without what follows a service proxy's `/proxy`: that tail is
 * the path on the target Service, which for a Flux Receiver is its secret webhook path. Messages built from
 * the audit log must never carry it.
 */
export function safePath(requestURI: string): string {
  const p = requestURI.split('?')[0] ?? '';
  const proxy = p.match(/^(.*?\/(?:services|pods|nodes)\/[^/]+\/proxy)(\/|$)/);
  return proxy ? `${proxy[1]}/…` : p;
}

// A watch is audited twice (ResponseStarted, then ResponseComplete when it ends); the later stage wins.
const STAGE_ORDER: Record<string, number> = { RequestReceived: 0, ResponseStarted: 1, ResponseComplete: 2, Panic: 3 };

/** The requests `username` made, one per auditID, in log order. */
export function requestsOf(events: AuditEvent[], username: string): AuditedRequest[] {
  const byId = new Map<string, AuditEvent>();
  for (const e of events) {
    if (e.user.username !== username) continue;
    const seen = byId.get(e.auditID);
    if (!seen || (STAGE_ORDER[e.stage] ?? 0) >= (STAGE_ORDER[seen.stage] ?? 0)) byId.set(e.auditID, e);
  }
  return [...byId.values()].map((e) => {
    const ref = e.objectRef;
    const resource = ref?.resource ? (ref.subresource ? `${ref.resource}/${ref.subresource}` : ref.resource) : undefined;
    return {
      auditID: e.auditID,
      verb: e.verb,
      apiGroup: ref?.apiGroup ?? '',
      resource,
      namespace: ref?.namespace,
      name: ref?.name,
      path: safePath(e.requestURI),
      code: e.responseStatus?.code,
      decision: e.annotations?.['authorization.k8s.io/decision'],
      at: e.requestReceivedTimestamp ? Date.parse(e.requestReceivedTimestamp) : undefined,
    };
  });
}

/**
 * Requests the API server refused as forbidden (403 or an authorizer decision other than allow), except
 * those received within `excused` windows: a freshly restarted kube-apiserver answers 403 to everyone for
 * a second or two, until its RBAC authorizer has read the roles (the `outage` suite restarts it).
 */
export function forbiddenRequests(requests: AuditedRequest[], excused: Array<{ from: number; to: number }> = []): AuditedRequest[] {
  const inWindow = (r: AuditedRequest) => r.at !== undefined && excused.some((w) => r.at! >= w.from && r.at! <= w.to);
  return requests.filter((r) => (r.code === 403 || (r.decision !== undefined && r.decision !== 'allow')) && !inWindow(r));
}

/** `verb apiGroup/resource` (core group as `core`), or `verb <path>` for a non-resource URL. */
export function describeAccess(r: { verb: string; apiGroup: string; resource?: string; nonResourceURL?: string }): string {
  if (r.resource === undefined) return `${r.verb} ${r.nonResourceURL ?? '(non-resource)'}`;
  return `${r.verb} ${r.apiGroup || 'core'}/${r.resource}`;
}

/** A request for messages: what, where, answer; never a query string or a proxied path. */
export function describeRequest(r: AuditedRequest): string {
  return `${r.verb.toUpperCase()} ${r.path} (${describeAccess(r)}${r.name ? ` "${r.name}"` : ''}${r.namespace ? ` in ${r.namespace}` : ''}) → ${r.code ?? 'no code'}`;
}

/** The distinct (apiGroup, resource[/subresource], verb) an identity used, sorted, for reports. */
export function usedAccess(requests: AuditedRequest[]): string[] {
  return [...new Set(requests.map((r) => describeAccess({ ...r, nonResourceURL: r.path })))].sort();
}

// ---------------------------------------------------------------- the RBAC manifests

export interface KubeDoc {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  [key: string]: unknown;
}

export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

/** The few file operations `kustomizeDocs` needs, so tests can hand it an in-memory tree. */
export interface ManifestReader {
  readFile(file: string): string;
  isDirectory(file: string): boolean;
}

// Fields of a Kustomization that cannot change who is granted what. Anything else (namespace, namePrefix,
// patches, components, ...) could, and this reader does not model it: it refuses rather than guess.
const HARMLESS_KUSTOMIZATION_FIELDS = new Set(['apiVersion', 'kind', 'resources', 'labels', 'commonLabels', 'commonAnnotations']);

/**
 * Every document of a kustomization directory, following `resources` into files and sub-directories the way
 * kustomize does, and nothing else: a file no kustomization references (config/rbac/optional/*) is not part
 * of what gets installed, so it is not read.
 */
export function kustomizeDocs(dir: string, fs: ManifestReader): KubeDoc[] {
  const file = path.join(dir, 'kustomization.yaml');
  const k = yaml.load(fs.readFile(file)) as { resources?: unknown } & Record<string, unknown>;
  const unknown = Object.keys(k ?? {}).filter((f) => !HARMLESS_KUSTOMIZATION_FIELDS.has(f));
  if (unknown.length)
    throw new Error(
      `${file}: ${unknown.join(', ')} not understood by the RBAC reader (e2e/support/rbac-audit.ts); teach it or drop the field`,
    );
  const resources = k.resources ?? [];
  if (!Array.isArray(resources) || !resources.every((r) => typeof r === 'string'))
    throw new Error(`${file}: resources must be a list of paths`);
  return resources.flatMap((r) => {
    const p = path.join(dir, r);
    if (/^[a-z]+:\/\//i.test(r)) throw new Error(`${file}: remote resource ${r} cannot be checked`);
    return fs.isDirectory(p) ? kustomizeDocs(p, fs) : manifestDocs(fs.readFile(p), p);
  });
}

/** The objects of a multi-document YAML file (empty documents dropped). */
export function manifestDocs(text: string, source = 'manifest'): KubeDoc[] {
  return yaml.loadAll(text).filter((d): d is KubeDoc => {
    if (d === null || d === undefined) return false;
    if (typeof d !== 'object' || Array.isArray(d)) throw new Error(`${source}: a document is not an object`);
    return true;
  });
}

/** One verb on one resource (or non-resource URL), as granted by one rule of one role to the identity. */
export interface Grant {
  /** `ClusterRole/name` or `Role namespace/name`, and the binding that gives it. */
  role: string;
  binding: string;
  /** undefined: every namespace (a ClusterRole bound by a ClusterRoleBinding). */
  namespace?: string;
  verb: string;
  apiGroup: string;
  resource?: string;
  nonResourceURL?: string;
  resourceNames?: string[];
}

export const describeGrant = (g: Grant) =>
  `${describeAccess(g)}${g.resourceNames?.length ? ` [${g.resourceNames.join(', ')}]` : ''}${g.namespace ? ` in ${g.namespace}` : ''} (${g.role} via ${g.binding})`;

interface Binding extends KubeDoc {
  roleRef?: { kind?: string; name?: string };
  subjects?: Array<{ kind?: string; name?: string; namespace?: string }>;
}
interface Role extends KubeDoc {
  rules?: PolicyRule[];
  aggregationRule?: unknown;
}

const isRbac = (d: KubeDoc) => typeof d.apiVersion === 'string' && d.apiVersion.startsWith('rbac.authorization.k8s.io/');
const roleId = (d: KubeDoc) =>
  d.kind === 'Role' ? `Role ${d.metadata?.namespace}/${d.metadata?.name}` : `ClusterRole/${d.metadata?.name}`;

/** Wildcards in a rule: `*` anywhere, or `resource/*`. Each one makes "was it used?" unanswerable. */
export function wildcardsIn(rule: PolicyRule): string[] {
  const found: string[] = [];
  for (const field of ['apiGroups', 'resources', 'verbs', 'resourceNames', 'nonResourceURLs'] as const) {
    for (const v of rule[field] ?? []) if (v === '*' || v.endsWith('/*') || v.startsWith('*/')) found.push(`${field}: ${v}`);
  }
  return found;
}

/**
 * Every (verb, apiGroup, resource) the manifests grant to the ServiceAccount, through any ClusterRoleBinding
 * or RoleBinding naming it, and the problems that make the comparison meaningless: a wildcard, an aggregated
 * ClusterRole, a roleRef to a role the manifests do not define.
 */
export function grantsTo(docs: KubeDoc[], sa: { namespace: string; name: string }): { grants: Grant[]; problems: string[] } {
  const rbac = docs.filter(isRbac);
  const roles = rbac.filter((d): d is Role => d.kind === 'Role' || d.kind === 'ClusterRole');
  const grants: Grant[] = [];
  const problems: string[] = [];
  for (const b of rbac.filter((d): d is Binding => d.kind === 'ClusterRoleBinding' || d.kind === 'RoleBinding')) {
    const bindingNs = b.kind === 'RoleBinding' ? b.metadata?.namespace : undefined;
    const binding = b.kind === 'RoleBinding' ? `RoleBinding ${bindingNs}/${b.metadata?.name}` : `ClusterRoleBinding/${b.metadata?.name}`;
    // As the RBAC authorizer does: a ServiceAccount subject without a namespace means the binding's namespace.
    const names = (b.subjects ?? []).some(
      (s) => s.kind === 'ServiceAccount' && s.name === sa.name && (s.namespace || bindingNs) === sa.namespace,
    );
    if (!names) continue;
    if (b.kind === 'RoleBinding' && !bindingNs) problems.push(`${binding}: a RoleBinding without a namespace cannot be placed`);
    const ref = b.roleRef ?? {};
    const role = roles.find(
      (r) => r.kind === ref.kind && r.metadata?.name === ref.name && (r.kind === 'ClusterRole' || r.metadata?.namespace === bindingNs),
    );
    if (!role) {
      problems.push(`${binding}: roleRef ${ref.kind}/${ref.name} is not defined in the manifests, so what it grants cannot be checked`);
      continue;
    }
    if (ref.kind === 'ClusterRole' && b.kind === 'ClusterRoleBinding' && role.aggregationRule) {
      problems.push(`${roleId(role)}: an aggregated ClusterRole grants whatever other roles add to it`);
    }
    (role.rules ?? []).forEach((rule, i) => {
      const where = `${roleId(role)} rule ${i + 1}`;
      const wild = wildcardsIn(rule);
      if (wild.length) {
        problems.push(`${where}: wildcard (${wild.join('; ')})`);
        return;
      }
      const base = {
        role: roleId(role),
        binding,
        namespace: bindingNs,
        resourceNames: rule.resourceNames?.length ? rule.resourceNames : undefined,
      };
      for (const verb of rule.verbs ?? []) {
        for (const url of rule.nonResourceURLs ?? []) grants.push({ ...base, verb, apiGroup: '', nonResourceURL: url });
        for (const apiGroup of rule.apiGroups ?? [])
          for (const resource of rule.resources ?? []) grants.push({ ...base, verb, apiGroup, resource });
      }
    });
  }
  return { grants, problems };
}

/** Whether the request is one the grant allows: same verb, group, resource, and within its namespace and names. */
export function usesGrant(r: AuditedRequest, g: Grant): boolean {
  if (r.verb !== g.verb) return false;
  if (g.nonResourceURL !== undefined) return r.resource === undefined && r.path === g.nonResourceURL;
  if (r.resource !== g.resource || r.apiGroup !== g.apiGroup) return false;
  if (g.namespace !== undefined && r.namespace !== g.namespace) return false;
  return !g.resourceNames || (r.name !== undefined && g.resourceNames.includes(r.name));
}

export interface Exception {
  /** As `describeAccess` writes it: `get notification.toolkit.fluxcd.io/receivers`. */
  access: string;
  why: string;
}

export interface Comparison {
  used: Grant[];
  /** Granted, never used, not excepted: each one is a privilege to remove (or a path to test). */
  unused: Grant[];
  /** Granted, never used, and excepted with a reason. */
  excepted: Array<{ grant: Grant; why: string }>;
  /** Exceptions that matched no unused grant: used after all, or no longer granted. */
  staleExceptions: Exception[];
}

/** Each granted verb against the requests: used at least once, or excepted, or unused. */
export function compareGrants(grants: Grant[], requests: AuditedRequest[], exceptions: Exception[] = []): Comparison {
  const result: Comparison = { used: [], unused: [], excepted: [], staleExceptions: [] };
  const matched = new Set<Exception>();
  for (const g of grants) {
    if (requests.some((r) => usesGrant(r, g))) {
      result.used.push(g);
      continue;
    }
    const ex = exceptions.find((e) => e.access === describeAccess(g));
    if (ex) {
      matched.add(ex);
      result.excepted.push({ grant: g, why: ex.why });
    } else result.unused.push(g);
  }
  result.staleExceptions = exceptions.filter((e) => !matched.has(e));
  return result;
}

// ---------------------------------------------------------------- the service proxy

/**
 * Problems with a manifest that grants the service proxy: it must be a namespaced Role (a ClusterRole
 * would reach every namespace it is bound in), name the Services in `resourceNames`, and allow only
 * `create` (the operator only POSTs to a Receiver; `get` would let its identity read through the proxy).
 */
export function serviceProxyProblems(docs: KubeDoc[]): { problems: string[]; rules: number } {
  const problems: string[] = [];
  let rules = 0;
  for (const role of docs.filter(isRbac).filter((d): d is Role => d.kind === 'Role' || d.kind === 'ClusterRole')) {
    (role.rules ?? []).forEach((rule, i) => {
      const reachesProxy = (rule.resources ?? []).some((r) => r === 'services/proxy' || r === '*' || r === 'services/*' || r === '*/proxy');
      const coreGroup = (rule.apiGroups ?? []).some((g) => g === '' || g === '*');
      if (!reachesProxy || !coreGroup) return;
      rules++;
      const where = `${roleId(role)} rule ${i + 1}`;
      if (role.kind !== 'Role') problems.push(`${where}: services/proxy granted by a ClusterRole`);
      const wild = wildcardsIn(rule);
      if (wild.length) problems.push(`${where}: wildcard (${wild.join('; ')})`);
      if (!rule.resourceNames?.length)
        problems.push(`${where}: services/proxy without resourceNames reaches every Service of the namespace`);
      const extra = (rule.verbs ?? []).filter((v) => v !== 'create');
      if (extra.length) problems.push(`${where}: services/proxy verbs ${extra.join(', ')} (the operator only needs create: it POSTs)`);
    });
  }
  return { problems, rules };
}

/** The `resourceNames` of every services/proxy rule, the names a request through the proxy may carry. */
export function serviceProxyNames(docs: KubeDoc[]): string[] {
  return docs
    .filter(isRbac)
    .flatMap((d) =>
      ((d as Role).rules ?? []).filter((r) => (r.resources ?? []).includes('services/proxy')).flatMap((r) => r.resourceNames ?? []),
    );
}
