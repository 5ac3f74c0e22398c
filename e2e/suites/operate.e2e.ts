import { expect } from 'chai';
import yaml from 'js-yaml';
import fs from 'node:fs';
import path from 'node:path';
import { pushCommit } from '../gitlab/git-server.js';
import { testEnv } from '../hooks.js';
import { apply, condition, eventually, freshNamespace, getJson, getTable, type Table } from '../support/kube.js';
import { metricSum, OPERATOR_NAMESPACE, type OperatorProcess, startOperator } from '../support/operator.js';
import { type Family, parseExposition } from '../support/prometheus.js';
import { runtimeNodeVersion } from '../support/runtime.js';
import type { TestEnv } from '../testenv/index.js';
import { repoRoot } from '../testenv/paths.js';
import { getStatus, sleep } from '../testenv/probe.js';

/**
 * Day-to-day operation: what a platform team sees of a running operator with the tools it already has —
 * `kubectl get` / `-o wide` / `describe` (asserted on the API server's own Table), /metrics as Prometheus
 * reads it, the probes a Deployment uses, and SIGTERM with work in flight.
 */
describe('operate: kubectl columns, metrics, probes, graceful shutdown', function () {
  this.timeout(240_000);
  const TOKEN = 'operate-e2e-webhook-token-0123456789';
  const SECRET = 'operate-webhook';
  let env: TestEnv;
  let n = 0;

  const gitRepo = (ns: string, name: string, url: string, extra: Record<string, unknown> = {}) => ({
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'GitRepository',
    metadata: { name, namespace: ns },
    spec: { url, interval: '1h', ref: { branch: 'main' }, ...extra },
  });
  const link = (name: string, selector: Record<string, string>) => ({
    apiVersion: 'fluxlink.dev/v1alpha1',
    kind: 'GitLabFluxLink',
    metadata: { name },
    spec: {
      gitlab: { url: env.git.instanceURL },
      receiver: { endpoint: env.cluster.receiverURL },
      trust: { namespaceSelector: { matchLabels: selector }, projects: ['operate/**'] },
      webhook: { secretRef: { namespace: OPERATOR_NAMESPACE, name: SECRET } },
    },
  });
  /** A namespace only this link selects, and the link's name. */
  const scope = async (prefix: string) => {
    const id = `o${process.pid}-${++n}`;
    const label = { 'e2e.fluxlink.dev/operate': id };
    return { id, label, name: `${prefix}-${id}`, ns: await freshNamespace(env.cluster, 'operate', label) };
  };
  const readyLink = (name: string, repositories: number, timeoutMs = 90_000) =>
    eventually(
      `link ${name} Ready with ${repositories} ready receivers`,
      async () => {
        const l = await getJson(env.cluster, 'gitlabfluxlink', name);
        return condition(l, 'Ready')?.status === 'True' &&
          l.status.repositories === repositories &&
          l.status.readyReceivers === repositories
          ? l
          : undefined;
      },
      timeoutMs,
      500,
    );
  const stalledLink = (name: string) =>
    eventually(`link ${name} Stalled`, async () => {
      const l = await getJson(env.cluster, 'gitlabfluxlink', name);
      return condition(l, 'Stalled')?.status === 'True' ? l : undefined;
    });
  const deleteLinks = async (...names: string[]) => {
    for (const name of names)
      await env.cluster.kubectl(['delete', 'gitlabfluxlink', name, '--ignore-not-found', '--wait=true', '--timeout=60s']);
  };

  before(async () => {
    env = await testEnv();
    await env.cluster.kubectl(['create', 'namespace', OPERATOR_NAMESPACE]).catch(() => undefined);
    await env.cluster
      .kubectl(['create', 'secret', 'generic', SECRET, '-n', OPERATOR_NAMESPACE, `--from-literal=token=${TOKEN}`])
      .catch(() => undefined);
  });

  describe('kubectl and /metrics of a running operator', function () {
    let op: OperatorProcess;
    let ready: { name: string; ns: string; project: string };
    let stalled: string;

    before(async () => {
      op = await startOperator(env.cluster);
      const s = await scope('ready');
      const project = `operate/${s.id}/app`;
      await env.git.createProject(project);
      // app: a real project the push case pushes to; web: suspended, so source-controller leaves it alone.
      await apply(env.cluster, [
        gitRepo(s.ns, 'app', `${env.git.baseURL}/${project}.git`),
        gitRepo(s.ns, 'web', `${env.git.instanceURL}/operate/${s.id}/web.git`, { suspend: true }),
      ]);
      await apply(env.cluster, [link(s.name, s.label)]);
      ready = { name: s.name, ns: s.ns, project };
      // matchLabels keys are checked by the operator only (see link.e2e.ts): stored, then Stalled.
      stalled = `stalled-${s.id}`;
      await apply(env.cluster, [link(stalled, { 'not a valid key!': 'x' })]);
      await readyLink(ready.name, 2);
      await stalledLink(stalled);
    });
    after(async () => {
      if (op) await deleteLinks(...[ready?.name, stalled].filter((x): x is string => !!x)).catch(() => undefined);
      await op?.stop();
    });

    it("serves kubectl's Table with the CRD's printer columns; wide-only columns have priority > 0", async () => {
      const crd = yaml.load(fs.readFileSync(path.join(repoRoot, 'crds/fluxlink.dev_gitlabfluxlinks.yaml'), 'utf8')) as any;
      const printer: Array<{ name: string; type: string; description?: string; priority?: number }> = crd.spec.versions.find(
        (v: any) => v.name === 'v1alpha1',
      ).additionalPrinterColumns;
      const table = await getTable(env.cluster, '/apis/fluxlink.dev/v1alpha1/gitlabfluxlinks');

      const columns = table.columnDefinitions.map((c) => ({ name: c.name, type: c.type, priority: c.priority ?? 0 }));
      expect(columns, 'Name, then the CRD columns in order').to.deep.equal([
        { name: 'Name', type: 'string', priority: 0 },
        ...printer.map((c) => ({ name: c.name, type: c.type, priority: c.priority ?? 0 })),
      ]);
      for (const c of printer.filter((p) => p.description)) {
        expect(table.columnDefinitions.find((d) => d.name === c.name)?.description, `${c.name} description`).to.equal(c.description);
      }
      // What `kubectl get` shows, and what only `-o wide` adds.
      expect(columns.filter((c) => c.priority === 0).map((c) => c.name)).to.deep.equal([
        'Name',
        'URL',
        'Repositories',
        'Ready',
        'Status',
        'Age',
      ]);
      expect(columns.filter((c) => c.priority > 0).map((c) => c.name)).to.deep.equal(['Receiver', 'Conflicts', 'Suspended']);

      const readyRow = row(table, ready.name);
      expect(readyRow).to.deep.include({
        Name: ready.name,
        URL: env.git.instanceURL,
        Repositories: 2,
        Ready: 'True',
        Status: '2 repositories linked, 2 receivers ready',
        Receiver: env.cluster.receiverURL,
        Conflicts: 0,
        Suspended: false,
      });
      expect(readyRow.Age).to.match(/^\d+(s|m\d*s?)$/);

      const stalledRow = row(table, stalled);
      expect(stalledRow).to.deep.include({
        Name: stalled,
        URL: env.git.instanceURL,
        Ready: 'False',
        Receiver: env.cluster.receiverURL,
        Suspended: false,
      });
      expect(stalledRow.Status).to.be.a('string').and.include('spec.trust.namespaceSelector.matchLabels');
      // A link that could not be evaluated has no counts: empty cells, not zeros that would read "all fine".
      expect(stalledRow.Repositories, 'Repositories of a Stalled link').to.equal(null);
      expect(stalledRow.Conflicts, 'Conflicts of a Stalled link').to.equal(null);
    });

    it('`kubectl get gfl` and `-o wide` print those columns and values', async () => {
      const plain = columnsOf(await env.cluster.kubectl(['get', 'gfl', ready.name, stalled]));
      expect(plain.header).to.deep.equal(['NAME', 'URL', 'REPOSITORIES', 'READY', 'STATUS', 'AGE']);
      expect(plain.rows[ready.name].slice(1, 5)).to.deep.equal([
        env.git.instanceURL,
        '2',
        'True',
        '2 repositories linked, 2 receivers ready',
      ]);
      expect(plain.rows[stalled].slice(1, 4), 'no count for a Stalled link').to.deep.equal([env.git.instanceURL, '', 'False']);
      expect(plain.rows[stalled][4]).to.include('spec.trust.namespaceSelector.matchLabels');

      const wide = columnsOf(await env.cluster.kubectl(['get', 'gfl', ready.name, stalled, '-o', 'wide']));
      expect(wide.header).to.deep.equal(['NAME', 'URL', 'REPOSITORIES', 'READY', 'STATUS', 'AGE', 'RECEIVER', 'CONFLICTS', 'SUSPENDED']);
      expect(wide.rows[ready.name].slice(6)).to.deep.equal([env.cluster.receiverURL, '0', 'false']);
      expect(wide.rows[stalled].slice(6)).to.deep.equal([env.cluster.receiverURL, '', 'false']);
    });

    it('`kubectl describe gfl` shows the Events the operator recorded', async () => {
      const events = (out: string) => out.slice(out.indexOf('\nEvents:'));
      const readyEvents = await eventually(
        'Events of the Ready link',
        async () => {
          const e = events(await env.cluster.kubectl(['describe', 'gfl', ready.name]));
          return /Normal\s+ReceiversChanged\s+\S+\s+gitlab-flux-link\s+Receivers 2 created/.test(e) &&
            /Normal\s+Succeeded\s+\S+\s+gitlab-flux-link\s+2 repositories linked, 2 receivers ready/.test(e)
            ? e
            : undefined;
        },
        30_000,
        500,
      );
      expect(readyEvents).to.match(/Type\s+Reason\s+Age\s+From\s+Message/);
      const stalledEvents = await eventually(
        'Events of the Stalled link',
        async () => {
          const e = events(await env.cluster.kubectl(['describe', 'gfl', stalled]));
          return /Warning\s+InvalidSpec\s+\S+\s+gitlab-flux-link\s+spec\.trust\.namespaceSelector\.matchLabels/.test(e) ? e : undefined;
        },
        30_000,
        500,
      );
      expect(stalledEvents, 'the Stalled link records no success').not.to.match(/Succeeded|ReceiversChanged/);
    });

    it('/metrics after a reconcile and a push: valid Prometheus text with controller-runtime names, labels and sensible values', async () => {
      env.git.setWebhook({ url: `${op.hooksURL}/hooks/${ready.name}`, token: TOKEN }, ready.project);
      await pushCommit(env.git, ready.project, { branch: 'main', files: { 'v.txt': 'operate' } });
      await env.git.idle();
      expect(env.git.deliveries.filter((d) => d.project === ready.project).pop()?.status, 'webhook answered').to.equal(202);
      await eventually(
        'the push delivered to the Receiver',
        async () => metricSum(await op.metrics(), 'fluxlink_triggers_total', { result: 'delivered' }) >= 1,
      );

      const res = await fetch(`${op.metricsURL}/metrics`);
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4; charset=utf-8$/);
      const families = parseExposition(await res.text());
      for (const f of families.values()) {
        expect(f.help, `HELP of ${f.name}`).to.be.a('string').and.not.equal('');
        expect(f.type, `TYPE of ${f.name}`).not.to.equal('untyped');
      }
      const fam = (name: string, type: Family['type']) => {
        const f = families.get(name);
        expect(f, `family ${name}`).to.not.equal(undefined);
        expect(f!.type, `type of ${name}`).to.equal(type);
        return f!;
      };
      const value = (f: Family, labels: Record<string, string>, sampleName = f.name) =>
        f.samples.find(
          (s) => s.name === sampleName && JSON.stringify(Object.entries(s.labels).sort()) === JSON.stringify(Object.entries(labels).sort()),
        )?.value;
      const labelNames = (f: Family, sampleName = f.name) => [
        ...new Set(f.samples.filter((s) => s.name === sampleName).map((s) => Object.keys(s.labels).sort().join(','))),
      ];
      const controller = { controller: 'gitlabfluxlink' };
      // The link controller's series; the hooks controller (gitlabhooks) has its own, checked to exist at 0 or more.
      const ofLinks = (f: Family) => f.samples.filter((s) => s.labels.controller === 'gitlabfluxlink');

      const total = fam('controller_runtime_reconcile_total', 'counter');
      expect(labelNames(total)).to.deep.equal(['controller,result']);
      expect(
        ofLinks(total)
          .map((s) => s.labels.result)
          .sort(),
      ).to.deep.equal(['error', 'requeue', 'requeue_after', 'success']);
      expect(value(total, { controller: 'gitlabhooks', result: 'error' })).to.be.at.least(0);
      expect(value(total, { ...controller, result: 'success' })).to.be.greaterThan(0);
      const errors = fam('controller_runtime_reconcile_errors_total', 'counter');
      expect(labelNames(errors)).to.deep.equal(['controller']);
      expect(value(errors, controller), 'errors equal error results').to.equal(value(total, { ...controller, result: 'error' }));

      const time = fam('controller_runtime_reconcile_time_seconds', 'histogram');
      expect(labelNames(time, `${time.name}_bucket`)).to.deep.equal(['controller,le']);
      expect(labelNames(time, `${time.name}_count`)).to.deep.equal(['controller']);
      expect(
        ofLinks(time)
          .filter((s) => s.name.endsWith('_bucket'))
          .map((s) => s.labels.le),
      ).to.deep.equal(['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '30', '60', '+Inf']);
      const reconciles = ofLinks(total).reduce((a, s) => a + s.value, 0);
      const timed = value(time, controller, `${time.name}_count`)!;
      // Both move in the same tick at the end of every reconcile, and a scrape reads all counters in one tick.
      expect(timed, 'every reconcile timed once').to.equal(reconciles);
      expect(value(time, controller, `${time.name}_sum`)! / timed, 'mean reconcile seconds').to.be.within(0, 10);

      const depth = fam('workqueue_depth', 'gauge');
      expect(labelNames(depth)).to.deep.equal(['name']);
      expect(value(depth, { name: 'gitlabfluxlink' })).to.be.within(0, 10);

      const rest = fam('rest_client_requests_total', 'counter');
      expect(labelNames(rest)).to.deep.equal(['code,resource,verb']);
      for (const s of rest.samples) expect(s.labels.code, `code of ${JSON.stringify(s.labels)}`).to.match(/^(0|[1-5]\d\d)$/);
      expect(value(rest, { verb: 'list', resource: 'gitlabfluxlinks.fluxlink.dev', code: '200' })).to.be.greaterThan(0);
      expect(value(rest, { verb: 'create', resource: 'secrets', code: '201' })).to.be.at.least(2);
      expect(value(rest, { verb: 'create', resource: 'receivers.notification.toolkit.fluxcd.io', code: '201' })).to.be.at.least(2);
      expect(value(rest, { verb: 'update-status', resource: 'gitlabfluxlinks.fluxlink.dev', code: '200' })).to.be.greaterThan(0);

      expect(value(fam('fluxlink_linked_repositories', 'gauge'), { link: ready.name })).to.equal(2);
      expect(value(fam('fluxlink_ready_receivers', 'gauge'), { link: ready.name })).to.equal(2);
      const writes = fam('fluxlink_object_writes_total', 'counter');
      expect(labelNames(writes)).to.deep.equal(['kind,verb']);
      expect(value(writes, { verb: 'create', kind: 'Secret' })).to.be.at.least(2);
      expect(value(writes, { verb: 'create', kind: 'Receiver' })).to.be.at.least(2);
      expect(value(fam('fluxlink_webhooks_received_total', 'counter'), { result: 'accepted' })).to.be.at.least(1);
      const delivered = value(fam('fluxlink_triggers_total', 'counter'), { result: 'delivered' })!;
      expect(delivered).to.be.at.least(1);
      const triggerTime = fam('fluxlink_trigger_duration_seconds', 'histogram');
      const triggers = fam('fluxlink_triggers_total', 'counter').samples.reduce((a, s) => a + s.value, 0);
      expect(value(triggerTime, {}, `${triggerTime.name}_count`), 'every trigger timed once').to.equal(triggers);
      expect(value(triggerTime, {}, `${triggerTime.name}_sum`)! / triggers, 'mean trigger seconds').to.be.within(0, 30);
      const answerTime = fam('fluxlink_webhook_duration_seconds', 'histogram');
      const webhooks = fam('fluxlink_webhooks_received_total', 'counter').samples.reduce((a, s) => a + s.value, 0);
      expect(value(answerTime, {}, `${answerTime.name}_count`), 'every webhook answer timed once').to.equal(webhooks);
      expect(value(fam('fluxlink_trigger_queue_depth', 'gauge'), {})).to.equal(0);
      expect(value(fam('fluxlink_pushes_coalesced_total', 'counter'), {})).to.be.at.least(0);
      expect(value(fam('fluxlink_triggers_dropped_total', 'counter'), {})).to.equal(0);
      // prom-client's process metrics, as every Node exporter has them.
      expect(value(fam('process_resident_memory_bytes', 'gauge'), {})).to.be.greaterThan(10 << 20);
      expect(value(fam('process_cpu_seconds_total', 'counter'), {})).to.be.greaterThan(0);
      // The operator runs on the pinned Node.js (hack/node-versions), whatever node the machine has.
      const runtime = fam('nodejs_version_info', 'gauge').samples.map((s) => s.labels.version);
      expect(runtime, 'Node.js version the operator process runs on').to.deep.equal([`v${runtimeNodeVersion()}`]);
    });

    it('two listeners: the webhook port serves only /hooks/, the metrics port /metrics and the probes and no /hooks/', async () => {
      const status = async (url: string, init?: RequestInit) => (await fetch(url, init)).status;
      for (const p of ['/metrics', '/healthz', '/readyz']) {
        expect(await status(`${op.metricsURL}${p}`), `metrics port ${p}`).to.equal(200);
        expect(await status(`${op.hooksURL}${p}`), `webhook port ${p}`).to.equal(404);
      }
      // An authenticated event that is not a push: 200 where webhooks are served, 404 on the metrics port.
      const hook = {
        method: 'POST',
        headers: { 'X-Gitlab-Event': 'Merge Request Hook', 'X-Gitlab-Token': TOKEN },
        body: '{"object_kind":"merge_request"}',
      };
      expect(await status(`${op.metricsURL}/hooks/${ready.name}`, hook), 'metrics port /hooks/').to.equal(404);
      expect(await status(`${op.hooksURL}/hooks/${ready.name}`, hook), 'webhook port /hooks/').to.equal(200);
    });
  });

  describe('probes', function () {
    const SA = 'gfl-operate-readyz';
    const ROLE = 'gfl-operate-no-secret-list';
    let op: OperatorProcess | undefined;

    after(async () => {
      await op?.stop();
      await env.cluster.kubectl(['delete', 'clusterrolebinding', ROLE, `${ROLE}-full`, '--ignore-not-found']);
      await env.cluster.kubectl(['delete', 'clusterrole', ROLE, '--ignore-not-found']);
      await env.cluster.kubectl(['delete', 'serviceaccount', SA, '-n', OPERATOR_NAMESPACE, '--ignore-not-found']);
    });

    it('/healthz is 200 while the process serves; /readyz is 503 until every cache has synced, then 200', async () => {
      // A deterministic "before sync": the shipped role without list/watch on Secrets, so the Secret cache
      // cannot sync (links, GitRepositories, Namespaces and Receivers can). Granting the shipped role then
      // lets it sync on its next retry, without a restart.
      const role = yaml.load(fs.readFileSync(path.join(repoRoot, 'config/rbac/role.yaml'), 'utf8')) as any;
      role.metadata = { name: ROLE };
      const secretsRule = role.rules.find((r: any) => r.resources.includes('secrets'));
      expect(secretsRule?.verbs, 'the shipped role lists and watches Secrets').to.include.members(['list', 'watch']);
      secretsRule.verbs = secretsRule.verbs.filter((v: string) => v !== 'list' && v !== 'watch');
      await apply(env.cluster, [
        { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: SA, namespace: OPERATOR_NAMESPACE } },
        role,
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRoleBinding',
          metadata: { name: ROLE },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: ROLE },
          subjects: [{ kind: 'ServiceAccount', name: SA, namespace: OPERATOR_NAMESPACE }],
        },
      ]);

      op = await startOperator(env.cluster, {}, { serviceAccount: SA, waitReady: false });
      const seen = { healthz: new Set<number>(), readyz: new Set<number>() };
      const until = Date.now() + 4000;
      while (Date.now() < until) {
        seen.healthz.add((await getStatus(`${op.metricsURL}/healthz`)).status);
        seen.readyz.add((await getStatus(`${op.metricsURL}/readyz`)).status);
        await sleep(200);
      }
      expect([...seen.healthz], '/healthz while the Secret cache cannot sync').to.deep.equal([200]);
      expect([...seen.readyz], '/readyz while the Secret cache cannot sync').to.deep.equal([503]);
      expect((await getStatus(`${op.metricsURL}/readyz`)).body).to.equal('caches not synced');

      await apply(env.cluster, [
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRoleBinding',
          metadata: { name: `${ROLE}-full` },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'gitlab-flux-link-manager' },
          subjects: [{ kind: 'ServiceAccount', name: SA, namespace: OPERATOR_NAMESPACE }],
        },
      ]);
      const granted = Date.now();
      await eventually(
        '/readyz 200 once the Secret cache has synced',
        async () => (await getStatus(op!.metricsURL + '/readyz')).status === 200,
        60_000,
        200,
      );
      console.log(`      /readyz 200 ${((Date.now() - granted) / 1000).toFixed(1)} s after the grant (the cache retries with backoff)`);
      expect((await getStatus(`${op.metricsURL}/healthz`)).status).to.equal(200);
    });
  });

  describe('graceful shutdown', function () {
    const REPOS = 200;
    const SHUTDOWN_TIMEOUT_SECONDS = 1;
    const MARGIN_SECONDS = 5;
    let op: OperatorProcess | undefined;
    let linkName: string | undefined;

    after(async () => {
      if (linkName && op && op.proc.child.exitCode === null) await deleteLinks(linkName).catch(() => undefined);
      await op?.stop();
    });

    it(`SIGTERM with a reconcile in flight: exits 0 within SHUTDOWN_TIMEOUT_SECONDS (+${MARGIN_SECONDS} s), logs "shutting down" then "stopped", and a restart converges exactly`, async () => {
      const s = await scope('shutdown');
      linkName = s.name;
      const repos = Array.from({ length: REPOS }, (_, i) => `app-${String(i).padStart(3, '0')}`);
      // Suspended: source-controller leaves them alone; the operator links them all the same.
      await apply(
        env.cluster,
        repos.map((r) => gitRepo(s.ns, r, `${env.git.instanceURL}/operate/${s.id}/${r}.git`, { suspend: true })),
      );

      // One write at a time, so converging 2×REPOS objects outlasts the shutdown bound.
      op = await startOperator(env.cluster, { SHUTDOWN_TIMEOUT_SECONDS: String(SHUTDOWN_TIMEOUT_SECONDS), WRITE_CONCURRENCY: '1' });
      const first = op;
      const writesSoFar = async () => metricSum(await first.metrics(), 'fluxlink_object_writes_total');
      await apply(env.cluster, [link(s.name, s.label)]);
      await eventually('the first writes of the link', async () => (await writesSoFar()) >= 5, 60_000, 20);

      const writesAtSigterm = await writesSoFar();
      const signalled = Date.now();
      first.proc.child.kill('SIGTERM');
      const code = await Promise.race([first.proc.exited, sleep((SHUTDOWN_TIMEOUT_SECONDS + 30) * 1000).then(() => 'still running')]);
      const seconds = (Date.now() - signalled) / 1000;
      console.log(
        `      SIGTERM → exit ${code} in ${seconds.toFixed(2)} s (bound ${SHUTDOWN_TIMEOUT_SECONDS} s; ${writesAtSigterm} of ${2 * REPOS} writes done at SIGTERM)`,
      );
      expect(writesAtSigterm, 'work was in flight at SIGTERM').to.be.below(2 * REPOS);
      expect(code, 'exit code').to.equal(0);
      expect(seconds, 'shutdown time').to.be.below(SHUTDOWN_TIMEOUT_SECONDS + MARGIN_SECONDS);

      const log = fs
        .readFileSync(first.logFile, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { level: string; message: string; timestamp: string });
      const shuttingDown = log.findIndex((l) => l.message === 'shutting down');
      const stopped = log.findIndex((l) => l.message === 'stopped');
      expect(shuttingDown, '"shutting down" logged').to.be.at.least(0);
      expect(stopped, '"stopped" logged after "shutting down"').to.be.above(shuttingDown);
      expect(log[stopped]).to.include({ level: 'info' });
      expect(Date.parse(log[stopped].timestamp) - Date.parse(log[shuttingDown].timestamp), 'drain time in the log').to.be.below(
        (SHUTDOWN_TIMEOUT_SECONDS + MARGIN_SECONDS) * 1000,
      );

      // Nothing half-written: Secrets go before Receivers, so every Receiver there is has its Secret.
      const halfway = await managed(s.ns);
      console.log(`      left by the stopped operator: ${halfway.secrets.size} Secrets, ${halfway.receivers.size} Receivers of ${REPOS}`);
      expect(halfway.receivers.size, 'not converged when the bound cut the reconcile (else this proves nothing)').to.be.below(REPOS);
      for (const r of halfway.receivers.keys()) expect(halfway.secrets.has(r), `Secret of Receiver ${r}`).to.equal(true);

      op = await startOperator(env.cluster);
      const l = await readyLink(s.name, REPOS, 180_000);
      expect(l.status.conflicts).to.equal(0);
      const after = await managed(s.ns);
      const names = repos.map((r) => `gfl-${r}`).sort();
      expect([...after.receivers.keys()].sort(), 'exactly one Receiver per GitRepository').to.deep.equal(names);
      expect([...after.secrets.keys()].sort(), 'exactly one Secret per GitRepository').to.deep.equal(names);
      for (const [name, r] of after.receivers) expect(r.spec.secretRef, `secretRef of ${name}`).to.deep.equal({ name });
      const elsewhere = await getJson(env.cluster, 'receivers', '-A', '-l', `fluxlink.dev/link=${s.name}`);
      expect(elsewhere.items, 'no object of the link outside its namespace').to.have.length(REPOS);
      // Tokens written before the SIGTERM are kept (compared here, never printed).
      const changed = [...halfway.secrets].filter(([name, token]) => after.secrets.get(name) !== token).map(([name]) => name);
      expect(changed, 'Secrets whose token changed across the restart').to.deep.equal([]);

      // An idle operator does not wait out the bound: the drain ends at once.
      await deleteLinks(s.name);
      linkName = undefined;
      const idle = op;
      const idleSignalled = Date.now();
      idle.proc.child.kill('SIGTERM');
      const idleCode = await Promise.race([idle.proc.exited, sleep(30_000).then(() => 'still running')]);
      const idleSeconds = (Date.now() - idleSignalled) / 1000;
      console.log(`      idle operator: SIGTERM → exit ${idleCode} in ${idleSeconds.toFixed(2)} s (bound 20 s)`);
      expect(idleCode).to.equal(0);
      expect(idleSeconds, 'idle shutdown time').to.be.below(5);
    });

    /** Managed Receivers (name → object) and Secrets (name → token) of a namespace. */
    async function managed(ns: string): Promise<{ receivers: Map<string, any>; secrets: Map<string, string> }> {
      const selector = ['-n', ns, '-l', 'app.kubernetes.io/managed-by=gitlab-flux-link'];
      const receivers = ((await getJson(env.cluster, 'receivers', ...selector))?.items ?? []) as any[];
      const secrets = ((await getJson(env.cluster, 'secrets', ...selector))?.items ?? []) as any[];
      return {
        receivers: new Map(receivers.map((r) => [r.metadata.name, r])),
        secrets: new Map(secrets.map((x) => [x.metadata.name, x.data?.token as string])),
      };
    }
  });
});

/** The cells of the row named `name`, keyed by column name. */
function row(table: Table, name: string): Record<string, unknown> {
  const r = table.rows.find((x) => x.cells[0] === name);
  if (!r) throw new Error(`no row ${name} in the Table (rows: ${table.rows.map((x) => x.cells[0]).join(', ')})`);
  return Object.fromEntries(table.columnDefinitions.map((c, i) => [c.name, r.cells[i]]));
}

/**
 * kubectl's text table: header names and each row's cells by the header's column offsets (kubectl aligns
 * every cell under its header and prints an empty cell for a value the object does not have).
 */
function columnsOf(out: string): { header: string[]; rows: Record<string, string[]> } {
  const [header, ...lines] = out.trimEnd().split('\n');
  const starts = [...header.matchAll(/\S+/g)].map((m) => m.index!);
  const cells = (l: string) => starts.map((start, i) => l.slice(start, starts[i + 1]).trim());
  return { header: cells(header), rows: Object.fromEntries(lines.map((l) => [cells(l)[0], cells(l)])) };
}
