import { createHash } from 'node:crypto';

/**
 * The path notification-controller serves a Receiver on, derived as it derives it (notification-controller
 * api/v1 `Receiver.GetWebhookPath`, set into status by the Receiver reconciler): `/hook/` + hex SHA-256 of the
 * token bytes (the Secret's `token` key, as stored) followed by the Receiver's name and namespace.
 *
 * The operator computes it and sends triggers only there. `status.webhookPath` is not trusted as a URL part:
 * whoever may patch `receivers/status` (Flux's aggregated `edit` role) could otherwise aim the operator's
 * triggers, and a gitlab-type Receiver's token, at any host and port.
 */
export const RECEIVER_WEBHOOK_PATH_PREFIX = '/hook/';

/** The only shape notification-controller writes into status.webhookPath. */
export const RECEIVER_WEBHOOK_PATH = /^\/hook\/[0-9a-f]{64}$/;

export function receiverWebhookPath(token: Uint8Array, name: string, namespace: string): string {
  const digest = createHash('sha256').update(token).update(name, 'utf8').update(namespace, 'utf8').digest('hex');
  return RECEIVER_WEBHOOK_PATH_PREFIX + digest;
}
