import { isConflict } from '../kube/client.js';
import type { Metrics } from '../observability/metrics.js';
import type { Outcome } from '../queue/work-queue.js';
import { REQUEUE_MS, requeueAfter } from '../reconcile/outcome.js';

/**
 * One reconcile of a controller, counted as controller-runtime counts it (`controller_runtime_reconcile_*`): a
 * result per reconcile, and every reconcile that ends in a retry — returned or thrown — an error in both series,
 * so errors_total equals reconcile_total{result="error"}. A write conflict (someone wrote the object meanwhile) is
 * not an error: it is looked at again shortly with the newer object.
 */
export async function measuredReconcile(metrics: Metrics, controller: string, run: () => Promise<Outcome>): Promise<Outcome> {
  const started = process.hrtime.bigint();
  try {
    const outcome = await run();
    if (outcome.kind === 'retry') metrics.reconcileErrors.inc({ controller });
    metrics.reconcileTotal.inc({
      controller,
      result: outcome.kind === 'requeueAfter' ? 'requeue_after' : outcome.kind === 'retry' ? 'error' : 'success',
    });
    return outcome;
  } catch (error) {
    if (isConflict(error)) {
      metrics.reconcileTotal.inc({ controller, result: 'requeue' });
      return requeueAfter(REQUEUE_MS.conflict);
    }
    metrics.reconcileErrors.inc({ controller });
    metrics.reconcileTotal.inc({ controller, result: 'error' });
    return { kind: 'retry', error };
  } finally {
    metrics.reconcileSeconds.observe({ controller }, Number(process.hrtime.bigint() - started) / 1e9);
  }
}
