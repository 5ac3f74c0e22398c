import { expect } from 'chai';
import fc from 'fast-check';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { SecretKeyRef } from '../api/v1alpha1/types.js';
import type { ValidatedLinkSpec } from '../api/v1alpha1/validation.js';
import type { Push } from '../gitlab/webhook-event.js';
import { startHttpServer } from '../server/http-server.js';
import { deferred } from '../testing/informers.js';
import { linkSpec, memoryLogger } from '../testing/push-fakes.js';
import { RawConnection } from '../testing/raw-http.js';
import type { Target } from './receiver-index.js';
import { TriggerQueue } from './trigger-queue.js';
import { SMALL_BODY_BYTES, type WebhookDeps, webhookRoute } from './webhook-handler.js';

const HOOK_TOKEN = 'gitlab-hook-token-3f9c2a7e51d04b86';
const SIGNING_KEY = 'whsec_' + Buffer.from('signing-key-bytes-0123456789abcdef').toString('base64');
const NOW = new Date('2024-05-01T12:00:00Z');
const NOW_S = Math.floor(NOW.getTime() / 1000);
const SHA = '9f2c1e0b7a6d5c4b3a29180706f5e4d3c2b1a098';

const pushBody = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    object_kind: 'push',
    event_name: 'push',
    before: '0'.repeat(39) + '1',
    after: SHA,
    ref: 'refs/heads/main',
    project_id: 9,
    project: { id: 9, path_with_namespace: 'team/app' },
    commits: [],
    ...over,
  });

const target = (gitRepository: string, ref: Target['ref']): Target => ({
  namespace: 'apps',
  gitRepository,
  receiver: `${gitRepository}-gitlab`,
  project: 'team/app',
  ref,
});

interface Fixture {
  links: Map<string, ValidatedLinkSpec>;
  secrets: Map<string, string>;
  allowedProjects: Set<string>;
  targets: Target[];
  enqueued: Array<{ link: string; push: Push; target: Target; receivedAt: bigint }>;
  observed: string[];
  recorded: Array<{ link: string; push: Push }>;
  secretReads: number;
  logLines: string[];
  maxBodyBytes?: number;
  enqueueHook?: (link: string, push: Push, target: Target) => void;
  /** When set, secret reads wait for it. */
  secretGate?: Promise<void>;
  /** The webhook token as a fresh read (maxAgeMs) sees it: rotated since the cached value was read. */
  rotatedToken?: string;
  freshReads?: number;
}

function fixture(): Fixture {
  return {
    links: new Map([
      ['gitlab', linkSpec()],
      ['signed', linkSpec({ signing: true })],
    ]),
    secrets: new Map([
      ['gitlab-flux-link/hook-token/token', HOOK_TOKEN],
      ['gitlab-flux-link/hook-signing/key', SIGNING_KEY],
    ]),
    allowedProjects: new Set(['team/app']),
    targets: [target('app-main', { branch: 'main' }), target('app-dev', { branch: 'dev' })],
    enqueued: [],
    observed: [],
    recorded: [],
    secretReads: 0,
    logLines: [],
  };
}

function deps(f: Fixture): WebhookDeps {
  const { log, lines } = memoryLogger();
  f.logLines = lines;
  return {
    log,
    linkSpec: (name) => f.links.get(name),
    secretValue: async (ref: Required<SecretKeyRef>, opts?: { maxAgeMs?: number }) => {
      f.secretReads++;
      await f.secretGate;
      if (opts?.maxAgeMs !== undefined) f.freshReads = (f.freshReads ?? 0) + 1;
      if (opts?.maxAgeMs !== undefined && f.rotatedToken !== undefined && ref.key === 'token') return f.rotatedToken;
      return f.secrets.get(`${ref.namespace}/${ref.name}/${ref.key}`);
    },
    projectAllowed: (_link, project) => f.allowedProjects.has(project),
    targets: (_link, project) => (project === 'team/app' ? f.targets : []),
    enqueue: (link, push, t, receivedAt) => {
      f.enqueued.push({ link, push, target: t, receivedAt });
      f.enqueueHook?.(link, push, t);
    },
    observe: (result, seconds) => {
      expect(seconds).to.be.within(0, 10);
      f.observed.push(result);
    },
    recordPush: (link, push) => f.recorded.push({ link, push }),
    now: () => NOW,
    get maxBodyBytes() {
      return f.maxBodyBytes;
    },
  };
}

interface Reply {
  status: number;
  body: string;
}

