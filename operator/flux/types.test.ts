import { expect } from 'chai';
import { type Receiver, receiverReadiness } from './types.js';

const receiver = (webhookPath: string | undefined, ready = 'True'): Receiver => ({
  apiVersion: 'notification.toolkit.fluxcd.io/v1',
  kind: 'Receiver',
  metadata: { name: 'gfl-app', namespace: 'apps', generation: 1 },
  spec: { type: 'generic-hmac', resources: [] },
  status: { webhookPath, observedGeneration: 1, conditions: [{ type: 'Ready', status: ready as 'True' }] },
});

describe('flux types: receiverReadiness', () => {
  it('is ready with a webhook path notification-controller writes, for the current generation', () => {
    expect(receiverReadiness(receiver('/hook/' + 'ab'.repeat(32)))).to.deep.equal({ ready: true, message: 'Receiver ready' });
  });

  for (const path of ['@127.0.0.1:8080/x', ':2379/x', '/hook/../x']) {
    it(`is not ready with a status.webhookPath of ${JSON.stringify(path)}, and says it was changed by someone else`, () => {
      const r = receiverReadiness(receiver(path));
      expect(r.ready).to.equal(false);
      expect(r.message).to.match(/changed by someone other than notification-controller/);
      expect(r.message).not.to.include(path);
    });
  }

  it('is not ready without a webhook path', () => expect(receiverReadiness(receiver(undefined)).ready).to.equal(false));
});
