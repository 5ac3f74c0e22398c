import { sum } from '../../e2e/support/prometheus.js';
import { sleep } from '../../e2e/testenv/probe.js';
import type { GitLabFluxLinkSpec } from '../../operator/api/v1alpha1/types.js';
import { mapLimit } from '../../operator/controllers/concurrency.js';
import { GIT_REPOSITORIES, GIT_REPOSITORY_API_VERSION, type GitRepository, RECEIVERS } from '../../operator/flux/types.js';
import { SECRETS } from '../../operator/meta/resource.js';
import { desiredPair } from '../../operator/reconcile/desired.js';
import { LABEL_FLUX_WATCH } from '../../operator/reconcile/names.js';
import {
  type BenchOperator,
  createLink,
  createNamespaces,
  gitRepository,
  type Ground,
  linkObject,
  serviceAccountClient,
  startBenchOperator,
  startGround,
} from '../ground.js';
import { monotonicUs, profileNodeArgs, type ProfileRequest, type ProfileResult, readProfile } from '../profile.js';
import { requestCounts } from '../prom.js';
import type { ScaleResult } from '../results.js';
import { BenchTimeout, ReadyReceivers, until, waitLinkReady } from '../watch.js';

/**
 * Part 3, scale, on a fresh test ground per size (deleting thousands of namespaces between sizes takes
 * longer than starting a new ground, and leaves the next size a different etcd):
 *  1. namespaces and suspended GitRepositories, created by the admin client (32 at a time);
 *  2. baseline: the same Secrets and Receivers the operator would make (operator/reconcile/desired.ts,
 *     other names and labels so the operator ignores them), created by a plain client with the operator's
 *     ServiceAccount credentials, 16 in flight (the operator's WRITE_CONCURRENCY), timed until every
 *     Receiver is Ready; they stay in place;
 *  3. the operator (running since the ground started): one link covering every namespace, timed until the
 *     link is Ready with N Ready Receivers and every one of its Receivers is Ready; API requests from
 *     rest_client_requests_total, CPU from /proc/<pid>/stat, peak RSS from VmHWM;
 *  4. steady state: requests (writes must be 0) over `steadySeconds`;
 *  5. restart: SIGTERM, a new process, time to /readyz and to its first finished reconcile; writes (0).
 * profileConvergence() repeats steps 1 and 3 on another fresh ground with the operator under
 * `node --cpu-prof` (the profiler's memory and CPU must not enter the measured figures).
 */
const LINK = 'bench-scale';
const SELECTOR = { 'bench.fluxlink.dev/scale': 'yes' };
const BASELINE_LABEL = 'bench.fluxlink.dev/baseline';

export interface ScaleOptions {
  repositories: number;
  namespaces: number;
  steadySeconds: number;
  restartSettleSeconds: number;
}

