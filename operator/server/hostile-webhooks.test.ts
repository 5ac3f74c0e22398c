import { expect } from 'chai';
import { LinkCompiler } from '../reconcile/compile.js';
import fc from 'fast-check';
import { createHmac } from 'node:crypto';
import type net from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import zlib from 'node:zlib';
import type { GitLabFluxLink, GitLabFluxLinkSpec } from '../api/v1alpha1/types.js';
import type { GitRepository, Namespace, Receiver, Secret } from '../flux/types.js';
import type { KubeObject } from '../meta/object.js';
import { GIT_REPOSITORIES, RECEIVERS } from '../flux/types.js';
import { LINKS } from '../api/v1alpha1/types.js';
import { NAMESPACES, SECRETS } from '../meta/resource.js';
import { Metrics } from '../observability/metrics.js';
import { MAX_BODY_BYTES } from '../push/webhook-handler.js';
import { PushService } from '../push/push-service.js';
import { ReceiverIndex } from '../push/receiver-index.js';
import { LABEL_LINK, LABEL_MANAGED_BY, MANAGED_BY, objectName } from '../reconcile/names.js';
import { FakeKube } from '../testing/fake-kube.js';
import { startInformer, type RunningInformer } from '../testing/informers.js';
import { memoryLogger, memoryRecords, RECEIVER_TOKEN, secretObj, startFakeReceiverServer } from '../testing/push-fakes.js';
import { RawConnection, type RawReply } from '../testing/raw-http.js';
import { startHttpServer, type HttpServerLimits } from './http-server.js';

/**
 * The webhook endpoint under hostile input, over real sockets: the real HTTP server and the real push path
 * (PushService: receiver index, secret reader, trigger queue, trigger client) over an in-memory API, with a
 * real HTTP server standing in for notification-controller. fast-check generates the requests.
 *
 * Properties: no input gets a 5xx, the server always answers a well-formed request afterwards, nothing is
 * triggered (no queued trigger, no Receiver call, no authenticated result counted) unless the token — and
 * for a signed link the signature — is valid, slow and broken clients are cut off, memory stays bounded,
 * and a valid webhook still triggers exactly once at the end.
 */

const TOKEN = 'hostile-hook-token-6d1f0a9c2b7e4835';
const SIGNING_KEY = 'whsec_' + Buffer.from('hostile-signing-key-0123456789abcdef').toString('base64');
const SHA = '9f2c1e0b7a6d5c4b3a29180706f5e4d3c2b1a098';
const WEBHOOK_PATH = '/hook/' + 'c3'.repeat(32);
const KNOWN_LINKS = new Set(['gitlab', 'signed']);
const MiB = 1024 * 1024;

/** Short timeouts for the slow-client server, so a timeout acts within a test (production: 5 s / 15 s). */
const SHORT_LIMITS: Partial<HttpServerLimits> = { headersTimeoutMs: 400, requestTimeoutMs: 800, keepAliveTimeoutMs: 300, connectionsCheckingIntervalMs: 25 };
/** How long a test waits for the server to close a connection before calling it held (well above the timeouts). */
const CLOSE_CAP_MS = 8_000;

const pushJson = (over: Record<string, unknown> = {}) =>
  JSON.stringify({ object_kind: 'push', event_name: 'push', before: '0'.repeat(40), after: SHA, ref: 'refs/heads/main', project_id: 9, project: { id: 9, path_with_namespace: 'team/app' }, commits: [], ...over });

function signature(body: Buffer, ts = Math.floor(Date.now() / 1000), key = SIGNING_KEY, id = 'msg_hostile'): Array<[string, string]> {
  const keyBytes = Buffer.from(key.slice('whsec_'.length), 'base64');
  const sig = createHmac('sha256', keyBytes).update(`${id}.${ts}.`).update(body).digest('base64');
  return [['webhook-id', id], ['webhook-timestamp', String(ts)], ['webhook-signature', `v1,${sig}`]];
}

// ---------------------------------------------------------------------------------------------
// The world: API objects, caches, push path, servers.

function link(name: string, createdAt: string, spec: GitLabFluxLinkSpec): GitLabFluxLink {
  return { apiVersion: 'fluxlink.dev/v1alpha1', kind: 'GitLabFluxLink', metadata: { name, creationTimestamp: createdAt }, spec } as GitLabFluxLink;
}

function repo(name: string, url: string): GitRepository {
  return { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { namespace: 'apps', name }, spec: { url, interval: '10m', ref: { branch: 'main' } } } as GitRepository;
}

/** The Receiver and token Secret the link controller would have made for GitRepository `repoName`. */
function receiverObjects(linkName: string, repoName: string): [Receiver, Secret] {
  const name = objectName(repoName);
  const labels = { [LABEL_MANAGED_BY]: MANAGED_BY, [LABEL_LINK]: linkName };
  const receiver = {
    apiVersion: 'notification.toolkit.fluxcd.io/v1',
    kind: 'Receiver',
    metadata: { namespace: 'apps', name, labels },
    spec: { type: 'generic-hmac', resources: [{ kind: 'GitRepository', name: repoName }], secretRef: { name } },
    status: { webhookPath: WEBHOOK_PATH + repoName, observedGeneration: 1 },
  } as Receiver;
  const secret = secretObj('apps', name, { token: RECEIVER_TOKEN });
  secret.metadata.labels = labels;
  return [receiver, secret];
}

