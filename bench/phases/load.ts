import { randomBytes } from 'node:crypto';
import { histogram, type Sample, sum } from '../../e2e/support/prometheus.js';
import { sleep } from '../../e2e/testenv/probe.js';
import { mapLimit } from '../../operator/controllers/concurrency.js';
import { GIT_REPOSITORIES } from '../../operator/flux/types.js';
import type { BenchConfig } from '../config.js';
import { pinForLoad } from '../cpu-pin.js';
import { createLink, createNamespaces, gitRepository, linkObject, startBenchOperator, startGround, WEBHOOK_TOKEN } from '../ground.js';
import { openLoop } from '../load-client.js';
import { cpuBetween, cpuSnapshot } from '../proc.js';
import { monotonicUs, profileNodeArgs, type ProfileRequest, type ProfileResult, readProfile } from '../profile.js';
import type { LoadResult } from '../results.js';
import { bucketDelta } from '../stats.js';
import { waitLinkReady } from '../watch.js';

/**
 * Part 2, answer time under load: `rate` GitLab push webhooks per second for `seconds`, round-robin over
 * `projects` projects, each project tracked by `reposPerProject` GitRepositories (all on branch main, so
 * every push names that many Receivers). The GitRepositories are suspended: source-controller does not
 * clone thousands of repositories on 2 cores, while the operator links them like any other (its claims do
 * not look at spec.suspend; the run checks fluxlink_linked_repositories) and notification-controller still
 * annotates them when triggered.
 */
const LINK = 'bench-load';

