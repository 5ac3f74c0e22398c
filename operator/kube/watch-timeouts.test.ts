import { KubeConfig } from '@kubernetes/client-node';
import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Secret } from '../flux/types.js';
import type { KubeObject } from '../meta/object.js';
import { SECRETS } from '../meta/resource.js';
import { FakeKube } from '../testing/fake-kube.js';
import { HttpKubeClient, type KubeClient, type ListOptions, type WatchEvent, type WatchHandle } from './client.js';
import { DEFAULT_WATCH_TIMEOUTS, Informer } from './informer.js';

const secret = (name: string): Secret => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'apps' }, data: {} });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type WatchOpts = ListOptions & { resourceVersion: string; timeoutSeconds?: number };

/**
 * FakeKube whose watches can be made to go silent, as a connection dropped by a NAT without a FIN: the
 * watch neither delivers nor ends, until aborted.
 */
class SilencingKube extends FakeKube {
  readonly watches: Array<{ opts: WatchOpts; silent: boolean; aborted: boolean }> = [];
  silenceNext = 0;
  override watch<T extends KubeObject>(
    r: Parameters<KubeClient['watch']>[0],
    opts: WatchOpts,
    onEvent: (e: WatchEvent<T>) => void,
  ): WatchHandle {
    const record = { opts, silent: this.silenceNext > 0, aborted: false };
    this.watches.push(record);
    if (record.silent) {
      this.silenceNext--;
      let end!: () => void;
      const done = new Promise<void>((resolve) => (end = resolve));
      return { done, abort: () => ((record.aborted = true), end()) };
    }
    const inner = super.watch(r, opts, onEvent);
    return { done: inner.done, abort: () => ((record.aborted = true), inner.abort()) };
  }
}

describe('watch timeouts: server-side timeoutSeconds with jitter, and the idle check', () => {
  it('asks the API server to end each watch after a jittered time between minSeconds and twice that (client-go)', async () => {
    for (const [random, want] of [
      [0, 300],
      [0.5, 450],
      [0.999, 599],
    ] as const) {
      const kube = new SilencingKube();
      const informer = new Informer<Secret>(kube, SECRETS, { random: () => random });
      const run = informer.run();
      await informer.waitForSync();
      await sleep(5);
      informer.stop();
      await run;
      expect(kube.watches[0]!.opts.timeoutSeconds, `random ${random}`).to.equal(want);
    }
    expect(DEFAULT_WATCH_TIMEOUTS).to.deep.equal({ minSeconds: 300, idleMs: 150_000 });
  });

  it('drops a watch silent for idleMs, says so, and watches again from the last resourceVersion: a change made meanwhile arrives', async () => {
    const kube = new SilencingKube();
    const errors: string[] = [];
    const informer = new Informer<Secret>(kube, SECRETS, {
      watchTimeouts: { minSeconds: 300, idleMs: 80 },
      onError: (e) => errors.push(String(e)),
    });
    kube.seed(SECRETS, secret('before'));
    kube.silenceNext = 1;
    const run = informer.run();
    await informer.waitForSync();
    await sleep(5); // the watch starts right after the list
    const rv = kube.watches[0]!.opts.resourceVersion;
    await kube.create(SECRETS, secret('during')); // the silent watch never delivers it
    await sleep(40);
    expect(informer.get('apps', 'during'), 'not yet: the watch is silent').to.equal(undefined);
    await sleep(120);
    expect(kube.watches[0]!.aborted, 'the silent watch was aborted').to.equal(true);
    expect(kube.watches.length).to.be.at.least(2); // the fake sends no bookmarks: a later quiet watch is replaced too
    expect(kube.watches[1]!.opts.resourceVersion, 'resumed from the last resourceVersion, no re-list').to.equal(rv);
    expect(kube.listCalls.get('secrets')).to.equal(1);
    expect(informer.get('apps', 'during')?.metadata.name).to.equal('during');
    expect(errors.length).to.equal(kube.watches.filter((w) => w.aborted).length);
    expect(errors[0]).to.match(/watch of secrets silent for 0\.08 s \(no event, no bookmark\): connection presumed dead, watching again/);
    informer.stop();
    await run;
  });

  it('keeps a watch that delivers events more often than idleMs', async () => {
    const kube = new SilencingKube();
    const informer = new Informer<Secret>(kube, SECRETS, { watchTimeouts: { minSeconds: 300, idleMs: 100 } });
    const run = informer.run();
    await informer.waitForSync();
    for (let i = 0; i < 6; i++) {
      await kube.create(SECRETS, secret(`s${i}`));
      await sleep(40);
    }
    expect(kube.watches.length, 'one watch throughout').to.equal(1);
    expect(informer.size).to.equal(6);
    informer.stop();
    await run;
  });

  it('HttpKubeClient: sends timeoutSeconds, and an abort before the answer ends the request and its connection', async () => {
    const seen: string[] = [];
    let closed!: () => void;
    const socketClosed = new Promise<void>((r) => (closed = r));
    const server = http.createServer((req) => {
      seen.push(req.url!);
      req.socket.on('close', () => closed()); // never answered: a watch sent into a dead connection
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
        users: [{ name: 'u' }],
        contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
        currentContext: 'x',
      });
      const client = new HttpKubeClient({ kubeConfig: kc });
      const handle = client.watch(SECRETS, { resourceVersion: '7', timeoutSeconds: 345 }, () => undefined);
      while (seen.length === 0) await sleep(5);
      expect(seen[0]).to.equal('/api/v1/secrets?resourceVersion=7&watch=1&allowWatchBookmarks=true&timeoutSeconds=345');
      handle.abort();
      await handle.done;
      await Promise.race([socketClosed, sleep(2000).then(() => Promise.reject(new Error('the aborted watch kept its connection open')))]);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('HttpKubeClient: a kubeconfig proxy-url', () => {
  it('is refused with an error naming the field, never silently ignored, and without showing the URL', () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [
        { name: 'behind-proxy', server: 'https://10.0.0.1:6443', proxyUrl: 'http://user:secret@proxy.internal:3128', skipTLSVerify: false },
      ],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'behind-proxy', user: 'u' }],
      currentContext: 'x',
    });
    expect(() => new HttpKubeClient({ kubeConfig: kc })).to.throw(
      /kubeconfig cluster "behind-proxy" sets proxy-url \(clusters\[\]\.cluster\.proxy-url\), which gitlab-flux-link does not support/,
    );
    try {
      new HttpKubeClient({ kubeConfig: kc });
    } catch (e) {
      expect(String(e)).not.to.include('secret').and.not.to.include('proxy.internal');
    }
  });
});
