import { expect } from 'chai';
import { redactPaths } from './redact.js';

const HEX = 'a1'.repeat(32);

describe('redact: redactPaths', () => {
  const cases: Array<[string, string, string]> = [
    ['a webhook path', `POST /hook/${HEX} failed`, 'POST /hook/[redacted] failed'],
    ['an upper-case hex webhook path', `/hook/${HEX.toUpperCase()}`, '/hook/[redacted]'],
    [
      'everything after a service proxy',
      `request timed out after 10000 ms: POST /api/v1/namespaces/flux-system/services/webhook-receiver:80/proxy/hook/${HEX}`,
      'request timed out after 10000 ms: POST /api/v1/namespaces/flux-system/services/webhook-receiver:80/proxy/[redacted]',
    ],
    [
      'a proxy path in a URL with a query',
      'GET https://api:6443/api/v1/namespaces/a/services/b/proxy/x/y?z=1',
      'GET https://api:6443/api/v1/namespaces/a/services/b/proxy/[redacted]?z=1',
    ],
    ['two paths in one text', `/hook/${HEX} and /hook/${'b2'.repeat(32)}`, '/hook/[redacted] and /hook/[redacted]'],
    ['a text with none', 'connection error: connect ECONNREFUSED 127.0.0.1:9292', 'connection error: connect ECONNREFUSED 127.0.0.1:9292'],
    ['a bare /proxy (nothing after it)', 'POST /api/v1/namespaces/a/services/b/proxy', 'POST /api/v1/namespaces/a/services/b/proxy'],
    ['a /hook/ path too short to be a Receiver path', '/hook/abc', '/hook/abc'],
  ];
  for (const [name, input, want] of cases) it(name, () => expect(redactPaths(input)).to.equal(want));
});
