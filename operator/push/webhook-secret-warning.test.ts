import { expect } from 'chai';
import http from 'node:http';
import { startHttpServer } from '../server/http-server.js';
import { linkSpec, memoryLogger } from '../testing/push-fakes.js';
import { webhookRoute } from './webhook-handler.js';

/** The token of link `s`, whose signing Secret cannot be read (links `a` and `b`: their token Secret cannot be). */
const TOKEN = 'readable-webhook-token-0123456789';

/** A webhook Secret that cannot be read: every webhook is refused (503), and the warning is rate-limited per link and field. */
describe('webhook-handler: the "webhook Secret unreadable" warning', () => {
  let t = Date.parse('2024-05-01T12:00:00Z');
  let server: Awaited<ReturnType<typeof startHttpServer>>;
  let lines: string[];
  before(async () => {
    const logger = memoryLogger();
    lines = logger.lines;
    const route = webhookRoute({
      log: logger.log,
      linkSpec: (name) => {
        if (name === 'a' || name === 'b') return linkSpec();
        if (name !== 's') return undefined;
        const signed = linkSpec({ signing: true });
        return { ...signed, webhook: { ...signed.webhook, secretRef: { ...signed.webhook.secretRef, name: 'readable-token' } } };
      },
      secretValue: async (ref) => (ref.name === 'readable-token' ? TOKEN : undefined),
      projectAllowed: () => true,
      targets: () => [],
      enqueue: () => undefined,
      observe: () => undefined,
      recordPush: () => undefined,
      now: () => new Date(t),
    });
    server = await startHttpServer({ host: '127.0.0.1', port: 0, routes: [route] });
  });
  after(async () => {
    server.server.closeAllConnections();
    await server.close();
  });

  const post = (link: string, token = 'x') =>
    new Promise<number>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: server.port,
          method: 'POST',
          path: `/hooks/${link}`,
          headers: { 'X-Gitlab-Token': token, 'X-Gitlab-Event': 'Push Hook' },
          agent: false,
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end('{}');
    });
  const warnings = () => lines.map((l) => JSON.parse(l)).filter((l) => /webhook Secret unreadable/.test(l.message));

  it('is logged once a minute per link, then with the count of the ones suppressed meanwhile', async () => {
    for (let i = 0; i < 5; i++) expect(await post('a')).to.equal(503);
    expect(await post('b')).to.equal(503);
    expect(warnings().map((w) => w.link)).to.deep.equal(['a', 'b']);
    t += 59_000;
    expect(await post('a')).to.equal(503);
    expect(warnings()).to.have.length(2);
    t += 1_000;
    expect(await post('a')).to.equal(503);
    const all = warnings();
    expect(all).to.have.length(3);
    expect(all[2]).to.include({ link: 'a', suppressed: 5 });
    expect(all[0]).to.include({ field: 'spec.webhook.secretRef', namespace: 'gitlab-flux-link', name: 'hook-token' });
  });

  it('an unreadable signing Secret is logged the same way, naming its field and Secret, never a value', async () => {
    const before = warnings().length;
    for (let i = 0; i < 3; i++) expect(await post('s', TOKEN)).to.equal(503);
    const logged = warnings().slice(before);
    expect(logged).to.have.length(1);
    expect(logged[0]).to.include({
      link: 's',
      field: 'spec.webhook.signingSecretRef',
      namespace: 'gitlab-flux-link',
      name: 'hook-signing',
    });
    expect(lines.join('\n')).not.to.include(TOKEN);
    t += 60_000;
    expect(await post('s', TOKEN)).to.equal(503);
    expect(warnings().slice(before)[1]).to.include({ link: 's', field: 'spec.webhook.signingSecretRef', suppressed: 2 });
  });
});
