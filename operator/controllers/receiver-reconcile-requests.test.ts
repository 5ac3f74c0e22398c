import { expect } from 'chai';
import { type Receiver, RECEIVERS } from '../flux/types.js';
import { KubeError } from '../kube/client.js';
import { FakeKube } from '../testing/fake-kube.js';
import { memoryLogger, receiverObj } from '../testing/push-fakes.js';
import { RECONCILE_REQUESTED_AT, ReceiverReconcileRequests } from './receiver-reconcile-requests.js';

describe('controllers/receiver-reconcile-requests: a tampered Receiver is asked to reconcile, at most once a minute', () => {
  const PATH = `/hook/${'a'.repeat(64)}`;
  let t: number;
  let fake: FakeKube;
  let logged: string[];
  let requests: ReceiverReconcileRequests;
  beforeEach(() => {
    t = Date.parse('2024-05-01T12:00:00Z');
    fake = new FakeKube();
    fake.seed(RECEIVERS, receiverObj('apps', 'gfl-app', PATH));
    fake.seed(RECEIVERS, receiverObj('apps', 'gfl-other', PATH));
    const logger = memoryLogger();
    logged = logger.lines;
    requests = new ReceiverReconcileRequests({ client: fake, log: logger.log, now: () => new Date(t) });
  });
  const requestedAt = (name: string) => fake.object<Receiver>(RECEIVERS, 'apps', name)?.metadata.annotations?.[RECONCILE_REQUESTED_AT];

  it("annotates the Receiver with Flux's reconcile.fluxcd.io/requestedAt, keeping its other metadata", async () => {
    const before = fake.object<Receiver>(RECEIVERS, 'apps', 'gfl-app');
    expect(await requests.request('apps', 'gfl-app')).to.equal(true);
    expect(requestedAt('gfl-app')).to.equal('2024-05-01T12:00:00.000Z');
    expect(fake.object<Receiver>(RECEIVERS, 'apps', 'gfl-app')?.metadata.labels).to.deep.equal(before?.metadata.labels);
    expect(fake.writeLog()).to.deep.equal(['patch receivers apps/gfl-app']);
    expect(logged.join('')).to.include('Receiver reconcile requested');
  });

  it('asks again only after a minute, per Receiver', async () => {
    expect(await requests.request('apps', 'gfl-app')).to.equal(true);
    t += 59_999;
    expect(await requests.request('apps', 'gfl-app')).to.equal(false);
    expect(await requests.request('apps', 'gfl-other')).to.equal(true);
    t += 1;
    expect(await requests.request('apps', 'gfl-app')).to.equal(true);
    expect(requestedAt('gfl-app')).to.equal('2024-05-01T12:01:00.000Z');
    expect(fake.writeLog()).to.have.length(3);
  });

  it('concurrent requests for one Receiver write once', async () => {
    const results = await Promise.all([1, 2, 3].map(() => requests.request('apps', 'gfl-app')));
    expect(results.filter(Boolean)).to.have.length(1);
    expect(fake.writeLog()).to.have.length(1);
  });

  it('a failed write is logged, never thrown', async () => {
    fake.failWrites(() => true, new KubeError(403, 'Forbidden', 'receivers is forbidden'), 1);
    expect(await requests.request('apps', 'gfl-app')).to.equal(false);
    expect(logged.map((l) => JSON.parse(l) as { message: string; receiver: string; error: string }).pop()).to.include({
      message: 'Receiver reconcile request failed',
      receiver: 'apps/gfl-app',
    });
    expect(await requests.request('apps', 'gone')).to.equal(false);
  });
});