interface World {
  metrics: Metrics;
  push: PushService;
  /** Production limits. */
  port: number;
  /** SHORT_LIMITS, same route. */
  slowPort: number;
  receiverCalls(): number;
  receiverSeen: Awaited<ReturnType<typeof startFakeReceiverServer>>['seen'];
  /** Calls of the trigger queue's enqueue (synchronous: counted before the answer is written). */
  enqueued: number;
  /** Authenticated requests the tests themselves sent to check the server is alive (see expectAlive). */
  aliveRequests: number;
  /** Server-side sockets of the production-limits server, as they are accepted. */
  serverSockets: net.Socket[];
  logLines: string[];
  stop(): Promise<void>;
}

async function startWorld(): Promise<World> {
  const receiver = await startFakeReceiverServer();
  const kube = new FakeKube();
  kube.seed<Namespace>(NAMESPACES, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'apps' } });
  kube.seed(GIT_REPOSITORIES, repo('app', 'https://gitlab.example.com/team/app.git'));
  kube.seed(GIT_REPOSITORIES, repo('sig', 'https://gitlab.signed.example.com/team/sig.git'));
  const secretRef = { namespace: 'gitlab-flux-link', name: 'hook-token', key: 'token' };
  kube.seed(LINKS, link('gitlab', '2024-01-01T00:00:00Z', { gitlab: { url: 'https://gitlab.example.com' }, receiver: { endpoint: receiver.url }, webhook: { secretRef } }));
  kube.seed(
    LINKS,
    link('signed', '2024-01-02T00:00:00Z', {
      gitlab: { url: 'https://gitlab.signed.example.com' },
      receiver: { endpoint: receiver.url },
      webhook: { secretRef, signingSecretRef: { namespace: 'gitlab-flux-link', name: 'hook-signing', key: 'key' } },
    }),
  );
  kube.seed(SECRETS, secretObj('gitlab-flux-link', 'hook-token', { token: TOKEN }));
  kube.seed(SECRETS, secretObj('gitlab-flux-link', 'hook-signing', { key: SIGNING_KEY }));
  for (const [l, r] of [['gitlab', 'app'], ['signed', 'sig']] as const) {
    const [rcv, sec] = receiverObjects(l, r);
    kube.seed(RECEIVERS, rcv);
    kube.seed(SECRETS, sec);
  }

  const managed = `${LABEL_MANAGED_BY}=${MANAGED_BY}`;
  const links = await startInformer<GitLabFluxLink>(kube, LINKS);
  const repos = await startInformer<GitRepository>(kube, GIT_REPOSITORIES);
  const namespaces = await startInformer<Namespace>(kube, NAMESPACES);
  const receivers = await startInformer<Receiver>(kube, RECEIVERS, { labelSelector: managed });
  const secrets = await startInformer<Secret>(kube, SECRETS, { labelSelector: managed });
  const running = [links, repos, namespaces, receivers, secrets] as Array<RunningInformer<KubeObject>>;

  const { log, lines } = memoryLogger();
  const metrics = new Metrics();
  const index = new ReceiverIndex(links.informer, repos.informer, namespaces.informer, new LinkCompiler());
  const push = new PushService({ client: kube, index, records: memoryRecords(), receivers: receivers.informer, secrets: secrets.informer, log, metrics });

  const serverSockets: net.Socket[] = [];
  const server = await startHttpServer({ host: '127.0.0.1', port: 0, metrics, ready: () => true, routes: [push.route] });
  server.server.on('connection', (s: net.Socket) => serverSockets.push(s));
  const slow = await startHttpServer({ host: '127.0.0.1', port: 0, metrics, ready: () => true, routes: [push.route], limits: SHORT_LIMITS });

  const world: World = {
    metrics,
    push,
    port: server.port,
    slowPort: slow.port,
    receiverCalls: () => receiver.seen.length,
    receiverSeen: receiver.seen,
    enqueued: 0,
    aliveRequests: 0,
    serverSockets,
    logLines: lines,
    async stop() {
      for (const s of [server, slow]) {
        s.server.closeAllConnections();
        await s.close();
      }
      await push.close();
      running.forEach((r) => r.informer.stop());
      await Promise.all(running.map((r) => r.done));
      await receiver.close();
    },
  };
  // Every trigger goes through the queue: count the calls (the queue's own behaviour is unchanged).
  const enqueue = push.queue.enqueue.bind(push.queue);
  push.queue.enqueue = (job) => {
    world.enqueued++;
    return enqueue(job);
  };
  return world;
}

/** Webhooks counted with a result only an authenticated request can get. */
const AUTHENTICATED_RESULTS = new Set(['accepted', 'ignored', 'suspended', 'untrusted_project', 'malformed']);

async function authenticatedCount(metrics: Metrics): Promise<number> {
  const m = await metrics.webhooksReceived.get();
  return m.values.filter((v) => AUTHENTICATED_RESULTS.has(String(v.labels.result))).reduce((a, v) => a + v.value, 0);
}

interface TriggerSnapshot {
  enqueued: number;
  receiverCalls: number;
  authenticated: number;
}

/** Lets queued triggers finish, then counts. */
async function triggers(w: World): Promise<TriggerSnapshot> {
  await w.push.queue.idle();
  return { enqueued: w.enqueued, receiverCalls: w.receiverCalls(), authenticated: (await authenticatedCount(w.metrics)) - w.aliveRequests };
}

/** `authenticated`: how many of the requests sent are expected to pass authentication (and trigger nothing). */
async function expectNoTrigger(w: World, before: TriggerSnapshot, what: string, authenticated = 0): Promise<void> {
  const after = await triggers(w);
  expect(after.enqueued - before.enqueued, `${what}: queued triggers`).to.equal(0);
  expect(after.receiverCalls - before.receiverCalls, `${what}: Receiver calls`).to.equal(0);
  expect(after.authenticated - before.authenticated, `${what}: requests that passed authentication`).to.equal(authenticated);
}

