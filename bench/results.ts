import type { GitLabRequests } from './gitlab-stats.js';
import type { ProfileResult } from './profile.js';
import type { RequestCounts } from './prom.js';
import type { Bucket } from './stats.js';
import type { CatchUpRecordSeen } from './watch.js';

export type { CatchUpRecordSeen } from './watch.js';

/** Everything one run measured; report.ts renders it, targets.ts judges it, results.json keeps it. */

export interface PushResult {
  pushesPerMethod: number;
  /** Seconds from the webhook request (git server starts the POST) to the new artifact revision seen. */
  operator: number[];
  hand: number[];
  /** Same pushes measured from the end of `git push` (for comparison with polling). */
  operatorFromPush: number[];
  handFromPush: number[];
  /** Seconds from the end of `git push` to the new artifact revision (no webhook). */
  polling: number[];
  pollingRepos: number;
  pollingInterval: string;
  pollingStaggerSeconds: number;
  /** Answers the webhooks got: operator (202 expected) and notification-controller's receiver (200). */
  webhookStatuses: { operator: Record<string, number>; hand: Record<string, number> };
  /** fluxlink_trigger_dispatch_seconds buckets observed during the operator pushes. */
  dispatchBuckets: Bucket[];
  /** Link reconciles the operator ran during the (a)/(b) pushes (each new artifact is a GitRepository change). */
  reconcilesDuringPushes: number;
  durationSeconds: number;
}

export interface LoadResult {
  projects: number;
  repositories: number;
  namespaces: number;
  rate: number;
  seconds: number;
  linkedRepositories: number;
  convergenceSeconds: number;
  sent: number;
  /** Answer time in seconds, measured from each request's scheduled send time (open loop). */
  answers: number[];
  /** How late the client was sending, seconds (scheduled → actually sent). */
  sendLag: number[];
  statuses: Record<string, number>;
  non2xx: number;
  /** (push, Receiver) pairs the accepted webhooks named, from the 202 answers. */
  expectedTriggers: number;
  calls: number;
  delivered: number;
  failedCalls: number;
  coalesced: number;
  dropped: number;
  drainSeconds: number;
  drained: boolean;
  dispatchBuckets: Bucket[];
  /** fluxlink_webhook_duration_seconds over the load: the operator's own answer time, from the route to the answer. */
  handlingBuckets?: Bucket[];
  peakRssBytesBeforeLoad: number;
  peakRssBytes: number;
  cpuSecondsDuringLoad: number;
  /** prom-client's event-loop delay of the operator over the load (monitorEventLoopDelay), seconds. */
  eventLoopLag: { p50: number; p99: number; max: number };
  /** Link reconciles the operator ran from the load's start until the queue drained (nothing changed but annotations). */
  reconcilesDuringLoad: number;
  /** CPU seconds per process from the load's start until the queue drained, and the machine's busy share. */
  cpu: { perProcess: Record<string, number>; machineBusy: number };
  /** CPUs of the operator and of everything else during the load (bench/cpu-pin.ts), or why they were not separated. */
  cpuPinning?: { operator: string; others: string } | { skipped: string };
}

export interface ScaleResult {
  repositories: number;
  namespaces: number;
  groundStartSeconds: number;
  createRepositoriesSeconds: number;
  baseline: { writesSeconds: number; readySeconds: number; requests: number; timedOut?: string };
  operator: {
    linkReadySeconds: number;
    allReceiversReadySeconds: number;
    convergenceSeconds: number;
    requests: RequestCounts;
    /** Link reconciles run during convergence and their mean duration (controller_runtime_reconcile_*). */
    reconciles: number;
    meanReconcileSeconds: number;
    cpuSeconds: number;
    cpuSecondsTotal: number;
    peakRssBytes: number;
    timedOut?: string;
  };
  /** At the end of the steady state: the V8 heap in use and allocated, memory outside it, and RSS (prom-client defaults). */
  steady: {
    seconds: number;
    requests: RequestCounts;
    memory: { heapUsedBytes: number; heapTotalBytes: number; externalBytes: number; rssBytes: number };
  };
  restart: {
    readyzSeconds: number;
    firstReconcileSeconds: number;
    settleSeconds: number;
    requests: RequestCounts;
    peakRssBytes: number;
    timedOut?: string;
  };
}

/**
 * Part 5 at one size: one outbound-only link with a GitLab API token over N GitRepositories (one project each, real
 * Flux fetches); the operator stopped, one push to every project, the operator started; against the same pushes
 * caught by a perfect trigger (every GitRepository annotated at once, the operator stopped).
 */
