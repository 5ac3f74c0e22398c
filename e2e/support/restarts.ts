/**
 * kube-apiserver restarts made by suites of this run (the `outage` suite), so later suites can tell the
 * API server's own start-up answers from the operator's behaviour: right after a restart the RBAC
 * authorizer has not read the roles yet and answers 403 to every request for a second or two.
 */
const windows: Array<{ from: number; to: number }> = [];
export const RBAC_WARMUP_MS = 30_000;

export function recordApiServerRestart(startedAt: number): void {
  windows.push({ from: startedAt - 1_000, to: startedAt + RBAC_WARMUP_MS });
}

export function apiServerRestartWindows(): Array<{ from: number; to: number }> {
  return [...windows];
}
