import type { GitLabFluxLink } from '../api/v1alpha1/types.js';
import { WorkQueue } from '../queue/work-queue.js';
import { HooksController, type HooksControllerDeps } from './hooks-controller.js';

/** The controller's own dependencies (its clock and retry delay stay its defaults), and how it starts. */
export type HooksSetupDeps = Omit<HooksControllerDeps, 'now' | 'retryMs'> & {
  /** Start paused (leader election): only the leader talks to GitLab. */
  paused: boolean;
};

export interface HooksControllerSetup {
  controller: HooksController;
  queue: WorkQueue;
  /**
   * The link controller's onPass: records the link's projects (when decided) and wakes the link's hooks when
   * that is news (another link object, a spec change, other projects), or when the link is gone or being
   * deleted (its hooks go). Anything else waits for the resync: a pass costs GitLab requests.
   */
  onPass(name: string, link: GitLabFluxLink | undefined, projects: readonly string[] | undefined): void;
  /**
   * A Secret was found rotated: the links whose hooks carry it are woken, so GitLab is re-keyed within a pass
   * (the resync can be minutes away, and meanwhile GitLab's deliveries with the old token are refused).
   */
  secretRotated(namespace: string, name: string, links: readonly GitLabFluxLink[]): void;
  drain(): Promise<void>;
}

/**
 * The hooks controller with its own queue (keys: link names, two workers: a link's pass may wait for its GitLab
 * request budget while another link's goes on). It is woken by the link controller's passes and by its own
 * requeue (the resync that heals hooks edited or deleted by hand).
 */
export function setupHooksController(deps: HooksSetupDeps): HooksControllerSetup {
  const { paused, ...controllerDeps } = deps;
  const controller = new HooksController(controllerDeps);
  deps.metrics.initController('gitlabhooks');
  const queue = new WorkQueue((key) => controller.reconcile(key), {
    workers: 2,
    paused,
    onDepthChange: (d) => deps.metrics.workqueueDepth.set({ name: 'gitlabhooks' }, d),
    onError: (key, error, attempt) =>
      deps.log.warn('hooks reconcile failed, retrying with backoff', {
        link: key,
        attempt,
        error: error instanceof Error ? error.message : String(error),
      }),
  });
  return {
    controller,
    queue,
    onPass(name, link, projects) {
      const uid = link?.metadata.uid;
      const going = !link || link.metadata.deletionTimestamp !== undefined;
      const news = uid !== undefined && projects !== undefined && controller.linked(name, uid, link?.metadata.generation ?? 0, projects);
      if (going || news) queue.add(name);
    },
    secretRotated(namespace, name, links) {
      for (const link of links) if (namesWebhookSecret(link, namespace, name)) queue.add(link.metadata.name);
    },
    drain: () => queue.shutdown(),
  };
}

/** Whether a link keeps GitLab hooks (spec.gitlab.api) that carry this Secret's value (its webhook token or signing key). */
export function namesWebhookSecret(link: GitLabFluxLink, namespace: string, name: string): boolean {
  const spec = link.spec as Partial<GitLabFluxLink['spec']> | undefined;
  if (!spec?.gitlab?.api) return false;
  return [spec.webhook?.secretRef, spec.webhook?.signingSecretRef].some((ref) => ref?.namespace === namespace && ref.name === name);
}
