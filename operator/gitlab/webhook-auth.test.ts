import { expect } from 'chai';
import { createHmac, randomBytes } from 'node:crypto';
import {
  checkSignature,
  checkToken,
  MIN_SIGNING_KEY_BYTES,
  MIN_TOKEN_CHARS,
  safeEqual,
  signingKeyBytes,
  weakSecretMessage,
  weakSigningKeyReason,
  weakTokenReason,
} from './webhook-auth.js';

const TOKEN = 'hook-token-5b2f1c0e9a7d4e8b';

/** Standard Webhooks signature computed here, independently of the code under test. */
function sign(keyBytes: Buffer, id: string, timestamp: string, body: Buffer | string): string {
  return (
    'v1,' +
    createHmac('sha256', keyBytes)
      .update(`${id}.${timestamp}.${Buffer.isBuffer(body) ? body.toString('utf8') : body}`)
      .digest('base64')
  );
}

describe('authenticate: checkToken', () => {
  const cases: Array<[string, string | undefined, boolean]> = [
    ['the right token is accepted', TOKEN, true],
    ['a wrong token of the same length is refused', TOKEN.slice(0, -1) + 'X', false],
    ['a missing token is refused', undefined, false],
    ['an empty token is refused', '', false],
    ['a prefix of the token is refused (different length, no throw)', TOKEN.slice(0, 5), false],
    ['the token plus a suffix is refused (different length, no throw)', TOKEN + 'x', false],
    ['a very long token is refused without throwing', 'x'.repeat(100_000), false],
    ['the token with different case is refused', TOKEN.toUpperCase(), false],
    ['the token with a trailing newline is refused', TOKEN + '\n', false],
  ];
  for (const [name, sent, ok] of cases) {
    it(name, () => {
      const got = checkToken(sent, TOKEN);
      expect(got.ok).to.equal(ok);
      if (!got.ok) expect(got.reason).to.match(/X-Gitlab-Token/);
    });
  }

  it('says "missing" for no token and "wrong" for a bad one', () => {
    expect(checkToken(undefined, TOKEN)).to.deep.equal({ ok: false, reason: 'missing X-Gitlab-Token' });
    expect(checkToken('nope', TOKEN)).to.deep.equal({ ok: false, reason: 'wrong X-Gitlab-Token' });
  });

  it('safeEqual compares strings of any length without throwing', () => {
    expect(safeEqual('a', 'a')).to.equal(true);
    expect(safeEqual('a', 'ab')).to.equal(false);
    expect(safeEqual('', '')).to.equal(true);
    expect(safeEqual('é', 'e')).to.equal(false);
  });
});

describe('authenticate: weak tokens and keys', () => {
  const tokens: Array<[string, string, string | undefined]> = [
    ['an empty token', '', 'shorter than 16 characters'],
    ['15 characters', 'a'.repeat(15), 'shorter than 16 characters'],
    ['16 characters', 'a'.repeat(16), undefined],
    ['15 characters that take 30 bytes in UTF-8 (characters count, not bytes)', 'é'.repeat(15), 'shorter than 16 characters'],
    ['a 64-character hex token', randomBytes(32).toString('hex'), undefined],
  ];
  for (const [name, token, want] of tokens) it(`token: ${name}`, () => expect(weakTokenReason(token)).to.equal(want));

  it('checkToken refuses a weak expected token even when the sent one equals it', () => {
    expect(checkToken('short', 'short')).to.deep.equal({ ok: false, reason: 'webhook token not acceptable' });
    expect(MIN_TOKEN_CHARS).to.equal(16);
  });

  const b64 = (bytes: Buffer) => 'whsec_' + bytes.toString('base64');
  const keys: Array<[string, string, RegExp | undefined]> = [
    ['whsec_ (empty)', 'whsec_', /shorter than 16 bytes \(0\)/],
    ['whsec_!!!! (decodes to nothing)', 'whsec_!!!!', /not canonical base64/],
    ['whsec_ with 15 bytes', b64(Buffer.alloc(15, 7)), /shorter than 16 bytes \(15\)/],
    ['whsec_ with 16 bytes', b64(Buffer.alloc(16, 7)), undefined],
    ['whsec_ with 32 random bytes', b64(randomBytes(32)), undefined],
    ['whsec_ without padding', b64(Buffer.alloc(16, 7)).replace(/=+$/, ''), /not canonical base64/],
    ['whsec_ with too much padding', b64(Buffer.alloc(16, 7)) + '==', /not canonical base64/],
    ['whsec_ in the URL-safe alphabet', 'whsec_' + Buffer.alloc(18, 0xfb).toString('base64url'), /not canonical base64/],
    ['whsec_ with a line break inside', b64(Buffer.alloc(24, 7)).replace(/^(whsec_.{8})/, '$1\n'), /not canonical base64/],
    [
      'whsec_ with non-zero padding bits (decodes, but is not the canonical text)',
      'whsec_' + Buffer.alloc(16, 7).toString('base64').replace(/w==$/, 'x=='),
      /not canonical base64/,
    ],
    ['a raw key of 15 bytes', 'k'.repeat(15), /shorter than 16 bytes/],
    ['a raw key of 16 bytes', 'k'.repeat(16), undefined],
  ];
  for (const [name, key, want] of keys) {
    it(`signing key: ${name}`, () => {
      const got = weakSigningKeyReason(key);
      if (want) expect(got).to.match(want);
      else expect(got).to.equal(undefined);
    });
  }

  it('the message names the field, the Secret and its key, never the value', () => {
    const message = weakSecretMessage(
      'spec.webhook.signingSecretRef',
      { namespace: 'ns', name: 'sig', key: 'key' },
      weakSigningKeyReason('whsec_c2hvcnQ=')!,
    );
    expect(message).to.equal('spec.webhook.signingSecretRef (Secret ns/sig, key key) is not acceptable: shorter than 16 bytes (5)');
    expect(MIN_SIGNING_KEY_BYTES).to.equal(16);
  });
});

