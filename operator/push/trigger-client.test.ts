import { expect } from 'chai';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ValidatedLinkSpec } from '../api/v1alpha1/validation.js';
import type { Receiver, Secret } from '../flux/types.js';
import { receiverWebhookPath } from '../flux/webhook-path.js';
import type { KubeClient } from '../kube/client.js';
import {
  freePort,
  linkSpec,
  RECEIVER_TOKEN,
  receiverObj,
  requestRecordingClient,
  secretObj,
  startFakeReceiverServer,
} from '../testing/push-fakes.js';
import { proxyAllowed, receiverURL, TriggerClient, type TriggerRequest } from './trigger-client.js';

const NS = 'apps';
const NAME = 'podinfo';
const ROTATED = 'rotated-receiver-token-0123456789abcdef';
/** The paths notification-controller serves the Receiver on, with the first token and after its rotation. */
const PATH_A = receiverWebhookPath(Buffer.from(RECEIVER_TOKEN), NAME, NS);
const PATH_B = receiverWebhookPath(Buffer.from(ROTATED), NAME, NS);
const BODY = JSON.stringify({
  object_kind: 'push',
  project: { path_with_namespace: 'group/podinfo' },
  ref: 'refs/heads/main',
  after: 'f'.repeat(40),
  source: 'gitlab-flux-link',
});

const hmac = (body: Buffer | string, key: string) => 'sha256=' + createHmac('sha256', key).update(body).digest('hex');

/** The world a TriggerClient sees: mutable Receivers and Secrets, a fake clock moved only by sleep. */
class World {
  receivers = new Map<string, Receiver>();
  secrets = new Map<string, Secret>();
  t = 0;
  delays: number[] = [];
  /** Called at each sleep with its index (0 = first retry), after time has moved. */
  onSleep: (i: number) => void | Promise<void> = () => undefined;

  /** null: the Receiver has no webhook path yet / the token Secret does not exist. */
  constructor(webhookPath: string | null = PATH_A, token: string | null = RECEIVER_TOKEN) {
    this.receivers.set(`${NS}/${NAME}`, receiverObj(NS, NAME, webhookPath ?? undefined));
    if (token !== null) this.secrets.set(`${NS}/${NAME}`, secretObj(NS, NAME, { token }));
  }

  setPath(path: string | undefined): void {
    const r = this.receivers.get(`${NS}/${NAME}`)!;
    this.receivers.set(`${NS}/${NAME}`, { ...r, status: path ? { webhookPath: path } : {} });
  }

  client(client: KubeClient = requestRecordingClient(), over: { budgetMs?: number; timeoutMs?: number } = {}): TriggerClient {
    return new TriggerClient({
      client,
      receiver: (ns, n) => this.receivers.get(`${ns}/${n}`),
      secret: (ns, n) => this.secrets.get(`${ns}/${n}`),
      now: () => this.t,
      sleep: async (ms) => {
        this.delays.push(ms);
        this.t += ms;
        await this.onSleep(this.delays.length - 1);
      },
      ...over,
    });
  }
}

function request(spec: ValidatedLinkSpec, event: TriggerRequest['event'] = 'Push Hook'): TriggerRequest {
  return { linkName: 'gitlab', spec, namespace: NS, receiver: NAME, event, body: BODY };
}

