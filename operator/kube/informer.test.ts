import { expect } from 'chai';
import type { Secret } from '../flux/types.js';
import { SECRETS } from '../meta/resource.js';
import { deferred } from '../testing/fake-clock.js';
import { FakeKube } from '../testing/fake-kube.js';
import { settle } from '../testing/informers.js';
import { KubeError } from './client.js';
import { Informer } from './informer.js';

const secret = (name: string, labels: Record<string, string> = { app: 'x' }, data: Record<string, string> = {}): Secret => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, namespace: 'apps', labels },
  data,
});

/** An informer over the fake whose retry sleeps are released by the test. */
function setup(opts: { labelSelector?: string; transform?: (s: Secret) => Secret } = {}) {
  const fake = new FakeKube();
  const sleeps: Array<{ ms: number; wake: () => void }> = [];
  const events: string[] = [];
  const errors: unknown[] = [];
  const missing: boolean[] = [];
  const informer = new Informer<Secret>(fake, SECRETS, {
    labelSelector: opts.labelSelector,
    transform: opts.transform,
    sleep: (ms) => {
      const d = deferred();
      sleeps.push({ ms, wake: () => d.resolve() });
      return d.promise;
    },
    onError: (e) => errors.push(e),
    onMissing: (m) => missing.push(m),
  });
  informer.onChange((type, obj, old) =>
    events.push(`${type} ${obj.metadata.name}${old ? ` (was rv ${old.metadata.resourceVersion})` : ''}`),
  );
  return { fake, informer, sleeps, events, errors, missing };
}

const names = (i: Informer<Secret>) =>
  i
    .list()
    .map((s) => s.metadata.name)
    .sort();

