import { expect } from 'chai';
import fc from 'fast-check';
import { build, describeRequest, hostileRequest } from './requests.js';
import { EARLY_ANSWERS, exchange, expectAlive, expectClientErrorsExplained, head } from './wire.js';
import { expectNoTrigger, pushJson, signature, TOKEN, triggers, type World } from './world.js';

/** One request at a time: the control (a valid push triggers), then random requests that must not trigger. */
export function randomRequestStories(world: () => World): void {
  it('the world works: a valid push triggers its Receiver once, a signed one too (control)', async () => {
    const w = world();
    for (const [path, body, extra] of [
      ['/hooks/gitlab', Buffer.from(pushJson()), []],
      [
        '/hooks/signed',
        Buffer.from(pushJson({ project: { path_with_namespace: 'team/sig' } })),
        signature(Buffer.from(pushJson({ project: { path_with_namespace: 'team/sig' } }))),
      ],
    ] as Array<[string, Buffer, Array<[string, string]>]>) {
      const before = await triggers(w);
      const wire = Buffer.concat([
        Buffer.from(
          head('POST', path, [
            ['Host', 'x'],
            ['X-Gitlab-Event', 'Push Hook'],
            ['X-Gitlab-Token', TOKEN],
            ...extra,
            ['Content-Length', String(body.length)],
            ['Connection', 'close'],
          ]),
        ),
        body,
      ]);
      const { replies } = await exchange(w.port, wire);
      expect(replies.map((r) => `${r.status} ${r.body}`)).to.deep.equal(['202 accepted: 1 receiver(s) to trigger']);
      const after = await triggers(w);
      expect(after.receiverCalls - before.receiverCalls, path).to.equal(1);
    }
  });

  it('property: random methods, paths, headers, framings and bodies never get a 5xx nor trigger without the token or signature', async () => {
    const w = world();
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(hostileRequest, async (r) => {
        const b = build(r);
        const what = describeRequest(r, b);
        const before = await triggers(w);
        const { replies, closedByServer, reset, raw } = await exchange(w.port, b.wire, {
          splits: r.splits,
          halfClose: b.halfClose,
          head: r.method === 'HEAD',
        });
        expect(closedByServer, `${what}: the server closed the connection (got ${JSON.stringify(raw)})`).to.equal(true);
        expectClientErrorsExplained(replies, what, r.method === 'HEAD');
        const final = replies.find((x) => x.status >= 200);
        const lostToReset = final === undefined && reset && typeof b.expected === 'number' && EARLY_ANSWERS.has(b.expected);
        if (b.expected === 'authenticated') expect([200, 202, 400], `${what}: ${final?.status} ${final?.body}`).to.include(final?.status);
        else if (b.expected !== undefined && !lostToReset) expect(final?.status, `${what}: ${final?.body}`).to.equal(b.expected);
        if (!b.authentic) await expectNoTrigger(w, before, what);
        if (++runs % 100 === 0) await expectAlive(w, w.port);
      }),
      { numRuns: 400 },
    );
    await expectAlive(w, w.port);
  });
}