describe('trigger-client: proxyAllowed', () => {
  const proxy = '/api/v1/namespaces/flux-system/services/webhook-receiver/proxy';
  const cases: Array<[string, string, Array<{ namespace: string; name: string }>, { proxy: boolean; allowed: boolean }]> = [
    ['a direct http URL needs no allow-list', 'http://webhook-receiver.flux-system.svc.cluster.local', [], { proxy: false, allowed: true }],
    ['a direct https URL needs no allow-list', 'https://receiver.example.com/base', [], { proxy: false, allowed: true }],
    [
      'an allow-listed service proxy is allowed',
      proxy,
      [{ namespace: 'flux-system', name: 'webhook-receiver' }],
      { proxy: true, allowed: true },
    ],
    [
      'an allow-listed service proxy with a port and trailing slash is allowed',
      '/api/v1/namespaces/flux-system/services/webhook-receiver:80/proxy/',
      [{ namespace: 'flux-system', name: 'webhook-receiver' }],
      { proxy: true, allowed: true },
    ],
    ['a service proxy that is not allow-listed is refused', proxy, [], { proxy: true, allowed: false }],
    [
      'the allow-list matches namespace and name together',
      proxy,
      [
        { namespace: 'other', name: 'webhook-receiver' },
        { namespace: 'flux-system', name: 'other' },
      ],
      { proxy: true, allowed: false },
    ],
    [
      'a proxy to another service in an allow-listed namespace is refused',
      '/api/v1/namespaces/flux-system/services/source-controller/proxy',
      [{ namespace: 'flux-system', name: 'webhook-receiver' }],
      { proxy: true, allowed: false },
    ],
    [
      'an API path that is not a service proxy is refused',
      '/api/v1/namespaces/flux-system/secrets',
      [{ namespace: 'flux-system', name: 'webhook-receiver' }],
      { proxy: true, allowed: false },
    ],
    [
      'a proxy path with something after /proxy/ is refused',
      proxy + '/../../secrets',
      [{ namespace: 'flux-system', name: 'webhook-receiver' }],
      { proxy: true, allowed: false },
    ],
    [
      'a pods proxy is refused',
      '/api/v1/namespaces/flux-system/pods/notification-controller-0/proxy',
      [{ namespace: 'flux-system', name: 'notification-controller-0' }],
      { proxy: true, allowed: false },
    ],
    ['a scheme-relative URL is not taken as a direct URL', '//evil.example.com/proxy', [], { proxy: true, allowed: false }],
  ];
  for (const [name, endpoint, serviceProxies, want] of cases) {
    it(name, () => {
      const got = proxyAllowed(linkSpec({ endpoint, serviceProxies }));
      expect({ proxy: got.proxy, allowed: got.allowed }, got.detail).to.deep.equal(want);
    });
  }
});

