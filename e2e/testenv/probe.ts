import http from 'node:http';
import https from 'node:https';

export interface TlsClient {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** Only for components that serve a self-signed certificate of their own (kube-controller-manager). */
  rejectUnauthorized?: boolean;
}

/** One GET; resolves with the status code (0 on a connection error). Never throws. */
export function getStatus(url: string, tls: TlsClient = {}, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(url, { ...tls, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += body.length < 4 << 20 ? c : '')); // bounded: 4 MiB
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve({ status: 0, body: '' }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, body: '' }));
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls until `check` returns true. Fails with `what` and the last observation when the deadline passes, or
 * at once when `aborted` says the component died (no point waiting 120 s for a process that has exited).
 */
export async function waitFor(
  what: string,
  check: () => Promise<boolean | string>,
  opts: { timeoutMs: number; intervalMs?: number; aborted?: () => string | undefined },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let last: boolean | string = false;
  while (Date.now() < deadline) {
    const dead = opts.aborted?.();
    if (dead) throw new Error(`${what}: ${dead}`);
    last = await check();
    if (last === true) return;
    await sleep(opts.intervalMs ?? 250);
  }
  throw new Error(`${what}: not ready after ${opts.timeoutMs / 1000} s${typeof last === 'string' ? ` (last: ${last})` : ''}`);
}
