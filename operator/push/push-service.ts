import type { PushRecord, TriggerRecord } from '../api/v1alpha1/types.js';
import type { ValidatedLinkSpec } from '../api/v1alpha1/validation.js';
import type { Receiver, Secret } from '../flux/types.js';
import type { Push } from '../gitlab/webhook-event.js';
import type { KubeClient } from '../kube/client.js';
import type { SecretReader } from '../kube/secret-reader.js';
import type { Informer } from '../kube/informer.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Route } from '../server/http-server.js';
import type { ReceiverIndex, Target } from './receiver-index.js';
import { TriggerClient } from './trigger-client.js';
import { TriggerQueue } from './trigger-queue.js';
import { webhookRoute } from './webhook-handler.js';

/** Where the push path hands the link's status.lastPush and status.lastTrigger (the link's one status writer). */
export interface PushRecords {
  recordPush(link: string, record: PushRecord): void;
  recordTrigger(link: string, record: TriggerRecord): void;
}

/** Wires the push path: webhook route → receiver index → trigger queue → trigger client, with metrics and status. */
export interface PushServiceDeps {
  client: KubeClient;
  index: ReceiverIndex;
  records: PushRecords;
  receivers: Informer<Receiver>;
  secrets: Informer<Secret>;
  log: Logger;
  metrics: Metrics;
  concurrency?: number;
  maxPending?: number;
  /** The links' webhook Secrets (token, signing key): the one reader the link controller judges them with too. */
  webhookSecrets: SecretReader;
  /** Webhook bodies read at once (webhook-handler's DEFAULT_MAX_BODY_READS). */
  maxBodyReads?: number;
  /** Accepted deliveries remembered against replays (webhook-handler's DEFAULT_MAX_DELIVERIES_REMEMBERED). */
  deliveriesRemembered?: number;
  /**
   * A trigger found the Receiver's status.webhookPath rewritten by someone else (`tampered`): whoever owns
   * Receiver writes asks notification-controller to reconcile it, which rewrites the status.
   */
  receiverTampered?: (namespace: string, name: string) => void;
}

export class PushService {
  readonly queue: TriggerQueue;
  readonly route: Route;
  private readonly triggerClient: TriggerClient;
  private readonly secrets: SecretReader;

  constructor(private readonly deps: PushServiceDeps) {
    const { metrics, log } = deps;
    this.queue = new TriggerQueue({
      concurrency: deps.concurrency ?? 16,
      maxPending: deps.maxPending ?? 10_000,
      onDepth: (d) => metrics.triggerQueueDepth.set(d),
    });
    this.triggerClient = new TriggerClient({
      client: deps.client,
      receiver: (ns, n) => deps.receivers.get(ns, n),
      secret: (ns, n) => deps.secrets.get(ns, n),
    });
    const secrets = (this.secrets = deps.webhookSecrets);
    this.route = webhookRoute({
      log,
      linkSpec: (name) => this.spec(name),
      secretValue: (ref, opts) => secrets.value(ref, opts),
      projectAllowed: (link, project) => deps.index.link(link)?.matcher.projects.matches(project) ?? false,
      targets: (link, project) => deps.index.lookup(link, project),
      enqueue: (link, push, target, receivedAt) => this.enqueue(link, push, target, receivedAt),
      observe: (result, seconds) => {
        metrics.webhooksReceived.inc({ result });
        metrics.webhookSeconds.observe(seconds);
      },
      recordPush: (link, push, now) =>
        deps.records.recordPush(link, { project: push.project, ref: push.ref, receivedAt: now.toISOString() }),
      maxBodyReads: deps.maxBodyReads,
      maxDeliveriesRemembered: deps.deliveriesRemembered,
    });
  }

  /**
   * Reads a link's webhook Secrets ahead of its first webhook: if the API server is away later, the value
   * read now still authenticates GitLab's webhooks (SecretReader serves the last value read during outages).
   */
  warmSecrets(linkName: string): void {
    const spec = this.spec(linkName);
    for (const ref of [spec?.webhook.secretRef, spec?.webhook.signingSecretRef]) if (ref) void this.secrets.value(ref);
  }

