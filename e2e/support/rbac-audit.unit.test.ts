import { expect } from 'chai';
import path from 'node:path';
import {
  type AuditEvent,
  compareGrants,
  describeGrant,
  describeRequest,
  forbiddenRequests,
  grantsTo,
  type KubeDoc,
  kustomizeDocs,
  manifestDocs,
  type ManifestReader,
  parseAuditLog,
  requestsOf,
  safePath,
  serviceAccountUser,
  serviceProxyNames,
  serviceProxyProblems,
  usedAccess,
  usesGrant,
} from './rbac-audit.js';

const SA = { namespace: 'op-system', name: 'op' };
const USER = serviceAccountUser(SA.namespace, SA.name);
let ids = 0;

/** One audit line as kube-apiserver writes it at Metadata level. */
function line(
  verb: string,
  objectRef: AuditEvent['objectRef'] | undefined,
  opts: { code?: number; user?: string; stage?: string; id?: string; uri?: string; decision?: string; at?: string } = {},
): string {
  const ref = objectRef ?? {};
  const uri =
    opts.uri ??
    (objectRef
      ? `${ref.apiGroup ? `/apis/${ref.apiGroup}/v1` : '/api/v1'}${ref.namespace ? `/namespaces/${ref.namespace}` : ''}/${ref.resource}${ref.name ? `/${ref.name}` : ''}${ref.subresource ? `/${ref.subresource}` : ''}`
      : '/version');
  return JSON.stringify({
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: opts.id ?? `id-${++ids}`,
    stage: opts.stage ?? 'ResponseComplete',
    requestURI: uri,
    verb,
    user: { username: opts.user ?? USER, groups: ['system:serviceaccounts', 'system:authenticated'] },
    ...(objectRef ? { objectRef: { ...objectRef, apiVersion: 'v1' } } : {}),
    responseStatus: { metadata: {}, code: opts.code ?? 200 },
    annotations: { 'authorization.k8s.io/decision': opts.decision ?? ((opts.code ?? 200) === 403 ? 'forbid' : 'allow') },
    ...(opts.at ? { requestReceivedTimestamp: opts.at } : {}),
  });
}
const requests = (...lines: string[]) => requestsOf(parseAuditLog(lines.join('\n')), USER);

const clusterRole = (name: string, rules: object[]): KubeDoc => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'ClusterRole',
  metadata: { name },
  rules,
});
const role = (ns: string, name: string, rules: object[]): KubeDoc => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'Role',
  metadata: { name, namespace: ns },
  rules,
});
const binding = (
  kind: 'ClusterRoleBinding' | 'RoleBinding',
  name: string,
  roleRef: { kind: string; name: string },
  ns?: string,
  subject: object = { kind: 'ServiceAccount', ...SA },
): KubeDoc => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind,
  metadata: { name, ...(ns ? { namespace: ns } : {}) },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', ...roleRef },
  subjects: [subject],
});

