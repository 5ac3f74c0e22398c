import { expect } from 'chai';
import type { Secret } from '../flux/types.js';
import { type Resource, SECRETS } from '../meta/resource.js';
import { deferred } from '../testing/informers.js';
import { secretObj } from '../testing/push-fakes.js';
import { type KubeClient, KubeError } from './client.js';
import { type SecretKeyLocation, SecretReader } from './secret-reader.js';

/** A KubeClient whose get() serves Secrets from a map and records every call. */
function secretsClient(initial: Secret[] = []) {
  const store = new Map(initial.map((s) => [`${s.metadata.namespace}/${s.metadata.name}`, s]));
  const gets: string[] = [];
  let fail: Error | undefined;
  let gate: Promise<void> | undefined;
  const client = {
    async get(r: Resource, namespace: string | undefined, name: string) {
      gets.push(`${r.plural}:${namespace}/${name}`);
      if (gate) await gate;
      if (fail) throw fail;
      return store.get(`${namespace}/${name}`);
    },
  } as unknown as KubeClient;
  return {
    client,
    gets,
    store,
    failWith: (e: Error | undefined) => (fail = e),
    holdWith: (p: Promise<void> | undefined) => (gate = p),
  };
}

const ref = (name = 'hook-token', key = 'token'): SecretKeyLocation => ({ namespace: 'gitlab-flux-link', name, key });

/** A reader over the hook-token Secret holding `token`, on a clock the test moves (`clock.t`), read once at 0. */
async function readOnce(token: string, ttlMs: number, staleMs?: number) {
  const k = secretsClient([secretObj('gitlab-flux-link', 'hook-token', { token })]);
  const clock = { t: 0 };
  const reader = new SecretReader(k.client, ttlMs, () => clock.t, staleMs);
  expect(await reader.value(ref())).to.equal(token);
  return { k, clock, reader };
}

