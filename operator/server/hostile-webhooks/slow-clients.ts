import { expect } from 'chai';
import fc from 'fast-check';
import { RawConnection } from '../../testing/raw-http.js';
import type { ValueOf } from './requests.js';
import { chunked, expectAlive, expectClientErrorsExplained, head, isReset } from './wire.js';
import { CLOSE_CAP_MS, expectNoTrigger, pushJson, signature, TOKEN, triggers, type World } from './world.js';

/**
 * Slow and broken clients on the short-timeout server: slowloris heads, idle and dripping connections,
 * half-closed and reset ones, idle keep-alive and a pipelined request that never ends.
 */
export function slowClientStories(world: () => World): void {
  it('property: slow, half-closed and reset clients are cut off without a trigger while well-formed requests are answered', async () => {
    const w = world();
    type Slow =
      | 'slowloris'
      | 'idle'
      | 'drip-length'
      | 'drip-chunked'
      | 'half-close-headers'
      | 'half-close-body'
      | 'reset-mid-body'
      | 'destroy-mid-headers'
      | 'keepalive-idle'
      | 'pipelined-partial';
    const slowArb = fc.record({
      kind: fc.constantFrom<Slow>(
        'slowloris',
        'idle',
        'drip-length',
        'drip-chunked',
        'half-close-headers',
        'half-close-body',
        'reset-mid-body',
        'destroy-mid-headers',
        'keepalive-idle',
        'pipelined-partial',
      ),
      gapMs: fc.integer({ min: 5, max: 60 }),
      piece: fc.integer({ min: 1, max: 16 }),
      cut: fc.double({ min: 0.05, max: 0.95, noNaN: true }),
      link: fc.constantFrom('gitlab', 'signed'),
    });
    // Bodies that are valid pushes already before their declared end (whitespace pads them): a server that
    // took a cut-off request for complete would trigger.
    const slowBody = (linkName: string) =>
      Buffer.from(pushJson(linkName === 'signed' ? { project: { path_with_namespace: 'team/sig' } } : {}) + ' '.repeat(200));
    const headFor = (linkName: string, body: Buffer, framing: 'length' | 'chunked') =>
      head('POST', `/hooks/${linkName}`, [
        ['Host', 'x'],
        ['X-Gitlab-Event', 'Push Hook'],
        ['X-Gitlab-Token', TOKEN],
        ...(linkName === 'signed' ? signature(body) : []),
        framing === 'length' ? ['Content-Length', String(body.length)] : ['Transfer-Encoding', 'chunked'],
      ]);
    const pieces = (b: Buffer, n: number) => Array.from({ length: Math.ceil(b.length / n) }, (_, i) => b.subarray(i * n, (i + 1) * n));
    const ignoredBody = Buffer.from(JSON.stringify({ object_kind: 'merge_request' }));
    const ignoredRequest =
      head('POST', '/hooks/gitlab', [
        ['Host', 'x'],
        ['X-Gitlab-Event', 'Merge Request Hook'],
        ['X-Gitlab-Token', TOKEN],
        ['Content-Length', String(ignoredBody.length)],
      ]) + ignoredBody.toString();

    async function run(s: ValueOf<typeof slowArb>): Promise<{ conn: RawConnection; serverMustClose: boolean; allowed: number[] }> {
      const conn = await RawConnection.open(w.slowPort);
      const body = slowBody(s.link);
      const h = Buffer.from(headFor(s.link, body, s.kind === 'drip-chunked' ? 'chunked' : 'length'));
      const cutHead = h.subarray(0, Math.max(1, Math.floor(h.length * s.cut)));
      const cutBody = body.subarray(0, Math.floor(body.length * s.cut));
      switch (s.kind) {
        case 'slowloris': {
          // The head never ends: a header line in small pieces, forever (until the server hangs up).
          const endless = Array.from({ length: 400 }, (_, i) => `X-Pad-${i}: ${'v'.repeat(s.piece)}\r\n`);
          void conn.drip([h.subarray(0, h.length - 2), ...endless.flatMap((l) => pieces(Buffer.from(l), s.piece))], s.gapMs);
          return { conn, serverMustClose: true, allowed: [408] };
        }
        case 'idle':
          return { conn, serverMustClose: true, allowed: [408] };
        case 'drip-length':
          // Everything but the last byte, slowly: the request never completes.
          void conn.drip([h, ...pieces(body.subarray(0, body.length - 1), s.piece)], s.gapMs);
          return { conn, serverMustClose: true, allowed: [408, 400] };
        case 'drip-chunked':
          // Chunks forever, never the last (empty) one.
          void conn.drip(
            [
              h,
              ...Array.from({ length: 400 }, (_, i) =>
                chunked(i === 0 ? body : Buffer.from(' '.repeat(s.piece)), [body.length]).subarray(0, -5),
              ),
            ],
            s.gapMs,
          );
          return { conn, serverMustClose: true, allowed: [408, 400] };
        case 'half-close-headers':
          await conn.write(cutHead);
          conn.halfClose();
          return { conn, serverMustClose: true, allowed: [400] };
        case 'half-close-body':
          await conn.write(Buffer.concat([h, cutBody]));
          conn.halfClose();
          return { conn, serverMustClose: true, allowed: [400] };
        case 'reset-mid-body':
          await conn.write(Buffer.concat([h, cutBody]));
          setTimeout(() => conn.reset(), s.gapMs);
          return { conn, serverMustClose: false, allowed: [] };
        case 'destroy-mid-headers':
          await conn.write(cutHead);
          setTimeout(() => conn.destroy(), s.gapMs);
          return { conn, serverMustClose: false, allowed: [] };
        case 'keepalive-idle':
          // A complete request, then the connection is kept open and idle.
          await conn.write(ignoredRequest);
          return { conn, serverMustClose: true, allowed: [200] };
        case 'pipelined-partial':
          // A complete request followed by the start of a triggering one that never ends.
          await conn.write(Buffer.concat([Buffer.from(ignoredRequest), h, cutBody]));
          return { conn, serverMustClose: true, allowed: [200, 408, 400] };
      }
    }

    await fc.assert(
      fc.asyncProperty(fc.array(slowArb, { minLength: 1, maxLength: 16 }), async (slows) => {
        const before = await triggers(w);
        const clients = await Promise.all(slows.map(run));
        // While they hold their connections, the server answers others.
        await expectAlive(w, w.slowPort);
        await Promise.all(
          clients.map(async ({ conn, serverMustClose, allowed }, i) => {
            const what = `${slows[i]!.kind} (${JSON.stringify(slows[i])})`;
            const closed = await conn.waitClosed(CLOSE_CAP_MS);
            if (serverMustClose) expect(closed && conn.closedBy === 'server', `${what}: the server closed the connection`).to.equal(true);
            const statuses = conn.replies().map((r) => r.status);
            expectClientErrorsExplained(conn.replies(), what);
            for (const st of statuses) expect(allowed, `${what}: got ${statuses.join(',')}`).to.include(st);
            // An idle client gets its 408; a slowloris one too, unless its drip makes the close a reset (see Exchange.reset).
            if (slows[i]!.kind === 'idle' || (slows[i]!.kind === 'slowloris' && !isReset(conn)))
              expect(statuses, what).to.deep.equal([408]);
          }),
        );
        // The one complete request a keep-alive or pipelining client sends first is authenticated (an ignored event),
        // and nothing else is: not a cut-off request after it, nor any other client's.
        const complete = slows.filter((s) => s.kind === 'keepalive-idle' || s.kind === 'pipelined-partial').length;
        await expectNoTrigger(w, before, 'slow and broken clients', complete);
        await expectAlive(w, w.slowPort);
      }),
      { numRuns: 4, endOnFailure: true },
    );
  });
}
