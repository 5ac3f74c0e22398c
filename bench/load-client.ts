import http from 'node:http';
import { performance } from 'node:perf_hooks';

/**
 * An open-loop HTTP load generator: request k is due at start + k / rate and is sent then, whether or not
 * earlier requests have been answered (a closed loop would slow down with the server and hide its
 * latency). Answer time is measured from the due time, so a client that falls behind is counted against
 * the answer, not hidden. Like GitLab, every webhook uses a fresh connection.
 */
export interface Shot {
  dueMs: number;
  sentMs: number;
  doneMs: number;
  status: number; // 0: connection error or timeout
  body: string;
}

export interface LoadSpec {
  url: string;
  rate: number;
  seconds: number;
  request(k: number): { body: string; headers: Record<string, string> };
  timeoutMs?: number;
}

/** Due times (ms from start) of an open-loop schedule: rate per second for `seconds`. */
export function schedule(rate: number, seconds: number): number[] {
  const n = Math.round(rate * seconds);
  return Array.from({ length: n }, (_, k) => (k * 1000) / rate);
}

export async function openLoop(spec: LoadSpec): Promise<Shot[]> {
  const due = schedule(spec.rate, spec.seconds);
  const shots: Array<Promise<Shot>> = [];
  const t0 = performance.now();
  let next = 0;
  while (next < due.length) {
    const now = performance.now() - t0;
    while (next < due.length && due[next]! <= now) {
      const k = next++;
      shots.push(send(spec, k, t0, due[k]!));
    }
    // Timers have ~1 ms resolution; everything due by then goes out in the next pass.
    if (next < due.length) await new Promise((r) => setTimeout(r, Math.max(0, Math.min(1, due[next]! - (performance.now() - t0)))));
  }
  return Promise.all(shots);
}

function send(spec: LoadSpec, k: number, t0: number, dueMs: number): Promise<Shot> {
  const { body, headers } = spec.request(k);
  const sentMs = performance.now() - t0;
  return new Promise((resolve) => {
    const finish = (status: number, text: string) => resolve({ dueMs, sentMs, doneMs: performance.now() - t0, status, body: text });
    const req = http.request(
      spec.url,
      {
        method: 'POST',
        agent: false,
        timeout: spec.timeoutMs ?? 15_000,
        headers: { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)), ...headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => finish(res.statusCode ?? 0, text));
        res.on('error', () => finish(0, 'response error'));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => finish(0, err.message));
    req.end(body);
  });
}
