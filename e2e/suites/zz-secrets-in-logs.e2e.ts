import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { testEnv } from '../hooks.js';
import { knownSecrets } from '../support/gitlab-hooks.js';
import type { TestEnv } from '../testenv/index.js';

/**
 * Runs last (file order): what the operator wrote during the whole e2e run must contain no webhook path, no
 * service-proxy path (what follows `/proxy` is a webhook path), no signature and no token — its logs, the
 * status of every GitLabFluxLink and every Event in the cluster. The tokens are the ones the suites used and
 * every Receiver token still stored, and every GitLab API token and webhook token the hooks suites handed out.
 */
describe('secrets never reach the operator logs, link status or Events', () => {
  let env: TestEnv;
  let known: string[];
  before(async () => {
    env = await testEnv();
    const secrets = (
      (JSON.parse(await env.cluster.kubectl(['get', 'secrets', '-A', '-l', 'app.kubernetes.io/managed-by=gitlab-flux-link', '-o', 'json']))
        .items ?? []) as Array<{ data: { token: string } }>
    ).map((s) => Buffer.from(s.data.token, 'base64').toString('utf8'));
    known = [
      'e2e-webhook-token-0123456789abcdef',
      'push-e2e-webhook-token-0123456789',
      'outage-e2e-webhook-token-0123456789',
      'receiver-status-e2e-webhook-token-0123456789',
      // GitLab API tokens and webhook tokens the suites of operator-registered hooks gave the operator.
      ...knownSecrets,
      ...secrets,
    ];
  });

  function expectNoSecret(text: string, what: string): void {
    expect(text, `${what}: webhook path`).not.to.match(/\/hook\/[0-9a-f]{64}/i);
    expect(text, `${what}: a path after a service proxy's /proxy`).not.to.match(/\/proxy\/(?!\[redacted\])[^\s"]/);
    expect(text, `${what}: signature`).not.to.match(/sha256=[0-9a-f]{64}|v1,[A-Za-z0-9+/]{43}=/);
    for (const token of known) expect(text.includes(token), `${what}: a token`).to.equal(false);
  }

  it('finds none in any operator log of this run', () => {
    const logs = fs.readdirSync(env.logDir).filter((f) => /^operator-\d+\.log$/.test(f));
    expect(logs.length, 'operator logs of this run').to.be.greaterThan(0);
    for (const file of logs) {
      const text = fs.readFileSync(path.join(env.logDir, file), 'utf8');
      expect(text.length, file).to.be.greaterThan(0);
      expectNoSecret(text, file);
    }
  });

  it('finds none in the status of any GitLabFluxLink', async () => {
    const links = (JSON.parse(await env.cluster.kubectl(['get', 'gitlabfluxlinks', '-o', 'json'])).items ?? []) as Array<{
      metadata: { name: string };
      status?: unknown;
    }>;
    expect(links.filter((l) => l.status).length, 'links with a status at the end of the run').to.be.greaterThan(0);
    for (const l of links) expectNoSecret(JSON.stringify(l.status ?? {}), `GitLabFluxLink ${l.metadata.name} status`);
  });

  it('finds none in any Event in the cluster', async () => {
    const events = (JSON.parse(await env.cluster.kubectl(['get', 'events', '-A', '-o', 'json'])).items ?? []) as Array<{
      metadata: { namespace: string; name: string };
      source?: { component?: string };
      reportingComponent?: string;
    }>;
    const ours = events.filter((e) => e.source?.component === 'gitlab-flux-link' || e.reportingComponent === 'gitlab-flux-link');
    expect(ours.length, "the operator's Events still stored at the end of the run").to.be.greaterThan(0);
    for (const e of events)
      expectNoSecret(
        JSON.stringify(e),
        `Event ${e.metadata.namespace}/${e.metadata.name} (${e.reportingComponent || e.source?.component})`,
      );
  });
});
