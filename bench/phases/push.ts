import { randomBytes } from 'node:crypto';
import { pushCommit } from '../../e2e/gitlab/git-server.js';
import { histogram, sum } from '../../e2e/support/prometheus.js';
import { sleep } from '../../e2e/testenv/probe.js';
import { GIT_REPOSITORIES, type Receiver, RECEIVERS } from '../../operator/flux/types.js';
import { SECRETS } from '../../operator/meta/resource.js';
import type { BenchConfig } from '../config.js';
import {
  createLink,
  createNamespaces,
  gitRepository,
  type Ground,
  linkObject,
  startBenchOperator,
  startGround,
  WEBHOOK_TOKEN,
} from '../ground.js';
import type { PushResult } from '../results.js';
import { bucketDelta } from '../stats.js';
import { RevisionWatcher, until, waitLinkReady } from '../watch.js';

/**
 * Part 1, push → reconcile, three ways on one test ground, every GitRepository but the polling ones at
 * interval 1h so only the push explains a new artifact:
 *  (a) git push → GitLab-shaped webhook → operator → its Receiver → source-controller;
 *  (b) git push → webhook straight to a hand-made Receiver of type gitlab (own token Secret), as a user wires it;
 *  (c) git push, nothing else: GitRepository interval 1m.
 * (a) and (b) alternate push by push, each waiting for its artifact; (c) pushes once to each of N
 * repositories, spread evenly over one interval, so every phase of the polling cycle is sampled once.
 */
const LINK = 'bench-push';
const ARTIFACT_TIMEOUT_MS = 60_000;