  /** Validated spec of a link that exists and is not being deleted (suspended ones included: the handler answers them). */
  private spec(name: string): ValidatedLinkSpec | undefined {
    return this.deps.index.link(name)?.matcher.spec;
  }

  /** `fromWebhook`: the dispatch latency histogram is the webhook's (a catch-up has no webhook to time from). */
  private enqueue(linkName: string, push: Push, target: Target, webhookAt: bigint, fromWebhook = true): 'queued' | 'coalesced' | 'dropped' {
    const { metrics, log } = this.deps;
    const received = process.hrtime.bigint();
    // The operator's added latency: webhook in → first Receiver request out (retries are Flux's downtime, not ours).
    const onSend = (attempt: number) => {
      if (attempt === 1 && fromWebhook) metrics.triggerDispatchSeconds.observe(Number(process.hrtime.bigint() - webhookAt) / 1e9);
    };
    const key = `${target.namespace}/${target.receiver}`;
    const body = JSON.stringify({
      object_kind: push.event === 'Tag Push Hook' ? 'tag_push' : 'push',
      project: { path_with_namespace: push.project },
      ref: push.ref,
      after: push.after,
      source: 'gitlab-flux-link',
    });
    const result = this.queue.enqueue({
      key,
      run: async () => {
        const spec = this.spec(linkName);
        if (!spec || spec.suspend) return; // the link went away or was suspended meanwhile
        const outcome = await this.triggerClient.trigger({
          linkName,
          spec,
          namespace: target.namespace,
          receiver: target.receiver,
          event: push.event,
          body,
          onSend,
        });
        metrics.triggers.inc({ result: outcome.result });
        if (outcome.result === 'tampered') this.deps.receiverTampered?.(target.namespace, target.receiver);
        metrics.triggerSeconds.observe(Number(process.hrtime.bigint() - received) / 1e9);
        const gitRepository = `${target.namespace}/${target.gitRepository}`;
        this.deps.records.recordTrigger(linkName, {
          gitRepository,
          result: outcome.result === 'delivered' ? 'delivered' : `${outcome.result}: ${outcome.detail}`,
          at: new Date().toISOString(),
        });
        const fields = {
          link: linkName,
          gitRepository,
          project: target.project,
          result: outcome.result,
          attempts: outcome.attempts,
          detail: outcome.detail,
        };
        if (outcome.result === 'delivered') log.info('receiver triggered', fields);
        else log.warn('receiver not triggered', fields);
      },
    });
    if (result === 'coalesced') metrics.pushesCoalesced.inc();
    if (result === 'dropped') {
      metrics.triggersDropped.inc();
      log.warn('trigger queue full: push dropped (spec.interval will pick it up)', { link: linkName, project: target.project });
    }
    return result;
  }

  /**
   * The catch-up's trigger (push/catch-up.ts): the GitRepository is behind its ref in GitLab, so its Receiver is
   * called exactly as for a webhook (same queue, coalescing, Receiver call, lastTrigger). The body names the project
   * and the GitRepository's ref; `after` is empty (Flux fetches the ref's head itself).
   */
  triggerCatchUp(linkName: string, target: Target, tag: boolean): 'queued' | 'coalesced' | 'dropped' {
    const ref = target.ref?.name ?? (tag ? `refs/tags/${target.ref?.tag ?? ''}` : `refs/heads/${target.ref?.branch || 'master'}`);
    const push: Push = {
      kind: 'push',
      project: target.project,
      ref,
      after: '',
      deleted: false,
      event: tag ? 'Tag Push Hook' : 'Push Hook',
    };
    return this.enqueue(linkName, push, target, process.hrtime.bigint(), false);
  }

  /** Ends when the queued triggers are done (their records are then with the status writer). */
  async close(): Promise<void> {
    await this.queue.close();
  }
}