describe('rbac-audit: reading the audit log', () => {
  it("keeps only the identity's requests and merges the stages of one request (a watch is audited twice)", () => {
    const rs = requests(
      line('watch', { resource: 'secrets' }, { id: 'w', stage: 'ResponseStarted' }),
      line('list', { resource: 'secrets' }, { user: 'system:serviceaccount:other:sa' }),
      line('watch', { resource: 'secrets' }, { id: 'w', stage: 'ResponseComplete' }),
      line('get', { resource: 'namespaces', name: 'default' }),
    );
    expect(rs.map((r) => `${r.auditID} ${r.verb} ${r.resource}`)).to.deep.equal(['w watch secrets', `id-${ids} get namespaces`]);
  });

  it('joins the subresource to the resource and leaves the core group empty', () => {
    const [r] = requests(line('update', { apiGroup: 'fluxlink.dev', resource: 'gitlabfluxlinks', subresource: 'status', name: 'l' }));
    expect(r).to.include({ apiGroup: 'fluxlink.dev', resource: 'gitlabfluxlinks/status', name: 'l', code: 200 });
    const [core] = requests(line('list', { resource: 'namespaces' }));
    expect(core!.apiGroup).to.equal('');
  });

  it('names a malformed line by its number, never by its content', () => {
    expect(() => parseAuditLog(`${line('get', { resource: 'secrets' })}\n{"token": "s3cret`)).to.throw(/^audit log line 2 is not JSON$/);
    expect(() => parseAuditLog('{"kind":"Event"}')).to.throw(/line 1 is not an audit event/);
    expect(parseAuditLog('\n\n')).to.deep.equal([]);
  });

  it("finds the forbidden requests, by code or by the authorizer's decision", () => {
    const rs = requests(
      line('list', { resource: 'secrets' }),
      line('delete', { resource: 'configmaps', namespace: 'a', name: 'x' }, { code: 403 }),
      line('get', { resource: 'pods', namespace: 'a', name: 'p' }, { code: 500, decision: 'forbid' }),
      line('get', { resource: 'secrets', namespace: 'a', name: 'gone' }, { code: 404 }),
    );
    expect(forbiddenRequests(rs).map(describeRequest)).to.deep.equal([
      'DELETE /api/v1/namespaces/a/configmaps/x (delete core/configmaps "x" in a) → 403',
      'GET /api/v1/namespaces/a/pods/p (get core/pods "p" in a) → 500',
    ]);
  });

  it('excuses 403s received within a window (a restarted API server loading RBAC), and only those', () => {
    const rs = requests(
      line('list', { resource: 'secrets' }, { code: 403, at: '2026-11-24T03:04:28.500000Z' }),
      line('list', { resource: 'namespaces' }, { code: 403, at: '2026-11-24T03:05:30.000000Z' }),
    );
    const window = { from: Date.parse('2026-11-24T03:04:26Z'), to: Date.parse('2026-11-24T03:04:56Z') };
    expect(forbiddenRequests(rs, [window]).map((r) => r.resource)).to.deep.equal(['namespaces']);
    expect(forbiddenRequests(rs)).to.have.length(2);
  });

  it("never keeps a query string or what follows a service proxy's /proxy (a Receiver's secret webhook path)", () => {
    const hook = `/hook/${'a'.repeat(64)}`;
    expect(safePath(`/api/v1/namespaces/flux-system/services/webhook-receiver:80/proxy${hook}`)).to.equal(
      '/api/v1/namespaces/flux-system/services/webhook-receiver:80/proxy/…',
    );
    expect(safePath('/api/v1/secrets?labelSelector=a%3Db&watch=1')).to.equal('/api/v1/secrets');
    expect(safePath('/api/v1/namespaces/proxy/secrets/x')).to.equal('/api/v1/namespaces/proxy/secrets/x');
    const [r] = requests(
      line(
        'create',
        { resource: 'services', subresource: 'proxy', namespace: 'flux-system', name: 'webhook-receiver:80' },
        { uri: `/api/v1/namespaces/flux-system/services/webhook-receiver:80/proxy${hook}`, code: 403 },
      ),
    );
    expect(describeRequest(r!)).not.to.include(hook.slice(6));
  });

  it('lists the distinct accesses used, non-resource URLs included', () => {
    const rs = requests(
      line('list', { resource: 'secrets' }),
      line('list', { resource: 'secrets', namespace: 'a' }),
      line('get', undefined, { uri: '/version' }),
      line('patch', { apiGroup: 'g.io', resource: 'things', name: 'x' }),
    );
    expect(usedAccess(rs)).to.deep.equal(['get /version', 'list core/secrets', 'patch g.io/things']);
  });
});