// ---------------------------------------------------------------------------------------------
// Requests on the wire.

function head(method: string, path: string, headers: Array<[string, string]>): string {
  return `${method} ${path} HTTP/1.1\r\n` + headers.map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n';
}

function chunked(body: Buffer, sizes: number[]): Buffer {
  const out: Buffer[] = [];
  let pos = 0;
  for (let i = 0; pos < body.length; i++) {
    const n = Math.min(Math.max(1, sizes[i % Math.max(1, sizes.length)] ?? body.length), body.length - pos);
    out.push(Buffer.from(`${n.toString(16)}\r\n`), body.subarray(pos, pos + n), Buffer.from('\r\n'));
    pos += n;
  }
  out.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(out);
}

interface Exchange {
  replies: RawReply[];
  closedByServer: boolean;
  /**
   * The server reset the connection. A server that answers before it has read the whole request and then
   * closes makes its TCP stack reset the connection when more data arrives, and the reset may discard the
   * answer before the client reads it (RFC 9112 §9.6): an early answer can be lost this way.
   */
  reset: boolean;
  raw: string;
}

/** One request with Connection: close; resolves with the replies once the server has closed (or after CLOSE_CAP_MS). */
async function exchange(port: number, wire: Buffer, opts: { splits?: number[]; halfClose?: boolean; head?: boolean } = {}): Promise<Exchange> {
  const conn = await RawConnection.open(port);
  let pos = 0;
  for (const at of [...(opts.splits ?? []).map((f) => Math.floor(f * wire.length)).sort((a, b) => a - b), wire.length]) {
    if (at > pos) await conn.write(wire.subarray(pos, at));
    pos = Math.max(pos, at);
  }
  if (opts.halfClose) conn.halfClose();
  const closed = await conn.waitClosed(CLOSE_CAP_MS);
  return { replies: conn.replies(opts.head), closedByServer: closed && conn.closedBy === 'server', reset: isReset(conn), raw: conn.received().toString('latin1').slice(0, 300) };
}

const isReset = (conn: RawConnection) => conn.error === 'ECONNRESET' || conn.error === 'EPIPE';

/** Answers given before the whole request is read (so possibly lost to a reset, see Exchange.reset). */
const EARLY_ANSWERS = new Set([401, 404, 405, 413, 431]);

/** A well-formed, authenticated request that triggers nothing (an ignored event): the server must answer it 200. */
async function expectAlive(w: World, port: number): Promise<void> {
  w.aliveRequests++;
  const body = Buffer.from(JSON.stringify({ object_kind: 'merge_request' }));
  const wire = Buffer.concat([
    Buffer.from(head('POST', '/hooks/gitlab', [['Host', '127.0.0.1'], ['Content-Type', 'application/json'], ['X-Gitlab-Event', 'Merge Request Hook'], ['X-Gitlab-Token', TOKEN], ['Content-Length', String(body.length)], ['Connection', 'close']])),
    body,
  ]);
  const { replies } = await exchange(port, wire);
  expect(replies.map((r) => r.status), 'a well-formed request after the barrage').to.deep.equal([200]);
  const health = await exchange(port, Buffer.from(head('GET', '/healthz', [['Host', '127.0.0.1'], ['Connection', 'close']])));
  expect(health.replies.map((r) => r.status)).to.deep.equal([200]);
}

/** No 5xx; every 4xx says why (our answers in the body, node's own in the reason phrase). */
function expectClientErrorsExplained(replies: RawReply[], what: string, head = false): void {
  const firstFinal = replies.findIndex((r) => r.status >= 200);
  replies.forEach((r, i) => {
    expect(r.status, `${what}: ${r.status} ${r.reason} ${r.body.slice(0, 100)}`).to.be.within(100, 499);
    if (r.status >= 400) {
      expect(r.reason, what).to.not.equal('');
      const bodyless = head && i === firstFinal;
      if (!bodyless && (r.headers['content-type'] ?? '').startsWith('text/plain')) expect(r.body.trim(), what).to.not.equal('');
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Generators.

const printable = (max: number) => fc.stringMatching(new RegExp(`^[!-~]{0,${max}}$`));
const headerName = fc.stringMatching(/^X-[A-Za-z0-9-]{1,20}$/).filter((n) => !/^x-gitlab|^webhook-/i.test(n));

type TokenChoice =
  | { kind: 'none' | 'valid' | 'padded' | 'name-case' | 'upper' | 'dup-valid' }
  | { kind: 'wrong' | 'dup-mixed'; value: string }
  | { kind: 'prefix' | 'oversized'; n: number };

const tokenChoice: fc.Arbitrary<TokenChoice> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom<TokenChoice>({ kind: 'valid' }, { kind: 'padded' }, { kind: 'name-case' }) },
  { weight: 2, arbitrary: fc.constantFrom<TokenChoice>({ kind: 'none' }, { kind: 'upper' }, { kind: 'dup-valid' }) },
  { weight: 3, arbitrary: printable(64).filter((v) => v !== TOKEN).map((value): TokenChoice => ({ kind: 'wrong', value })) },
  { weight: 1, arbitrary: printable(32).map((value): TokenChoice => ({ kind: 'dup-mixed', value })) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: TOKEN.length - 1 }).map((n): TokenChoice => ({ kind: 'prefix', n })) },
  { weight: 1, arbitrary: fc.integer({ min: 4 * 1024, max: 20 * 1024 }).map((n): TokenChoice => ({ kind: 'oversized', n })) },
);