function send(
  port: number,
  opts: { method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: opts.method ?? 'POST',
        path: opts.path ?? '/hooks/gitlab',
        headers: opts.headers ?? {},
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A raw HTTP/1.1 exchange: what the client reads before the server closes (for 413s that cut the connection). */
function rawExchange(port: number, head: string, bodyChunks: Buffer[]): Promise<string> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    const finish = () => resolve(got);
    sock.on('data', (c: Buffer) => {
      got += c.toString('latin1');
    });
    sock.on('error', () => undefined);
    sock.on('close', finish);
    sock.on('connect', () => {
      sock.write(head);
      for (const c of bodyChunks) sock.write(c);
    });
    setTimeout(() => sock.destroy(), 3_000).unref();
  });
}

const headers = (over: Record<string, string> = {}): Record<string, string> => ({
  'Content-Type': 'application/json',
  'X-Gitlab-Event': 'Push Hook',
  'X-Gitlab-Token': HOOK_TOKEN,
  ...over,
});

function signatureHeaders(body: string, key = SIGNING_KEY, ts = String(NOW_S), id = 'msg_1'): Record<string, string> {
  const keyBytes = key.startsWith('whsec_') ? Buffer.from(key.slice(6), 'base64') : Buffer.from(key);
  return {
    'webhook-id': id,
    'webhook-timestamp': ts,
    'webhook-signature': 'v1,' + createHmac('sha256', keyBytes).update(`${id}.${ts}.${body}`).digest('base64'),
  };
}

