import { KubeConfig } from '@kubernetes/client-node';
import http from 'node:http';
import https from 'node:https';
import { sleep } from '../testenv/probe.js';
import type { Cluster } from '../testenv/types.js';

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
export async function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
  intervalMs = 250,
): Promise<T> {
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
  throw new Error(
    `timed out after ${timeoutMs / 1000} s waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`,
  );
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

/** The meta.k8s.io/v1 Table the API server renders for `kubectl get` (server-side printing). */
export interface Table {
  kind: 'Table';
  columnDefinitions: Array<{ name: string; type: string; format: string; description: string; priority?: number }>;
  rows: Array<{ cells: unknown[]; object?: { metadata?: { name?: string } } }>;
}

/**
 * GET `apiPath` as a Table, with the admin kubeconfig's credentials. `kubectl get --raw` cannot set the
 * Accept header, so this is the one request of the suites made without kubectl.
 */
export async function getTable(cluster: Cluster, apiPath: string): Promise<Table> {
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  const options: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(options);
  const url = new URL(kc.getCurrentCluster()!.server.replace(/\/$/, '') + apiPath);
  const mod = url.protocol === 'https:' ? https : http;
  const headers = { ...(options.headers as Record<string, string> | undefined), Accept: 'application/json;as=Table;g=meta.k8s.io;v=v1' };
  const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = mod.request(url, { ...options, headers, method: 'GET', timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${apiPath} timed out`)));
    req.on('error', reject);
    req.end();
  });
  if (status !== 200) throw new Error(`GET ${apiPath} as Table: HTTP ${status}: ${body.slice(0, 300)}`);
  const table = JSON.parse(body) as Table;
  if (table.kind !== 'Table') throw new Error(`GET ${apiPath}: expected a Table, got ${table.kind}`);
  return table;
}