describe('trigger-client: TriggerClient over a direct URL', () => {
  let server: Awaited<ReturnType<typeof startFakeReceiverServer>> | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('generic-hmac: POSTs the body to <endpoint><webhookPath> with X-Signature = sha256=HMAC(body, token)', async () => {
    server = await startFakeReceiverServer();
    const w = new World();
    const out = await w.client().trigger(request(linkSpec({ endpoint: server.url, type: 'generic-hmac' })));
    expect(out).to.include({ result: 'delivered', attempts: 1 });
    expect(server.seen).to.have.length(1);
    const seen = server.seen[0]!;
    expect(seen.method).to.equal('POST');
    expect(seen.url).to.equal(PATH_A);
    expect(seen.body.toString('utf8')).to.equal(BODY);
    expect(seen.headers['x-signature']).to.equal(hmac(BODY, RECEIVER_TOKEN));
    expect(seen.headers['content-type']).to.equal('application/json');
    expect(seen.headers['x-gitlab-token'], 'the token never travels in clear for generic-hmac').to.equal(undefined);
    expect(w.delays).to.deep.equal([]);
  });

  it('generic-hmac: the signature is over the exact bytes sent, for a non-ASCII body too', async () => {
    server = await startFakeReceiverServer();
    const w = new World();
    const body = JSON.stringify({ project: { path_with_namespace: 'grüppe/prøject' }, ref: 'refs/heads/mäin' });
    await w.client().trigger({ ...request(linkSpec({ endpoint: server.url })), body });
    const seen = server.seen[0]!;
    expect(seen.body.equals(Buffer.from(body, 'utf8'))).to.equal(true);
    expect(seen.headers['x-signature']).to.equal(hmac(seen.body, RECEIVER_TOKEN));
    expect(seen.headers['content-length']).to.equal(String(Buffer.byteLength(body)));
  });

  for (const event of ['Push Hook', 'Tag Push Hook'] as const) {
    it(`gitlab: sends X-Gitlab-Token = token and X-Gitlab-Event = ${event}`, async () => {
      server = await startFakeReceiverServer();
      const w = new World();
      const out = await w.client().trigger(request(linkSpec({ endpoint: server.url, type: 'gitlab' }), event));
      expect(out.result).to.equal('delivered');
      const seen = server.seen[0]!;
      expect(seen.url).to.equal(PATH_A);
      expect(seen.headers['x-gitlab-token']).to.equal(RECEIVER_TOKEN);
      expect(seen.headers['x-gitlab-event']).to.equal(event);
      expect(seen.headers['x-signature']).to.equal(undefined);
    });
  }

  it('joins an endpoint with a base path and a trailing slash to the webhook path without doubling the slash', async () => {
    server = await startFakeReceiverServer();
    const w = new World();
    await w.client().trigger(request(linkSpec({ endpoint: `${server.url}/flux/` })));
    expect(server.seen[0]!.url).to.equal('/flux' + PATH_A);
  });

  it('uses the token of the Secret the Receiver names', async () => {
    server = await startFakeReceiverServer();
    const w = new World();
    const other = 'another-receiver-token-0123456789abcdef';
    w.receivers.set(`${NS}/${NAME}`, receiverObj(NS, NAME, receiverWebhookPath(Buffer.from(other), NAME, NS), 'shared-token'));
    w.secrets.set(`${NS}/shared-token`, secretObj(NS, 'shared-token', { token: other }));
    await w.client().trigger(request(linkSpec({ endpoint: server.url })));
    expect(server.seen[0]!.headers['x-signature']).to.equal(hmac(BODY, other));
  });

  it('retries 503 with exponential backoff: 503, 503, 200 → delivered after 3 attempts, delays 250 then 500', async () => {
    server = await startFakeReceiverServer((_r, i) => (i < 2 ? 503 : 200));
    const w = new World();
    const out = await w.client().trigger(request(linkSpec({ endpoint: server.url })));
    expect(out).to.include({ result: 'delivered', attempts: 3 });
    expect(w.delays).to.deep.equal([250, 500]);
    expect(server.seen.map((s) => s.url)).to.deep.equal([PATH_A, PATH_A, PATH_A]);
  });

  it('calls onSend just before each request, with the attempt number (1, 2, 3 for 503, 503, 200)', async () => {
    server = await startFakeReceiverServer((_r, i) => (i < 2 ? 503 : 200));
    const w = new World();
    const calls: Array<{ attempt: number; seenBefore: number }> = [];
    const out = await w.client().trigger({
      ...request(linkSpec({ endpoint: server.url })),
      onSend: (attempt) => calls.push({ attempt, seenBefore: server!.seen.length }),
    });
    expect(out).to.include({ result: 'delivered', attempts: 3 });
    expect(calls).to.deep.equal([
      { attempt: 1, seenBefore: 0 },
      { attempt: 2, seenBefore: 1 },
      { attempt: 3, seenBefore: 2 },
    ]);
  });

  it('never calls onSend when nothing is sent (Receiver without a webhook path)', async () => {
    const w = new World(null);
    const calls: number[] = [];
    const out = await w.client(undefined, { budgetMs: 1_000 }).trigger({ ...request(linkSpec()), onSend: (a) => calls.push(a) });
    expect(out.result).to.equal('not-ready');
    expect(calls).to.deep.equal([]);
  });

  it('retries a 500 (a target patch failed in notification-controller)', async () => {
    server = await startFakeReceiverServer((_r, i) => (i < 1 ? 500 : 200));
    const w = new World();
    expect(await w.client().trigger(request(linkSpec({ endpoint: server.url })))).to.include({ result: 'delivered', attempts: 2 });
  });

  it('doubles the delay up to 10 s and no further', async () => {
    server = await startFakeReceiverServer(() => 503);
    const w = new World();
    const out = await w.client(undefined, { budgetMs: 60_000 }).trigger(request(linkSpec({ endpoint: server.url })));
    expect(out.result).to.equal('failed');
    expect(w.delays.slice(0, 8)).to.deep.equal([250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
    expect(Math.max(...w.delays)).to.equal(10_000);
  });

  it('retries a refused connection until notification-controller is back', async () => {
    const port = await freePort();
    const w = new World();
    w.onSleep = async (i) => {
      if (i === 1) server = await startFakeReceiverServer(() => 200, port);
    };
    const out = await w.client().trigger(request(linkSpec({ endpoint: `http://127.0.0.1:${port}` })));
    expect(out).to.include({ result: 'delivered', attempts: 3 });
    expect(w.delays).to.deep.equal([250, 500]);
    expect(server!.seen).to.have.length(1);
  });

  it('treats a Receiver that does not answer within timeoutMs as a connection error and retries', async () => {
    const seen: string[] = [];
    const hanging = http.createServer((req, res) => {
      seen.push(req.url ?? '');
      if (seen.length === 1) return; // never answers
      req.resume();
      res.writeHead(200).end();
    });
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', () => r()));
    try {
      const w = new World();
      const out = await w
        .client(undefined, { timeoutMs: 100 })
        .trigger(request(linkSpec({ endpoint: `http://127.0.0.1:${(hanging.address() as AddressInfo).port}` })));
      expect(out).to.include({ result: 'delivered', attempts: 2 });
      expect(seen).to.have.length(2);
    } finally {
      hanging.closeAllConnections();
      await new Promise<void>((r) => hanging.close(() => r()));
    }
  });

  it('on 404 reads the Receiver and its token again (token rotated) and delivers on the new path', async () => {
    server = await startFakeReceiverServer((r) => (r.url === PATH_B ? 200 : 404));
    const w = new World(PATH_A);
    w.onSleep = () => {
      w.setPath(PATH_B);
      w.secrets.set(`${NS}/${NAME}`, secretObj(NS, NAME, { token: ROTATED }));
    };
    const out = await w.client().trigger(request(linkSpec({ endpoint: server.url })));
    expect(out).to.include({ result: 'delivered', attempts: 2 });
    expect(server.seen.map((s) => s.url)).to.deep.equal([PATH_A, PATH_B]);
  });

  it('on 404 also picks up a rotated token together with the new path', async () => {
    const rotated = ROTATED;
    server = await startFakeReceiverServer((r) => (r.url === PATH_B ? 200 : 404));
    const w = new World(PATH_A);
    w.onSleep = () => {
      w.setPath(PATH_B);
      w.secrets.set(`${NS}/${NAME}`, secretObj(NS, NAME, { token: rotated }));
    };
    await w.client().trigger(request(linkSpec({ endpoint: server.url })));
    expect(server.seen[1]!.headers['x-signature']).to.equal(hmac(BODY, rotated));
  });

  it('400 is retried: notification-controller answers it when it cannot read the token Secret (API server away)', async () => {
    let calls = 0;
    server = await startFakeReceiverServer(() => (++calls < 3 ? 400 : 200));
    const w = new World();
    const out = await w.client().trigger(request(linkSpec({ endpoint: server.url })));
    expect(out).to.deep.equal({ result: 'delivered', attempts: 3, detail: 'HTTP 200' });
    expect(w.delays).to.deep.equal([250, 500]);
  });

  it('400 with a body fails at once: notification-controller answers its 400s with an empty body, so this one is not its transient "unable to validate payload"', async () => {
    server = await startFakeReceiverServer(() => ({ status: 400, body: 'bad request: header X-Gitlab-Event malformed' }));
    const w = new World();
    const out = await w.client().trigger(request(linkSpec({ endpoint: server.url })));
    expect(out).to.deep.equal({ result: 'failed', attempts: 1, detail: 'HTTP 400: bad request: header X-Gitlab-Event malformed' });
    expect(w.delays).to.deep.equal([]);
    expect(server.seen).to.have.length(1);
  });

  it('400 with a body: the detail shown is bounded and on one line', async () => {
    server = await startFakeReceiverServer(() => ({ status: 400, body: 'no\r\nway ' + 'x'.repeat(10_000) }));
    const w = new World();
    const out = await w.client().trigger(request(linkSpec({ endpoint: server.url })));
    expect(out.result).to.equal('failed');
    expect(out.detail).to.match(/^HTTP 400: no way x+…$/);
    expect(out.detail.length).to.be.at.most(220);
  });

  it('gitlab: an event the Receiver does not accept fails at once without a request (notification-controller would answer 400 "not authorised" for ever)', async () => {
    server = await startFakeReceiverServer();
    const w = new World();
    const r = w.receivers.get(`${NS}/${NAME}`)!;
    w.receivers.set(`${NS}/${NAME}`, { ...r, spec: { ...r.spec, type: 'gitlab', events: ['Push Hook'] } });
    const out = await w.client().trigger(request(linkSpec({ endpoint: server.url, type: 'gitlab' }), 'Tag Push Hook'));
    expect(out).to.deep.equal({
      result: 'failed',
      attempts: 0,
      detail: 'Receiver apps/podinfo does not accept X-Gitlab-Event "Tag Push Hook" (spec.events)',
    });
    expect(server.seen).to.have.length(0);
    expect(w.delays).to.deep.equal([]);
  });

  it('gitlab: events are compared case-insensitively, as notification-controller does', async () => {
    server = await startFakeReceiverServer();
    const w = new World();
    const r = w.receivers.get(`${NS}/${NAME}`)!;
    w.receivers.set(`${NS}/${NAME}`, { ...r, spec: { ...r.spec, type: 'gitlab', events: ['push hook'] } });
    const out = await w.client().trigger(request(linkSpec({ endpoint: server.url, type: 'gitlab' }), 'Push Hook'));
    expect(out).to.include({ result: 'delivered', attempts: 1 });
  });

  for (const status of [401, 403, 413]) {
    it(`${status} fails at once without a retry`, async () => {
      server = await startFakeReceiverServer(() => status);
      const w = new World();
      const out = await w.client().trigger(request(linkSpec({ endpoint: server.url })));
      expect(out).to.deep.equal({ result: 'failed', attempts: 1, detail: `HTTP ${status}` });
      expect(w.delays).to.deep.equal([]);
      expect(server.seen).to.have.length(1);
    });
  }

  it('gives up with failed when the budget is spent (503 every time)', async () => {
    server = await startFakeReceiverServer(() => 503);
    const w = new World();
    const out = await w.client(undefined, { budgetMs: 2_000 }).trigger(request(linkSpec({ endpoint: server.url })));
    expect(out.result).to.equal('failed');
    expect(out.detail).to.equal('HTTP 503');
    // 250 + 500 + 1000 = 1750 ms of waiting fits in 2 s; another 2000 would not.
    expect(w.delays).to.deep.equal([250, 500, 1000]);
    expect(out.attempts).to.equal(4);
    expect(server.seen).to.have.length(4);
    expect(w.t).to.be.at.most(2_000);
  });

  it('gives up with failed and a connection error when nothing ever listens', async () => {
    const port = await freePort();
    const w = new World();
    const out = await w.client(undefined, { budgetMs: 1_000 }).trigger(request(linkSpec({ endpoint: `http://127.0.0.1:${port}` })));
    expect(out.result).to.equal('failed');
    expect(out.detail).to.match(/^connection error: .*ECONNREFUSED/);
    expect(out.attempts).to.equal(3);
  });

  it('a Receiver without a webhook path is not-ready: no request is made', async () => {
    server = await startFakeReceiverServer();
    const w = new World(null);
    const out = await w.client(undefined, { budgetMs: 1_000 }).trigger(request(linkSpec({ endpoint: server.url })));
    expect(out).to.include({ result: 'not-ready', attempts: 0 });
    expect(out.detail).to.match(/webhook path/);
    expect(server.seen).to.have.length(0);
  });

  it('a missing Receiver is not-ready', async () => {
    server = await startFakeReceiverServer();
    const w = new World();
    w.receivers.clear();
    const out = await w.client(undefined, { budgetMs: 1_000 }).trigger(request(linkSpec({ endpoint: server.url })));
    expect(out).to.deep.include({ result: 'not-ready', attempts: 0, detail: 'Receiver not found' });
    expect(server.seen).to.have.length(0);
  });

  for (const [name, token] of [
    ['a missing token Secret', null],
    ['a token shorter than 32 characters', 'short-token'],
  ] as const) {
    it(`${name} is not-ready: nothing is sent unsigned`, async () => {
      server = await startFakeReceiverServer();
      const w = new World(PATH_A, token);
      const out = await w.client(undefined, { budgetMs: 1_000 }).trigger(request(linkSpec({ endpoint: server.url })));
      expect(out).to.include({ result: 'not-ready', attempts: 0 });
      expect(server.seen).to.have.length(0);
    });
  }

  it('delivers once a Receiver becomes ready while the trigger waits', async () => {
    server = await startFakeReceiverServer();
    const w = new World(null);
    w.onSleep = (i) => {
      if (i === 2) w.setPath(PATH_A);
    };
    const out = await w.client().trigger(request(linkSpec({ endpoint: server.url })));
    expect(out).to.include({ result: 'delivered', attempts: 1 });
    expect(w.delays).to.deep.equal([250, 500, 1000]);
  });
});

describe('trigger-client: TriggerClient through the service proxy', () => {
  const PROXY = '/api/v1/namespaces/flux-system/services/webhook-receiver:80/proxy';
  const allowed = [{ namespace: 'flux-system', name: 'webhook-receiver' }];

  it('goes through client.request with path <proxyPath><webhookPath> and the signature header', async () => {
    const client = requestRecordingClient([200]);
    const w = new World();
    const out = await w.client(client).trigger(request(linkSpec({ endpoint: PROXY, serviceProxies: allowed })));
    expect(out).to.include({ result: 'delivered', attempts: 1 });
    expect(client.requests).to.have.length(1);
    const r = client.requests[0]!;
    expect(r.method).to.equal('POST');
    expect(r.path).to.equal(PROXY + PATH_A);
    expect(r.body?.toString('utf8')).to.equal(BODY);
    expect(r.headers['X-Signature']).to.equal(hmac(BODY, RECEIVER_TOKEN));
    expect(r.timeoutMs).to.be.greaterThan(0);
  });

  it('strips a trailing slash of the proxy path before appending the webhook path', async () => {
    const client = requestRecordingClient([200]);
    const w = new World();
    await w.client(client).trigger(request(linkSpec({ endpoint: PROXY + '/', serviceProxies: allowed })));
    expect(client.requests[0]!.path).to.equal(PROXY + PATH_A);
  });

  it('retries 503 from the proxy like a direct call', async () => {
    const client = requestRecordingClient([503, 503, 200]);
    const w = new World();
    const out = await w.client(client).trigger(request(linkSpec({ endpoint: PROXY, serviceProxies: allowed, type: 'gitlab' })));
    expect(out).to.include({ result: 'delivered', attempts: 3 });
    expect(w.delays).to.deep.equal([250, 500]);
    expect(client.requests.every((r) => r.headers['X-Gitlab-Token'] === RECEIVER_TOKEN)).to.equal(true);
  });

  it('retries when the API server cannot be reached', async () => {
    const client = requestRecordingClient([200]);
    const inner = client.request.bind(client);
    let calls = 0;
    client.request = async (...args) => {
      if (calls++ === 0) throw new Error('socket hang up');
      return inner(...args);
    };
    const w = new World();
    const out = await w.client(client).trigger(request(linkSpec({ endpoint: PROXY, serviceProxies: allowed })));
    expect(out).to.include({ result: 'delivered', attempts: 2 });
  });

  it('refuses a proxy that is not allow-listed and makes no request', async () => {
    const client = requestRecordingClient([200]);
    const w = new World();
    const out = await w
      .client(client)
      .trigger(request(linkSpec({ endpoint: PROXY, serviceProxies: [{ namespace: 'flux-system', name: 'other' }] })));
    expect(out).to.include({ result: 'refused', attempts: 0 });
    expect(out.detail).to.match(/not allowed/);
    expect(client.requests).to.have.length(0);
    expect(w.delays).to.deep.equal([]);
  });

  it('refuses a malformed proxy path and makes no request', async () => {
    const client = requestRecordingClient([200]);
    const w = new World();
    const out = await w.client(client).trigger(
      request(
        linkSpec({
          endpoint: '/api/v1/namespaces/flux-system/services/webhook-receiver/proxy/../../../secrets',
          serviceProxies: allowed,
        }),
      ),
    );
    expect(out).to.include({ result: 'refused', attempts: 0 });
    expect(out.detail).to.match(/not a service-proxy path/);
    expect(client.requests).to.have.length(0);
  });
});

describe('trigger-client: a Receiver status the operator does not trust', () => {
  let listener: Awaited<ReturnType<typeof startFakeReceiverServer>> | undefined;
  let server: Awaited<ReturnType<typeof startFakeReceiverServer>> | undefined;
  afterEach(async () => {
    await listener?.close();
    await server?.close();
    listener = server = undefined;
  });

  it('a status.webhookPath of "@127.0.0.1:<port>/x" sends nothing anywhere and is reported as tampered', async () => {
    listener = await startFakeReceiverServer(); // where a tampered path would send the push
    server = await startFakeReceiverServer(); // the link's real endpoint
    const w = new World(`@127.0.0.1:${listener.port}/x`);
    const out = await w.client(undefined, { budgetMs: 1_000 }).trigger(request(linkSpec({ endpoint: server.url, type: 'gitlab' })));
    expect(listener.seen, 'requests the tampered path sent elsewhere').to.have.length(0);
    expect(server.seen).to.have.length(0);
    expect(out).to.include({ result: 'tampered', attempts: 0 });
    expect(out.detail).to.match(/status\.webhookPath/);
  });

  it('a status.webhookPath of ":2379/x" (another port of the endpoint host) sends nothing', async () => {
    listener = await startFakeReceiverServer();
    server = await startFakeReceiverServer();
    const w = new World(`:${listener.port}/x`);
    const out = await w.client(undefined, { budgetMs: 1_000 }).trigger(request(linkSpec({ endpoint: server.url })));
    expect(listener.seen).to.have.length(0);
    expect(server.seen).to.have.length(0);
    expect(out.result).to.equal('tampered');
  });

  it('a well-formed status.webhookPath that is not the path of the token is not ready: nothing is sent to it', async () => {
    server = await startFakeReceiverServer();
    const w = new World(PATH_B);
    const out = await w.client(undefined, { budgetMs: 1_000 }).trigger(request(linkSpec({ endpoint: server.url })));
    expect(server.seen).to.have.length(0);
    expect(out).to.include({ result: 'not-ready', attempts: 0 });
    expect(out.detail).to.match(/not the path of its token/);
  });

  it('a token rotated before notification-controller has seen it: waits, sends nothing to the old path, delivers on the new one', async () => {
    server = await startFakeReceiverServer();
    const w = new World(PATH_A);
    w.secrets.set(`${NS}/${NAME}`, secretObj(NS, NAME, { token: ROTATED }));
    w.onSleep = (i) => {
      if (i === 1) w.setPath(PATH_B); // notification-controller reconciled the Receiver
    };
    const out = await w.client().trigger(request(linkSpec({ endpoint: server.url })));
    expect(out).to.include({ result: 'delivered', attempts: 1 });
    expect(server.seen.map((r) => r.url)).to.deep.equal([PATH_B]);
    expect(server.seen[0]!.headers['x-signature']).to.equal(hmac(BODY, ROTATED));
  });

  it('a tampered path through the service proxy: no request through the API server either', async () => {
    const client = requestRecordingClient([200]);
    const w = new World('/../../../../api/v1/namespaces/kube-system/secrets');
    const out = await w.client(client).trigger(
      request(
        linkSpec({
          endpoint: '/api/v1/namespaces/flux-system/services/webhook-receiver/proxy',
          serviceProxies: [{ namespace: 'flux-system', name: 'webhook-receiver' }],
        }),
      ),
    );
    expect(out.result).to.equal('tampered');
    expect(client.requests).to.have.length(0);
  });

  it('redacts the path from a connection error (a service-proxy timeout names the request path)', async () => {
    const client = requestRecordingClient([200]);
    client.request = async (method, path) => {
      throw new Error(`request timed out after 10000 ms: ${method} ${path}`);
    };
    const w = new World();
    const out = await w.client(client, { budgetMs: 100 }).trigger(
      request(
        linkSpec({
          endpoint: '/api/v1/namespaces/flux-system/services/webhook-receiver/proxy',
          serviceProxies: [{ namespace: 'flux-system', name: 'webhook-receiver' }],
        }),
      ),
    );
    expect(out.result).to.equal('failed');
    expect(out.detail).to.equal(
      'connection error: request timed out after 10000 ms: POST /api/v1/namespaces/flux-system/services/webhook-receiver/proxy/[redacted]',
    );
    expect(out.detail).not.to.include(PATH_A.slice(6));
  });
});

describe('trigger-client: receiverURL', () => {
  const cases: Array<[string, string, string]> = [
    [
      'a direct URL',
      'http://webhook-receiver.flux-system.svc.cluster.local',
      `http://webhook-receiver.flux-system.svc.cluster.local${PATH_A}`,
    ],
    [
      'a direct URL with a base path and a trailing slash',
      'https://receiver.example.com:8443/flux/',
      `https://receiver.example.com:8443/flux${PATH_A}`,
    ],
    [
      'a service-proxy path',
      '/api/v1/namespaces/flux-system/services/webhook-receiver:80/proxy/',
      `/api/v1/namespaces/flux-system/services/webhook-receiver:80/proxy${PATH_A}`,
    ],
  ];
  for (const [name, endpoint, want] of cases) {
    it(name, () => {
      const url = receiverURL(endpoint, PATH_A);
      expect(endpoint.startsWith('/') ? url.pathname : url.href).to.equal(want);
    });
  }
  for (const path of ['@127.0.0.1:8080/x', ':2379/x', '/hook/../../x', `${PATH_A}?x=1`, `${PATH_A}/..`, '/hook/' + 'g'.repeat(64)]) {
    it(`refuses the webhook path ${JSON.stringify(path)}`, () =>
      expect(() => receiverURL('http://h', path)).to.throw(/not a Receiver webhook path/));
  }
  it('refuses a scheme-relative endpoint taken for a path', () =>
    expect(() => receiverURL('//evil.example.com/proxy', PATH_A)).to.throw(/path of the API server/));
});
