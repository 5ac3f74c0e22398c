import net from 'node:net';

/**
 * A raw HTTP/1.1 client for tests that must send what no well-behaved client sends: malformed framing,
 * duplicated headers, slow drips, half-closed or reset connections. It writes bytes as given and keeps
 * every byte the server writes back; parseReplies() splits those into responses.
 */

export interface RawReply {
  status: number;
  reason: string;
  /** Lower-cased names; a repeated header keeps its last value. */
  headers: Record<string, string>;
  body: string;
}

/**
 * The complete responses in `data` (latin1), 1xx interim responses included. `firstIsHead`: the first
 * response answers a HEAD request, so it has no body whatever its Content-Length says. Stops at the first
 * incomplete or unparsable response; `rest` is what was left over.
 */
export function parseReplies(data: Buffer, firstIsHead = false): { replies: RawReply[]; rest: string } {
  const s = data.toString('latin1');
  const replies: RawReply[] = [];
  let pos = 0;
  while (pos < s.length) {
    const headEnd = s.indexOf('\r\n\r\n', pos);
    if (headEnd < 0) break;
    const lines = s.slice(pos, headEnd).split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(lines[0]!);
    if (!m) break;
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const status = Number(m[1]);
    let next = headEnd + 4;
    let body = '';
    const noBody = status < 200 || status === 204 || status === 304 || (firstIsHead && replies.every((r) => r.status < 200));
    if (!noBody) {
      if (headers['content-length'] !== undefined) {
        const len = Number(headers['content-length']);
        if (next + len > s.length) break;
        body = s.slice(next, next + len);
        next += len;
      } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
        const decoded = decodeChunked(s, next);
        if (!decoded) break;
        body = decoded.body;
        next = decoded.end;
      } else {
        body = s.slice(next); // delimited by the connection's close
        next = s.length;
      }
    }
    replies.push({ status, reason: m[2]!, headers, body });
    pos = next;
  }
  return { replies, rest: s.slice(pos) };
}

function decodeChunked(s: string, start: number): { body: string; end: number } | undefined {
  let pos = start;
  let body = '';
  for (;;) {
    const lineEnd = s.indexOf('\r\n', pos);
    if (lineEnd < 0) return undefined;
    const size = parseInt(s.slice(pos, lineEnd), 16);
    if (!Number.isFinite(size)) return undefined;
    pos = lineEnd + 2;
    if (size === 0) {
      const end = s.indexOf('\r\n', pos); // no trailers are expected: the empty line
      return end < 0 ? undefined : { body, end: end + 2 };
    }
    if (pos + size + 2 > s.length) return undefined;
    body += s.slice(pos, pos + size);
    pos += size + 2;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class RawConnection {
  private readonly chunks: Buffer[] = [];
  private closing = false;
  /** Who ended the connection: the server (FIN or reset) or this client. Undefined while it is open. */
  closedBy: 'server' | 'client' | undefined;
  /** The last socket error seen (EPIPE, ECONNRESET after the server closed), for messages. */
  error: string | undefined;
  readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => this.chunks.push(c));
    socket.on('end', () => {
      if (!this.closing) this.closedBy ??= 'server';
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      this.error = e.code ?? e.message;
      if (!this.closing) this.closedBy ??= 'server';
    });
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.closedBy ??= this.closing ? 'client' : 'server';
        resolve();
      }),
    );
  }

  static open(port: number, host = '127.0.0.1'): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, host);
      const conn = new RawConnection(socket);
      socket.once('connect', () => resolve(conn));
      socket.once('error', reject);
    });
  }

  get isOpen(): boolean {
    return !this.socket.destroyed && this.closedBy === undefined;
  }

  /** Writes and waits until the bytes are handed to the kernel; false when the connection is gone. */
  write(data: string | Buffer): Promise<boolean> {
    if (!this.isOpen || this.socket.writableEnded) return Promise.resolve(false);
    return new Promise((resolve) => this.socket.write(data, (err) => resolve(!err)));
  }

  /** Writes the parts one by one with a pause between them, until they run out or the connection closes. */
  async drip(parts: Array<string | Buffer>, gapMs: number): Promise<void> {
    for (const p of parts) {
      if (!(await this.write(p))) return;
      await sleep(gapMs);
    }
  }

  /** Ends the client's write side (FIN); the server may still answer. */
  halfClose(): void {
    if (!this.socket.destroyed) this.socket.end();
  }

  /** Closes at once with a TCP reset. */
  reset(): void {
    this.closing = true;
    if (!this.socket.destroyed) this.socket.resetAndDestroy();
  }

  destroy(): void {
    this.closing = true;
    this.socket.destroy();
  }

  /** Waits for the connection to close; after `capMs` closes it itself and answers false. */
  async waitClosed(capMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const capped = await Promise.race([
      this.closed.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), capMs))),
    ]);
    clearTimeout(timer);
    if (!capped) {
      this.destroy();
      await this.closed;
    }
    return capped;
  }

  /** Waits until a final (non-1xx) response is complete or the connection closes, at most `capMs`. */
  waitForReply(capMs: number, firstIsHead = false): Promise<RawReply | undefined> {
    return new Promise((resolve) => {
      const final = () => this.replies(firstIsHead).find((r) => r.status >= 200);
      const done = () => {
        clearTimeout(timer);
        this.socket.off('data', check);
        this.socket.off('close', done);
        resolve(final());
      };
      const check = () => {
        if (final()) done();
      };
      const timer = setTimeout(done, capMs);
      this.socket.on('data', check);
      this.socket.once('close', done);
      if (final() || this.socket.destroyed) done();
    });
  }

  received(): Buffer {
    return Buffer.concat(this.chunks);
  }

  replies(firstIsHead = false): RawReply[] {
    return parseReplies(this.received(), firstIsHead).replies;
  }
}
