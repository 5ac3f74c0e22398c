import type { KubeObject } from '../meta/object.js';
import { SECRETS } from '../meta/resource.js';
import { type KubeClient, KubeError } from './client.js';
import { secretText } from './secret-data.js';

/** Which key of which Secret (a link's `spec.webhook.secretRef` or `signingSecretRef`, defaults applied). */
export interface SecretKeyLocation {
  namespace: string;
  name: string;
  key: string;
}

type Secret = KubeObject & { data?: Record<string, string> };

interface CacheEntry {
  at: number;
  secret: Promise<Secret | undefined>;
  /** When the read failed: a failed read is kept for `errorTtlMs`, so refused webhooks cost no API read each. */
  failedAt?: number;
}

/** How long a value last read may still authenticate webhooks while the API server is away (README, docs/security.md). */
export const DEFAULT_MAX_STALE_MS = 10 * 60_000;
export const DEFAULT_ERROR_TTL_MS = 5_000;

/**
 * Reads keys of the Secrets links name (webhook token, signing key), for the webhook route and for the link
 * controller's judgement of their strength alike (one reader, so both see the same value), with a short cache: a burst of webhooks
 * costs one GET, a steady stream none on its path (entries are refreshed ahead of expiry), and a rotated
 * secret is picked up within `ttlMs`. A failed read is cached too, for `errorTtlMs`: every webhook to a link
 * whose Secret cannot be read would otherwise cost an API read.
 *
 * While the API server is unreachable (a network error or a 5xx/429), the last value read is used for up to
 * `staleMs` after it was read (default 10 minutes): a short outage must not turn GitLab's pushes away, and no
 * newer value can be known until the API server is back. Past that, webhooks are refused (503): a token
 * rotated during a long outage must not stay valid for as long as the outage lasts. Any other error (401/403:
 * the operator lost its access) is "unavailable" (503) at once, never a guess.
 */
export class SecretReader {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly lastRead = new Map<string, { at: number; secret: Secret | undefined }>();
  private readonly refreshing = new Set<string>();
  private readonly rotationListeners: ((namespace: string, name: string) => void)[] = [];

  constructor(
    private readonly client: KubeClient,
    private readonly ttlMs = 10_000,
    private readonly now: () => number = Date.now,
    private readonly staleMs = DEFAULT_MAX_STALE_MS,
    private readonly errorTtlMs = DEFAULT_ERROR_TTL_MS,
  ) {}

  /**
   * Called when a read finds a Secret changed since the previous successful read (another resourceVersion): a
   * rotation. GitLab's hooks that the operator keeps carry the token, so they must be re-keyed at once, not at
   * the hooks' next resync (until then GitLab sends the old token and is refused).
   */
  onRotated(listener: (namespace: string, name: string) => void): void {
    this.rotationListeners.push(listener);
  }

  /**
   * `maxAgeMs` (below the TTL): for this call, a cached value older than that is read again; a webhook whose token
   * does not match asks so, in case the Secret was just rotated (its concurrent callers share the one GET).
   */
  async value(ref: SecretKeyLocation, opts: { maxAgeMs?: number } = {}): Promise<string | undefined> {
    const id = `${ref.namespace}/${ref.name}`;
    let entry = this.cache.get(id);
    const now = this.now();
    const maxAgeMs = Math.min(opts.maxAgeMs ?? this.ttlMs, this.ttlMs);
    if (!entry || (entry.failedAt !== undefined ? now - entry.failedAt > this.errorTtlMs : now - entry.at > maxAgeMs))
      entry = this.read(id, ref);
    else if (entry.failedAt === undefined && now - entry.at > this.ttlMs / 2) this.refreshAhead(id, ref, entry);
    let secret: Secret | undefined;
    try {
      secret = await entry.secret;
      const previous = this.lastRead.get(id);
      if (!previous || previous.at <= entry.at) this.lastRead.set(id, { at: entry.at, secret });
      if (previous && previous.at < entry.at && version(previous.secret) !== version(secret))
        for (const listener of this.rotationListeners) listener(ref.namespace, ref.name);
    } catch (error) {
      const last = this.lastRead.get(id);
      if (!last || !isOutage(error) || this.now() - last.at > this.staleMs) return undefined;
      secret = last.secret;
    }
    return secretText(secret?.data, ref.key);
  }

  private fetch(ref: SecretKeyLocation): CacheEntry {
    return { at: this.now(), secret: this.client.get<Secret>(SECRETS, ref.namespace, ref.name) };
  }

  /** A GET whose promise is cached, not its result: concurrent webhooks on a cold cache share one GET. */
  private read(id: string, ref: SecretKeyLocation): CacheEntry {
    const entry = this.fetch(ref);
    this.cache.set(id, entry);
    entry.secret.catch(() => (entry.failedAt = this.now())); // runs before any caller's await resumes
    return entry;
  }

  /**
   * Past half its TTL, an entry in use is read again in the background and replaced once that read succeeds:
   * a steady stream of webhooks never waits for the API server (that GET was the slowest step of the push
   * path, bench/results), and no webhook is judged by a value older than the TTL. A failed refresh changes
   * nothing: the entry expires at its TTL and the next webhook's own read decides.
   */
  private refreshAhead(id: string, ref: SecretKeyLocation, current: CacheEntry): void {
    if (this.refreshing.has(id)) return;
    this.refreshing.add(id);
    const next = this.fetch(ref);
    next.secret
      .then(
        () => this.cache.get(id) === current && this.cache.set(id, next),
        () => undefined,
      )
      .finally(() => this.refreshing.delete(id));
  }
}

/** What tells one value of a Secret from the next (a deleted Secret has none). */
function version(secret: Secret | undefined): string | undefined {
  return secret && `${secret.metadata.uid ?? ''}/${secret.metadata.resourceVersion ?? ''}`;
}

/** The API server is away (not: it answered that we may not read). */
function isOutage(error: unknown): boolean {
  return !(error instanceof KubeError) || error.status >= 500 || error.status === 429;
}