describe('Informer', () => {
  it('is synced once the first list is in, with every listed object in the store', async () => {
    const { fake, informer, events } = setup();
    fake.seed(SECRETS, secret('a'));
    fake.seed(SECRETS, secret('b'));
    expect(informer.hasSynced()).to.equal(false);
    const run = informer.run();
    await informer.waitForSync();
    expect(informer.hasSynced()).to.equal(true);
    expect(names(informer)).to.deep.equal(['a', 'b']);
    expect(informer.get('apps', 'a')?.metadata.name).to.equal('a');
    expect(informer.size).to.equal(2);
    expect(events).to.deep.equal(['ADDED a', 'ADDED b']);
    informer.stop();
    await run;
  });

  it('applies ADDED, MODIFIED and DELETED events to the store and tells the handlers (with the old object)', async () => {
    const { fake, informer, events } = setup();
    const run = informer.run();
    await informer.waitForSync();
    await settle();
    await fake.create(SECRETS, secret('a'));
    const rv1 = informer.get('apps', 'a')!.metadata.resourceVersion;
    fake.mutate<Secret>(SECRETS, 'apps', 'a', (s) => (s.data = { k: 'dg==' }));
    expect(informer.get('apps', 'a')!.data).to.deep.equal({ k: 'dg==' });
    fake.remove(SECRETS, 'apps', 'a');
    expect(informer.get('apps', 'a')).to.equal(undefined);
    expect(events).to.deep.equal(['ADDED a', `MODIFIED a (was rv ${rv1})`, `DELETED a (was rv ${Number(rv1) + 1})`]);
    informer.stop();
    await run;
  });

  it('keeps and hands out only what the transform returns, from the list and from the watch', async () => {
    const seen: Array<Secret['data']> = [];
    const { fake, informer } = setup({ transform: (s) => ({ ...s, data: { kept: 'eQ==' } }) });
    informer.onChange((_t, obj) => seen.push(obj.data));
    fake.seed(SECRETS, secret('listed', undefined, { big: 'eA==' }));
    const run = informer.run();
    await informer.waitForSync();
    await settle();
    await fake.create(SECRETS, secret('watched', undefined, { big: 'eA==' }));
    expect(informer.get('apps', 'listed')!.data).to.deep.equal({ kept: 'eQ==' });
    expect(informer.get('apps', 'watched')!.data).to.deep.equal({ kept: 'eQ==' });
    expect(seen).to.deep.equal([{ kept: 'eQ==' }, { kept: 'eQ==' }]);
    informer.stop();
    await run;
  });

  it('sees an object that stops matching its label selector as deleted, and one that starts matching as added', async () => {
    const { fake, informer, events } = setup({ labelSelector: 'app=x' });
    fake.seed(SECRETS, secret('a'));
    fake.seed(SECRETS, secret('b', { app: 'y' }));
    const run = informer.run();
    await informer.waitForSync();
    expect(names(informer)).to.deep.equal(['a']);
    await settle(); // the watch opens after the list
    fake.mutate<Secret>(SECRETS, 'apps', 'a', (s) => (s.metadata.labels = { app: 'y' }));
    fake.mutate<Secret>(SECRETS, 'apps', 'b', (s) => (s.metadata.labels = { app: 'x' }));
    expect(names(informer)).to.deep.equal(['b']);
    expect(events.map((e) => e.split(' (')[0])).to.deep.equal(['ADDED a', 'DELETED a', 'ADDED b']);
    informer.stop();
    await run;
  });

  it('after a watch error, re-lists and removes objects deleted while it was disconnected', async () => {
    const { fake, informer, sleeps, events, errors } = setup();
    fake.seed(SECRETS, secret('kept'));
    fake.seed(SECRETS, secret('doomed'));
    const run = informer.run();
    await informer.waitForSync();
    await settle();
    fake.endWatches(SECRETS, new Error('connection reset by peer'));
    await settle();
    expect(sleeps.map((s) => s.ms)).to.deep.equal([500], 'it backs off before re-listing');
    // While disconnected: one object goes, one comes, one changes. No watch is open to tell.
    expect(fake.openWatches).to.equal(0);
    fake.remove(SECRETS, 'apps', 'doomed');
    fake.seed(SECRETS, secret('new'));
    fake.mutate<Secret>(SECRETS, 'apps', 'kept', (s) => (s.data = { v: 'Mg==' }));
    fake.compact(); // and the history is gone: only a re-list can tell
    sleeps.shift()!.wake();
    await settle();
    expect(names(informer)).to.deep.equal(['kept', 'new']);
    expect(informer.get('apps', 'kept')!.data).to.deep.equal({ v: 'Mg==' });
    expect(events.map((e) => e.split(' (')[0])).to.deep.equal([
      'ADDED doomed',
      'ADDED kept',
      'MODIFIED kept',
      'ADDED new',
      'DELETED doomed',
    ]);
    expect(errors.map(String)).to.deep.equal(['Error: connection reset by peer']);
    expect(fake.listCalls.get('secrets')).to.equal(2);
    informer.stop();
    await run;
  });

  it('re-lists quietly after 410 Gone (no onError)', async () => {
    const { fake, informer, sleeps, errors } = setup();
    const run = informer.run();
    await informer.waitForSync();
    await settle();
    fake.endWatches(SECRETS, new KubeError(410, 'Expired', 'too old resource version'));
    await settle();
    sleeps.shift()?.wake();
    await settle();
    expect(errors).to.deep.equal([]);
    expect(fake.listCalls.get('secrets')).to.equal(2);
    informer.stop();
    await run;
  });

  it('resumes the watch from the last resourceVersion after a normal close, without a re-list and without missing events', async () => {
    const { fake, informer, events } = setup();
    const run = informer.run();
    await informer.waitForSync();
    await settle();
    fake.endWatches(SECRETS); // the API server closes watches every few minutes
    fake.seed(SECRETS, secret('during-reconnect')); // happens before the informer re-opens the watch
    await settle();
    expect(names(informer)).to.deep.equal(['during-reconnect']);
    expect(fake.listCalls.get('secrets')).to.equal(1);
    expect(events).to.deep.equal(['ADDED during-reconnect']);
    informer.stop();
    await run;
  });

  it('does not wake handlers for a re-listed object whose resourceVersion did not change', async () => {
    const { fake, informer, sleeps, events } = setup();
    fake.seed(SECRETS, secret('a'));
    const run = informer.run();
    await informer.waitForSync();
    await settle();
    fake.endWatches(SECRETS, new Error('reset'));
    await settle();
    sleeps.shift()!.wake();
    await settle();
    expect(events).to.deep.equal(['ADDED a']);
    informer.stop();
    await run;
  });

  it('reports onMissing(true) when the list answers 404 (CRD not installed), then false once it is served', async () => {
    const { fake, informer, sleeps, errors, missing } = setup();
    fake.unserve(SECRETS);
    const run = informer.run();
    await settle();
    expect(missing).to.deep.equal([true]);
    expect(informer.hasSynced()).to.equal(false);
    expect(errors).to.deep.equal([], 'a missing resource is not an error');
    sleeps.shift()!.wake();
    await settle();
    expect(missing).to.deep.equal([true, true]);
    expect(sleeps.map((s) => s.ms)).to.deep.equal([1000], 'backs off exponentially while missing');
    fake.serve(SECRETS);
    sleeps.shift()!.wake();
    await settle();
    expect(missing).to.deep.equal([true, true, false]);
    expect(informer.hasSynced()).to.equal(true);
    informer.stop();
    await run;
  });

  it('stop() ends run() while a watch is open', async () => {
    const { informer, fake } = setup();
    const run = informer.run();
    await informer.waitForSync();
    await settle();
    expect(fake.openWatches).to.equal(1);
    informer.stop();
    await run;
    expect(fake.openWatches).to.equal(0);
  });

  it('stop() ends run() promptly while it is backing off (not after the sleep of up to 30 s)', async () => {
    // BUG (informer.ts run/stop): stop() does not interrupt the backoff sleep, so run() ends only when the sleep
    // does: up to 30 s while a CRD is missing (Flux not installed), which holds up the operator's shutdown.
    const { informer, fake, sleeps } = setup();
    fake.unserve(SECRETS);
    const run = informer.run();
    await settle();
    expect(sleeps).to.have.length(1);
    informer.stop();
    let ended = false;
    void run.then(() => (ended = true));
    await settle();
    const promptly = ended;
    sleeps.shift()?.wake(); // let it end either way, so the test leaves nothing running
    await run;
    expect(promptly, 'run() ended without waiting for the backoff sleep').to.equal(true);
  });

  it('waitForSync resolves every waiter, including ones that came before run()', async () => {
    const { fake, informer } = setup();
    fake.seed(SECRETS, secret('a'));
    const early = informer.waitForSync();
    const run = informer.run();
    await early;
    await informer.waitForSync();
    informer.stop();
    await run;
  });
});
