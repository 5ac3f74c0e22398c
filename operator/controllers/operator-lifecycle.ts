import framework from '@dot-i/k8s-operator';
import type { GitLabFluxLink } from '../api/v1alpha1/types.js';
import { changeMatters } from '../kube/changes.js';
import type { Informer } from '../kube/informer.js';
import type { Logger } from '../observability/logger.js';

// @dot-i/k8s-operator is CommonJS with `exports.default`; from ESM its class is on `.default`.
const Operator = framework.default;

/** A link event, as the link controller's wiring takes it. */
export type LinkEventHandler = (name: string, deleted: boolean) => void;

/**
 * The framework's Operator, used for its lifecycle (init/start/stop) and its logger: `init()` subscribes the
 * link controller to link events from our own informer, `stop()` unsubscribes. Link events do not come from
 * the framework's `watchResource`: that watch calls process.exit(1) on any watch error — an API server restart
 * included — which would drop every trigger waiting for retry and refuse webhooks until the API server is
 * back (docs/adr/0006-link-events-from-our-informer.md; e2e suite `outage`).
 */
export class OperatorLifecycle extends Operator {
  private subscribed = false;

  constructor(
    private readonly links: Informer<GitLabFluxLink>,
    private readonly onLink: LinkEventHandler,
    log: Logger,
  ) {
    super({ debug: (m) => log.debug(m), info: (m) => log.info(m), warn: (m) => log.warn(m), error: (m) => log.error(m) });
  }

  protected async init(): Promise<void> {
    this.subscribed = true;
    this.links.onChange((type, link, old) => {
      // Status-only changes (our own status writes, most of them) change nothing a reconcile computes.
      if (this.subscribed && changeMatters(type, link, old)) this.onLink(link.metadata.name, type === 'DELETED');
    });
    // Links listed before init (the informer's first sync) are not replayed as events: enqueue them once.
    for (const link of this.links.list()) this.onLink(link.metadata.name, false);
  }

  /**
   * Stops taking link events; the informer itself is stopped with the others after the drain. The framework's
   * own stop() is not called: with a watch open it exits the process with 1 (operator-lifecycle.test.ts).
   */
  override stop(): void {
    this.subscribed = false;
  }
}