function tokenHeaders(t: TokenChoice): Array<[string, string]> {
  switch (t.kind) {
    case 'none':
      return [];
    case 'valid':
      return [['X-Gitlab-Token', TOKEN]];
    case 'padded':
      return [['X-Gitlab-Token', `  ${TOKEN} `]]; // optional whitespace around a field value is not part of it
    case 'name-case':
      return [['x-GITLAB-token', TOKEN]];
    case 'upper':
      return [['X-Gitlab-Token', TOKEN.toUpperCase()]];
    case 'dup-valid':
      return [['X-Gitlab-Token', TOKEN], ['X-Gitlab-Token', TOKEN]];
    case 'dup-mixed':
      return [['X-Gitlab-Token', t.value], ['X-Gitlab-Token', TOKEN]];
    case 'wrong':
      return [['X-Gitlab-Token', t.value]];
    case 'prefix':
      return [['X-Gitlab-Token', TOKEN.slice(0, t.n)]];
    case 'oversized':
      return [['X-Gitlab-Token', 'k'.repeat(t.n)]];
  }
}

const tokenValid = (t: TokenChoice) => t.kind === 'valid' || t.kind === 'padded' || t.kind === 'name-case';

type SigChoice = 'none' | 'valid' | 'stale' | 'wrong-key' | 'other-body' | 'garbage';
const sigChoice = fc.constantFrom<SigChoice>('valid', 'valid', 'none', 'stale', 'wrong-key', 'other-body', 'garbage');

function sigHeaders(s: SigChoice, body: Buffer): Array<[string, string]> {
  const now = Math.floor(Date.now() / 1000);
  switch (s) {
    case 'none':
      return [];
    case 'valid':
      return signature(body, now);
    case 'stale':
      return signature(body, now - 3600);
    case 'wrong-key':
      return signature(body, now, 'whsec_' + Buffer.from('not-the-key').toString('base64'));
    case 'other-body':
      return signature(Buffer.concat([body, Buffer.from(' ')]), now);
    case 'garbage':
      return [['webhook-id', 'x'], ['webhook-timestamp', 'yesterday'], ['webhook-signature', 'v1,AAAA v2,BBBB']];
  }
}

/** Paths: the links, their encodings, traversal, bad escapes, very long names, other routes. */
const pathArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('/hooks/gitlab', '/hooks/signed') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '/hooks/gitlab?x=1&y=%zz',
      '/hooks/%67itlab',
      '/hooks/gitlab/',
      '/hooks/gitlab%2F..',
      '/hooks/../hooks/gitlab',
      '/hooks/%2e%2e%2fgitlab',
      '/hooks/./gitlab',
      '/hooks//gitlab',
      '/hooks/%E0%A4%A',
      '/hooks/%00',
      '/hooks/gitlab%00',
      '/hooks/%',
      '/hooks/',
      '/hooks',
      '/HOOKS/gitlab',
      '//hooks/gitlab',
      '/',
      '*',
      'http://127.0.0.1/hooks/gitlab',
      '/healthz',
      '/metrics',
      '/hooks/gitlab#frag',
    ),
  },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }).map((s) => '/hooks/' + encodeURIComponent(s)) },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 20_000 }).map((n) => '/hooks/' + 'a'.repeat(n)) },
);

/** The link name the endpoint sees, undefined when the path is not the webhook route. */
function linkOf(path: string): string | undefined {
  const p = path.split('?')[0]!;
  if (!p.startsWith('/hooks/')) return undefined;
  try {
    return decodeURIComponent(p.slice('/hooks/'.length));
  } catch {
    return '';
  }
}

const ZERO = '0'.repeat(40);
/** GitLab-shaped events with random fields: most are pushes, to the tracked branch or not. */
const eventJson = fc
  .record({
    object_kind: fc.constantFrom('push', 'push', 'tag_push', 'merge_request', 'pipeline', 'Push', ''),
    ref: fc.oneof(fc.constantFrom('refs/heads/main', 'refs/heads/main', 'refs/heads/dev', 'refs/tags/v1', ''), fc.string({ maxLength: 40 })),
    after: fc.oneof(fc.constant(SHA), fc.constant(ZERO), fc.stringMatching(/^[0-9a-fA-F]{0,64}$/)),
    project: fc.oneof(
      fc.constantFrom<unknown>({ path_with_namespace: 'team/app' }, { path_with_namespace: 'Team/App' }, { path_with_namespace: 'team/sig' }, null, 'team/app', ['team/app']),
      fc.record({ path_with_namespace: fc.string({ maxLength: 30 }), id: fc.integer() }),
    ),
    extra: fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }),
  })
  .map(({ extra, ...e }) => JSON.stringify({ ...extra, ...e, event_name: e.object_kind }));

const deepJson = fc.tuple(fc.constantFrom('array', 'object', 'unbalanced'), fc.integer({ min: 1, max: 200_000 })).map(([kind, d]) => {
  if (kind === 'array') return '['.repeat(d) + ']'.repeat(d);
  if (kind === 'object') return '{"a":'.repeat(d) + '0' + '}'.repeat(d);
  return '{"object_kind":"push","x":' + '['.repeat(d);
});

const INVALID_UTF8 = [[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xc0, 0xaf], [0xe2, 0x82]].map((b) => Buffer.from(b));

