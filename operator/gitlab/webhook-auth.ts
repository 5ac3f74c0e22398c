import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook authentication. Pure: secrets and `now` are passed in.
 * - X-Gitlab-Token is compared in constant time. Both sides are hashed first, so neither the comparison
 *   time nor an early length check tells an attacker anything about the secret's length.
 * - Signed webhooks (Standard Webhooks, sent by newer GitLab): `webhook-signature: v1,<base64 HMAC-SHA256 of
 *   "<webhook-id>.<webhook-timestamp>.<body>">`, several space-separated signatures allowed (key rotation);
 *   timestamps further than `toleranceSeconds` from now are refused (replay protection).
 */
export type AuthResult = { ok: true } | { ok: false; reason: string };

export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

export function checkToken(sent: string | undefined, expected: string): AuthResult {
  if (!sent) return { ok: false, reason: 'missing X-Gitlab-Token' };
  return safeEqual(sent, expected) ? { ok: true } : { ok: false, reason: 'wrong X-Gitlab-Token' };
}

/** Key bytes: a `whsec_` prefix means base64 (Standard Webhooks); anything else is used as raw bytes. */
export function signingKeyBytes(key: string): Buffer {
  return key.startsWith('whsec_') ? Buffer.from(key.slice('whsec_'.length), 'base64') : Buffer.from(key, 'utf8');
}

export function checkSignature(headers: { id?: string; timestamp?: string; signature?: string }, body: Buffer, key: string, nowSeconds: number, toleranceSeconds = 300): AuthResult {
  const { id, timestamp, signature } = headers;
  if (!id || !timestamp || !signature) return { ok: false, reason: 'missing webhook-id, webhook-timestamp or webhook-signature' };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'malformed webhook-timestamp' };
  if (Math.abs(nowSeconds - Number(timestamp)) > toleranceSeconds) return { ok: false, reason: 'stale webhook-timestamp' };
  const expected = createHmac('sha256', signingKeyBytes(key)).update(`${id}.${timestamp}.`).update(body).digest('base64');
  const candidates = signature.split(' ').filter((s) => s.startsWith('v1,')).map((s) => s.slice(3));
  return candidates.some((c) => safeEqual(c, expected)) ? { ok: true } : { ok: false, reason: 'webhook-signature does not match' };
}
