import { expect } from 'chai';
import { createHmac } from 'node:crypto';
import { RECEIVER_TOKEN } from '../../testing/push-fakes.js';
import { exchange, expectAlive, head } from './wire.js';
import { pushJson, SIGNING_KEY, TOKEN, triggers, webhookPath, type World } from './world.js';

/** Last: after every other story, a valid webhook still triggers exactly once, and the logs hold no secret. */
export function afterTheBarrageStories(world: () => World): void {
  it('after the barrage a valid webhook triggers its Receiver exactly once, and no secret reached the logs', async () => {
    const w = world();
    await expectAlive(w, w.port);
    await expectAlive(w, w.slowPort);
    const before = await triggers(w);
    const seenBefore = w.receiverSeen.length;
    const body = Buffer.from(pushJson({ after: 'a'.repeat(40) }));
    const wire = Buffer.concat([
      Buffer.from(
        head('POST', '/hooks/gitlab', [
          ['Host', 'x'],
          ['Content-Type', 'application/json'],
          ['X-Gitlab-Event', 'Push Hook'],
          ['X-Gitlab-Token', TOKEN],
          ['Content-Length', String(body.length)],
          ['Connection', 'close'],
        ]),
      ),
      body,
    ]);
    const { replies } = await exchange(w.port, wire);
    expect(replies.map((r) => r.status)).to.deep.equal([202]);
    const after = await triggers(w);
    expect(after.enqueued - before.enqueued).to.equal(1);
    expect(after.receiverCalls - before.receiverCalls).to.equal(1);
    const call = w.receiverSeen[seenBefore]!;
    expect(call.url).to.equal(webhookPath('app'));
    expect(call.headers['x-signature']).to.equal('sha256=' + createHmac('sha256', RECEIVER_TOKEN).update(call.body).digest('hex'));
    expect(JSON.parse(call.body.toString())).to.deep.include({ ref: 'refs/heads/main', after: 'a'.repeat(40) });

    const logs = w.logLines.join('\n');
    for (const secret of [TOKEN, SIGNING_KEY, webhookPath('app'), RECEIVER_TOKEN])
      expect(logs.includes(secret), 'a secret in the logs').to.equal(false);
  });
}
