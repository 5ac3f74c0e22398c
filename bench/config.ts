/**
 * Sizes of a run: `make bench` (full, the sizes the performance targets are set at) and `make bench-quick`
 * (under 10 minutes on 2 cores).
 */
export interface BenchConfig {
  push: { pushes: number; pollingRepos: number; pollingInterval: string; staggerSeconds: number };
  /** pinOperatorCpu: the operator on a CPU of its own during the load, the rest of the ground on the others. */
  load: { projects: number; reposPerProject: number; namespaces: number; rate: number; seconds: number; pinOperatorCpu: boolean };
  scale: { sizes: Array<{ repositories: number; namespaces: number }>; steadySeconds: number; restartSettleSeconds: number };
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
  profile: { load: true },
};

export const QUICK: BenchConfig = {
  // 40 pushes per method: with 15, the p99 was the single slowest push.
  push: { pushes: 40, pollingRepos: 12, pollingInterval: '1m', staggerSeconds: 60 },
  load: { projects: 200, reposPerProject: 5, namespaces: 20, rate: 200, seconds: 10, pinOperatorCpu: true },
  scale: { sizes: [{ repositories: 1000, namespaces: 100 }], steadySeconds: 30, restartSettleSeconds: 10 },
  // The load's profiling pass costs ~1.5 min: left out so the quick run stays well under 10 minutes.
  profile: { load: false },
};