describe('rbac-audit: what the manifests grant', () => {
  it('expands a ClusterRole bound by a ClusterRoleBinding into cluster-wide grants, one per verb and resource', () => {
    const { grants, problems } = grantsTo(
      [
        clusterRole('mgr', [{ apiGroups: ['', 'g.io'], resources: ['secrets', 'things'], verbs: ['get', 'list'] }]),
        binding('ClusterRoleBinding', 'mgr', { kind: 'ClusterRole', name: 'mgr' }),
      ],
      SA,
    );
    expect(problems).to.deep.equal([]);
    expect(grants).to.have.length(8);
    expect(
      grants.every((g) => g.namespace === undefined && g.role === 'ClusterRole/mgr' && g.binding === 'ClusterRoleBinding/mgr'),
    ).to.equal(true);
  });

  it("places a Role (leader election's Lease Role, say) in its binding's namespace", () => {
    const { grants, problems } = grantsTo(
      [
        role('op-system', 'leader-election', [
          { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
        ]),
        binding('RoleBinding', 'leader-election', { kind: 'Role', name: 'leader-election' }, 'op-system'),
      ],
      SA,
    );
    expect(problems).to.deep.equal([]);
    expect(grants.map(describeGrant)).to.deep.equal(
      ['get', 'create', 'update'].map(
        (v) => `${v} coordination.k8s.io/leases in op-system (Role op-system/leader-election via RoleBinding op-system/leader-election)`,
      ),
    );
  });

  it('ignores bindings of other subjects, and a Role of the same name in another namespace', () => {
    const { grants, problems } = grantsTo(
      [
        clusterRole('mgr', [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }]),
        binding('ClusterRoleBinding', 'someone', { kind: 'ClusterRole', name: 'mgr' }, undefined, {
          kind: 'ServiceAccount',
          name: 'op',
          namespace: 'elsewhere',
        }),
        binding('ClusterRoleBinding', 'user', { kind: 'ClusterRole', name: 'mgr' }, undefined, { kind: 'User', name: 'op' }),
        role('other', 'r', [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }]),
        binding('RoleBinding', 'r', { kind: 'Role', name: 'r' }, 'op-system'),
      ],
      SA,
    );
    expect(grants).to.deep.equal([]);
    expect(problems).to.deep.equal([
      'RoleBinding op-system/r: roleRef Role/r is not defined in the manifests, so what it grants cannot be checked',
    ]);
  });

  it("takes a ServiceAccount subject without a namespace to be in the RoleBinding's namespace, as RBAC does", () => {
    const { grants } = grantsTo(
      [
        role('op-system', 'r', [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }]),
        binding('RoleBinding', 'r', { kind: 'Role', name: 'r' }, 'op-system', { kind: 'ServiceAccount', name: 'op' }),
      ],
      SA,
    );
    expect(grants).to.have.length(1);
  });

  it('refuses wildcards, aggregated ClusterRoles and roles it cannot see', () => {
    const { grants, problems } = grantsTo(
      [
        clusterRole('wild', [
          { apiGroups: ['*'], resources: ['secrets'], verbs: ['get'] },
          { apiGroups: [''], resources: ['services/*'], verbs: ['*'] },
          { apiGroups: [''], resources: ['pods'], verbs: ['get'] },
        ]),
        { ...clusterRole('agg', []), aggregationRule: { clusterRoleSelectors: [{ matchLabels: { x: 'y' } }] } },
        binding('ClusterRoleBinding', 'wild', { kind: 'ClusterRole', name: 'wild' }),
        binding('ClusterRoleBinding', 'agg', { kind: 'ClusterRole', name: 'agg' }),
        binding('ClusterRoleBinding', 'view', { kind: 'ClusterRole', name: 'view' }),
      ],
      SA,
    );
    expect(problems).to.deep.equal([
      'ClusterRole/wild rule 1: wildcard (apiGroups: *)',
      'ClusterRole/wild rule 2: wildcard (resources: services/*; verbs: *)',
      'ClusterRole/agg: an aggregated ClusterRole grants whatever other roles add to it',
      'ClusterRoleBinding/view: roleRef ClusterRole/view is not defined in the manifests, so what it grants cannot be checked',
    ]);
    expect(grants.map((g) => `${g.verb} ${g.resource}`)).to.deep.equal(['get pods']);
  });
});

