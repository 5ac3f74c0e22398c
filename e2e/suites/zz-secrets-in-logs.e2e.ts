import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { testEnv } from '../hooks.js';

/**
 * Runs last (file order): the operator's logs of the whole e2e run must contain no webhook path, no
 * signature and no token. The tokens are the ones the suites used and every Receiver token still stored.
 */
describe('secrets never reach the operator logs', () => {
  it('finds no webhook path, signature or token in any operator log of this run', async () => {
    const env = await testEnv();
    const logs = fs.readdirSync(env.logDir).filter((f) => /^operator-\d+\.log$/.test(f));
    expect(logs.length, 'operator logs of this run').to.be.greaterThan(0);
    const secrets = ((JSON.parse(await env.cluster.kubectl(['get', 'secrets', '-A', '-l', 'app.kubernetes.io/managed-by=gitlab-flux-link', '-o', 'json'])).items ?? []) as Array<{ data: { token: string } }>)
      .map((s) => Buffer.from(s.data.token, 'base64').toString('utf8'));
    const known = ['e2e-webhook-token-0123456789abcdef', 'push-e2e-webhook-token-0123456789', ...secrets];
    for (const file of logs) {
      const text = fs.readFileSync(path.join(env.logDir, file), 'utf8');
      expect(text.length, file).to.be.greaterThan(0);
      expect(text, `${file}: webhook path`).not.to.match(/\/hook\/[0-9a-f]{64}/);
      expect(text, `${file}: signature`).not.to.match(/sha256=[0-9a-f]{64}|v1,[A-Za-z0-9+/]{43}=/);
      for (const token of known) expect(text.includes(token), `${file}: a token`).to.equal(false);
    }
  });
});
