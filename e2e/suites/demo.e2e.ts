import { expect } from 'chai';
import { runDemo } from '../demo/demo.js';
import { testEnv } from '../hooks.js';
import { getJson } from '../support/kube.js';

/** `make demo`'s story (e2e/demo/demo.ts) as a test: what it prints is what happened, and it leaves nothing. */
describe('demo: the story `make demo` tells', function () {
  this.timeout(180_000);

  it('a real git push reaches the artifact through the operator, in order, and everything is cleaned up', async () => {
    const env = await testEnv();
    const lines: string[] = [];
    const result = await runDemo(env, (l) => lines.push(l));
    console.log(lines.map((l) => `      ${l}`).join('\n'));
    expect(result.revision).to.equal(`main@sha1:${result.sha}`);
    expect(result.webhookStatus).to.equal(202);
    const { pushed, webhookSent, webhookAnswered, receiverTriggered, artifact } = result.at;
    // Each step after the one before it (50 ms of slack: the watch and the git server stamp arrivals on their own).
    expect(webhookSent).to.be.at.most(webhookAnswered);
    expect(webhookAnswered).to.be.at.most(receiverTriggered + 50);
    expect(receiverTriggered).to.be.at.most(artifact);
    expect(pushed).to.be.at.most(artifact);
    expect(artifact).to.be.lessThan(15_000);
    expect(result.dispatchMs).to.be.within(0, 1000);
    expect(lines.join('\n')).to.include(`artifact revision main@sha1:${result.sha}`);
    // Cleaned up: the link is gone (deleted while the operator was still up), and so is the operator.
    const link = lines.find((l) => l.startsWith('applied'))!.match(/GitLabFluxLink (demo-\w+)/)![1];
    expect(await getJson(env.cluster, 'gitlabfluxlink', link)).to.equal(undefined);
    expect(lines.at(-1)).to.match(/^cleaned up: .*GitLabFluxLink deleted.*operator stopped/);
  });
});
