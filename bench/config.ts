/**
 * Sizes of a run: `make bench` (full, the sizes the performance targets are set at) and `make bench-quick`
 * (under 10 minutes on 2 cores).
 */
export interface BenchConfig {
  push: { pushes: number; pollingRepos: number; pollingInterval: string; staggerSeconds: number };
  /** pinOperatorCpu: the operator on a CPU of its own during the load, the rest of the ground on the others. */
  load: { projects: number; reposPerProject: number; namespaces: number; rate: number; seconds: number; pinOperatorCpu: boolean };
  scale: { sizes: Array<{ repositories: number; namespaces: number }>; steadySeconds: number; restartSettleSeconds: number };
  /**
   * Catch-up after an operator outage, one fresh ground per size (repositories, one GitLab project each, 10 to a
   * namespace); then, on the largest size's ground, the sweeps against the link's budget and under GitLab's rate limit.
   */
  catchup: {
    sizes: number[];
    requestsPerMinute: number;
    pushConcurrency: number;
    sweepRequestsPerMinute: number;
    sweepInterval: string;
    sweepObserveSeconds: number;
    gitlabRateLimit: number;
    rateLimitObserveSeconds: number;
  };
  /** Outbound-only push → artifact against webhooks and polling, on the same `repositories`. */
  outbound: { repositories: number; pushes: number; sweepSeconds: number; pollingInterval: string };
  /** Profiling passes (separate grounds): convergence at the largest size always; the load when `load` is true. */
  profile: { load: boolean };
}

export const FULL: BenchConfig = {
  // Polling: one push to each of 50 repositories, staggered over one interval, so 50 samples take minutes, not 25.
  push: { pushes: 50, pollingRepos: 50, pollingInterval: '1m', staggerSeconds: 60 },
  load: { projects: 1000, reposPerProject: 5, namespaces: 100, rate: 200, seconds: 30, pinOperatorCpu: true },
  scale: {
    sizes: [
      { repositories: 1000, namespaces: 100 },
      { repositories: 5000, namespaces: 500 },
      { repositories: 10_000, namespaces: 1000 },
    ],
    steadySeconds: 300,
    restartSettleSeconds: 30,
  },
  // 1,000 real GitRepositories fetch their artifacts for real (2 cores: a few minutes per round). Budget 2,000 a minute
  // (GitLab.com's per-user limit, the most a link may ask) so the catch-up is measured, not the default budget's pacing;
  // part 7 measures that: the default 300 a minute, the spec's shortest sweep (1m), then GitLab limiting to 100 a minute.
  catchup: {
    sizes: [200, 1000],
    requestsPerMinute: 2000,
    pushConcurrency: 4,
    sweepRequestsPerMinute: 300,
    sweepInterval: '1m',
    sweepObserveSeconds: 185,
    gitlabRateLimit: 100,
    rateLimitObserveSeconds: 185,
  },
  outbound: { repositories: 20, pushes: 40, sweepSeconds: 10, pollingInterval: '1m' },
  profile: { load: true },
};

export const QUICK: BenchConfig = {
  // 40 pushes per method: with 15, the p99 was the single slowest push.
  push: { pushes: 40, pollingRepos: 12, pollingInterval: '1m', staggerSeconds: 60 },
  load: { projects: 200, reposPerProject: 5, namespaces: 20, rate: 200, seconds: 10, pinOperatorCpu: true },
  scale: { sizes: [{ repositories: 1000, namespaces: 100 }], steadySeconds: 30, restartSettleSeconds: 10 },
  // The load's profiling pass costs ~1.5 min: left out so the quick run stays well under 10 minutes.
  catchup: {
    sizes: [100],
    requestsPerMinute: 2000,
    pushConcurrency: 4,
    sweepRequestsPerMinute: 300,
    sweepInterval: '1m',
    sweepObserveSeconds: 65,
    gitlabRateLimit: 30,
    rateLimitObserveSeconds: 65,
  },
  outbound: { repositories: 8, pushes: 16, sweepSeconds: 10, pollingInterval: '1m' },
  profile: { load: false },
};