export interface CatchUpSizeResult {
  repositories: number;
  namespaces: number;
  /** spec.gitlab.api.requestsPerMinute of the link during the catch-up. */
  requestsPerMinute: number;
  setup: { groundStartSeconds: number; projectsSeconds: number; linkReadySeconds: number; firstArtifactsSeconds: number };
  outage: {
    pushes: number;
    pushSeconds: number;
    /** Webhooks the git server sent for those pushes (none: no hook on the projects, nothing reached the cluster). */
    deliveries: number;
    /** From the operator process's start: /readyz answered; the catch-up done (status.lastCatchUp.at); every artifact current. */
    readySeconds: number;
    catchUpDoneSeconds: number;
    allCurrentSeconds: number;
    /** Per GitRepository: operator start → its new artifact revision (seconds). */
    perRepository: number[];
    current: number;
    record?: CatchUpRecordSeen;
    /** fluxlink_catchup_triggers_total by reason, over the window. */
    triggersByReason: Record<string, number>;
    /** What GitLab (the emulator) was asked from the operator's start until every artifact was current. */
    gitlab: GitLabRequests;
    timedOut?: string;
  };
  /** The same pushes made again, then every GitRepository annotated reconcile.fluxcd.io/requestedAt at once by an admin client. */
  perfect: { pushSeconds: number; allCurrentSeconds: number; perRepository: number[]; current: number; timedOut?: string };
}

/** Part 7: a link's sweeps over N project + branch pairs against its request budget, then under GitLab's own rate limit. */
export interface SweepBudgetResult {
  repositories: number;
  pairs: number;
  requestsPerMinute: number;
  sweepInterval: string;
  /** The most requests one catch-up may make (reconcile/catch-up.ts catchUpRequestCap), for these settings. */
  capPerSweep: number;
  observedSeconds: number;
  sweeps: CatchUpRecordSeen[];
  gitlab: GitLabRequests;
  /** Most GitLab requests in any 60 s of the window (sliding). */
  maxPerMinute: number;
  rateLimit?: {
    /** The emulator's per-user limit (Rack::Attack's throttle_authenticated_api), requests per minute. */
    gitlabPerMinute: number;
    observedSeconds: number;
    sweeps: CatchUpRecordSeen[];
    gitlab: GitLabRequests;
    rateLimited: number;
    /** Requests answered while a Retry-After was still running (0 when the operator waits as told). */
    violations: number;
    longestRetryAfterSeconds: number;
    /** Requests answered 2xx in any 60 s (sliding). */
    maxAnsweredPerMinute: number;
  };
}

export interface CatchUpResult {
  sizes: CatchUpSizeResult[];
  sweep?: SweepBudgetResult;
}

/**
 * Part 6: push → artifact on the same GitRepositories three ways: webhooks (a hand-made hook to the operator),
 * outbound-only (no webhook; the sweep every `sweepSeconds` is the delivery), and Flux polling alone.
 */
export interface OutboundResult {
  repositories: number;
  sweepSeconds: number;
  pollingInterval: string;
  /** Seconds from the end of `git push` to the new artifact revision. */
  webhook: number[];
  outbound: number[];
  polling: number[];
  /** Webhook method measured from the webhook request (as part 1). */
  webhookFromRequest: number[];
  /** The sweeps during the outbound pushes, as status.lastCatchUp showed them, and what GitLab was asked meanwhile. */
  outboundSweeps: CatchUpRecordSeen[];
  outboundSeconds: number;
  outboundGitlab: GitLabRequests;
  durationSeconds: number;
}

export interface Machine {
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  go: string;
  kernel: string;
  commit: string;
  date: string;
}

export interface RunResults {
  quick: boolean;
  machine: Machine;
  startedAt: string;
  wallSeconds: number;
  fluxClientArgs: string[];
  /** Environment added to the operator (`--operator-env`); empty for a run at the defaults. */
  operatorEnv: Record<string, string>;
  /** NODE_OPTIONS of config/manager/manager.yaml at the time of the run (the operator's, unless operatorEnv sets one). */
  shippedNodeOptions?: string;
  push?: PushResult;
  load?: LoadResult;
  scale: ScaleResult[];
  catchUp?: CatchUpResult;
  outbound?: OutboundResult;
  /** CPU profiles from separate passes (the profiler must not touch the measured figures). */
  profiles: ProfileResult[];
  /** `timeout`: a wait ran out (a slow machine: reported, not a failure); `error`: the part could not run. */
  errors: Array<{ phase: string; message: string; kind: 'timeout' | 'error' }>;
}