describe('rbac-audit: granted against used', () => {
  const docs = [
    clusterRole('mgr', [
      { apiGroups: ['fluxlink.dev'], resources: ['gitlabfluxlinks'], verbs: ['list', 'watch', 'get'] },
      { apiGroups: ['fluxlink.dev'], resources: ['gitlabfluxlinks/status'], verbs: ['update'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['create', 'delete'] },
    ]),
    binding('ClusterRoleBinding', 'mgr', { kind: 'ClusterRole', name: 'mgr' }),
    role('op-system', 'le', [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'update'] }]),
    binding('RoleBinding', 'le', { kind: 'Role', name: 'le' }, 'op-system'),
  ];
  const { grants } = grantsTo(docs, SA);
  const log = requests(
    line('list', { apiGroup: 'fluxlink.dev', resource: 'gitlabfluxlinks' }),
    line('watch', { apiGroup: 'fluxlink.dev', resource: 'gitlabfluxlinks' }),
    line('update', { apiGroup: 'fluxlink.dev', resource: 'gitlabfluxlinks', subresource: 'status', name: 'l' }),
    line('create', { resource: 'secrets', namespace: 'apps', name: 's' }),
    line('delete', { resource: 'secrets', namespace: 'apps', name: 's' }, { code: 404 }),
    line('get', { apiGroup: 'coordination.k8s.io', resource: 'leases', namespace: 'elsewhere', name: 'op' }),
    line('update', { apiGroup: 'coordination.k8s.io', resource: 'leases', namespace: 'op-system', name: 'op' }),
  );

  it('names every granted verb that no request used; a refused or missing object still counts as used', () => {
    const c = compareGrants(grants, log);
    expect(c.unused.map(describeGrant)).to.deep.equal([
      'get fluxlink.dev/gitlabfluxlinks (ClusterRole/mgr via ClusterRoleBinding/mgr)',
      'get coordination.k8s.io/leases in op-system (Role op-system/le via RoleBinding op-system/le)',
    ]);
    expect(c.used).to.have.length(6);
  });

  it("a request outside a Role's namespace does not use that Role", () => {
    const lease = grants.find((g) => g.resource === 'leases' && g.verb === 'get')!;
    expect(log.some((r) => usesGrant(r, lease))).to.equal(false);
  });

  it('honours the exceptions, and reports the ones that excused nothing', () => {
    const c = compareGrants(grants, log, [
      { access: 'get fluxlink.dev/gitlabfluxlinks', why: 'only a path the suites do not reach' },
      { access: 'list core/secrets', why: 'stale' },
    ]);
    expect(c.excepted.map((e) => `${describeGrant(e.grant)}: ${e.why}`)).to.deep.equal([
      'get fluxlink.dev/gitlabfluxlinks (ClusterRole/mgr via ClusterRoleBinding/mgr): only a path the suites do not reach',
    ]);
    expect(c.unused.map((g) => g.resource)).to.deep.equal(['leases']);
    expect(c.staleExceptions.map((e) => e.access)).to.deep.equal(['list core/secrets']);
  });

  it('a grant narrowed by resourceNames is used only by a request for one of those names', () => {
    const { grants: proxy } = grantsTo(
      [
        role('flux-system', 'p', [
          { apiGroups: [''], resources: ['services/proxy'], resourceNames: ['webhook-receiver', 'webhook-receiver:80'], verbs: ['create'] },
        ]),
        binding('RoleBinding', 'p', { kind: 'Role', name: 'p' }, 'flux-system'),
      ],
      SA,
    );
    const to = (name: string, ns = 'flux-system') =>
      requests(line('create', { resource: 'services', subresource: 'proxy', namespace: ns, name }));
    expect(compareGrants(proxy, to('webhook-receiver:80')).unused).to.deep.equal([]);
    expect(compareGrants(proxy, to('other:80')).unused).to.have.length(1);
    expect(compareGrants(proxy, to('webhook-receiver:80', 'apps')).unused).to.have.length(1);
  });

  it('matches non-resource URLs by path and verb', () => {
    const { grants: nr } = grantsTo(
      [
        clusterRole('v', [{ nonResourceURLs: ['/version'], verbs: ['get'] }]),
        binding('ClusterRoleBinding', 'v', { kind: 'ClusterRole', name: 'v' }),
      ],
      SA,
    );
    expect(compareGrants(nr, requests(line('get', undefined, { uri: '/version' }))).unused).to.deep.equal([]);
    expect(compareGrants(nr, requests(line('get', undefined, { uri: '/healthz' }))).unused).to.have.length(1);
  });
});

