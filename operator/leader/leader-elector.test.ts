import { expect } from 'chai';
import { KubeError } from '../kube/client.js';
import { LEASES } from '../meta/resource.js';
import { FakeKube } from '../testing/fake-kube.js';
import { LeaderElector } from './leader-elector.js';

const base = {
  namespace: 'gitlab-flux-link-system',
  name: 'gitlab-flux-link-leader',
  leaseDurationSeconds: 15,
  renewDeadlineSeconds: 10,
  retryPeriodSeconds: 2,
};

/** Two replicas on one (fake) API server with a shared, manually moved clock. */
function replicas() {
  const kube = new FakeKube();
  let now = Date.UTC(2026, 10, 24, 3, 0, 0);
  const log: string[] = [];
  const make = (identity: string) =>
    new LeaderElector(
      kube,
      { ...base, identity },
      {
        onStartedLeading: () => log.push(`${identity} started`),
        onStoppedLeading: () => log.push(`${identity} stopped`),
      },
      () => now,
    );
  return { kube, a: make('a'), b: make('b'), log, advance: (ms: number) => (now += ms) };
}

const holder = async (kube: FakeKube) =>
  ((await kube.get(LEASES, base.namespace, base.name)) as { spec?: { holderIdentity?: string } } | undefined)?.spec?.holderIdentity;

describe('LeaderElector', () => {
  it('elects exactly one of two replicas; the other follows while the leader renews', async () => {
    const { kube, a, b, log, advance } = replicas();
    await a.step();
    await b.step();
    expect([a.isLeader, b.isLeader]).to.deep.equal([true, false]);
    for (let i = 0; i < 20; i++) {
      advance(2_000);
      await a.step();
      await b.step();
    }
    expect(b.isLeader).to.equal(false, 'a renewing lease is never taken');
    expect(await holder(kube)).to.equal('a');
    expect(log).to.deep.equal(['a started']);
  });

  it('lets the follower take over once the leader stops renewing for the lease duration', async () => {
    const { kube, a, b, advance } = replicas();
    await a.step();
    await b.step();
    advance(14_000);
    await b.step();
    expect(b.isLeader).to.equal(false, 'not before the lease duration');
    advance(1_000);
    await b.step();
    expect(b.isLeader).to.equal(true);
    expect(await holder(kube)).to.equal('b');
    const lease = (await kube.get(LEASES, base.namespace, base.name)) as unknown as { spec: { leaseTransitions: number } };
    expect(lease.spec.leaseTransitions).to.equal(1);
  });

  it('hands over at once when the leader steps down', async () => {
    const { kube, a, b } = replicas();
    await a.step();
    await b.step();
    await a.stop();
    expect(await holder(kube)).to.equal('');
    await b.step();
    expect(b.isLeader).to.equal(true);
  });

  it('gives up leadership when it cannot renew within the deadline, and takes it back later', async () => {
    const { kube, a, log, advance } = replicas();
    await a.step();
    kube.failWrites((w) => w.resource === 'leases', new KubeError(503, 'ServiceUnavailable', 'etcd is down'));
    kube.failReads = true;
    advance(2_000);
    await a.step();
    expect(a.isLeader).to.equal(true, 'still within the renew deadline');
    advance(9_000);
    await a.step();
    expect(a.isLeader).to.equal(false);
    kube.reactors.length = 0;
    kube.failReads = false;
    advance(2_000);
    await a.step();
    expect(a.isLeader).to.equal(true, 'its own lease is renewed');
    expect(log).to.deep.equal(['a started', 'a stopped', 'a started']);
  });

  it('loses a simultaneous race without error: the other wrote first', async () => {
    const { kube, a, b } = replicas();
    await a.step();
    const lease = await kube.get(LEASES, base.namespace, base.name);
    await kube.replace(LEASES, { ...lease!, spec: { holderIdentity: '' } } as never);
    // b reads, then a writes before b: b's replace conflicts and b simply follows.
    kube.afterGet = async () => {
      kube.afterGet = undefined;
      await a.step();
    };
    await b.step();
    expect([a.isLeader, b.isLeader]).to.deep.equal([true, false]);
  });

  it('refuses settings where the renew deadline is not shorter than the lease', () => {
    expect(
      () =>
        new LeaderElector(
          new FakeKube(),
          { ...base, identity: 'x', renewDeadlineSeconds: 15 },
          { onStartedLeading() {}, onStoppedLeading() {} },
        ),
    ).to.throw(/LEASE_RENEW_DEADLINE_SECONDS/);
  });
});