describe('authenticate: signingKeyBytes', () => {
  it('decodes a whsec_ key as base64', () => {
    const raw = randomBytes(24);
    expect(signingKeyBytes('whsec_' + raw.toString('base64')).equals(raw)).to.equal(true);
  });
  it('uses any other key as its UTF-8 bytes', () => {
    expect(signingKeyBytes('plain-key').equals(Buffer.from('plain-key', 'utf8'))).to.equal(true);
  });
});

describe('authenticate: checkSignature (Standard Webhooks)', () => {
  const NOW = 1_700_000_000;
  const id = 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W';
  const ts = String(NOW);
  const body = Buffer.from('{"object_kind":"push","ref":"refs/heads/main"}');
  const rawKey = 'raw-signing-key-not-base64';
  const keyBytes = randomBytes(32);
  const whsecKey = 'whsec_' + keyBytes.toString('base64');
  const good = sign(Buffer.from(rawKey, 'utf8'), id, ts, body);
  const goodWhsec = sign(keyBytes, id, ts, body);

  type Case = [string, { id?: string; timestamp?: string; signature?: string }, Buffer, string, number, boolean, RegExp?];
  const cases: Case[] = [
    ['valid with a raw key', { id, timestamp: ts, signature: good }, body, rawKey, NOW, true],
    ['valid with a whsec_ base64 key', { id, timestamp: ts, signature: goodWhsec }, body, whsecKey, NOW, true],
    [
      'a whsec_ key is not used as raw text',
      { id, timestamp: ts, signature: sign(Buffer.from(whsecKey, 'utf8'), id, ts, body) },
      body,
      whsecKey,
      NOW,
      false,
      /does not match/,
    ],
    [
      'several signatures, the last one valid',
      { id, timestamp: ts, signature: `v1,${Buffer.alloc(32).toString('base64')} v1a,xyz ${good}` },
      body,
      rawKey,
      NOW,
      true,
    ],
    [
      'several signatures, the first one valid',
      { id, timestamp: ts, signature: `${good} v1,${Buffer.alloc(32, 1).toString('base64')}` },
      body,
      rawKey,
      NOW,
      true,
    ],
    [
      'several signatures, none valid',
      { id, timestamp: ts, signature: `v1,${Buffer.alloc(32).toString('base64')} v1,${Buffer.alloc(32, 1).toString('base64')}` },
      body,
      rawKey,
      NOW,
      false,
      /does not match/,
    ],
    [
      'a valid MAC under another version tag is not accepted',
      { id, timestamp: ts, signature: good.replace(/^v1,/, 'v2,') },
      body,
      rawKey,
      NOW,
      false,
    ],
    [
      'a tampered body',
      { id, timestamp: ts, signature: good },
      Buffer.from(body.toString().replace('main', 'evil')),
      rawKey,
      NOW,
      false,
      /does not match/,
    ],
    [
      'a body with one byte appended',
      { id, timestamp: ts, signature: good },
      Buffer.concat([body, Buffer.from(' ')]),
      rawKey,
      NOW,
      false,
      /does not match/,
    ],
    ['a different webhook-id', { id: id + 'x', timestamp: ts, signature: good }, body, rawKey, NOW, false, /does not match/],
    ['the wrong key', { id, timestamp: ts, signature: good }, body, 'another-signing-key', NOW, false, /does not match/],
    [
      'an empty whsec_ key is refused even with its own (forgeable) signature',
      { id, timestamp: ts, signature: sign(Buffer.alloc(0), id, ts, body) },
      body,
      'whsec_',
      NOW,
      false,
      /not acceptable/,
    ],
    [
      'a whsec_ key that decodes to nothing is refused even with its own signature',
      { id, timestamp: ts, signature: sign(Buffer.alloc(0), id, ts, body) },
      body,
      'whsec_!!!!',
      NOW,
      false,
      /not acceptable/,
    ],
    [
      'a timestamp 301 s in the past is stale',
      { id, timestamp: String(NOW - 301), signature: sign(Buffer.from(rawKey), id, String(NOW - 301), body) },
      body,
      rawKey,
      NOW,
      false,
      /stale/,
    ],
    [
      'a timestamp 301 s in the future is stale',
      { id, timestamp: String(NOW + 301), signature: sign(Buffer.from(rawKey), id, String(NOW + 301), body) },
      body,
      rawKey,
      NOW,
      false,
      /stale/,
    ],
    [
      'a timestamp exactly 300 s old is still accepted',
      { id, timestamp: String(NOW - 300), signature: sign(Buffer.from(rawKey), id, String(NOW - 300), body) },
      body,
      rawKey,
      NOW,
      true,
    ],
    [
      'a timestamp exactly 300 s ahead is still accepted',
      { id, timestamp: String(NOW + 300), signature: sign(Buffer.from(rawKey), id, String(NOW + 300), body) },
      body,
      rawKey,
      NOW,
      true,
    ],
    [
      'a timestamp in milliseconds is refused',
      { id, timestamp: String(NOW * 1000), signature: sign(Buffer.from(rawKey), id, String(NOW * 1000), body) },
      body,
      rawKey,
      NOW,
      false,
      /stale|malformed/,
    ],
    ['a non-numeric timestamp is malformed', { id, timestamp: 'yesterday', signature: good }, body, rawKey, NOW, false, /malformed/],
    ['a negative timestamp is malformed', { id, timestamp: '-1', signature: good }, body, rawKey, NOW, false, /malformed/],
    ['a fractional timestamp is malformed', { id, timestamp: `${NOW}.5`, signature: good }, body, rawKey, NOW, false, /malformed/],
    ['a 13-digit timestamp is malformed', { id, timestamp: '1'.repeat(13), signature: good }, body, rawKey, NOW, false, /malformed/],
    ['missing webhook-id', { timestamp: ts, signature: good }, body, rawKey, NOW, false, /missing/],
    ['missing webhook-timestamp', { id, signature: good }, body, rawKey, NOW, false, /missing/],
    ['missing webhook-signature', { id, timestamp: ts }, body, rawKey, NOW, false, /missing/],
    ['an empty webhook-signature', { id, timestamp: ts, signature: '' }, body, rawKey, NOW, false, /missing/],
    ['a signature without the v1, prefix', { id, timestamp: ts, signature: good.slice(3) }, body, rawKey, NOW, false, /does not match/],
  ];
  for (const [name, headers, b, key, now, ok, reason] of cases) {
    it(name, () => {
      const got = checkSignature(headers, b, key, now);
      expect(got.ok, JSON.stringify(got)).to.equal(ok);
      if (!got.ok && reason) expect(got.reason).to.match(reason);
    });
  }

  it('honours a custom tolerance', () => {
    const old = String(NOW - 10);
    expect(checkSignature({ id, timestamp: old, signature: sign(Buffer.from(rawKey), id, old, body) }, body, rawKey, NOW, 5).ok).to.equal(
      false,
    );
    expect(checkSignature({ id, timestamp: old, signature: sign(Buffer.from(rawKey), id, old, body) }, body, rawKey, NOW, 10).ok).to.equal(
      true,
    );
  });

  it('verifies a binary (non-UTF-8) body over its exact bytes', () => {
    const bin = Buffer.from([0xff, 0xfe, 0x00, 0x7b]);
    const sig =
      'v1,' +
      createHmac('sha256', Buffer.from(rawKey))
        .update(Buffer.concat([Buffer.from(`${id}.${ts}.`), bin]))
        .digest('base64');
    expect(checkSignature({ id, timestamp: ts, signature: sig }, bin, rawKey, NOW).ok).to.equal(true);
  });
});