describe('secret-reader: SecretReader', () => {
  it('reads the Secret with one GET and serves repeated reads within half the TTL from the cache', async () => {
    const k = secretsClient([secretObj('gitlab-flux-link', 'hook-token', { token: 'abc' })]);
    let t = 1_000;
    const reader = new SecretReader(k.client, 10_000, () => t);
    expect(await reader.value(ref())).to.equal('abc');
    t += 5_000; // exactly half the TTL: nothing read
    expect(await reader.value(ref())).to.equal('abc');
    expect(k.gets).to.deep.equal([`${SECRETS.plural}:gitlab-flux-link/hook-token`]);
  });

  it('past half the TTL, answers from the cache at once and refreshes it in the background', async () => {
    const { k, clock, reader } = await readOnce('old', 10_000);
    k.store.set('gitlab-flux-link/hook-token', secretObj('gitlab-flux-link', 'hook-token', { token: 'new' }));
    const gate = deferred();
    k.holdWith(gate.promise);
    clock.t = 6_000;
    const reads = [reader.value(ref()), reader.value(ref())];
    expect(await Promise.all(reads), 'not waiting for the refresh (held)').to.deep.equal(['old', 'old']);
    expect(k.gets, 'one refresh for both').to.have.length(2);
    gate.resolve();
    await new Promise((r) => setImmediate(r));
    clock.t = 11_000; // the first entry (read at 0) would have expired; the refreshed one (read at 6 s) is fresh
    expect(await reader.value(ref())).to.equal('new');
    expect(k.gets).to.have.length(2);
  });

  it('a failed refresh changes nothing: the entry expires at its TTL and the next read reports the error', async () => {
    const { k, clock, reader } = await readOnce('abc', 10_000);
    k.failWith(new KubeError(403, 'Forbidden', 'secrets "hook-token" is forbidden'));
    clock.t = 6_000;
    expect(await reader.value(ref())).to.equal('abc');
    await new Promise((r) => setImmediate(r));
    clock.t = 10_001;
    expect(await reader.value(ref()), 'lost access: no stale value').to.equal(undefined);
    expect(k.gets).to.have.length(3);
  });

  it('reads again after the TTL and picks up a rotated value', async () => {
    const { k, clock, reader } = await readOnce('old', 10_000);
    k.store.set('gitlab-flux-link/hook-token', secretObj('gitlab-flux-link', 'hook-token', { token: 'new' }));
    clock.t = 9_999;
    expect(await reader.value(ref()), 'cached within the TTL').to.equal('old');
    clock.t = 10_001;
    expect(await reader.value(ref())).to.equal('new');
    expect(k.gets).to.have.length(2);
  });

  it('maxAgeMs: a value older than that is read again for this call (a rotation just made), one GET for concurrent calls', async () => {
    const { k, clock, reader } = await readOnce('old', 10_000);
    k.store.set('gitlab-flux-link/hook-token', secretObj('gitlab-flux-link', 'hook-token', { token: 'new' }));
    clock.t = 500;
    expect(await reader.value(ref(), { maxAgeMs: 1_000 }), 'younger than maxAgeMs: the cache').to.equal('old');
    clock.t = 1_200;
    const both = await Promise.all([reader.value(ref(), { maxAgeMs: 1_000 }), reader.value(ref(), { maxAgeMs: 1_000 })]);
    expect(both).to.deep.equal(['new', 'new']);
    expect(k.gets).to.have.length(2);
    expect(await reader.value(ref()), 'the fresh value is cached for everyone').to.equal('new');
    expect(k.gets).to.have.length(2);
  });

  it('shares one GET between keys of the same Secret, and reads different Secrets separately', async () => {
    const k = secretsClient([
      secretObj('gitlab-flux-link', 'hook-token', { token: 'abc', key: 'k' }),
      secretObj('gitlab-flux-link', 'other', { token: 'xyz' }),
    ]);
    const reader = new SecretReader(k.client, 10_000, () => 0);
    expect(await reader.value(ref('hook-token', 'token'))).to.equal('abc');
    expect(await reader.value(ref('hook-token', 'key'))).to.equal('k');
    expect(await reader.value(ref('other', 'token'))).to.equal('xyz');
    expect(k.gets).to.have.length(2);
  });

  const decoding: Array<[string, string, string | undefined]> = [
    ['decodes base64', 'plain-value', 'plain-value'],
    ['trims one trailing newline (echo "..." | kubectl create secret)', 'value\n', 'value'],
    ['trims a trailing CRLF', 'value\r\n', 'value'],
    ['keeps inner newlines', 'line1\nline2', 'line1\nline2'],
    ['keeps leading and inner spaces', '  a b', '  a b'],
    ['keeps UTF-8', 'tökén-✓', 'tökén-✓'],
    ['an empty value is no value', '', undefined],
    ['a lone newline is no value', '\n', undefined],
  ];
  for (const [name, stored, want] of decoding) {
    it(name, async () => {
      const k = secretsClient([secretObj('gitlab-flux-link', 'hook-token', { token: stored })]);
      expect(await new SecretReader(k.client).value(ref())).to.equal(want);
    });
  }

  it('a missing key is undefined', async () => {
    const k = secretsClient([secretObj('gitlab-flux-link', 'hook-token', { other: 'x' })]);
    expect(await new SecretReader(k.client).value(ref())).to.equal(undefined);
  });

  for (const key of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
    it(`a key named ${key} that the Secret does not have is undefined (not Object's member)`, async () => {
      const k = secretsClient([secretObj('gitlab-flux-link', 'hook-token', { token: 'a-token-of-some-length' })]);
      expect(await new SecretReader(k.client).value(ref('hook-token', key))).to.equal(undefined);
    });
  }

  it('a key named constructor that the Secret has is read', async () => {
    const k = secretsClient([secretObj('gitlab-flux-link', 'hook-token', { constructor: 'kept-as-data' })]);
    expect(await new SecretReader(k.client).value(ref('hook-token', 'constructor'))).to.equal('kept-as-data');
  });

  it('a Secret without data is undefined', async () => {
    const k = secretsClient([{ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'hook-token', namespace: 'gitlab-flux-link' } }]);
    expect(await new SecretReader(k.client).value(ref())).to.equal(undefined);
  });

  it('a missing Secret is undefined, and is read again after the TTL (created meanwhile)', async () => {
    const k = secretsClient();
    let t = 0;
    const reader = new SecretReader(k.client, 1_000, () => t);
    expect(await reader.value(ref())).to.equal(undefined);
    k.store.set('gitlab-flux-link/hook-token', secretObj('gitlab-flux-link', 'hook-token', { token: 'now-here' }));
    t = 1_001;
    expect(await reader.value(ref())).to.equal('now-here');
  });

  it('a read error is "unavailable" (undefined), cached for 5 s: calls within it cost no GET, the next one after it reads again', async () => {
    const k = secretsClient([secretObj('gitlab-flux-link', 'hook-token', { token: 'abc' })]);
    let t = 0;
    const reader = new SecretReader(k.client, 10_000, () => t);
    k.failWith(new Error('connection refused'));
    expect(await reader.value(ref())).to.equal(undefined);
    k.failWith(undefined);
    for (const at of [1, 2_500, 5_000]) {
      t = at;
      expect(await reader.value(ref()), `at ${at} ms`).to.equal(undefined);
    }
    expect(k.gets, 'GETs while the error is cached').to.have.length(1);
    t = 5_001;
    expect(await reader.value(ref())).to.equal('abc');
    expect(k.gets).to.have.length(2);
  });

  it('a cached error does not hide the last value during an outage (within the staleness bound)', async () => {
    const { k, clock, reader } = await readOnce('abc', 1_000, 60_000);
    clock.t = 2_000;
    k.failWith(new Error('connect ECONNREFUSED'));
    expect(await reader.value(ref())).to.equal('abc');
    clock.t = 3_000;
    expect(await reader.value(ref())).to.equal('abc');
    expect(k.gets, 'the first read, then one failed read for both calls').to.have.length(2);
  });

  it('by default serves a stale value for at most 10 minutes of API server outage', async () => {
    const k = secretsClient([secretObj('gitlab-flux-link', 'hook-token', { token: 'abc' })]);
    const clock = { t: 0 };
    const reader = new SecretReader(k.client, 10_000, () => clock.t);
    expect(await reader.value(ref())).to.equal('abc');
    k.failWith(new Error('connect ECONNREFUSED 127.0.0.1:6443'));
    clock.t = 10 * 60_000;
    expect(await reader.value(ref()), 'at 10 minutes').to.equal('abc');
    clock.t = 10 * 60_000 + 5_001; // past the cached error too
    expect(await reader.value(ref()), 'past 10 minutes').to.equal(undefined);
  });

  it('a 403 after the TTL does not serve the stale value: the operator lost its access', async () => {
    const { k, clock, reader } = await readOnce('abc', 1_000);
    clock.t = 2_000;
    k.failWith(new KubeError(403, 'Forbidden', 'secrets "hook-token" is forbidden'));
    expect(await reader.value(ref())).to.equal(undefined);
  });

  it('while the API server is away, serves the last value read for up to staleMs, then refuses', async () => {
    const { k, clock, reader } = await readOnce('abc', 1_000, 60_000);
    for (const outage of [
      new Error('connect ECONNREFUSED 127.0.0.1:6443'),
      new KubeError(503, 'ServiceUnavailable', 'etcd'),
      new KubeError(429, 'TooManyRequests', 'slow down'),
    ]) {
      clock.t += 2_000;
      k.failWith(outage);
      expect(await reader.value(ref()), outage.message).to.equal('abc');
    }
    clock.t = 60_001;
    expect(await reader.value(ref()), 'beyond staleMs').to.equal(undefined);
  });

  it('serves no stale value for a Secret never read successfully', async () => {
    const k = secretsClient([]);
    const reader = new SecretReader(k.client, 1_000, () => 0);
    k.failWith(new Error('connect ECONNREFUSED'));
    expect(await reader.value(ref())).to.equal(undefined);
  });

  it('a burst of concurrent reads on a cold cache costs one GET', async () => {
    const k = secretsClient([secretObj('gitlab-flux-link', 'hook-token', { token: 'abc' })]);
    const gate = deferred();
    k.holdWith(gate.promise);
    const reader = new SecretReader(k.client, 10_000, () => 0);
    const reads = Array.from({ length: 20 }, () => reader.value(ref()));
    await new Promise((r) => setImmediate(r));
    gate.resolve();
    expect(await Promise.all(reads)).to.deep.equal(Array(20).fill('abc'));
    expect(k.gets, 'the class promises "a burst of webhooks costs one GET"').to.have.length(1);
  });

  it('a read that finds another version of the Secret reports a rotation, once; the first read and an unchanged one do not', async () => {
    const stored = (token: string, resourceVersion: string) => {
      const secret = secretObj('gitlab-flux-link', 'hook-token', { token });
      secret.metadata.resourceVersion = resourceVersion;
      return secret;
    };
    const k = secretsClient([stored('old-token-0123456789', '1')]);
    const clock = { t: 0 };
    const reader = new SecretReader(k.client, 10_000, () => clock.t);
    const rotated: string[] = [];
    reader.onRotated((namespace, name) => rotated.push(`${namespace}/${name}`));
    expect(await reader.value(ref())).to.equal('old-token-0123456789');
    clock.t = 11_000;
    expect(await reader.value(ref())).to.equal('old-token-0123456789');
    expect(rotated, 'first read, then the same version read again').to.deep.equal([]);
    k.store.set('gitlab-flux-link/hook-token', stored('new-token-0123456789', '2'));
    clock.t = 22_000;
    const concurrent = await Promise.all([reader.value(ref()), reader.value(ref()), reader.value(ref())]);
    expect(concurrent).to.deep.equal(Array(3).fill('new-token-0123456789'));
    expect(rotated, 'one report for the read that found version 2').to.deep.equal(['gitlab-flux-link/hook-token']);
  });
});
