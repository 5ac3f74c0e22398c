import { expect } from 'chai';
import fc from 'fast-check';
import { build, describeRequest, hostileRequest } from './requests.js';
import { exchange, expectAlive, expectClientErrorsExplained } from './wire.js';
import { triggers, type World } from './world.js';

/** Batches of concurrent hostile connections, all hostile or mixed with authentic ones. */
export function concurrentConnectionStories(world: () => World): void {
  it('property: many concurrent hostile connections, none authentic → no trigger; mixed → at most one trigger per authentic request', async () => {
    const w = world();
    await fc.assert(
      fc.asyncProperty(fc.array(hostileRequest, { minLength: 50, maxLength: 150 }), fc.boolean(), async (reqs, hostileOnly) => {
        const built = reqs.map((r) => build(hostileOnly ? { ...r, token: { kind: 'wrong', value: 'nope' } } : r));
        const before = await triggers(w);
        const results = await Promise.all(
          built.map((b, i) => exchange(w.port, b.wire, { halfClose: b.halfClose, head: reqs[i]!.method === 'HEAD' })),
        );
        results.forEach((res, i) => {
          expect(res.closedByServer, describeRequest(reqs[i]!, built[i]!)).to.equal(true);
          expectClientErrorsExplained(res.replies, describeRequest(reqs[i]!, built[i]!), reqs[i]!.method === 'HEAD');
        });
        const after = await triggers(w);
        const authentic = built.filter((b) => b.authentic).length;
        if (hostileOnly) expect(authentic).to.equal(0);
        expect(after.enqueued - before.enqueued, 'queued triggers').to.be.at.most(authentic);
        expect(after.receiverCalls - before.receiverCalls, 'Receiver calls').to.be.at.most(authentic);
        expect(after.authenticated - before.authenticated, 'requests that passed authentication').to.be.at.most(authentic);
        await expectAlive(w, w.port);
      }),
      { numRuns: 6, endOnFailure: true },
    );
  });
}
