import { expect } from 'chai';
import { RECEIVER_WEBHOOK_PATH, receiverWebhookPath } from './webhook-path.js';

describe('webhook-path: receiverWebhookPath', () => {
  it('equals the path the real notification-controller (v1.9.3) wrote into a Receiver status on the test ground', () => {
    // e2e receiver-status: Receiver webhook-path-e2e/fixed, Secret token "e2e-fixed-receiver-token-0123456789abcdef";
    // the e2e checks the live value against this function on every run.
    expect(receiverWebhookPath(Buffer.from('e2e-fixed-receiver-token-0123456789abcdef'), 'fixed', 'webhook-path-e2e')).to.equal(
      '/hook/91d74a638ee58a84bfabe903c95f1ecfb276468d18fce888dcd8889a2e6b2a57',
    );
  });

  it('hashes the token bytes as stored, then the name, then the namespace (no separator)', () => {
    // notification-controller: sha256.Sum256([]byte(token + name + namespace)).
    expect(receiverWebhookPath(Buffer.from('tok'), 'ab', 'c')).to.equal(receiverWebhookPath(Buffer.from('tokab'), '', 'c'));
    expect(receiverWebhookPath(Buffer.from('tok'), 'ab', 'c')).to.equal(receiverWebhookPath(Buffer.from('tokabc'), '', ''));
    expect(receiverWebhookPath(Buffer.from('tok'), 'ab', 'c')).not.to.equal(receiverWebhookPath(Buffer.from('tok'), 'c', 'ab'));
    expect(receiverWebhookPath(Buffer.from([0xff, 0xfe]), 'n', 'ns'), 'non-UTF-8 token bytes are hashed as they are').not.to.equal(
      receiverWebhookPath(Buffer.from('\ufffd\ufffd'), 'n', 'ns'),
    );
  });

  it('has the only shape notification-controller writes', () => {
    expect(receiverWebhookPath(Buffer.from(''), 'r', 'ns')).to.match(RECEIVER_WEBHOOK_PATH);
    for (const bad of [
      '@127.0.0.1:8080/x',
      ':2379/x',
      '/hook/',
      '/hook/' + 'A'.repeat(64),
      '/hook/' + 'a'.repeat(63),
      '/hook/' + 'a'.repeat(64) + '/x',
    ])
      expect(bad).not.to.match(RECEIVER_WEBHOOK_PATH);
  });
});