export async function runPushPhase(cfg: BenchConfig['push'], logDir: string, log: (s: string) => void): Promise<PushResult> {
  const started = Date.now();
  const ground = await startGround(logDir);
  const watcher = new RevisionWatcher(ground.admin);
  try {
    const op = await startBenchOperator(ground);
    const { git, cluster } = ground.env;
    await createNamespaces(ground, ['bench-op'], { 'bench.fluxlink.dev/push': 'op' });
    await createNamespaces(ground, ['bench-hand', 'bench-poll'], {});
    const opProject = 'bench/op/app';
    const handProject = 'bench/hand/app';
    const pollProjects = Array.from({ length: cfg.pollingRepos }, (_, i) => `bench/poll/app-${i}`);
    for (const p of [opProject, handProject, ...pollProjects]) await git.createProject(p);
    await watcher.synced();

    // (b): what a user does by hand for one repository: a token Secret and a Receiver of type gitlab.
    const handToken = randomBytes(32).toString('hex');
    await ground.admin.create(SECRETS, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'hand-token', namespace: 'bench-hand' },
      data: { token: Buffer.from(handToken).toString('base64') },
    });
    await ground.admin.create(RECEIVERS, {
      apiVersion: 'notification.toolkit.fluxcd.io/v1',
      kind: 'Receiver',
      metadata: { name: 'hand', namespace: 'bench-hand' },
      spec: {
        type: 'gitlab',
        events: ['Push Hook', 'Tag Push Hook'],
        secretRef: { name: 'hand-token' },
        resources: [{ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', name: 'app' }],
      },
    });
    await ground.admin.create(GIT_REPOSITORIES, gitRepository('bench-op', 'app', `${git.baseURL}/${opProject}.git`));
    await ground.admin.create(GIT_REPOSITORIES, gitRepository('bench-hand', 'app', `${git.baseURL}/${handProject}.git`));
    for (const [i, p] of pollProjects.entries())
      await ground.admin.create(
        GIT_REPOSITORIES,
        gitRepository('bench-poll', `app-${i}`, `${git.baseURL}/${p}.git`, { interval: cfg.pollingInterval }),
      );
    await createLink(ground, linkObject(ground, LINK, { 'bench.fluxlink.dev/push': 'op' }));
    await waitLinkReady(ground.admin, LINK, 1, 120_000);
    const webhookPath = await until(
      'hand-made Receiver Ready',
      async () => (await ground.admin.get<Receiver>(RECEIVERS, 'bench-hand', 'hand'))?.status?.webhookPath,
      60_000,
    );
    // First artifacts of every repository (the initial commit) before anything is timed.
    await until(
      'first artifacts',
      () =>
        ['bench-op/app', 'bench-hand/app', ...pollProjects.map((_, i) => `bench-poll/app-${i}`)].every((k) =>
          watcher.revision(k.split('/')[0]!, k.split('/')[1]!),
        ),
      120_000,
    );
    git.setWebhook({ url: `${op.hooksURL}/hooks/${LINK}`, token: WEBHOOK_TOKEN }, opProject);
    git.setWebhook({ url: `${cluster.receiverURL}${webhookPath}`, token: handToken }, handProject);
    log(`push: ground ready, measuring ${cfg.pushes} pushes each through the operator and a hand-made Receiver`);

    const result: PushResult = {
      pushesPerMethod: cfg.pushes,
      operator: [],
      hand: [],
      operatorFromPush: [],
      handFromPush: [],
      polling: [],
      pollingRepos: cfg.pollingRepos,
      pollingInterval: cfg.pollingInterval,
      pollingStaggerSeconds: cfg.staggerSeconds,
      webhookStatuses: { operator: {}, hand: {} },
      dispatchBuckets: [],
      reconcilesDuringPushes: 0,
      durationSeconds: 0,
    };
    const before = await op.scrape();
    const dispatchBefore = histogram(before, 'fluxlink_trigger_dispatch_seconds');
    for (let i = 0; i < cfg.pushes; i++) {
      // Alternating order, so neither method always follows the other.
      const order = i % 2 === 0 ? (['operator', 'hand'] as const) : (['hand', 'operator'] as const);
      for (const method of order) {
        const [ns, project] = method === 'operator' ? ['bench-op', opProject] : ['bench-hand', handProject];
        const m = await measureWebhookPush(ground, watcher, ns, project, i);
        result[method].push(m.fromWebhook);
        result[method === 'operator' ? 'operatorFromPush' : 'handFromPush'].push(m.fromPush);
        const statuses = result.webhookStatuses[method];
        statuses[m.status] = (statuses[m.status] ?? 0) + 1;
        await sleep(100);
      }
    }
    const after = await op.scrape();
    result.dispatchBuckets = bucketDelta(histogram(after, 'fluxlink_trigger_dispatch_seconds'), dispatchBefore);
    result.reconcilesDuringPushes = sum(after, 'controller_runtime_reconcile_total') - sum(before, 'controller_runtime_reconcile_total');
    log(
      `push: polling, ${cfg.pollingRepos} repositories at interval ${cfg.pollingInterval}, one push each spread over ${cfg.staggerSeconds} s`,
    );
    const spacing = (cfg.staggerSeconds * 1000) / cfg.pollingRepos;
    result.polling = await Promise.all(
      pollProjects.map(async (project, i) => {
        await sleep(i * spacing);
        const { sha } = await pushCommit(git, project, { branch: 'main', files: { 'v.txt': `poll ${i}` } });
        const pushed = Date.now();
        const seen = await watcher.waitFor('bench-poll', `app-${i}`, `main@sha1:${sha}`, 3 * 60_000 + cfg.staggerSeconds * 1000);
        return (seen - pushed) / 1000;
      }),
    );
    await op.stop();
    result.durationSeconds = (Date.now() - started) / 1000;
    return result;
  } finally {
    await watcher.stop();
    await ground.stop();
  }
}

async function measureWebhookPush(
  ground: Ground,
  watcher: RevisionWatcher,
  ns: string,
  project: string,
  i: number,
): Promise<{ fromWebhook: number; fromPush: number; status: string }> {
  const { git } = ground.env;
  const { sha } = await pushCommit(git, project, { branch: 'main', files: { 'v.txt': `push ${i}` } });
  const pushed = Date.now();
  const seen = await watcher.waitFor(ns, 'app', `main@sha1:${sha}`, ARTIFACT_TIMEOUT_MS);
  await git.idle();
  const delivery = git.deliveries.find((d) => d.project === project && (d.body as { after?: string }).after === sha);
  if (!delivery) throw new Error(`no webhook was sent for push ${sha} of ${project}`);
  return { fromWebhook: (seen - delivery.at.getTime()) / 1000, fromPush: (seen - pushed) / 1000, status: String(delivery.status) };
}
