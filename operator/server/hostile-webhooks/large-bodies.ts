import { expect } from 'chai';
import { MAX_BODY_BYTES } from '../../push/webhook-handler.js';
import { chunked, exchange, expectAlive, head } from './wire.js';
import { expectNoTrigger, pushJson, TOKEN, triggers, type World } from './world.js';

/** Bodies over the limit, declared up front or streamed in chunks: 413 before the whole body is read. */
export function largeBodyStories(world: () => World): void {
  it('bodies over 5 MiB get 413, never a trigger; the server answers afterwards', async () => {
    const w = world();
    const before = await triggers(w);
    const body = Buffer.concat([Buffer.from(pushJson()), Buffer.alloc(MAX_BODY_BYTES, 0x20)]); // valid JSON, whitespace-padded
    const tokenHead: Array<[string, string]> = [
      ['Host', 'x'],
      ['X-Gitlab-Event', 'Push Hook'],
      ['X-Gitlab-Token', TOKEN],
    ];
    // Only what the server reads before it decides is sent, so no reset can swallow the answer (see Exchange.reset).
    const declared = Buffer.concat([
      Buffer.from(head('POST', '/hooks/gitlab', [...tokenHead, ['Content-Length', String(body.length)]])),
      body.subarray(0, 1024),
    ]);
    const overByOne = chunked(body.subarray(0, MAX_BODY_BYTES + 1), [64 * 1024]);
    const streamed = Buffer.concat([
      Buffer.from(head('POST', '/hooks/gitlab', [...tokenHead, ['Transfer-Encoding', 'chunked']])),
      overByOne.subarray(0, overByOne.length - '\r\n0\r\n\r\n'.length),
    ]);
    for (const [mode, wire] of [
      ['declared', declared],
      ['chunked', streamed],
    ] as const) {
      const { replies } = await exchange(w.port, wire);
      expect(
        replies.map((r) => r.status),
        mode,
      ).to.deep.equal([413]);
      expect(replies[0]!.body).to.match(/larger than/);
    }
    await expectNoTrigger(w, before, 'bodies over the limit');
    await expectAlive(w, w.port);
  });
}