/** With `profile`, the operator runs under the CPU profiler (a separate pass: its figures are not reported). */
export async function runLoadPhase(
  cfg: BenchConfig['load'],
  logDir: string,
  log: (s: string) => void,
  profile?: ProfileRequest,
): Promise<LoadResult & { profile?: ProfileResult }> {
  const ground = await startGround(logDir);
  let restoreCpus: (() => void) | undefined;
  try {
    const op = await startBenchOperator(ground, { nodeArgs: profileNodeArgs(profile) });
    const { git } = ground.env;
    const repositories = cfg.projects * cfg.reposPerProject;
    const namespaces = Array.from({ length: cfg.namespaces }, (_, i) => `load-${i}`);
    await createNamespaces(ground, namespaces, { 'bench.fluxlink.dev/load': 'yes' });
    const repos = Array.from({ length: repositories }, (_, i) => {
      const project = Math.floor(i / cfg.reposPerProject);
      return gitRepository(
        namespaces[i % cfg.namespaces]!,
        `p${project}-r${i % cfg.reposPerProject}`,
        `${git.baseURL}/load/p${project}.git`,
        { suspend: true },
      );
    });
    await mapLimit(repos, 32, async (r) => void (await ground.admin.create(GIT_REPOSITORIES, r)));
    const linkAt = Date.now();
    await createLink(ground, linkObject(ground, LINK, { 'bench.fluxlink.dev/load': 'yes' }));
    const readyAt = await waitLinkReady(ground.admin, LINK, repositories, 20 * 60_000, 500);
    const convergenceSeconds = (readyAt - linkAt) / 1000;
    const before = await op.scrape();
    const linked = sum(before, 'fluxlink_linked_repositories', { link: LINK });
    log(
      `load: ${linked} suspended GitRepositories linked in ${convergenceSeconds.toFixed(1)} s; ${cfg.rate} webhooks/s for ${cfg.seconds} s`,
    );
    const pids = {
      operator: op.pid,
      'bench (load client, git server)': process.pid,
      ...Object.fromEntries(ground.env.cluster.processes().map((p) => [p.name, p.pid])),
    };
    const others = Object.entries(pids)
      .filter(([name]) => name !== 'operator')
      .map(([, pid]) => pid);
    const pinning = cfg.pinOperatorCpu ? pinForLoad(op.pid, others) : { skipped: 'off (--set load.pinOperatorCpu=false)' };
    restoreCpus = 'restore' in pinning ? pinning.restore : undefined;
    log(
      `load: ${'plan' in pinning ? `operator on CPU ${pinning.plan.operator}, the rest of the ground on ${pinning.plan.others}` : `CPUs not separated: ${pinning.skipped}`}`,
    );
    const procBefore = op.proc();
    const cpuBefore = cpuSnapshot(pids);
    await op.scrape(); // resets the event-loop delay histogram: the next scrape covers the load alone
    const windowFromUs = monotonicUs();

    const shots = await openLoop({
      url: `${op.hooksURL}/hooks/${LINK}`,
      rate: cfg.rate,
      seconds: cfg.seconds,
      request: (k) => {
        const project = `load/p${k % cfg.projects}`;
        const body = JSON.stringify({
          object_kind: 'push',
          event_name: 'push',
          ref: 'refs/heads/main',
          before: randomBytes(20).toString('hex'),
          after: randomBytes(20).toString('hex'),
          project: { path_with_namespace: project },
          commits: [],
        });
        return { body, headers: { 'X-Gitlab-Event': 'Push Hook', 'X-Gitlab-Token': WEBHOOK_TOKEN } };
      },
    });
    const loadEnded = Date.now();
    const procAfterLoad = op.proc();
    const afterLoad = await op.scrape();
    const statuses: Record<string, number> = {};
    for (const s of shots) statuses[s.status] = (statuses[s.status] ?? 0) + 1;
    // "accepted: 5 receiver(s) to trigger": the operator's own count of (push, Receiver) pairs.
    const expectedTriggers = shots.reduce((t, s) => t + Number(/accepted: (\d+) receiver/.exec(s.body)?.[1] ?? 0), 0);

    // Every pair ends as a call (delivered or not), a push folded into a waiting trigger, or a drop.
    const accounted = (m: Sample[]) =>
      sum(m, 'fluxlink_triggers_total') + sum(m, 'fluxlink_pushes_coalesced_total') + sum(m, 'fluxlink_triggers_dropped_total');
    const base = accounted(before);
    let after = await op.scrape();
    const drainDeadline = Date.now() + 180_000;
    while (Date.now() < drainDeadline && (accounted(after) - base < expectedTriggers || sum(after, 'fluxlink_trigger_queue_depth') > 0)) {
      await sleep(500);
      after = await op.scrape();
    }
    const drainSeconds = (Date.now() - loadEnded) / 1000;
    const windowToUs = monotonicUs();
    const cpu = cpuBetween(cpuBefore, cpuSnapshot(pids));
    await sleep(1000); // anything late still shows up
    after = await op.scrape();
    const delta = (name: string, labels: Record<string, string> = {}) => sum(after, name, labels) - sum(before, name, labels);
    const result: LoadResult & { profile?: ProfileResult } = {
      projects: cfg.projects,
      repositories,
      namespaces: cfg.namespaces,
      rate: cfg.rate,
      seconds: cfg.seconds,
      linkedRepositories: linked,
      convergenceSeconds,
      sent: shots.length,
      answers: shots.map((s) => (s.doneMs - s.dueMs) / 1000),
      sendLag: shots.map((s) => (s.sentMs - s.dueMs) / 1000),
      statuses,
      non2xx: shots.filter((s) => s.status < 200 || s.status >= 300).length,
      expectedTriggers,
      calls: delta('fluxlink_triggers_total'),
      delivered: delta('fluxlink_triggers_total', { result: 'delivered' }),
      failedCalls: delta('fluxlink_triggers_total') - delta('fluxlink_triggers_total', { result: 'delivered' }),
      coalesced: delta('fluxlink_pushes_coalesced_total'),
      dropped: delta('fluxlink_triggers_dropped_total'),
      drainSeconds,
      drained: accounted(after) - base >= expectedTriggers,
      dispatchBuckets: bucketDelta(
        histogram(after, 'fluxlink_trigger_dispatch_seconds'),
        histogram(before, 'fluxlink_trigger_dispatch_seconds'),
      ),
      handlingBuckets: bucketDelta(
        histogram(after, 'fluxlink_webhook_duration_seconds'),
        histogram(before, 'fluxlink_webhook_duration_seconds'),
      ),
      peakRssBytesBeforeLoad: procBefore.peakRssBytes,
      peakRssBytes: op.proc().peakRssBytes,
      cpuSecondsDuringLoad: procAfterLoad.cpuSeconds - procBefore.cpuSeconds,
      eventLoopLag: {
        p50: sum(afterLoad, 'nodejs_eventloop_lag_p50_seconds'),
        p99: sum(afterLoad, 'nodejs_eventloop_lag_p99_seconds'),
        max: sum(afterLoad, 'nodejs_eventloop_lag_max_seconds'),
      },
      cpu,
      reconcilesDuringLoad: delta('controller_runtime_reconcile_total'),
      cpuPinning: 'plan' in pinning ? pinning.plan : { skipped: pinning.skipped },
    };
    await op.stop();
    if (profile)
      result.profile = readProfile(
        profile,
        `the load (${cfg.rate} webhooks/s for ${cfg.seconds} s over ${repositories} repositories, until the trigger queue drained), profiled pass`,
        windowFromUs,
        windowToUs,
      );
    return result;
  } finally {
    restoreCpus?.(); // this process runs the next parts on every CPU again
    await ground.stop();
  }
}