describe('rbac-audit: reading manifests through kustomizations', () => {
  /** An in-memory tree: a path ending in / is a directory. */
  const tree = (files: Record<string, string>): ManifestReader => ({
    readFile: (f) => {
      const text = files[path.normalize(f)];
      if (text === undefined) throw new Error(`no file ${f}`);
      return text;
    },
    isDirectory: (f) => Object.keys(files).some((k) => k.startsWith(path.normalize(f) + '/')),
  });
  const sa = 'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: op, namespace: op-system}\n';

  it('follows resources into files and sub-directories, and reads nothing unreferenced', () => {
    const docs = kustomizeDocs(
      'rbac',
      tree({
        'rbac/kustomization.yaml': 'resources: [sa.yaml, extra]\n',
        'rbac/sa.yaml': sa,
        'rbac/extra/kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [two.yaml]\n',
        'rbac/extra/two.yaml':
          '---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n',
        'rbac/optional/proxy.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: never-read}\n',
      }),
    );
    expect(docs.map((d) => `${d.kind}/${d.metadata?.name}`)).to.deep.equal(['ServiceAccount/op', 'ConfigMap/a', 'ConfigMap/b']);
  });

  it('refuses kustomization fields that could change who is granted what', () => {
    const read = tree({ 'rbac/kustomization.yaml': 'namespace: other\nnamePrefix: x-\nresources: [sa.yaml]\n', 'rbac/sa.yaml': sa });
    expect(() => kustomizeDocs('rbac', read)).to.throw(/namespace, namePrefix not understood/);
  });

  it('refuses a remote resource', () => {
    expect(() => kustomizeDocs('rbac', tree({ 'rbac/kustomization.yaml': 'resources: ["https://example.invalid/x"]\n' }))).to.throw(
      /remote resource/,
    );
  });
});

describe('rbac-audit: the service-proxy grant', () => {
  const proxyRule = (extra: object = {}) => ({
    apiGroups: [''],
    resources: ['services/proxy'],
    resourceNames: ['webhook-receiver', 'webhook-receiver:80'],
    verbs: ['create'],
    ...extra,
  });

  it('accepts a namespaced Role naming its Services, create only', () => {
    const docs = manifestDocs(`apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: p, namespace: flux-system}
rules:
  - apiGroups: [""]
    resources: [services/proxy]
    resourceNames: [webhook-receiver, "webhook-receiver:80"]
    verbs: [create]
`);
    expect(serviceProxyProblems(docs)).to.deep.equal({ problems: [], rules: 1 });
    expect(serviceProxyNames(docs)).to.deep.equal(['webhook-receiver', 'webhook-receiver:80']);
  });

  it('refuses a ClusterRole, a rule without resourceNames, extra verbs and wildcards', () => {
    const { problems, rules } = serviceProxyProblems([
      clusterRole('c', [proxyRule()]),
      role('flux-system', 'open', [proxyRule({ resourceNames: undefined })]),
      role('flux-system', 'get', [proxyRule({ verbs: ['create', 'get'] })]),
      role('flux-system', 'wild', [{ apiGroups: [''], resources: ['services/*'], verbs: ['create'], resourceNames: ['webhook-receiver'] }]),
      role('flux-system', 'unrelated', [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }]),
    ]);
    expect(rules).to.equal(4);
    expect(problems).to.deep.equal([
      'ClusterRole/c rule 1: services/proxy granted by a ClusterRole',
      'Role flux-system/open rule 1: services/proxy without resourceNames reaches every Service of the namespace',
      'Role flux-system/get rule 1: services/proxy verbs get (the operator only needs create: it POSTs)',
      'Role flux-system/wild rule 1: wildcard (resources: services/*)',
    ]);
  });

  it('finds no rule in a file that grants no proxy (so the suite can tell the check ran)', () => {
    expect(serviceProxyProblems([role('a', 'b', [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }])]).rules).to.equal(0);
  });
});
