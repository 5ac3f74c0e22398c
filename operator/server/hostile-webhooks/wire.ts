import { expect } from 'chai';
import { RawConnection, type RawReply } from '../../testing/raw-http.js';
import { CLOSE_CAP_MS, TOKEN, type World } from './world.js';

/** Requests on the wire: raw heads and chunked bodies, one exchange per connection, and what every answer must be. */

export function head(method: string, path: string, headers: Array<[string, string]>): string {
  return `${method} ${path} HTTP/1.1\r\n` + headers.map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n';
}

export function chunked(body: Buffer, sizes: number[]): Buffer {
  const out: Buffer[] = [];
  let pos = 0;
  for (let i = 0; pos < body.length; i++) {
    const n = Math.min(Math.max(1, sizes[i % Math.max(1, sizes.length)] ?? body.length), body.length - pos);
    out.push(Buffer.from(`${n.toString(16)}\r\n`), body.subarray(pos, pos + n), Buffer.from('\r\n'));
    pos += n;
  }
  out.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(out);
}

export interface Exchange {
  replies: RawReply[];
  closedByServer: boolean;
  /**
   * The server reset the connection. A server that answers before it has read the whole request and then
   * closes makes its TCP stack reset the connection when more data arrives, and the reset may discard the
   * answer before the client reads it (RFC 9112 §9.6): an early answer can be lost this way.
   */
  reset: boolean;
  raw: string;
}

/** One request with Connection: close; resolves with the replies once the server has closed (or after CLOSE_CAP_MS). */
export async function exchange(
  port: number,
  wire: Buffer,
  opts: { splits?: number[]; halfClose?: boolean; head?: boolean } = {},
): Promise<Exchange> {
  const conn = await RawConnection.open(port);
  let pos = 0;
  for (const at of [...(opts.splits ?? []).map((f) => Math.floor(f * wire.length)).sort((a, b) => a - b), wire.length]) {
    if (at > pos) await conn.write(wire.subarray(pos, at));
    pos = Math.max(pos, at);
  }
  if (opts.halfClose) conn.halfClose();
  const closed = await conn.waitClosed(CLOSE_CAP_MS);
  return {
    replies: conn.replies(opts.head),
    closedByServer: closed && conn.closedBy === 'server',
    reset: isReset(conn),
    raw: conn.received().toString('latin1').slice(0, 300),
  };
}

export const isReset = (conn: RawConnection) => conn.error === 'ECONNRESET' || conn.error === 'EPIPE';

/** Answers given before the whole request is read (so possibly lost to a reset, see Exchange.reset). */
export const EARLY_ANSWERS = new Set([401, 404, 405, 413, 431]);

/**
 * A well-formed, authenticated request that triggers nothing (an ignored event) is answered 200, and the
 * process still answers its liveness probe (on the metrics listener).
 */
export async function expectAlive(w: World, port: number): Promise<void> {
  w.aliveRequests++;
  const body = Buffer.from(JSON.stringify({ object_kind: 'merge_request' }));
  const wire = Buffer.concat([
    Buffer.from(
      head('POST', '/hooks/gitlab', [
        ['Host', '127.0.0.1'],
        ['Content-Type', 'application/json'],
        ['X-Gitlab-Event', 'Merge Request Hook'],
        ['X-Gitlab-Token', TOKEN],
        ['Content-Length', String(body.length)],
        ['Connection', 'close'],
      ]),
    ),
    body,
  ]);
  const { replies } = await exchange(port, wire);
  expect(
    replies.map((r) => r.status),
    'a well-formed request after the barrage',
  ).to.deep.equal([200]);
  const health = await exchange(
    w.probePort,
    Buffer.from(
      head('GET', '/healthz', [
        ['Host', '127.0.0.1'],
        ['Connection', 'close'],
      ]),
    ),
  );
  expect(health.replies.map((r) => r.status)).to.deep.equal([200]);
}

/** No 5xx; every 4xx says why (our answers in the body, node's own in the reason phrase). */
export function expectClientErrorsExplained(replies: RawReply[], what: string, head = false): void {
  const firstFinal = replies.findIndex((r) => r.status >= 200);
  replies.forEach((r, i) => {
    expect(r.status, `${what}: ${r.status} ${r.reason} ${r.body.slice(0, 100)}`).to.be.within(100, 499);
    if (r.status >= 400) {
      expect(r.reason, what).to.not.equal('');
      const bodyless = head && i === firstFinal;
      if (!bodyless && (r.headers['content-type'] ?? '').startsWith('text/plain')) expect(r.body.trim(), what).to.not.equal('');
    }
  });
}
