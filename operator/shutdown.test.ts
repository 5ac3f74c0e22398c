import { expect } from 'chai';

import { shutdown, type ShutdownSteps } from './shutdown.js';

describe('shutdown', () => {
  const recorder = (triggers: () => Promise<unknown>) => {
    const order: string[] = [];
    const step = (name: string) => () => {
      order.push(name);
      return Promise.resolve();
    };
    const steps: ShutdownSteps = {
      stopIntake: () => void order.push('intake'),
      drainLeaderWork: step('leader work'),
      releaseLease: step('lease'),
      drainTriggers: () => {
        order.push('triggers');
        return triggers();
      },
      stopCaches: step('caches'),
      closeServers: step('servers'),
    };
    return { order, steps };
  };

  it('releases the Lease once the leader work is done, before the triggers drain', async () => {
    const { order, steps } = recorder(() => Promise.resolve());
    await shutdown(steps, 1000);
    expect(order).to.deep.equal(['intake', 'leader work', 'lease', 'triggers', 'caches', 'servers']);
  });

  it('a trigger that never ends (Receiver unreachable) holds neither the Lease nor the stop past the bound', async () => {
    let releasedAt = NaN;
    const { order, steps } = recorder(() => new Promise(() => undefined));
    const t0 = Date.now();
    const release = steps.releaseLease;
    steps.releaseLease = () => {
      releasedAt = Date.now() - t0;
      return release();
    };
    await shutdown(steps, 300);
    expect(releasedAt).to.be.below(100);
    expect(Date.now() - t0).to.be.within(250, 1000);
    expect(order).to.deep.equal(['intake', 'leader work', 'lease', 'triggers', 'caches', 'servers']);
  });

  it('leader work that does not end within the bound still gives the Lease up, then stops', async () => {
    const { order, steps } = recorder(() => Promise.resolve());
    steps.drainLeaderWork = () => new Promise(() => undefined);
    const t0 = Date.now();
    await shutdown(steps, 200);
    expect(Date.now() - t0).to.be.within(150, 1000);
    expect(order).to.deep.equal(['intake', 'lease', 'triggers', 'caches', 'servers']);
  });
});
