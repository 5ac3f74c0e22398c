/** Condition types and reasons of GitLabFluxLink, Flux style (CamelCase constants, one place). */
export const ConditionType = {
  /** The summary: derived from the others by reconcile/status.ts, never set directly by a controller. */
  Ready: 'Ready',
  Reconciling: 'Reconciling',
  Stalled: 'Stalled',
  /** Owned by the link controller: every managed GitRepository has its Secret and a Ready Receiver. */
  ReceiversReady: 'ReceiversReady',
  /**
   * Owned by the link controller, stated only while False: a webhook Secret the link names holds a value too
   * weak to authenticate anything (every webhook is answered 503 meanwhile). Absent when the values are
   * acceptable or cannot be read (a missing Secret is the webhook's 503 and log).
   */
  WebhookSecretReady: 'WebhookSecretReady',
  /**
   * Owned by the hooks controller, stated only with spec.gitlab.api: every project the link manages has exactly
   * this link's GitLab webhook, as the link describes it, and GitLab has not disabled it.
   */
  HooksReady: 'HooksReady',
} as const;

export const Reason = {
  /** Every managed GitRepository has a Ready Receiver. */
  Succeeded: 'Succeeded',
  /** Objects written; waiting for notification-controller to make Receivers Ready. */
  Progressing: 'Progressing',
  /** A write failed; retrying with backoff. */
  ProgressingWithRetry: 'ProgressingWithRetry',
  ReconciliationFailed: 'ReconciliationFailed',
  /** The spec is invalid: nothing is created until it changes. */
  InvalidSpec: 'InvalidSpec',
  /** Flux's CRDs (GitRepository, Receiver) are not installed; re-checked periodically. */
  FluxNotInstalled: 'FluxNotInstalled',
  /** A webhook token under 16 characters, or a signing key under 16 bytes or not canonical base64. */
  WeakWebhookSecret: 'WeakWebhookSecret',
  /** spec.gitlab.api without spec.webhook.url: no webhooks are registered (outbound-only). */
  OutboundOnly: 'OutboundOnly',
  /** The GitLab API token (or CA) Secret or its key is missing, or a webhook Secret the hooks need. */
  GitLabSecretNotFound: 'GitLabSecretNotFound',
  /** GitLab refused the token (401). */
  GitLabUnauthorized: 'GitLabUnauthorized',
  /** A hook could not be listed, registered, repaired or removed (a project named, with GitLab's status). */
  HookRegistrationFailed: 'HookRegistrationFailed',
  /** GitLab disabled this link's hook on some project (alert_status); test deliveries re-enable it. */
  HooksDisabled: 'HooksDisabled',
} as const;

export type ReasonValue = (typeof Reason)[keyof typeof Reason];
