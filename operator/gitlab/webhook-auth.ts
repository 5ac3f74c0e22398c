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
  if (weakTokenReason(expected) !== undefined) return { ok: false, reason: 'webhook token not acceptable' };
  return safeEqual(sent, expected) ? { ok: true } : { ok: false, reason: 'wrong X-Gitlab-Token' };
}

/**
 * The shortest webhook token accepted. GitLab sets no minimum for a hook's "Secret token" and sends it in
 * cleartext in every request, so whoever reaches the endpoint can guess online. 16 characters is the least
 * that carries 64 bits or more from any usual generator (hex; `openssl rand -hex 16` gives 32 characters,
 * base64 96 bits), beyond reach of guessing at any rate the endpoint can answer; shorter values are the
 * hand-typed ones a dictionary finds. The same floor as the signing key's 16 bytes.
 */
export const MIN_TOKEN_CHARS = 16;
/** The shortest signing key accepted: 128 bits (Standard Webhooks' own keys are 24 to 64 bytes). */
export const MIN_SIGNING_KEY_BYTES = 16;

const WHSEC = 'whsec_';

/** Why a webhook token must not be used (undefined: it may). Never contains the value. */
export function weakTokenReason(token: string): string | undefined {
  return [...token].length < MIN_TOKEN_CHARS ? `shorter than ${MIN_TOKEN_CHARS} characters` : undefined;
}

/**
 * Why a signing key must not be used (undefined: it may). A `whsec_` key must be canonical base64 — the
 * standard alphabet with its padding, so that re-encoding the decoded bytes gives the text back — because
 * Node's lenient decoder turns anything (`whsec_!!!!`) into some bytes, possibly none: an empty key is one
 * anyone can sign with. Either form needs at least 16 key bytes. Never contains the value.
 */
export function weakSigningKeyReason(key: string): string | undefined {
  if (key.startsWith(WHSEC)) {
    const b64 = key.slice(WHSEC.length);
    if (Buffer.from(b64, 'base64').toString('base64') !== b64)
      return 'a whsec_ key that is not canonical base64 (standard alphabet, with padding)';
  }
  const bytes = signingKeyBytes(key).length;
  return bytes < MIN_SIGNING_KEY_BYTES ? `shorter than ${MIN_SIGNING_KEY_BYTES} bytes (${bytes})` : undefined;
}

/** The field a link names its webhook Secrets in. */
export type WebhookSecretField = 'spec.webhook.secretRef' | 'spec.webhook.signingSecretRef';

/** One line naming the field, the Secret and its key, and the reason; never the value. */
export function weakSecretMessage(
  field: WebhookSecretField,
  ref: { namespace: string; name: string; key: string },
  reason: string,
): string {
  return `${field} (Secret ${ref.namespace}/${ref.name}, key ${ref.key}) is not acceptable: ${reason}`;
}

/** Key bytes: a `whsec_` prefix means base64 (Standard Webhooks); anything else is used as raw bytes. */
export function signingKeyBytes(key: string): Buffer {
  return key.startsWith(WHSEC) ? Buffer.from(key.slice(WHSEC.length), 'base64') : Buffer.from(key, 'utf8');
}

export function checkSignature(
  headers: { id?: string; timestamp?: string; signature?: string },
  body: Buffer,
  key: string,
  nowSeconds: number,
  toleranceSeconds = 300,
): AuthResult {
  const { id, timestamp, signature } = headers;
  if (!id || !timestamp || !signature) return { ok: false, reason: 'missing webhook-id, webhook-timestamp or webhook-signature' };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'malformed webhook-timestamp' };
  if (Math.abs(nowSeconds - Number(timestamp)) > toleranceSeconds) return { ok: false, reason: 'stale webhook-timestamp' };
  // Callers refuse a weak key before (503, the link's condition); checked here too so no path signs with one.
  if (weakSigningKeyReason(key) !== undefined) return { ok: false, reason: 'signing key not acceptable' };
  const expected = createHmac('sha256', signingKeyBytes(key)).update(`${id}.${timestamp}.`).update(body).digest('base64');
  const candidates = signature
    .split(' ')
    .filter((s) => s.startsWith('v1,'))
    .map((s) => s.slice(3));
  return candidates.some((c) => safeEqual(c, expected)) ? { ok: true } : { ok: false, reason: 'webhook-signature does not match' };
}