/** Holds a large-body read slot: the headers and the first 10 bytes of `body` sent, the rest left for later. */
async function holdLargeBodySlot(port: number, body: string): Promise<RawConnection> {
  const slow = await RawConnection.open(port);
  await slow.write(
    `POST /hooks/gitlab HTTP/1.1\r\nHost: x\r\nX-Gitlab-Event: Push Hook\r\nX-Gitlab-Token: ${HOOK_TOKEN}\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
  );
  await new Promise((r) => setTimeout(r, 100));
  return slow;
}

describe('webhook-handler: POST /hooks/<link>', function () {
  let f: Fixture;
  let server: Awaited<ReturnType<typeof startHttpServer>>;

  beforeEach(async () => {
    f = fixture();
    server = await startHttpServer({ host: '127.0.0.1', port: 0, routes: [webhookRoute(deps(f))] });
  });
  afterEach(async () => {
    server.server.closeAllConnections();
    await server.close();
  });

  describe('answers', () => {
    const cases: Array<{
      name: string;
      req: () => Parameters<typeof send>[1];
      setup?: (f: Fixture) => void;
      status: number;
      result: string;
      enqueued: number;
    }> = [
      { name: 'GET → 405', req: () => ({ method: 'GET', headers: headers() }), status: 405, result: 'method_not_allowed', enqueued: 0 },
      {
        name: 'PUT with a valid push → 405',
        req: () => ({ method: 'PUT', headers: headers(), body: pushBody() }),
        status: 405,
        result: 'method_not_allowed',
        enqueued: 0,
      },
      {
        name: 'an unknown link → 404',
        req: () => ({ path: '/hooks/nope', headers: headers(), body: pushBody() }),
        status: 404,
        result: 'unknown_link',
        enqueued: 0,
      },
      {
        name: 'an empty link name → 404',
        req: () => ({ path: '/hooks/', headers: headers(), body: pushBody() }),
        status: 404,
        result: 'unknown_link',
        enqueued: 0,
      },
      {
        name: 'a wrong token → 401',
        req: () => ({ headers: headers({ 'X-Gitlab-Token': 'guess' }), body: pushBody() }),
        status: 401,
        result: 'unauthorized',
        enqueued: 0,
      },
      {
        name: 'a token of the right length but wrong → 401',
        req: () => ({ headers: headers({ 'X-Gitlab-Token': HOOK_TOKEN.replace(/.$/, '#') }), body: pushBody() }),
        status: 401,
        result: 'unauthorized',
        enqueued: 0,
      },
      {
        name: 'the token of a Secret rotated since it was cached → judged by a fresh read → 202',
        setup: (f) => (f.rotatedToken = 'rotated-webhook-token-0123456789'),
        req: () => ({ headers: headers({ 'X-Gitlab-Token': 'rotated-webhook-token-0123456789' }), body: pushBody() }),
        status: 202,
        result: 'accepted',
        enqueued: 1,
      },
      {
        name: 'a wrong token after a rotation → read again once, still 401',
        setup: (f) => (f.rotatedToken = 'rotated-webhook-token-0123456789'),
        req: () => ({ headers: headers({ 'X-Gitlab-Token': 'guess' }), body: pushBody() }),
        status: 401,
        result: 'unauthorized',
        enqueued: 0,
      },
      {
        name: 'a rotated Secret now too weak is not taken by the re-check → 401',
        setup: (f) => (f.rotatedToken = 'short'),
        req: () => ({ headers: headers({ 'X-Gitlab-Token': 'short' }), body: pushBody() }),
        status: 401,
        result: 'unauthorized',
        enqueued: 0,
      },
      {
        name: 'a missing token → 401',
        req: () => {
          const h = headers();
          delete h['X-Gitlab-Token'];
          return { headers: h, body: pushBody() };
        },
        status: 401,
        result: 'unauthorized',
        enqueued: 0,
      },
      {
        name: 'a wrong token with invalid JSON → 401 (authentication first)',
        req: () => ({ headers: headers({ 'X-Gitlab-Token': 'guess' }), body: '{not json' }),
        status: 401,
        result: 'unauthorized',
        enqueued: 0,
      },
      {
        name: 'an unreadable webhook Secret → 503',
        setup: (f) => f.secrets.delete('gitlab-flux-link/hook-token/token'),
        req: () => ({ headers: headers(), body: pushBody() }),
        status: 503,
        result: 'secret_missing',
        enqueued: 0,
      },
      {
        name: 'invalid JSON → 400',
        req: () => ({ headers: headers(), body: '{"object_kind": "push",' }),
        status: 400,
        result: 'malformed',
        enqueued: 0,
      },
      { name: 'an empty body → 400', req: () => ({ headers: headers() }), status: 400, result: 'malformed', enqueued: 0 },
      {
        name: 'a push without ref → 400',
        req: () => ({ headers: headers(), body: pushBody({ ref: undefined }) }),
        status: 400,
        result: 'malformed',
        enqueued: 0,
      },
      {
        name: 'no X-Gitlab-Event header → 400',
        req: () => ({ headers: { 'X-Gitlab-Token': HOOK_TOKEN }, body: pushBody() }),
        status: 400,
        result: 'malformed',
        enqueued: 0,
      },
      {
        name: 'a Merge Request Hook → 200 ignored',
        req: () => ({
          headers: headers({ 'X-Gitlab-Event': 'Merge Request Hook' }),
          body: JSON.stringify({ object_kind: 'merge_request' }),
        }),
        status: 200,
        result: 'ignored',
        enqueued: 0,
      },
      {
        name: 'a System Hook project_create → 200 ignored',
        req: () => ({ headers: headers({ 'X-Gitlab-Event': 'System Hook' }), body: JSON.stringify({ event_name: 'project_create' }) }),
        status: 200,
        result: 'ignored',
        enqueued: 0,
      },
      {
        name: 'a push from a project the trust policy does not allow → 202 and nothing queued',
        req: () => ({ headers: headers(), body: pushBody({ project: { path_with_namespace: 'evil/app' } }) }),
        status: 202,
        result: 'untrusted_project',
        enqueued: 0,
      },
      {
        name: 'a push to the tracked branch main → 202, one trigger',
        req: () => ({ headers: headers(), body: pushBody() }),
        status: 202,
        result: 'accepted',
        enqueued: 1,
      },
      {
        name: 'a push to an untracked branch → 202, no trigger',
        req: () => ({ headers: headers(), body: pushBody({ ref: 'refs/heads/feature' }) }),
        status: 202,
        result: 'accepted',
        enqueued: 0,
      },
      {
        name: 'a branch deletion → 202, no trigger',
        req: () => ({ headers: headers(), body: pushBody({ after: '0'.repeat(40) }) }),
        status: 202,
        result: 'accepted',
        enqueued: 0,
      },
      {
        name: "a push of a project no GitRepository of the link follows (a group hook's other projects) → 200, no trigger",
        setup: (f) => f.allowedProjects.add('team/other'),
        req: () => ({ headers: headers(), body: pushBody({ project: { path_with_namespace: 'team/other' } }) }),
        status: 200,
        result: 'unlinked_project',
        enqueued: 0,
      },
      {
        name: 'a query string does not change the link → 202',
        req: () => ({ path: '/hooks/gitlab?x=1', headers: headers(), body: pushBody() }),
        status: 202,
        result: 'accepted',
        enqueued: 1,
      },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        c.setup?.(f);
        const reply = await send(server.port, c.req());
        expect(reply.status, reply.body).to.equal(c.status);
        expect(f.observed).to.deep.equal([c.result]);
        expect(f.enqueued).to.have.length(c.enqueued);
      });
    }
  });

  it("a group hook's push of a project the link does not follow costs nothing more: no push record (no status write), no log", async () => {
    f.allowedProjects.add('team/other');
    const logged = f.logLines.length;
    const reply = await send(server.port, { headers: headers(), body: pushBody({ project: { path_with_namespace: 'team/other' } }) });
    expect(reply.status).to.equal(200);
    expect(f.recorded).to.deep.equal([]);
    expect(f.logLines.length).to.equal(logged);
  });

  it("enqueues once per target whose ref matches: a push to main triggers only main's GitRepository", async () => {
    const reply = await send(server.port, { headers: headers(), body: pushBody({ ref: 'refs/heads/main' }) });
    expect(reply.status).to.equal(202);
    expect(f.enqueued.map((e) => e.target.gitRepository)).to.deep.equal(['app-main']);
    expect(f.enqueued[0]!.link).to.equal('gitlab');
    expect(f.enqueued[0]!.push).to.deep.include({
      kind: 'push',
      project: 'team/app',
      ref: 'refs/heads/main',
      after: SHA,
      deleted: false,
      event: 'Push Hook',
    });
  });

  it('ignores the query string: a hook registered with its ownership marker (?fluxlink-link=<uid>) reaches its link', async () => {
    // The operator registers hooks at webhook.url plus `?fluxlink-link=<link uid>` (its ownership marker in GitLab).
    const reply = await send(server.port, { path: '/hooks/gitlab?fluxlink-link=0b5e7c1a-uid', headers: headers(), body: pushBody() });
    expect(reply.status).to.equal(202);
    expect(f.enqueued.map((e) => e.link)).to.deep.equal(['gitlab']);
    const other = await send(server.port, { path: '/hooks/other?fluxlink-link=0b5e7c1a-uid', headers: headers(), body: pushBody() });
    expect(other.status).to.equal(404);
  });

  it("a push to dev triggers only dev's GitRepository", async () => {
    await send(server.port, { headers: headers(), body: pushBody({ ref: 'refs/heads/dev' }) });
    expect(f.enqueued.map((e) => e.target.gitRepository)).to.deep.equal(['app-dev']);
  });

  it('a push matching several targets enqueues each once', async () => {
    f.targets.push(target('app-main-2', { branch: 'main' }), target('app-any', { commit: 'abc' }));
    await send(server.port, { headers: headers(), body: pushBody() });
    expect(f.enqueued.map((e) => e.target.gitRepository)).to.deep.equal(['app-main', 'app-main-2', 'app-any']);
  });

  it("hands every trigger the time the request arrived (the start of the operator's added latency)", async () => {
    f.targets.push(target('app-main-2', { branch: 'main' }));
    const before = process.hrtime.bigint();
    await send(server.port, { headers: headers(), body: pushBody() });
    const after = process.hrtime.bigint();
    expect(f.enqueued).to.have.length(2);
    const [a, b] = f.enqueued.map((e) => e.receivedAt);
    expect(a).to.equal(b, 'one arrival time per webhook');
    expect(a! > before && a! < after, 'arrival between send and answer').to.equal(true);
  });

  it('records the push for the status, also for an untrusted project, but never for an unauthenticated request', async () => {
    await send(server.port, { headers: headers({ 'X-Gitlab-Token': 'guess' }), body: pushBody() });
    expect(f.recorded).to.have.length(0);
    await send(server.port, { headers: headers(), body: pushBody() });
    expect(f.recorded.map((r) => r.push.project)).to.deep.equal(['team/app']);
  });

  it('answers before the queued triggers run', async () => {
    const queue = new TriggerQueue({ concurrency: 4, maxPending: 100 });
    const gate = deferred();
    const events: string[] = [];
    f.enqueueHook = (_link, _push, t) => {
      queue.enqueue({
        key: `${t.namespace}/${t.receiver}`,
        run: async () => {
          events.push(`trigger started ${t.gitRepository}`);
          await gate.promise;
          events.push(`trigger done ${t.gitRepository}`);
        },
      });
    };
    const reply = await send(server.port, { headers: headers(), body: pushBody() });
    events.push(`answered ${reply.status}`);
    expect(reply.status).to.equal(202);
    expect(events).to.not.include('trigger done app-main');
    expect(queue.inFlight).to.equal(1);
    gate.resolve();
    await queue.idle();
    expect(events.indexOf('answered 202')).to.be.lessThan(events.indexOf('trigger done app-main'));
  });

  it('does not read the webhook Secret for an unknown link or a wrong method', async () => {
    await send(server.port, { path: '/hooks/nope', headers: headers(), body: pushBody() });
    await send(server.port, { method: 'GET', headers: headers() });
    expect(f.secretReads).to.equal(0);
  });

  it('never logs the token', async () => {
    await send(server.port, { headers: headers({ 'X-Gitlab-Token': 'guess' }), body: pushBody() });
    await send(server.port, { headers: headers(), body: pushBody() });
    f.secrets.delete('gitlab-flux-link/hook-token/token');
    await send(server.port, { headers: headers(), body: pushBody() });
    expect(f.logLines.join('\n')).to.not.include(HOOK_TOKEN);
  });

  for (const [name, token] of [
    ['a webhook token of 15 characters', 'fifteen-chars-x'],
    ['a webhook token of 1 character', 'x'],
  ] as const) {
    it(`${name} → 503 even when sent right, and the log names the field, never the token`, async () => {
      f.secrets.set('gitlab-flux-link/hook-token/token', token);
      const reply = await send(server.port, { headers: headers({ 'X-Gitlab-Token': token }), body: pushBody() });
      expect(reply.status, reply.body).to.equal(503);
      expect(f.observed).to.deep.equal(['secret_weak']);
      expect(f.enqueued).to.have.length(0);
      const log = f.logLines.join('\n');
      expect(log).to.include('spec.webhook.secretRef').and.include('shorter than 16 characters');
      if (token.length > 1) expect(log).to.not.include(token);
    });
  }

  it('a weak webhook token is refused before the sent token is compared (no oracle on a weak value)', async () => {
    f.secrets.set('gitlab-flux-link/hook-token/token', 'short');
    const reply = await send(server.port, { headers: headers({ 'X-Gitlab-Token': 'wrong' }), body: pushBody() });
    expect(reply.status).to.equal(503);
  });

  it('a webhook token of exactly 16 characters is accepted', async () => {
    f.secrets.set('gitlab-flux-link/hook-token/token', 'sixteen-chars-ok');
    const reply = await send(server.port, { headers: headers({ 'X-Gitlab-Token': 'sixteen-chars-ok' }), body: pushBody() });
    expect(reply.status, reply.body).to.equal(202);
  });

  it('large bodies read at once are bounded: past maxBodyReads an authenticated webhook with a large body gets 503 with Retry-After at once, and the slot frees', async () => {
    const own = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      routes: [webhookRoute({ ...deps(f), maxBodyReads: 1 })],
    });
    const body = pushBody({ message: 'm'.repeat(SMALL_BODY_BYTES) });
    const slow = await holdLargeBodySlot(own.port, body);
    try {
      const busy = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const req = http.request(
          { host: '127.0.0.1', port: own.port, method: 'POST', path: '/hooks/gitlab', headers: headers(), agent: false },
          resolve,
        );
        req.on('error', reject);
        req.end(body);
      });
      busy.resume();
      expect(busy.statusCode).to.equal(503);
      expect(busy.headers['retry-after']).to.equal('1');
      expect(f.observed).to.deep.equal(['busy']);
      await slow.write(body.slice(10));
      const first = await slow.waitForReply(3_000);
      expect(first?.status).to.equal(202);
      const after = await send(own.port, { headers: headers(), body });
      expect(after.status, 'the slot is free again').to.equal(202);
    } finally {
      slow.destroy();
      own.server.closeAllConnections();
      await own.close();
    }
  });

  it("small bodies (GitLab's) take no slot: 100 concurrent pushes while the one large-body slot is held are all accepted", async () => {
    const own = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      routes: [webhookRoute({ ...deps(f), maxBodyReads: 1 })],
    });
    const large = pushBody({ message: 'm'.repeat(SMALL_BODY_BYTES) });
    const slow = await holdLargeBodySlot(own.port, large);
    try {
      const replies = await Promise.all(Array.from({ length: 100 }, () => send(own.port, { headers: headers(), body: pushBody() })));
      expect([...new Set(replies.map((r) => r.status))]).to.deep.equal([202]);
    } finally {
      slow.destroy();
      own.server.closeAllConnections();
      await own.close();
    }
  });

  it('a body nested deeper than 32 or holding more than 100,000 values is refused (400), never parsed', async () => {
    for (const body of ['['.repeat(5 * 1024 * 1024), '[' + '0,'.repeat(200_000) + '0]']) {
      const reply = await send(server.port, { headers: headers(), body }).catch((err: Error) => ({ status: -1, body: err.message }));
      // The answer comes before the whole body is read; the client may see the reset first.
      if (reply.status !== -1) expect(reply.status, reply.body).to.equal(400);
    }
    expect(f.observed).to.deep.equal(['malformed', 'malformed']);
    expect(f.enqueued).to.have.length(0);
  });

  it('a link name that is not valid percent-encoding is an unknown link (404), not a server error', async () => {
    const reply = await send(server.port, { path: '/hooks/%E0%A4%A', headers: headers(), body: pushBody() });
    expect(reply.status).to.be.below(500);
    expect(reply.status).to.equal(404);
  });

  describe('replays: a delivery already accepted is acknowledged and triggers nothing', () => {
    const body = pushBody();
    it('a signed delivery replayed within its 5-minute window (same webhook-id) → 200 duplicate, one trigger', async () => {
      const signed = { ...headers(), ...signatureHeaders(body, SIGNING_KEY, String(NOW_S), 'msg_replayed') };
      const first = await send(server.port, { path: '/hooks/signed', headers: signed, body });
      const again = await send(server.port, { path: '/hooks/signed', headers: signed, body });
      expect([first.status, again.status]).to.deep.equal([202, 200]);
      expect(again.body).to.match(/duplicate/);
      expect(f.observed).to.deep.equal(['accepted', 'duplicate']);
      expect(f.enqueued).to.have.length(1);
      expect(f.recorded).to.have.length(1);
    });

    for (const name of ['Idempotency-Key', 'X-Gitlab-Event-UUID']) {
      it(`an unsigned delivery repeated with the same ${name} → 200 duplicate, one trigger`, async () => {
        const h = headers({ [name]: '908a6d9e-45fd-46c8-97e6-c4f350f219dd' });
        const replies = [await send(server.port, { headers: h, body }), await send(server.port, { headers: h, body })];
        expect(replies.map((r) => r.status)).to.deep.equal([202, 200]);
        expect(f.enqueued).to.have.length(1);
      });
    }

    it('the same X-Gitlab-Event-UUID with another payload is another delivery (GitLab reuses it for events a webhook caused)', async () => {
      const h = headers({ 'X-Gitlab-Event-UUID': 'shared-event-uuid' });
      await send(server.port, { headers: h, body });
      await send(server.port, { headers: h, body: pushBody({ ref: 'refs/heads/dev' }) });
      expect(f.observed).to.deep.equal(['accepted', 'accepted']);
    });

    it('a retry of a delivery that was refused (503) is accepted: only accepted deliveries are remembered', async () => {
      const h = headers({ 'Idempotency-Key': 'retry-after-503' });
      const saved = f.secrets.get('gitlab-flux-link/hook-token/token')!;
      f.secrets.delete('gitlab-flux-link/hook-token/token');
      const first = await send(server.port, { headers: h, body });
      f.secrets.set('gitlab-flux-link/hook-token/token', saved);
      const retry = await send(server.port, { headers: h, body });
      expect([first.status, retry.status]).to.deep.equal([503, 202]);
      expect(f.enqueued).to.have.length(1);
    });

    it('an unauthenticated request with a remembered key is still 401 (the key is checked after authentication)', async () => {
      const h = headers({ 'Idempotency-Key': 'k-1' });
      await send(server.port, { headers: h, body });
      const forged = await send(server.port, { headers: { ...h, 'X-Gitlab-Token': 'guess' }, body });
      expect(forged.status).to.equal(401);
    });

    it('different keys, or the same key on another link, are different deliveries', async () => {
      f.links.set('other', f.links.get('gitlab')!);
      await send(server.port, { headers: headers({ 'Idempotency-Key': 'a' }), body });
      await send(server.port, { headers: headers({ 'Idempotency-Key': 'b' }), body });
      await send(server.port, { path: '/hooks/other', headers: headers({ 'Idempotency-Key': 'a' }), body });
      expect(f.observed).to.deep.equal(['accepted', 'accepted', 'accepted']);
    });

    it('deliveries without any id are never taken for replays', async () => {
      await send(server.port, { headers: headers(), body });
      await send(server.port, { headers: headers(), body });
      expect(f.enqueued).to.have.length(2);
    });
  });

  describe('signed webhooks (link with signingSecretRef)', () => {
    const body = pushBody();
    const cases: Array<{ name: string; sig: () => Record<string, string>; setup?: (f: Fixture) => void; status: number; result: string }> =
      [
        { name: 'a valid signature → 202', sig: () => signatureHeaders(body), status: 202, result: 'accepted' },
        {
          name: 'a signature with the wrong key → 401',
          sig: () => signatureHeaders(body, 'whsec_' + Buffer.from('other').toString('base64')),
          status: 401,
          result: 'bad_signature',
        },
        {
          name: 'a signature over another body → 401',
          sig: () => signatureHeaders(pushBody({ ref: 'refs/heads/dev' })),
          status: 401,
          result: 'bad_signature',
        },
        {
          name: 'a stale timestamp → 401',
          sig: () => signatureHeaders(body, SIGNING_KEY, String(NOW_S - 600)),
          status: 401,
          result: 'bad_signature',
        },
        { name: 'no signature headers → 401', sig: () => ({}), status: 401, result: 'bad_signature' },
        {
          name: 'an unreadable signing Secret → 503',
          setup: (f) => f.secrets.delete('gitlab-flux-link/hook-signing/key'),
          sig: () => signatureHeaders(body),
          status: 503,
          result: 'secret_missing',
        },
      ];
    for (const c of cases) {
      it(c.name, async () => {
        c.setup?.(f);
        const reply = await send(server.port, { path: '/hooks/signed', headers: { ...headers(), ...c.sig() }, body });
        expect(reply.status, reply.body).to.equal(c.status);
        expect(f.observed).to.deep.equal([c.result]);
        expect(f.enqueued).to.have.length(c.status === 202 ? 1 : 0);
      });
    }

    // A weak key: the signature check would be void (an empty key is anyone's) or rest on a guessable key.
    const weakKeys: Array<[string, string, RegExp]> = [
      ['an empty whsec_ key (anyone can compute its HMAC)', 'whsec_', /shorter than 16 bytes/],
      ['a whsec_ key that is not base64 at all (decodes to nothing)', 'whsec_!!!!', /not canonical base64/],
      ['a whsec_ key of 8 bytes', 'whsec_' + Buffer.from('8 bytes!').toString('base64'), /shorter than 16 bytes/],
      [
        'a whsec_ key without its padding (not canonical)',
        'whsec_' + Buffer.from('signing-key-bytes-0123456789abcd').toString('base64').replace(/=+$/, ''),
        /not canonical base64/,
      ],
      [
        'a whsec_ key in the URL-safe alphabet (not the standard one)',
        'whsec_' + Buffer.from('\xfb\xff'.repeat(12), 'latin1').toString('base64url'),
        /not canonical base64/,
      ],
      ['a raw key of 15 bytes', 'raw-key-15bytes', /shorter than 16 bytes/],
    ];
    for (const [name, key, why] of weakKeys) {
      it(`${name} → 503 for a request signed with it, and the log names the field, never the key`, async () => {
        f.secrets.set('gitlab-flux-link/hook-signing/key', key);
        const reply = await send(server.port, { path: '/hooks/signed', headers: { ...headers(), ...signatureHeaders(body, key) }, body });
        expect(reply.status, reply.body).to.equal(503);
        expect(f.observed).to.deep.equal(['secret_weak']);
        expect(f.enqueued).to.have.length(0);
        const log = f.logLines.join('\n');
        expect(log).to.include('spec.webhook.signingSecretRef').and.match(why);
        if (key.length > 'whsec_'.length) expect(log).to.not.include(key.slice('whsec_'.length));
      });
    }

    it('a canonical whsec_ key of 16 bytes or more is accepted', async () => {
      const key = 'whsec_' + Buffer.from('sixteen-bytes-ok').toString('base64');
      f.secrets.set('gitlab-flux-link/hook-signing/key', key);
      const reply = await send(server.port, { path: '/hooks/signed', headers: { ...headers(), ...signatureHeaders(body, key) }, body });
      expect(reply.status, reply.body).to.equal(202);
    });

    it('a deep body is judged by its signature first: a wrong one → 401, a valid one → 400', async () => {
      const deep = '['.repeat(40) + ']'.repeat(40);
      const wrong = await send(server.port, {
        path: '/hooks/signed',
        headers: { ...headers(), ...signatureHeaders(deep, 'whsec_' + Buffer.from('another-signing-key-0123').toString('base64')) },
        body: deep,
      });
      const valid = await send(server.port, { path: '/hooks/signed', headers: { ...headers(), ...signatureHeaders(deep) }, body: deep });
      expect([wrong.status, valid.status]).to.deep.equal([401, 400]);
      expect(valid.body).to.match(/deeper than 32/);
    });

    it('still needs the token when the signature is valid', async () => {
      const reply = await send(server.port, {
        path: '/hooks/signed',
        headers: { ...headers({ 'X-Gitlab-Token': 'guess' }), ...signatureHeaders(body) },
        body,
      });
      expect(reply.status).to.equal(401);
      expect(f.enqueued).to.have.length(0);
    });
  });

  describe('unauthenticated requests cost no buffering', () => {
    it('a wrong token is answered 401 before the body is read: the client need not send it', async () => {
      const conn = await RawConnection.open(server.port);
      try {
        await conn.write(
          `POST /hooks/gitlab HTTP/1.1\r\nHost: x\r\nX-Gitlab-Event: Push Hook\r\nX-Gitlab-Token: guess\r\nContent-Length: 4000000\r\n\r\n{"object_kind":`,
        );
        const reply = await conn.waitForReply(5_000);
        expect(reply?.status, 'answered while most of the declared body is still unsent').to.equal(401);
        expect(f.observed).to.deep.equal(['unauthorized']);
      } finally {
        conn.destroy();
      }
    });

    it('a chunked body with a wrong token is refused 401 (not read up to the limit)', async () => {
      f.maxBodyBytes = 1024;
      const head = `POST /hooks/gitlab HTTP/1.1\r\nHost: x\r\nX-Gitlab-Event: Push Hook\r\nX-Gitlab-Token: guess\r\nTransfer-Encoding: chunked\r\n\r\n`;
      const conn = await RawConnection.open(server.port);
      try {
        await conn.write(head + `600\r\n${' '.repeat(0x600)}\r\n`);
        const reply = await conn.waitForReply(5_000);
        expect(reply?.status).to.equal(401);
        expect(f.observed).to.deep.equal(['unauthorized']);
      } finally {
        conn.destroy();
      }
    });

    it('a client that goes away while the token is being checked ends the request (no handler left waiting)', async () => {
      const gate = deferred();
      f.secretGate = gate.promise;
      const conn = await RawConnection.open(server.port);
      await conn.write(
        `POST /hooks/gitlab HTTP/1.1\r\nHost: x\r\nX-Gitlab-Event: Push Hook\r\nX-Gitlab-Token: ${HOOK_TOKEN}\r\nContent-Length: 1000\r\n\r\n{"object_kind":`,
      );
      while (f.secretReads === 0) await new Promise((r) => setTimeout(r, 2));
      conn.reset();
      await conn.closed;
      const open = () => new Promise<number>((resolve) => server.server.getConnections((_e, n) => resolve(n)));
      while ((await open()) > 0) await new Promise((r) => setTimeout(r, 2)); // the server has seen the reset
      gate.resolve();
      for (let i = 0; i < 500 && f.observed.length === 0; i++) await new Promise((r) => setTimeout(r, 2));
      expect(f.observed).to.deep.equal(['aborted']);
      expect(f.enqueued).to.have.length(0);
    });
  });

  describe('body limit', () => {
    it('a declared Content-Length over the limit → 413 at once, nothing read or queued', async () => {
      f.maxBodyBytes = 1024;
      const head = `POST /hooks/gitlab HTTP/1.1\r\nHost: x\r\nX-Gitlab-Event: Push Hook\r\nX-Gitlab-Token: ${HOOK_TOKEN}\r\nContent-Length: 10000000\r\n\r\n`;
      const got = await rawExchange(server.port, head, [Buffer.alloc(100, 0x20)]);
      expect(got).to.match(/^HTTP\/1\.1 413 /);
      expect(f.observed).to.deep.equal(['too_large']);
      expect(f.enqueued).to.have.length(0);
      expect(f.secretReads, 'the token is not even looked at').to.equal(0);
    });

    it('a chunked body that grows over the limit → 413 and nothing queued', async () => {
      f.maxBodyBytes = 1024;
      const head = `POST /hooks/gitlab HTTP/1.1\r\nHost: x\r\nX-Gitlab-Event: Push Hook\r\nX-Gitlab-Token: ${HOOK_TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n`;
      const chunk = (n: number) => Buffer.from(`${n.toString(16)}\r\n${' '.repeat(n)}\r\n`);
      const got = await rawExchange(server.port, head, [chunk(600), chunk(600)]);
      expect(got).to.match(/^HTTP\/1\.1 413 /);
      expect(f.observed).to.deep.equal(['too_large']);
      expect(f.enqueued).to.have.length(0);
    });

    it('a body of exactly the limit is accepted', async () => {
      const body = pushBody();
      f.maxBodyBytes = Buffer.byteLength(body);
      const reply = await send(server.port, { headers: headers(), body });
      expect(reply.status).to.equal(202);
    });

    it('one byte over the limit (with a truthful Content-Length) → 413', async () => {
      const body = pushBody();
      f.maxBodyBytes = Buffer.byteLength(body) - 1;
      const head = `POST /hooks/gitlab HTTP/1.1\r\nHost: x\r\nX-Gitlab-Event: Push Hook\r\nX-Gitlab-Token: ${HOOK_TOKEN}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
      const got = await rawExchange(server.port, head, [Buffer.from(body)]);
      expect(got).to.match(/^HTTP\/1\.1 413 /);
      expect(f.enqueued).to.have.length(0);
    });
  });

  describe('property: no input makes it fail (5xx) or trigger without the token', () => {
    const headerValue = fc.stringMatching(/^[!-~]{0,48}$/);
    it('random bodies and header values', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.string({ maxLength: 200 }),
            fc.json({ maxDepth: 3 }),
            fc.constant(pushBody()),
            fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a).toString('latin1')),
          ),
          fc.oneof(fc.constant('Push Hook'), fc.constant('Tag Push Hook'), fc.constant('System Hook'), headerValue),
          fc.oneof(fc.constant(HOOK_TOKEN), headerValue),
          fc.option(headerValue, { nil: undefined }),
          async (body, event, token, contentType) => {
            f.enqueued.length = 0;
            const h: Record<string, string> = { 'X-Gitlab-Event': event, 'X-Gitlab-Token': token };
            if (contentType !== undefined) h['Content-Type'] = contentType;
            const reply = await send(server.port, { headers: h, body });
            expect(reply.status, reply.body).to.be.below(500);
            if (token !== HOOK_TOKEN) {
              expect(reply.status).to.equal(401);
              expect(f.enqueued).to.have.length(0);
            }
          },
        ),
        { numRuns: 150 },
      );
    });

    it('random link names in the path', async () => {
      await fc.assert(
        fc.asyncProperty(fc.string({ maxLength: 40 }), async (name) => {
          const reply = await send(server.port, { path: '/hooks/' + encodeURIComponent(name), headers: headers(), body: pushBody() });
          expect(reply.status).to.equal(name === 'gitlab' || name === 'signed' ? (name === 'gitlab' ? 202 : 401) : 404);
        }),
        { numRuns: 100 },
      );
    });
  });
});
