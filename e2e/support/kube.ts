import type { Cluster } from '../testenv/types.js';
import { sleep } from '../testenv/probe.js';

/** Small kubectl-based helpers for suites: the real kubectl against the real API server. */
export async function apply(cluster: Cluster, manifest: string | object[]): Promise<void> {
  const input = typeof manifest === 'string' ? manifest : manifest.map((m) => JSON.stringify(m)).join('\n');
  await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '-f', '-'], input);
}

export async function getJson<T = any>(cluster: Cluster, ...args: string[]): Promise<T | undefined> {
  try {
    return JSON.parse(await cluster.kubectl(['get', ...args, '-o', 'json'])) as T;
  } catch (err) {
    if (/NotFound|not found/.test(String((err as { stderr?: string }).stderr ?? err))) return undefined;
    throw err;
  }
}

/** Polls `fn` until it returns a value that is not undefined/false; fails with `what` and the last value. */
export async function eventually<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
}

let counter = 0;
/** A namespace unique to the calling test, so suites never see each other's objects. */
export async function freshNamespace(cluster: Cluster, prefix: string, labels: Record<string, string> = {}): Promise<string> {
  const name = `${prefix}-${process.pid}-${++counter}`;
  await apply(cluster, [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } }]);
  return name;
}

export function condition(obj: any, type: string): { status: string; reason?: string; message?: string } | undefined {
  return obj?.status?.conditions?.find((c: { type: string }) => c.type === type);
}
