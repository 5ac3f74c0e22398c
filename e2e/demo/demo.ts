import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { git, gitEnv } from '../gitlab/git-exec.js';
import type { GitServer } from '../gitlab/git-server.js';
import { apply, condition, eventually, getJson } from '../support/kube.js';
import { webhookSecretManifest } from '../support/manifests.js';
import { isLeader, metricSum, OPERATOR_NAMESPACE, OPERATOR_SA, startOperator } from '../support/operator.js';
import { findBinaries } from '../testenv/binaries.js';
import type { Cluster } from '../testenv/types.js';

/**
 * `make demo`'s story, on a test ground someone else started (e2e/demo/cli.ts, or an e2e suite): the operator
 * as its ServiceAccount, a GitLab project on the test git server with its webhook pointing at the operator, a
 * GitRepository polling only every hour and a GitLabFluxLink; then a real `git push`, timed from the push to
 * the new artifact. Everything it made is removed again and the operator stopped, whatever happens.
 */
export interface DemoResult {
  /** The pushed commit, and the artifact revision source-controller made of it. */
  sha: string;
  revision: string;
  /** HTTP status the operator answered GitLab's webhook with. */
  webhookStatus: number;
  /** Milliseconds from the start of `git push`. */
  at: { pushed: number; webhookSent: number; webhookAnswered: number; receiverTriggered: number; artifact: number };
  /** The operator's own share (fluxlink_trigger_dispatch_seconds): webhook in → Receiver request out. */
  dispatchMs: number;
}

type Print = (line: string) => void;