const bodyArb: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 6, arbitrary: eventJson.map((s) => Buffer.from(s)) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 2048 }).map((a) => Buffer.from(a)) },
  {
    weight: 2,
    arbitrary: fc.tuple(fc.constantFrom(...INVALID_UTF8), fc.boolean()).map(([bad, inRef]) =>
      inRef ? Buffer.concat([Buffer.from('{"object_kind":"push","ref":"refs/heads/m'), bad, Buffer.from(`ain","after":"${SHA}","project":{"path_with_namespace":"team/app"}}`)]) : Buffer.concat([bad, Buffer.from(pushJson())]),
    ),
  },
  { weight: 2, arbitrary: fc.json({ maxDepth: 4 }).map((s) => Buffer.from(s)) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('', '[]', 'null', '42', '"push"', '{}', '{"object_kind":["push"]}', '{"object_kind":"push","project":"team/app","ref":1,"after":true}', '{"__proto__":{"object_kind":"push"}}').map((s) => Buffer.from(s)),
  },
  { weight: 1, arbitrary: deepJson.map((s) => Buffer.from(s)) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: MiB }).map((n) => Buffer.from(pushJson({ commits: [{ id: SHA, message: 'm'.repeat(n) }] }))) },
);

type Framing = { kind: 'length' } | { kind: 'chunked'; sizes: number[] } | { kind: 'none' } | { kind: 'wrong-length'; delta: number };
const framingArb: fc.Arbitrary<Framing> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Framing>({ kind: 'length' }) },
  { weight: 3, arbitrary: fc.array(fc.integer({ min: 1, max: 4096 }), { minLength: 1, maxLength: 5 }).map((sizes): Framing => ({ kind: 'chunked', sizes })) },
  { weight: 1, arbitrary: fc.constant<Framing>({ kind: 'none' }) },
  { weight: 2, arbitrary: fc.integer({ min: -200, max: 200 }).filter((d) => d !== 0).map((delta): Framing => ({ kind: 'wrong-length', delta })) },
);

/** Headers that change how node frames or accepts the request: the outcome is node's, not predicted here. */
const unsafeArb = fc.constantFrom<Array<[string, string]> | 'no-host' | 'dup-host'>(
  [['Expect', '100-continue']],
  [['Expect', 'the-unexpected']],
  [['Content-Length', '7']],
  [['Transfer-Encoding', 'identity']],
  [['Transfer-Encoding', 'gzip, chunked']],
  [['Upgrade', 'websocket']],
  'no-host',
  'dup-host',
);

const STANDARD_METHODS = ['POST', 'GET', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE', 'PROPFIND'];
const methodArb = fc.oneof({ weight: 8, arbitrary: fc.constant('POST') }, { weight: 3, arbitrary: fc.constantFrom(...STANDARD_METHODS) }, { weight: 1, arbitrary: fc.constantFrom('post', 'P0ST', 'CONNECT', 'BREW', 'POST ') });

const hostileRequest = fc.record({
  method: methodArb,
  path: pathArb,
  token: tokenChoice,
  sig: sigChoice,
  event: fc.oneof(fc.constantFrom<string | undefined | string[]>('Push Hook', 'Push Hook', 'Tag Push Hook', 'System Hook', 'Merge Request Hook', undefined, ['Push Hook', 'Push Hook']), printable(48)),
  contentType: fc.option(fc.oneof(fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', 'multipart/form-data; boundary=x'), printable(40)), { nil: undefined }),
  encoding: fc.option(fc.constantFrom('gzip', 'br', 'deflate', 'x-unknown', 'gzip, br', 'identity'), { nil: undefined }),
  compress: fc.constantFrom<'none' | 'gzip' | 'br'>('none', 'none', 'none', 'gzip', 'br'),
  body: bodyArb,
  framing: framingArb,
  extra: fc.array(fc.tuple(headerName, printable(60)), { maxLength: 4 }),
  unsafe: fc.option(unsafeArb, { freq: 6, nil: undefined }),
  splits: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 3 }),
});

type ValueOf<A> = A extends fc.Arbitrary<infer T> ? T : never;
type HostileRequest = ValueOf<typeof hostileRequest>;

interface BuiltRequest {
  wire: Buffer;
  halfClose: boolean;
  /** Token valid and, for the signed link, the signature too: the only requests that may trigger. */
  authentic: boolean;
  /** The status the endpoint must answer, when the request is plain enough to say; 'authenticated' = 200, 202 or 400. */
  expected: number | 'authenticated' | undefined;
  headBytes: number;
}

function build(r: HostileRequest): BuiltRequest {
  let body = r.body;
  if (r.compress === 'gzip') body = zlib.gzipSync(body, { level: 1 });
  if (r.compress === 'br') body = zlib.brotliCompressSync(body, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1 } });
  const linkName = linkOf(r.path);
  const headers: Array<[string, string]> = [];
  if (r.unsafe !== 'no-host') headers.push(['Host', '127.0.0.1']);
  if (r.unsafe === 'dup-host') headers.push(['Host', 'evil.example.com']);
  headers.push(...tokenHeaders(r.token));
  if (typeof r.event === 'string') headers.push(['X-Gitlab-Event', r.event]);
  if (Array.isArray(r.event)) r.event.forEach((e) => headers.push(['X-Gitlab-Event', e]));
  if (r.contentType !== undefined) headers.push(['Content-Type', r.contentType]);
  if (r.encoding !== undefined) headers.push(['Content-Encoding', r.encoding]);
  if (linkName === 'signed') headers.push(...sigHeaders(r.sig, body));
  headers.push(...r.extra);
  if (Array.isArray(r.unsafe)) headers.push(...r.unsafe);
  let payload: Buffer = body;
  if (r.framing.kind === 'length') headers.push(['Content-Length', String(body.length)]);
  if (r.framing.kind === 'wrong-length') headers.push(['Content-Length', String(Math.max(0, body.length + r.framing.delta))]);
  if (r.framing.kind === 'chunked') {
    headers.push(['Transfer-Encoding', 'chunked']);
    payload = chunked(body, r.framing.sizes);
  }
  if (r.framing.kind === 'none') payload = body.subarray(0, 512); // trailing bytes: read as a next request, if at all
  headers.push(['Connection', 'close']);
  const h = head(r.method, r.path, headers);
  const headBytes = Buffer.byteLength(h);
  // A declared length longer than what is sent: end the write side, or node waits for the rest until its timeout.
  const extraLength = Array.isArray(r.unsafe) && r.unsafe.some(([k]) => k === 'Content-Length');
  const halfClose = (r.framing.kind === 'wrong-length' && r.framing.delta > 0) || (extraLength && r.framing.kind === 'none' && payload.length < 7);

  const authentic = linkName !== undefined && KNOWN_LINKS.has(linkName) && tokenValid(r.token) && (linkName === 'gitlab' || r.sig === 'valid');
  let expected: BuiltRequest['expected'];
  const plain =
    (r.framing.kind === 'length' || r.framing.kind === 'chunked') && r.unsafe === undefined && STANDARD_METHODS.includes(r.method) && r.path.startsWith('/hooks/') && !r.path.includes('#') && headBytes < 15 * 1024;
  if (headBytes > 17 * 1024 && STANDARD_METHODS.includes(r.method) && r.unsafe === undefined) expected = 431;
  else if (plain) {
    if (r.method !== 'POST') expected = 405;
    else if (!KNOWN_LINKS.has(linkName ?? '')) expected = 404;
    else if (!tokenValid(r.token)) expected = 401;
    else if (linkName === 'signed' && r.sig !== 'valid') expected = 401;
    else expected = 'authenticated';
  }
  return { wire: Buffer.concat([Buffer.from(h, 'latin1'), payload]), halfClose, authentic, expected, headBytes };
}