export async function runScaleSize(opts: ScaleOptions, logDir: string, log: (s: string) => void): Promise<ScaleResult> {
  const { repositories: n } = opts;
  // Generous bounds: a slow machine reports "not reached", it never fails the build.
  const convergeTimeoutMs = convergeTimeout(n);
  const groundStarted = Date.now();
  const ground = await startGround(logDir);
  let op: BenchOperator | undefined;
  try {
    op = await startBenchOperator(ground);
    const groundStartSeconds = (Date.now() - groundStarted) / 1000;

    const createStarted = Date.now();
    const repos = await createRepositories(ground, n, opts.namespaces);
    const createRepositoriesSeconds = (Date.now() - createStarted) / 1000;
    log(`scale ${n}: ${n} GitRepositories in ${opts.namespaces} namespaces created in ${createRepositoriesSeconds.toFixed(1)} s; baseline`);

    const baseline = await runBaseline(ground, repos, convergeTimeoutMs);
    log(`scale ${n}: baseline ${baseline.timedOut ?? `${baseline.readySeconds.toFixed(1)} s`}; operator`);

    // The operator.
    const operatorReady = new ReadyReceivers(ground.admin, `fluxlink.dev/link=${LINK}`);
    await operatorReady.synced();
    const before = await op.scrape();
    const cpuBefore = op.proc().cpuSeconds;
    const linkAt = Date.now();
    await createLink(ground, linkObject(ground, LINK, SELECTOR));
    let linkReadyAt = NaN;
    let allReadyAt = NaN;
    let timedOut: string | undefined;
    try {
      [linkReadyAt, allReadyAt] = await Promise.all([
        waitLinkReady(ground.admin, LINK, n, convergeTimeoutMs, 500),
        operatorReady.waitForCount(n, convergeTimeoutMs, 'operator'),
      ]);
    } catch (err) {
      if (!(err instanceof BenchTimeout)) throw err;
      timedOut = err.message;
    }
    await operatorReady.stop();
    const converged = await op.scrape();
    const procConverged = op.proc();
    const operator = {
      linkReadySeconds: (linkReadyAt - linkAt) / 1000,
      allReceiversReadySeconds: (allReadyAt - linkAt) / 1000,
      convergenceSeconds: (Math.max(linkReadyAt, allReadyAt) - linkAt) / 1000,
      requests: requestCounts(converged, before),
      reconciles: sum(converged, 'controller_runtime_reconcile_total') - sum(before, 'controller_runtime_reconcile_total'),
      meanReconcileSeconds:
        (sum(converged, 'controller_runtime_reconcile_time_seconds_sum') - sum(before, 'controller_runtime_reconcile_time_seconds_sum')) /
        Math.max(
          1,
          sum(converged, 'controller_runtime_reconcile_time_seconds_count') -
            sum(before, 'controller_runtime_reconcile_time_seconds_count'),
        ),
      cpuSeconds: procConverged.cpuSeconds - cpuBefore,
      cpuSecondsTotal: procConverged.cpuSeconds,
      peakRssBytes: procConverged.peakRssBytes,
      timedOut,
    };
    log(`scale ${n}: operator ${timedOut ?? `${operator.convergenceSeconds.toFixed(1)} s`}; steady state ${opts.steadySeconds} s`);

    // Steady state: nothing changes, so nothing may be written.
    await sleep(opts.steadySeconds * 1000);
    const steadyEnd = await op.scrape();
    const steady = {
      seconds: opts.steadySeconds,
      requests: requestCounts(steadyEnd, converged),
      memory: {
        heapUsedBytes: sum(steadyEnd, 'nodejs_heap_size_used_bytes'),
        heapTotalBytes: sum(steadyEnd, 'nodejs_heap_size_total_bytes'),
        externalBytes: sum(steadyEnd, 'nodejs_external_memory_bytes'),
        rssBytes: sum(steadyEnd, 'process_resident_memory_bytes'),
      },
    };
    const peakBeforeRestart = op.proc().peakRssBytes;
    operator.peakRssBytes = Math.max(operator.peakRssBytes, peakBeforeRestart);
    operator.cpuSecondsTotal = op.proc().cpuSeconds;
    await op.stop();
    op = undefined;

    // Restart with everything in place.
    log(`scale ${n}: restart`);
    const restarted = await startBenchOperator(ground);
    op = restarted;
    const readyzSeconds = (restarted.readyAt - restarted.spawnedAt) / 1000;
    let firstReconcileSeconds = NaN;
    let restartTimeout: string | undefined;
    try {
      const doneAt = await until(
        'first reconcile after the restart',
        async () =>
          sum(await restarted.scrape(), 'controller_runtime_reconcile_total', { result: 'success' }) >= 1 ? Date.now() : undefined,
        convergeTimeoutMs,
        100,
      );
      firstReconcileSeconds = (doneAt - restarted.spawnedAt) / 1000;
    } catch (err) {
      if (!(err instanceof BenchTimeout)) throw err;
      restartTimeout = err.message;
    }
    await sleep(opts.restartSettleSeconds * 1000);
    const restart = {
      readyzSeconds,
      firstReconcileSeconds,
      settleSeconds: opts.restartSettleSeconds,
      requests: requestCounts(await restarted.scrape()),
      peakRssBytes: restarted.proc().peakRssBytes,
      timedOut: restartTimeout,
    };
    await restarted.stop();
    op = undefined;
    return {
      repositories: n,
      namespaces: opts.namespaces,
      groundStartSeconds,
      createRepositoriesSeconds,
      baseline,
      operator,
      steady,
      restart,
    };
  } finally {
    await op?.stop();
    await ground.stop();
  }
}

// Generous bounds: a slow machine reports "not reached", it never fails the build.
const convergeTimeout = (n: number) => Math.max(5 * 60_000, n * 180);