export async function runDemo(ground: { cluster: Cluster; git: GitServer }, print: Print = (l) => console.log(l)): Promise<DemoResult> {
  const { cluster } = ground;
  const id = randomBytes(3).toString('hex');
  const ns = `demo-${id}`;
  const linkName = `demo-${id}`;
  const secretName = `demo-${id}-webhook`;
  const project = `demo/${id}/app`;
  const cleanups: Array<[string, () => Promise<unknown>]> = [];
  const step = async <T>(fn: () => Promise<T>, say: (v: T, seconds: string) => string): Promise<T> => {
    const started = Date.now();
    const v = await fn();
    print(say(v, ((Date.now() - started) / 1000).toFixed(1)));
    return v;
  };

  try {
    const op = await step(
      () => startOperator(cluster, {}, { awaitLeadership: false }),
      (o, s) =>
        `operator ready in ${s} s (webhooks at ${o.hooksURL}, metrics at ${o.metricsURL}), as ServiceAccount ${OPERATOR_NAMESPACE}/${OPERATOR_SA} (logs: ${o.logFile})`,
    );
    cleanups.unshift(['operator stopped', () => op.stop()]);

    // GitLab's side: the project and its webhook, with a secret token the operator checks (never printed).
    const token = randomBytes(24).toString('hex');
    const hookURL = `${op.hooksURL}/hooks/${linkName}`;
    const created = await step(
      async () => {
        const p = await ground.git.createProject(project);
        ground.git.setWebhook({ url: hookURL, token }, project);
        return p;
      },
      (p, s) => `git server: project ${project} at ${p.cloneURL}, webhook (push events) → ${hookURL}, in ${s} s`,
    );

    // The cluster's side. The link is deleted first at the end, while the operator runs: it removes what the link
    // made at once (the garbage collector would too, once the link is gone).
    cleanups.unshift([
      'Secret deleted',
      () => cluster.kubectl(['delete', 'secret', secretName, '-n', OPERATOR_NAMESPACE, '--ignore-not-found']),
    ]);
    cleanups.unshift([`namespace ${ns} deleted`, () => cluster.kubectl(['delete', 'namespace', ns, '--ignore-not-found', '--wait=false'])]);
    cleanups.unshift([
      'GitLabFluxLink deleted',
      () => cluster.kubectl(['delete', 'gitlabfluxlink', linkName, '--ignore-not-found', '--timeout=60s']),
    ]);
    const label = { 'fluxlink.dev/demo': id };
    await step(
      () =>
        apply(cluster, [
          webhookSecretManifest(secretName, token),
          { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: label } },
          {
            apiVersion: 'source.toolkit.fluxcd.io/v1',
            kind: 'GitRepository',
            metadata: { name: 'app', namespace: ns },
            spec: { url: created.cloneURL, interval: '1h', ref: { branch: 'main' } },
          },
          {
            apiVersion: 'fluxlink.dev/v1alpha1',
            kind: 'GitLabFluxLink',
            metadata: { name: linkName },
            spec: {
              gitlab: { url: ground.git.instanceURL },
              receiver: { endpoint: cluster.receiverURL },
              trust: { namespaceSelector: { matchLabels: label }, projects: ['demo/**'] },
              webhook: { secretRef: { namespace: OPERATOR_NAMESPACE, name: secretName } },
            },
          },
        ]),
      (_, s) =>
        `applied in ${s} s: Secret ${OPERATOR_NAMESPACE}/${secretName} (the webhook token), GitRepository ${ns}/app (branch main, interval 1h), GitLabFluxLink ${linkName}`,
    );

    await step(
      async () => {
        const l = await eventually(
          `GitLabFluxLink ${linkName} Ready with its Receiver`,
          async () => {
            const x = await getJson(cluster, 'gitlabfluxlink', linkName);
            return condition(x, 'Ready')?.status === 'True' && x.status.readyReceivers === 1 ? x : undefined;
          },
          90_000,
          200,
        );
        return { l, leading: isLeader(await op.metrics()) };
      },
      ({ l, leading }, s) =>
        `GitLabFluxLink Ready in ${s} s: ${l.status.repositories} repository, ${l.status.readyReceivers} Ready Receiver (${ns}/gfl-app)${leading ? '' : '; reconciled by another operator, which holds the leader Lease'}`,
    );

    // A working copy, as a developer would have one.
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'gfl-demo-'));
    cleanups.push(['working copy removed', async () => fs.rmSync(work, { recursive: true, force: true })]);
    const env = gitEnv(work);
    const dir = path.join(work, 'app');
    const g = (...args: string[]) => git(args, { env, cwd: dir });
    await git(['clone', '--quiet', created.cloneURL, dir], { env });
    const initial = (await g('rev-parse', 'HEAD')).trim();
    await step(
      () => eventually('the first artifact', async () => (await revision(cluster, ns)) === `main@sha1:${initial}`, 60_000, 200),
      (_, s) =>
        `first artifact main@sha1:${initial.slice(0, 7)} (the initial commit) in ${s} s; from now on only a push can explain a new one`,
    );

    // Watch the GitRepository from here on: each change arrives as one line, stamped when it arrives.
    const watch = watchGitRepository(cluster, ns, 'app');
    cleanups.unshift(['watch stopped', async () => watch.stop()]);
    await watch.ready;
    const before = await op.metrics();
    const requestedBefore = watch.events.at(-1)?.requestedAt ?? '';

    fs.writeFileSync(path.join(dir, 'version.txt'), `${new Date().toISOString()}\n`);
    await g('add', 'version.txt');
    await g('commit', '--quiet', '-m', 'Bump version');
    const sha = (await g('rev-parse', 'HEAD')).trim();
    const t0 = Date.now();
    await g('push', '--quiet', 'origin', 'HEAD:refs/heads/main');
    const pushed = Date.now() - t0;
    const expected = `main@sha1:${sha}`;
    const artifactEvent = await watch.until((e) => e.revision === expected, 30_000, `artifact ${expected}`);
    await ground.git.idle();
    const delivery = ground.git.deliveries.filter((d) => d.project === project).at(-1);
    if (!delivery || typeof delivery.status !== 'number')
      throw new Error(`no webhook delivery answered for ${project}: ${delivery?.error ?? 'none sent'}`);
    const triggerEvent = watch.events.find((e) => e.at >= t0 && e.requestedAt !== requestedBefore);
    const after = await op.metrics();
    const dispatches =
      metricSum(after, 'fluxlink_trigger_dispatch_seconds_count') - metricSum(before, 'fluxlink_trigger_dispatch_seconds_count');
    const dispatchMs =
      dispatches === 1
        ? (metricSum(after, 'fluxlink_trigger_dispatch_seconds_sum') - metricSum(before, 'fluxlink_trigger_dispatch_seconds_sum')) * 1000
        : NaN;

    const at = {
      pushed,
      webhookSent: delivery.at.getTime() - t0,
      webhookAnswered: delivery.at.getTime() + delivery.durationMs - t0,
      receiverTriggered: (triggerEvent?.at ?? NaN) - t0,
      artifact: artifactEvent.at - t0,
    };
    const t = (ms: number) => (Number.isNaN(ms) ? '    ?   ' : `+${(ms / 1000).toFixed(3)} s`);
    print(`git push of ${sha.slice(0, 7)} to main, timed from the push:`);
    print(`  t=0.000 s  git push started`);
    print(`  ${t(at.pushed)}  git push done`);
    print(`  ${t(at.webhookSent)}  the git server sent GitLab's Push Hook to the operator`);
    print(
      `  ${t(at.webhookAnswered)}  operator answered ${delivery.status}${Number.isNaN(dispatchMs) ? '' : `; it sent the Receiver request ${dispatchMs.toFixed(1)} ms after the webhook arrived`}`,
    );
    print(
      `  ${t(at.receiverTriggered)}  Receiver triggered: notification-controller set reconcile.fluxcd.io/requestedAt on GitRepository ${ns}/app`,
    );
    print(`  ${t(at.artifact)}  artifact revision ${expected}: source-controller fetched the pushed commit`);
    print(`without the webhook, that commit would have waited for the GitRepository's interval: up to 1 h`);
    return { sha, revision: artifactEvent.revision, webhookStatus: delivery.status, at, dispatchMs };
  } finally {
    const done: string[] = [];
    for (const [what, fn] of cleanups) {
      try {
        await fn();
        done.push(what);
      } catch (err) {
        print(`cleanup: ${what} FAILED: ${(err as Error).message.split('\n')[0]}`);
      }
    }
    ground.git.setWebhook(undefined, project);
    if (done.length) print(`cleaned up: ${done.join(', ')}`);
  }
}