function describeRequest(r: HostileRequest, b: BuiltRequest): string {
  return `${r.method} ${r.path.slice(0, 80)} token=${r.token.kind} sig=${r.sig} framing=${r.framing.kind} unsafe=${JSON.stringify(r.unsafe)} body=${r.body.length}B head=${b.headBytes}B`;
}

// ---------------------------------------------------------------------------------------------
// Memory.

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** Heap and buffer memory (socket reads land in ArrayBuffers outside the heap) after full collections. */
function memoryAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

// ---------------------------------------------------------------------------------------------

describe('hostile webhooks: POST /hooks/<link> over real sockets, real server and push path', function () {
  this.timeout(60_000); // a bound for a loaded machine: the file takes about 10 s
  let w: World;

  before(async () => {
    w = await startWorld();
  });
  after(async () => {
    await w.stop();
  });

  it('the world works: a valid push triggers its Receiver once, a signed one too (control)', async () => {
    for (const [path, body, extra] of [
      ['/hooks/gitlab', Buffer.from(pushJson()), []],
      ['/hooks/signed', Buffer.from(pushJson({ project: { path_with_namespace: 'team/sig' } })), signature(Buffer.from(pushJson({ project: { path_with_namespace: 'team/sig' } })))],
    ] as Array<[string, Buffer, Array<[string, string]>]>) {
      const before = await triggers(w);
      const wire = Buffer.concat([Buffer.from(head('POST', path, [['Host', 'x'], ['X-Gitlab-Event', 'Push Hook'], ['X-Gitlab-Token', TOKEN], ...extra, ['Content-Length', String(body.length)], ['Connection', 'close']])), body]);
      const { replies } = await exchange(w.port, wire);
      expect(replies.map((r) => `${r.status} ${r.body}`)).to.deep.equal(['202 accepted: 1 receiver(s) to trigger']);
      const after = await triggers(w);
      expect(after.receiverCalls - before.receiverCalls, path).to.equal(1);
    }
  });

  it('property: random methods, paths, headers, framings and bodies never get a 5xx nor trigger without the token or signature', async () => {
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(hostileRequest, async (r) => {
        const b = build(r);
        const what = describeRequest(r, b);
        const before = await triggers(w);
        const { replies, closedByServer, reset, raw } = await exchange(w.port, b.wire, { splits: r.splits, halfClose: b.halfClose, head: r.method === 'HEAD' });
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

  it('property: many concurrent hostile connections, none authentic → no trigger; mixed → at most one trigger per authentic request', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(hostileRequest, { minLength: 50, maxLength: 150 }), fc.boolean(), async (reqs, hostileOnly) => {
        const built = reqs.map((r) => build(hostileOnly ? { ...r, token: { kind: 'wrong', value: 'nope' } } : r));
        const before = await triggers(w);
        const results = await Promise.all(built.map((b, i) => exchange(w.port, b.wire, { halfClose: b.halfClose, head: reqs[i]!.method === 'HEAD' })));
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

  it('bodies over 5 MiB get 413, never a trigger; the server answers afterwards', async () => {
    const before = await triggers(w);
    const body = Buffer.concat([Buffer.from(pushJson()), Buffer.alloc(MAX_BODY_BYTES, 0x20)]); // valid JSON, whitespace-padded
    const tokenHead: Array<[string, string]> = [['Host', 'x'], ['X-Gitlab-Event', 'Push Hook'], ['X-Gitlab-Token', TOKEN]];
    // Only what the server reads before it decides is sent, so no reset can swallow the answer (see Exchange.reset).
    const declared = Buffer.concat([Buffer.from(head('POST', '/hooks/gitlab', [...tokenHead, ['Content-Length', String(body.length)]])), body.subarray(0, 1024)]);
    const overByOne = chunked(body.subarray(0, MAX_BODY_BYTES + 1), [64 * 1024]);
    const streamed = Buffer.concat([Buffer.from(head('POST', '/hooks/gitlab', [...tokenHead, ['Transfer-Encoding', 'chunked']])), overByOne.subarray(0, overByOne.length - '\r\n0\r\n\r\n'.length)]);
    for (const [mode, wire] of [['declared', declared], ['chunked', streamed]] as const) {
      const { replies } = await exchange(w.port, wire);
      expect(replies.map((r) => r.status), mode).to.deep.equal([413]);
      expect(replies[0]!.body).to.match(/larger than/);
    }
    await expectNoTrigger(w, before, 'bodies over the limit');
    await expectAlive(w, w.port);
  });

  it('property: slow, half-closed and reset clients are cut off without a trigger while well-formed requests are answered', async () => {
    type Slow = 'slowloris' | 'idle' | 'drip-length' | 'drip-chunked' | 'half-close-headers' | 'half-close-body' | 'reset-mid-body' | 'destroy-mid-headers' | 'keepalive-idle' | 'pipelined-partial';
    const slowArb = fc.record({
      kind: fc.constantFrom<Slow>('slowloris', 'idle', 'drip-length', 'drip-chunked', 'half-close-headers', 'half-close-body', 'reset-mid-body', 'destroy-mid-headers', 'keepalive-idle', 'pipelined-partial'),
      gapMs: fc.integer({ min: 5, max: 60 }),
      piece: fc.integer({ min: 1, max: 16 }),
      cut: fc.double({ min: 0.05, max: 0.95, noNaN: true }),
      link: fc.constantFrom('gitlab', 'signed'),
    });
    // Bodies that are valid pushes already before their declared end (whitespace pads them): a server that
    // took a cut-off request for complete would trigger.
    const slowBody = (linkName: string) => Buffer.from(pushJson(linkName === 'signed' ? { project: { path_with_namespace: 'team/sig' } } : {}) + ' '.repeat(200));
    const headFor = (linkName: string, body: Buffer, framing: 'length' | 'chunked') =>
      head('POST', `/hooks/${linkName}`, [
        ['Host', 'x'],
        ['X-Gitlab-Event', 'Push Hook'],
        ['X-Gitlab-Token', TOKEN],
        ...(linkName === 'signed' ? signature(body) : []),
        framing === 'length' ? ['Content-Length', String(body.length)] : ['Transfer-Encoding', 'chunked'],
      ]);
    const pieces = (b: Buffer, n: number) => Array.from({ length: Math.ceil(b.length / n) }, (_, i) => b.subarray(i * n, (i + 1) * n));
    const ignoredBody = Buffer.from(JSON.stringify({ object_kind: 'merge_request' }));
    const ignoredRequest = head('POST', '/hooks/gitlab', [['Host', 'x'], ['X-Gitlab-Event', 'Merge Request Hook'], ['X-Gitlab-Token', TOKEN], ['Content-Length', String(ignoredBody.length)]]) + ignoredBody.toString();

    async function run(s: ValueOf<typeof slowArb>): Promise<{ conn: RawConnection; serverMustClose: boolean; allowed: number[] }> {
      const conn = await RawConnection.open(w.slowPort);
      const body = slowBody(s.link);
      const h = Buffer.from(headFor(s.link, body, s.kind === 'drip-chunked' ? 'chunked' : 'length'));
      const cutHead = h.subarray(0, Math.max(1, Math.floor(h.length * s.cut)));
      const cutBody = body.subarray(0, Math.floor(body.length * s.cut));
      switch (s.kind) {
        case 'slowloris': {
          // The head never ends: a header line in small pieces, forever (until the server hangs up).
          const endless = Array.from({ length: 400 }, (_, i) => `X-Pad-${i}: ${'v'.repeat(s.piece)}\r\n`);
          void conn.drip([h.subarray(0, h.length - 2), ...endless.flatMap((l) => pieces(Buffer.from(l), s.piece))], s.gapMs);
          return { conn, serverMustClose: true, allowed: [408] };
        }
        case 'idle':
          return { conn, serverMustClose: true, allowed: [408] };
        case 'drip-length':
          // Everything but the last byte, slowly: the request never completes.
          void conn.drip([h, ...pieces(body.subarray(0, body.length - 1), s.piece)], s.gapMs);
          return { conn, serverMustClose: true, allowed: [408, 400] };
        case 'drip-chunked':
          // Chunks forever, never the last (empty) one.
          void conn.drip([h, ...Array.from({ length: 400 }, (_, i) => chunked(i === 0 ? body : Buffer.from(' '.repeat(s.piece)), [body.length]).subarray(0, -5))], s.gapMs);
          return { conn, serverMustClose: true, allowed: [408, 400] };
        case 'half-close-headers':
          await conn.write(cutHead);
          conn.halfClose();
          return { conn, serverMustClose: true, allowed: [400] };
        case 'half-close-body':
          await conn.write(Buffer.concat([h, cutBody]));
          conn.halfClose();
          return { conn, serverMustClose: true, allowed: [400] };
        case 'reset-mid-body':
          await conn.write(Buffer.concat([h, cutBody]));
          setTimeout(() => conn.reset(), s.gapMs);
          return { conn, serverMustClose: false, allowed: [] };
        case 'destroy-mid-headers':
          await conn.write(cutHead);
          setTimeout(() => conn.destroy(), s.gapMs);
          return { conn, serverMustClose: false, allowed: [] };
        case 'keepalive-idle':
          // A complete request, then the connection is kept open and idle.
          await conn.write(ignoredRequest);
          return { conn, serverMustClose: true, allowed: [200] };
        case 'pipelined-partial':
          // A complete request followed by the start of a triggering one that never ends.
          await conn.write(Buffer.concat([Buffer.from(ignoredRequest), h, cutBody]));
          return { conn, serverMustClose: true, allowed: [200, 408, 400] };
      }
    }

    await fc.assert(
      fc.asyncProperty(fc.array(slowArb, { minLength: 1, maxLength: 16 }), async (slows) => {
        const before = await triggers(w);
        const clients = await Promise.all(slows.map(run));
        // While they hold their connections, the server answers others.
        await expectAlive(w, w.slowPort);
        await Promise.all(
          clients.map(async ({ conn, serverMustClose, allowed }, i) => {
            const what = `${slows[i]!.kind} (${JSON.stringify(slows[i])})`;
            const closed = await conn.waitClosed(CLOSE_CAP_MS);
            if (serverMustClose) expect(closed && conn.closedBy === 'server', `${what}: the server closed the connection`).to.equal(true);
            const statuses = conn.replies().map((r) => r.status);
            expectClientErrorsExplained(conn.replies(), what);
            for (const st of statuses) expect(allowed, `${what}: got ${statuses.join(',')}`).to.include(st);
            // An idle client gets its 408; a slowloris one too, unless its drip makes the close a reset (see Exchange.reset).
            if (slows[i]!.kind === 'idle' || (slows[i]!.kind === 'slowloris' && !isReset(conn))) expect(statuses, what).to.deep.equal([408]);
          }),
        );
        // The complete requests some of them send first are authenticated (200, an ignored event).
        const answered = clients.reduce((n, c) => n + c.conn.replies().filter((r) => r.status === 200).length, 0);
        await expectNoTrigger(w, before, 'slow and broken clients', answered);
        await expectAlive(w, w.slowPort);
      }),
      { numRuns: 4, endOnFailure: true },
    );
  });

  it('property: memory stays bounded after many large rejected bodies (baseline measured in this test)', async () => {
    type Big = 'declared-over' | 'chunked-over' | 'unauthenticated' | 'unauthenticated-chunked-over' | 'authenticated-garbage' | 'deep-json';
    const bigArb = fc.record({ kind: fc.constantFrom<Big>('declared-over', 'chunked-over', 'unauthenticated', 'unauthenticated-chunked-over', 'authenticated-garbage', 'deep-json'), size: fc.integer({ min: 3 * MiB, max: 6 * MiB }) });
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
            Buffer.from(head('POST', '/hooks/gitlab', [['Host', 'x'], ['X-Gitlab-Event', 'Push Hook'], ['X-Gitlab-Token', token], isChunked ? ['Transfer-Encoding', 'chunked'] : ['Content-Length', String(body.length)], ['Connection', 'close']])),
            isChunked ? chunked(body, [256 * 1024]) : body,
          ]);
          const { replies, reset } = await exchange(w.port, wire);
          const statuses = replies.map((r) => r.status);
          if (statuses.length === 0) expect(reset && expected.every((st) => EARLY_ANSWERS.has(st)), `${kind} ${mib(body.length)}: no answer`).to.equal(true);
          else expect(statuses.length === 1 && expected.includes(statuses[0]!), `${kind} ${mib(body.length)}: ${statuses.join(',')}`).to.equal(true);
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
    const clients = 16;
    const declared = 4 * MiB;
    const body = Buffer.alloc(declared - 1, 0x20); // before the baseline: the clients live in this process too
    const baseline = memoryAfterGc();
    const before = await triggers(w);
    const firstSocket = w.serverSockets.length;
    const conns = await Promise.all(
      Array.from({ length: clients }, async () => {
        const conn = await RawConnection.open(w.port);
        await conn.write(head('POST', '/hooks/gitlab', [['Host', 'x'], ['X-Gitlab-Event', 'Push Hook'], ['X-Gitlab-Token', 'not-the-token'], ['Content-Length', String(declared)]]));
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
      expect(grown, `memory grew by ${mib(grown)} with ${clients} unauthenticated clients holding ${mib(clients * declared)}`).to.be.below(16 * MiB);
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

  it('after the barrage a valid webhook triggers its Receiver exactly once, and no secret reached the logs', async () => {
    await expectAlive(w, w.port);
    await expectAlive(w, w.slowPort);
    const before = await triggers(w);
    const seenBefore = w.receiverSeen.length;
    const body = Buffer.from(pushJson({ after: 'a'.repeat(40) }));
    const wire = Buffer.concat([Buffer.from(head('POST', '/hooks/gitlab', [['Host', 'x'], ['Content-Type', 'application/json'], ['X-Gitlab-Event', 'Push Hook'], ['X-Gitlab-Token', TOKEN], ['Content-Length', String(body.length)], ['Connection', 'close']])), body]);
    const { replies } = await exchange(w.port, wire);
    expect(replies.map((r) => r.status)).to.deep.equal([202]);
    const after = await triggers(w);
    expect(after.enqueued - before.enqueued).to.equal(1);
    expect(after.receiverCalls - before.receiverCalls).to.equal(1);
    const call = w.receiverSeen[seenBefore]!;
    expect(call.url).to.equal(WEBHOOK_PATH + 'app');
    expect(call.headers['x-signature']).to.equal('sha256=' + createHmac('sha256', RECEIVER_TOKEN).update(call.body).digest('hex'));
    expect(JSON.parse(call.body.toString())).to.deep.include({ ref: 'refs/heads/main', after: 'a'.repeat(40) });

    const logs = w.logLines.join('\n');
    for (const secret of [TOKEN, SIGNING_KEY, WEBHOOK_PATH, RECEIVER_TOKEN]) expect(logs.includes(secret), 'a secret in the logs').to.equal(false);
  });
});
