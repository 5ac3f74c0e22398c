import { expect } from 'chai';
import { Writable } from 'node:stream';
import { createLogger } from './logger.js';

const HOOK = '/hook/' + '3f'.repeat(32);
const PROXY = '/api/v1/namespaces/flux-system/services/webhook-receiver:80/proxy';

function logged(write: (log: ReturnType<typeof createLogger>) => void): string {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  const log = createLogger('debug', stream);
  write(log);
  return lines.join('');
}

describe('logger: redaction', () => {
  it('redacts a webhook path in the message', () => {
    const out = logged((l) => l.warn(`POST ${HOOK} failed`));
    expect(out).not.to.include(HOOK.slice(6));
    expect(JSON.parse(out).message).to.equal('POST /hook/[redacted] failed');
  });

  it('redacts webhook and service-proxy paths in fields, nested objects, arrays and errors', () => {
    const out = logged((l) =>
      l.warn('receiver not triggered', {
        detail: `connection error: request timed out after 10000 ms: POST ${PROXY}${HOOK}`,
        nested: { deeper: [`${HOOK}`, { url: `http://webhook-receiver${HOOK}` }] },
        error: new Error(`POST ${PROXY}/x/y failed`),
      }),
    );
    expect(out).not.to.include(HOOK.slice(6));
    expect(out).not.to.include('/proxy/x/y');
    const line = JSON.parse(out);
    expect(line.detail).to.equal(`connection error: request timed out after 10000 ms: POST ${PROXY}/[redacted]`);
    expect(line.nested).to.deep.equal({ deeper: ['/hook/[redacted]', { url: 'http://webhook-receiver/hook/[redacted]' }] });
    expect(line.error).to.equal(`POST ${PROXY}/[redacted] failed`);
  });

  it('redacts fields named like secrets, at any depth', () => {
    const line = JSON.parse(logged((l) => l.info('x', { token: 'abc', receiver: { webhookPath: '/anything', name: 'gfl-app' } })));
    expect(line.token).to.equal('[redacted]');
    expect(line.receiver).to.deep.equal({ webhookPath: '[redacted]', name: 'gfl-app' });
  });

  it('leaves other text alone', () => {
    const line = JSON.parse(logged((l) => l.info('push accepted', { link: 'gitlab', project: 'team/app', receivers: 2 })));
    expect(line).to.include({ message: 'push accepted', link: 'gitlab', project: 'team/app', receivers: 2 });
  });
});
