import { expect } from 'chai';
import yaml from 'js-yaml';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testEnv } from '../hooks.js';
import { installOperatorManifests, type OperatorProcess, startOperator } from '../support/operator.js';
import { parseExposition } from '../support/prometheus.js';
import { dashboardExpressions, metricNames } from '../support/promql.js';
import type { TestEnv } from '../testenv/index.js';
import { repoRoot } from '../testenv/paths.js';

const COMPONENTS = path.join(repoRoot, 'config/components');
const PROMETHEUS_CRDS = path.join(repoRoot, 'e2e/testdata/prometheus-operator-crds');
const DASHBOARD = path.join(COMPONENTS, 'grafana/gitlab-flux-link.json');
const RULES = path.join(COMPONENTS, 'prometheus/prometheusrule.yaml');

/**
 * The install extras (config/components/*, config/examples/production) as the real API server sees them: each
 * component on top of config/default, applied with `kubectl apply --server-side --dry-run=server`, so every
 * object is validated against its schema (the Prometheus Operator's CRDs for ServiceMonitor and
 * PrometheusRule, copied into e2e/testdata) and admitted, but nothing is stored. Then the dashboard's and the
 * alerts' queries are checked against a running operator's /metrics: they read only series it exposes.
 */
describe('install extras: HA, NetworkPolicy, Prometheus, Grafana and Ingress pieces on the real API server', function () {
  this.timeout(120_000);
  let env: TestEnv;
  let scratch: string;

  /** kubectl apply --dry-run=server of config/default plus the given components, as one overlay would. */
  async function dryRun(components: string[], extra: string[] = []): Promise<any[]> {
    const dir = fs.mkdtempSync(path.join(scratch, 'overlay-'));
    // kustomize refuses absolute paths; relative ones may leave the overlay's folder.
    const rel = (p: string) => path.relative(dir, p);
    fs.writeFileSync(
      path.join(dir, 'kustomization.yaml'),
      yaml.dump({
        apiVersion: 'kustomize.config.k8s.io/v1beta1',
        kind: 'Kustomization',
        resources: [rel(path.join(repoRoot, 'config/default')), ...extra.map(rel)],
        components: components.map(rel),
      }),
    );
    return dryRunDir(dir);
  }
  async function dryRunDir(dir: string): Promise<any[]> {
    const out = await env.cluster.kubectl(['apply', '--server-side', '--force-conflicts', '--dry-run=server', '-o', 'json', '-k', dir]);
    const list = JSON.parse(out);
    return list.kind === 'List' ? list.items : [list];
  }
  const find = (items: any[], kind: string, name: string) => {
    const o = items.find((i) => i.kind === kind && i.metadata.name === name);
    expect(o, `${kind}/${name} in the dry-run answer`).to.not.equal(undefined);
    return o;
  };

  before(async () => {
    env = await testEnv();
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'gfl-install-extras-'));
    // The namespace must exist for namespaced objects to pass a dry run (a dry run creates nothing).
    await installOperatorManifests(env.cluster);
    await env.cluster.kubectl(['apply', '--server-side', '--force-conflicts', '-k', PROMETHEUS_CRDS]);
    await env.cluster.kubectl([
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      'crd/servicemonitors.monitoring.coreos.com',
      'crd/prometheusrules.monitoring.coreos.com',
    ]);
  });
  after(async () => {
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
    await env?.cluster.kubectl(['delete', '--ignore-not-found', '--wait=false', '-k', PROMETHEUS_CRDS]);
  });

  it('every folder of config/components is a kustomize Component (and each is tested below)', () => {
    const found = fs
      .readdirSync(COMPONENTS, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
    expect(found).to.deep.equal(['grafana', 'ha', 'network-policy', 'prometheus']);
    for (const name of found) {
      const k = yaml.load(fs.readFileSync(path.join(COMPONENTS, name, 'kustomization.yaml'), 'utf8')) as any;
      expect(k.kind, name).to.equal('Component');
    }
  });

  it('ha: two replicas that never share a node, and a PodDisruptionBudget of one', async () => {
    const items = await dryRun([path.join(COMPONENTS, 'ha')]);
    const pod = find(items, 'Deployment', 'gitlab-flux-link');
    expect(pod.spec.replicas).to.equal(2);
    const spread = pod.spec.template.spec.topologySpreadConstraints;
    expect(spread.find((c: any) => c.topologyKey === 'kubernetes.io/hostname')).to.deep.include({
      maxSkew: 1,
      whenUnsatisfiable: 'DoNotSchedule',
    });
    expect(spread.find((c: any) => c.topologyKey === 'topology.kubernetes.io/zone')).to.deep.include({
      whenUnsatisfiable: 'ScheduleAnyway',
    });
    const pdb = find(items, 'PodDisruptionBudget', 'gitlab-flux-link');
    expect(pdb.spec.maxUnavailable).to.equal(1);
    // The PDB must select exactly the Deployment's Pods.
    expect(pdb.spec.selector.matchLabels).to.deep.equal(pod.spec.selector.matchLabels);
    for (const c of spread) expect(c.labelSelector.matchLabels).to.deep.equal(pod.spec.selector.matchLabels);
  });

  it('network-policy: the webhook port open to all, the metrics port to monitoring only, egress only to DNS, the API server and flux-system', async () => {
    const items = await dryRun([path.join(COMPONENTS, 'network-policy')]);
    const pod = find(items, 'Deployment', 'gitlab-flux-link');
    const np = find(items, 'NetworkPolicy', 'gitlab-flux-link');
    expect(np.spec.podSelector.matchLabels).to.deep.equal(pod.spec.selector.matchLabels);
    expect(np.spec.policyTypes).to.deep.equal(['Ingress', 'Egress']);
    // Rules name the container's ports by name.
    const containerPorts = pod.spec.template.spec.containers[0].ports.map((p: any) => p.name);
    for (const rule of np.spec.ingress) for (const p of rule.ports) expect(containerPorts).to.include(p.port);
    const webhookRule = np.spec.ingress.find((r: any) => r.from === undefined);
    expect(webhookRule.ports).to.deep.equal([{ port: 'http', protocol: 'TCP' }]);
    const metricsRule = np.spec.ingress.find((r: any) => r.from !== undefined);
    expect(metricsRule.from).to.deep.equal([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }]);
    expect(metricsRule.ports).to.deep.equal([{ port: 'metrics', protocol: 'TCP' }]);
    expect(np.spec.ingress).to.have.length(2);
    const egressPorts = np.spec.egress.flatMap((r: any) => r.ports.map((p: any) => `${p.port}/${p.protocol}`)).sort();
    expect(egressPorts).to.deep.equal(['443/TCP', '53/TCP', '53/UDP', '6443/TCP', '9292/TCP']);
    const flux = np.spec.egress.find((r: any) => r.to);
    expect(flux.to[0].namespaceSelector.matchLabels).to.deep.equal({ 'kubernetes.io/metadata.name': 'flux-system' });
  });

  it('prometheus: the ServiceMonitor selects the metrics Service and its port; the PrometheusRule is admitted', async () => {
    const items = await dryRun([path.join(COMPONENTS, 'prometheus')]);
    const sm = find(items, 'ServiceMonitor', 'gitlab-flux-link');
    const svc = find(items, 'Service', 'gitlab-flux-link-metrics');
    expect(svc.metadata.labels).to.deep.include(sm.spec.selector.matchLabels);
    expect(find(items, 'Service', 'gitlab-flux-link-webhook').metadata.labels).to.not.deep.include(sm.spec.selector.matchLabels);
    const scraped = svc.spec.ports.find((p: any) => p.name === sm.spec.endpoints[0].port);
    // ... which leads to the container's metrics listener, never to the webhook port.
    expect(scraped.targetPort).to.equal('metrics');
    const rule = find(items, 'PrometheusRule', 'gitlab-flux-link');
    expect(rule.spec.groups[0].rules.map((r: any) => r.alert)).to.include.members([
      'GitLabFluxLinkTriggersFailing',
      'GitLabFluxLinkReceiversNotReady',
      'GitLabFluxLinkHooksDisabled',
      'GitLabFluxLinkReconcileErrors',
    ]);
  });

  it('the Prometheus Operator schema is really checked: a ServiceMonitor with a malformed interval is refused', async () => {
    const bad = {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      metadata: { name: 'bad', namespace: 'gitlab-flux-link-system' },
      spec: { selector: {}, endpoints: [{ port: 'metrics', interval: 'every 30 seconds' }] },
    };
    const err = await env.cluster.kubectl(['apply', '--server-side', '--dry-run=server', '-f', '-'], JSON.stringify(bad)).then(
      () => undefined,
      (e: Error & { stderr?: string }) => e.stderr ?? e.message,
    );
    expect(err).to.match(/spec\.endpoints\[0\]\.interval/);
  });

  it('grafana: the dashboard ConfigMap carries the sidecar label and the dashboard JSON unchanged', async () => {
    const items = await dryRun([path.join(COMPONENTS, 'grafana')]);
    const cm = find(items, 'ConfigMap', 'gitlab-flux-link-dashboard');
    expect(cm.metadata.labels).to.deep.include({ grafana_dashboard: '1' });
    expect(JSON.parse(cm.data['gitlab-flux-link.json'])).to.deep.equal(JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')));
  });

  it('config/examples/production: every component and the Ingress together, the Ingress exposing only /hooks/', async () => {
    const items = await dryRunDir(path.join(repoRoot, 'config/examples/production'));
    for (const [kind, name] of [
      ['Deployment', 'gitlab-flux-link'],
      ['PodDisruptionBudget', 'gitlab-flux-link'],
      ['NetworkPolicy', 'gitlab-flux-link'],
      ['ServiceMonitor', 'gitlab-flux-link'],
      ['PrometheusRule', 'gitlab-flux-link'],
      ['ConfigMap', 'gitlab-flux-link-dashboard'],
      ['Ingress', 'gitlab-flux-link-webhook'],
    ]) {
      find(items, kind, name);
    }
    const ingress = find(items, 'Ingress', 'gitlab-flux-link-webhook');
    const paths = ingress.spec.rules.flatMap((r: any) => r.http.paths);
    expect(paths).to.deep.equal([
      { path: '/hooks/', pathType: 'Prefix', backend: { service: { name: 'gitlab-flux-link-webhook', port: { name: 'http' } } } },
    ]);
    expect(ingress.spec.defaultBackend).to.equal(undefined);
    // The Service port the Ingress names leads to the webhook listener (container port `http`), which serves only /hooks/.
    expect(find(items, 'Service', 'gitlab-flux-link-webhook').spec.ports).to.deep.equal([
      { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
    ]);
  });

  describe('queries against a running operator', function () {
    let op: OperatorProcess;
    let exposed: Set<string>;
    before(async () => {
      op = await startOperator(env.cluster);
      exposed = new Set();
      for (const f of parseExposition(await op.metrics()).values()) {
        const suffixes = f.type === 'histogram' ? ['_bucket', '_sum', '_count'] : f.type === 'summary' ? ['', '_sum', '_count'] : [''];
        for (const s of suffixes) exposed.add(f.name + s);
      }
    });
    after(async () => op?.stop());

    it('every metric the Grafana dashboard queries is on /metrics', () => {
      const exprs = dashboardExpressions(JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')));
      expect(exprs.length).to.be.greaterThan(10);
      const missing = exprs.flatMap((e) =>
        metricNames(e)
          .filter((n) => !exposed.has(n))
          .map((n) => `${n} (in ${e})`),
      );
      expect(missing).to.deep.equal([]);
    });

    it("every metric the alerts read is on /metrics (Prometheus's own `up` aside)", () => {
      const rule = yaml.load(fs.readFileSync(RULES, 'utf8')) as any;
      const exprs: string[] = rule.spec.groups.flatMap((g: any) => g.rules.map((r: any) => r.expr));
      const missing = exprs.flatMap((e) =>
        metricNames(e)
          .filter((n) => n !== 'up' && !exposed.has(n))
          .map((n) => `${n} (in ${e})`),
      );
      expect(missing).to.deep.equal([]);
      // The check itself can fail: a name the operator does not expose is reported.
      expect(metricNames('rate(fluxlink_no_such_series{state="disabled"}[5m])').filter((n) => !exposed.has(n))).to.deep.equal([
        'fluxlink_no_such_series',
      ]);
    });
  });
});