async function revision(cluster: Cluster, ns: string): Promise<string | undefined> {
  return (await getJson(cluster, 'gitrepository', 'app', '-n', ns))?.status?.artifact?.revision;
}

interface RepoEvent {
  at: number;
  requestedAt: string;
  revision: string;
}

/** `kubectl get --watch` on one GitRepository, one line per change (annotation requestedAt, artifact revision). */
function watchGitRepository(cluster: Cluster, ns: string, name: string) {
  const template = '{.metadata.annotations.reconcile\\.fluxcd\\.io/requestedAt}{"|"}{.status.artifact.revision}{"\\n"}';
  const child = spawn(
    findBinaries().path('kubectl'),
    [`--kubeconfig=${cluster.kubeconfig}`, 'get', 'gitrepository', name, '-n', ns, '--watch', '-o', `jsonpath=${template}`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const events: RepoEvent[] = [];
  const listeners = new Set<() => void>();
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    const [requestedAt = '', revision = ''] = line.split('|');
    events.push({ at: Date.now(), requestedAt, revision });
    for (const l of listeners) l();
  });
  const until = (match: (e: RepoEvent) => boolean, timeoutMs: number, what: string) =>
    new Promise<RepoEvent>((resolve, reject) => {
      const check = () => {
        const e = events.find(match);
        if (!e) return false;
        cleanup();
        resolve(e);
        return true;
      };
      const onExit = () => (cleanup(), reject(new Error(`kubectl --watch exited: ${stderr.trim()}`)));
      const timer = setTimeout(
        () => (
          cleanup(),
          reject(new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}; last: ${JSON.stringify(events.at(-1))}`))
        ),
        timeoutMs,
      );
      const cleanup = () => {
        clearTimeout(timer);
        listeners.delete(check);
        child.off('exit', onExit);
      };
      if (check()) return;
      listeners.add(check);
      child.once('exit', onExit);
    });
  return {
    events,
    until,
    /** Resolves once the watch has printed the object's current state. */
    ready: until(() => true, 10_000, `the watch on GitRepository ${ns}/${name}`),
    stop: () => child.kill(),
  };
}
