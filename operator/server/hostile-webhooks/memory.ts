import { expect } from 'chai';
import fc from 'fast-check';
import v8 from 'node:v8';
import vm from 'node:vm';
import { MAX_BODY_BYTES } from '../../push/webhook-handler.js';
import { RawConnection } from '../../testing/raw-http.js';
import { chunked, EARLY_ANSWERS, exchange, expectAlive, head } from './wire.js';
import { CLOSE_CAP_MS, expectNoTrigger, MiB, pushJson, TOKEN, triggers, type World } from './world.js';

/** Memory stays bounded: after many large rejected bodies, and while clients hold large bodies unfinished. */

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** Heap and buffer memory (socket reads land in ArrayBuffers outside the heap) after full collections. */
function memoryAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

export function memoryStories(world: () => World): void {
  it('property: memory stays bounded after many large rejected bodies (baseline measured in this test)', async () => {
    const w = world();
    type Big =
      'declared-over' | 'chunked-over' | 'unauthenticated' | 'unauthenticated-chunked-over' | 'authenticated-garbage' | 'deep-json';
    const bigArb = fc.record({
      kind: fc.constantFrom<Big>(
        'declared-over',
        'chunked-over',
        'unauthenticated',
        'unauthenticated-chunked-over',
        'authenticated-garbage',
        'deep-json',
      ),
      size: fc.integer({ min: 3 * MiB, max: 6 * MiB }),
    });
    await expectAlive(w, w.port); // warm up: lazily built parts are not counted as growth
    const baseline = memoryAfterGc();
    const before = await triggers(w);
    let sent = 0;
    let authenticated = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(bigArb, { minLength: 6, maxLength: 6 }), async (bigs) => {
        for (const { kind, size } of bigs) {
          const token = kind.startsWith('unauthenticated') ? 'wrong-token' : TOKEN;
          let body: Buffer;
          let expected: number[];
          if (kind === 'declared-over' || kind === 'chunked-over' || kind === 'unauthenticated-chunked-over') {
            body = Buffer.concat([Buffer.from(pushJson()), Buffer.alloc(Math.max(size, MAX_BODY_BYTES + 1), 0x20)]);
            expected = kind === 'unauthenticated-chunked-over' ? [401, 413] : [413];
          } else if (kind === 'deep-json') {
            const d = Math.floor(Math.min(size, MiB) / 2);
            body = Buffer.from('['.repeat(d) + ']'.repeat(d));
            expected = [400];
          } else {
            body = Buffer.alloc(Math.min(size, MAX_BODY_BYTES), 0x7b); // '{{{{…': not JSON
            expected = kind === 'unauthenticated' ? [401] : [400];
          }
          const isChunked = kind.endsWith('chunked-over');
          const wire = Buffer.concat([
            Buffer.from(
              head('POST', '/hooks/gitlab', [
                ['Host', 'x'],
                ['X-Gitlab-Event', 'Push Hook'],
                ['X-Gitlab-Token', token],
                isChunked ? ['Transfer-Encoding', 'chunked'] : ['Content-Length', String(body.length)],
                ['Connection', 'close'],
              ]),
            ),
            isChunked ? chunked(body, [256 * 1024]) : body,
          ]);
          const { replies, reset } = await exchange(w.port, wire);
          const statuses = replies.map((r) => r.status);
          if (statuses.length === 0)
            expect(reset && expected.every((st) => EARLY_ANSWERS.has(st)), `${kind} ${mib(body.length)}: no answer`).to.equal(true);
          else
            expect(statuses.length === 1 && expected.includes(statuses[0]!), `${kind} ${mib(body.length)}: ${statuses.join(',')}`).to.equal(
              true,
            );
          sent += body.length;
          if (statuses[0] === 400) authenticated++;
        }
      }),
      { numRuns: 2, endOnFailure: true },
    );
    await expectNoTrigger(w, before, 'large bodies', authenticated);
    const grown = memoryAfterGc() - baseline;
    expect(grown, `memory grew by ${mib(grown)} after ${mib(sent)} of rejected bodies`).to.be.below(32 * MiB);
    await expectAlive(w, w.port);
  });

  it('memory stays bounded while many unauthenticated clients hold nearly complete 4 MiB bodies', async () => {
    const w = world();
    const clients = 16;
    const declared = 4 * MiB;
    const body = Buffer.alloc(declared - 1, 0x20); // before the baseline: the clients live in this process too
    const baseline = memoryAfterGc();
    const before = await triggers(w);
    const firstSocket = w.serverSockets.length;
    const conns = await Promise.all(
      Array.from({ length: clients }, async () => {
        const conn = await RawConnection.open(w.port);
        await conn.write(
          head('POST', '/hooks/gitlab', [
            ['Host', 'x'],
            ['X-Gitlab-Event', 'Push Hook'],
            ['X-Gitlab-Token', 'not-the-token'],
            ['Content-Length', String(declared)],
          ]),
        );
        void conn.write(body); // all but the last byte: the request never completes
        return conn;
      }),
    );
    try {
      // Wait until the server has read every byte sent (whatever it does with them).
      const sentTotal = clients * (declared - 1);
      for (let i = 0; ; i++) {
        const read = w.serverSockets.slice(firstSocket).reduce((a, s) => a + s.bytesRead, 0);
        if (read >= sentTotal) break;
        if (i > 2000) throw new Error(`the server read only ${mib(read)} of ${mib(sentTotal)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      const grown = memoryAfterGc() - baseline;
      expect(grown, `memory grew by ${mib(grown)} with ${clients} unauthenticated clients holding ${mib(clients * declared)}`).to.be.below(
        16 * MiB,
      );
      for (const c of conns) {
        const reply = await c.waitForReply(CLOSE_CAP_MS);
        expect(reply?.status, 'an unauthenticated request is refused without waiting for its body').to.equal(401);
      }
      await expectAlive(w, w.port);
    } finally {
      conns.forEach((c) => c.destroy());
    }
    await expectNoTrigger(w, before, 'unauthenticated held bodies');
  });
}