/** Namespaces labelled for the link, and `n` suspended GitRepositories spread over them (32 creates in flight). */
async function createRepositories(ground: Ground, n: number, namespaceCount: number): Promise<GitRepository[]> {
  const namespaces = Array.from({ length: namespaceCount }, (_, i) => `scale-${i}`);
  await createNamespaces(ground, namespaces, SELECTOR);
  const repos: GitRepository[] = new Array(n);
  await mapLimit(
    Array.from({ length: n }, (_, i) => i),
    32,
    async (i) => {
      const ns = namespaces[i % namespaceCount]!;
      repos[i] = await ground.admin.create<GitRepository>(
        GIT_REPOSITORIES,
        gitRepository(ns, `r${i}`, `${ground.env.git.baseURL}/scale/${ns}/r${i}.git`, { suspend: true }) as GitRepository,
      );
    },
  );
  return repos;
}

/**
 * The profiling pass: a fresh ground, the same GitRepositories, the operator under `node --cpu-prof`, and
 * the profile summarised for the window from creating the link to every Receiver Ready.
 */
export async function profileConvergence(
  opts: { repositories: number; namespaces: number },
  profile: ProfileRequest,
  logDir: string,
  log: (s: string) => void,
): Promise<ProfileResult> {
  const n = opts.repositories;
  const ground = await startGround(logDir);
  let op: BenchOperator | undefined;
  try {
    op = await startBenchOperator(ground, { nodeArgs: profileNodeArgs(profile) });
    await createRepositories(ground, n, opts.namespaces);
    const ready = new ReadyReceivers(ground.admin, `fluxlink.dev/link=${LINK}`);
    await ready.synced();
    const fromUs = monotonicUs();
    await createLink(ground, linkObject(ground, LINK, SELECTOR));
    try {
      await Promise.all([
        waitLinkReady(ground.admin, LINK, n, convergeTimeout(n), 500),
        ready.waitForCount(n, convergeTimeout(n), 'operator, profiled'),
      ]);
    } finally {
      await ready.stop();
    }
    const toUs = monotonicUs();
    log(`profile: converged ${n} repositories under the profiler in ${((toUs - fromUs) / 1e6).toFixed(1)} s`);
    await op.stop();
    op = undefined;
    return readProfile(profile, `convergence at ${n} repositories (link created → every Receiver Ready), profiled pass`, fromUs, toUs);
  } finally {
    await op?.stop();
    await ground.stop();
  }
}

/** The plain client: per repository a Secret then a Receiver, 16 repositories in flight. */
async function runBaseline(ground: Ground, repos: GitRepository[], timeoutMs: number): Promise<ScaleResult['baseline']> {
  let requests = 0;
  const client = await serviceAccountClient(ground, () => void requests++);
  const ready = new ReadyReceivers(ground.admin, `${BASELINE_LABEL}=yes`);
  await ready.synced();
  const spec: GitLabFluxLinkSpec = {
    gitlab: { url: ground.env.git.instanceURL },
    receiver: { endpoint: ground.env.cluster.receiverURL },
    webhook: { secretRef: { namespace: 'x', name: 'x' } },
  };
  const started = Date.now();
  let writesDone = NaN;
  try {
    await mapLimit(repos, 16, async (repo) => {
      const pair = desiredPair(
        { name: 'baseline', uid: repo.metadata.uid ?? '' },
        spec,
        { repo, project: new URL(repo.spec.url).pathname.slice(1).replace(/\.git$/, '') } as never,
        randomToken(),
      );
      // Same objects as the operator's, renamed and relabelled so the operator's caches never see them, and owned
      // by their GitRepository (no link exists for them).
      const name = `base-${repo.metadata.name}`;
      const labels = { [BASELINE_LABEL]: 'yes' };
      const ownerReferences = [
        { apiVersion: GIT_REPOSITORY_API_VERSION, kind: 'GitRepository', name: repo.metadata.name, uid: repo.metadata.uid ?? '' },
      ];
      await client.create(SECRETS, {
        ...pair.secret,
        metadata: { ...pair.secret.metadata, name, labels: { ...labels, [LABEL_FLUX_WATCH]: 'Enabled' }, ownerReferences },
      });
      await client.create(RECEIVERS, {
        ...pair.receiver,
        metadata: { ...pair.receiver.metadata, name, labels, ownerReferences },
        spec: { ...pair.receiver.spec, secretRef: { name } },
      });
    });
    writesDone = Date.now();
    const at = await ready.waitForCount(repos.length, timeoutMs, 'baseline');
    return { writesSeconds: (writesDone - started) / 1000, readySeconds: (at - started) / 1000, requests };
  } catch (err) {
    if (!(err instanceof BenchTimeout)) throw err;
    return { writesSeconds: (writesDone - started) / 1000, readySeconds: NaN, requests, timedOut: err.message };
  } finally {
    await ready.stop();
  }
}

function randomToken(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('hex');
}
