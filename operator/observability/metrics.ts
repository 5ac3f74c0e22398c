import client from 'prom-client';

/**
 * Prometheus metrics. Names follow controller-runtime's where the meaning is the same
 * (controller_runtime_reconcile_total, workqueue_depth, rest_client_requests_total), so existing dashboards fit.
 */
export class Metrics {
  readonly registry = new client.Registry();
  readonly reconcileTotal = new client.Counter({
    name: 'controller_runtime_reconcile_total',
    help: 'Reconciliations per controller and result.',
    labelNames: ['controller', 'result'],
    registers: [this.registry],
  });
  readonly reconcileErrors = new client.Counter({
    name: 'controller_runtime_reconcile_errors_total',
    help: 'Reconciliations that ended in an error.',
    labelNames: ['controller'],
    registers: [this.registry],
  });
  readonly reconcileSeconds = new client.Histogram({
    name: 'controller_runtime_reconcile_time_seconds',
    help: 'Time per reconciliation.',
    labelNames: ['controller'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly workqueueDepth = new client.Gauge({
    name: 'workqueue_depth',
    help: 'Keys waiting in a work queue.',
    labelNames: ['name'],
    registers: [this.registry],
  });
  // client-go's name, so existing leader-election alerts fit.
  readonly leader = new client.Gauge({
    name: 'leader_election_master_status',
    help: '1 while this replica holds the leader Lease (it alone reconciles).',
    labelNames: ['name'],
    registers: [this.registry],
  });
  readonly restRequests = new client.Counter({
    name: 'rest_client_requests_total',
    help: 'Requests to the Kubernetes API by verb, resource and status code.',
    labelNames: ['verb', 'resource', 'code'],
    registers: [this.registry],
  });
  readonly managedRepositories = new client.Gauge({
    name: 'fluxlink_linked_repositories',
    help: 'GitRepositories managed per link.',
    labelNames: ['link'],
    registers: [this.registry],
  });
  readonly readyReceivers = new client.Gauge({
    name: 'fluxlink_ready_receivers',
    help: 'Ready Receivers per link.',
    labelNames: ['link'],
    registers: [this.registry],
  });
  readonly objectWrites = new client.Counter({
    name: 'fluxlink_object_writes_total',
    help: 'Writes of Receivers and Secrets by verb and kind.',
    labelNames: ['verb', 'kind'],
    registers: [this.registry],
  });

  readonly webhooksReceived = new client.Counter({
    name: 'fluxlink_webhooks_received_total',
    help: 'GitLab webhooks received, by result (accepted, ignored, unauthorized, malformed, too_large, unknown_link, ...).',
    labelNames: ['result'],
    registers: [this.registry],
  });
  // The operator's own answer time (request at the webhook route → answer written), so a slow answer seen by a
  // client can be told apart from time spent before node even read the request (a CPU-starved node).
  readonly webhookSeconds = new client.Histogram({
    name: 'fluxlink_webhook_duration_seconds',
    help: 'From a webhook request reaching the webhook route to its answer being written.',
    buckets: [0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly triggers = new client.Counter({
    name: 'fluxlink_triggers_total',
    help: 'Receiver calls by result (delivered, failed, refused, not-ready, tampered).',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly triggerSeconds = new client.Histogram({
    name: 'fluxlink_trigger_duration_seconds',
    help: 'From webhook received to the Receiver answering, including queueing and retries.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });
  // The operator's own share of push latency (what the benchmarks compare with a hand-made Receiver): from the
  // webhook request arriving to the first request to a Receiver for it being sent. Queueing behind other
  // triggers counts; retries do not. 0.005 is a bucket bound so "p99 <= 5 ms" can be read exactly.
  readonly triggerDispatchSeconds = new client.Histogram({
    name: 'fluxlink_trigger_dispatch_seconds',
    help: "From a webhook arriving to the first Receiver request for it being sent (the operator's added latency).",
    buckets: [0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly triggerQueueDepth = new client.Gauge({
    name: 'fluxlink_trigger_queue_depth',
    help: 'Receivers waiting for a trigger.',
    registers: [this.registry],
  });
  readonly pushesCoalesced = new client.Counter({
    name: 'fluxlink_pushes_coalesced_total',
    help: 'Pushes folded into a trigger already waiting for the same Receiver.',
    registers: [this.registry],
  });
  readonly triggersDropped = new client.Counter({
    name: 'fluxlink_triggers_dropped_total',
    help: 'Triggers dropped because the trigger queue was full (spec.interval picks those commits up).',
    registers: [this.registry],
  });

  readonly gitlabApiRequests = new client.Counter({
    name: 'fluxlink_gitlab_api_requests_total',
    help: 'Requests to the GitLab REST API by endpoint (template, e.g. GET /projects/:id/hooks) and status code ("error": no answer).',
    labelNames: ['endpoint', 'code'],
    registers: [this.registry],
  });
  readonly catchUpTriggers = new client.Counter({
    name: 'fluxlink_catchup_triggers_total',
    help: 'GitRepositories the catch-up triggered (behind their ref in GitLab), by why the catch-up ran (start, leader, hook-trouble, secret-rotated, api-recovered, sweep).',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly catchUpRuns = new client.Counter({
    name: 'fluxlink_catchup_runs_total',
    help: 'Catch-ups of a link by reason and result (ok, error: some GitLab request or the token failed).',
    labelNames: ['reason', 'result'],
    registers: [this.registry],
  });
  readonly gitlabHooks = new client.Gauge({
    name: 'fluxlink_gitlab_hooks',
    help: "This link's GitLab project webhooks by state (active, failing, temporarily_disabled, disabled, error), as last seen.",
    labelNames: ['link', 'state'],
    registers: [this.registry],
  });

  constructor() {
    client.collectDefaultMetrics({ register: this.registry });
  }

  /**
   * What controller-runtime does when a controller starts: every reconcile series exists at 0 and the queue
   * depth at 0, so `rate(controller_runtime_reconcile_errors_total[5m])` and alerts on it work before the
   * first error (a labelled prom-client counter has no sample until it is incremented).
   */
  initController(name: string): void {
    this.reconcileErrors.inc({ controller: name }, 0);
    for (const result of ['success', 'error', 'requeue', 'requeue_after']) this.reconcileTotal.inc({ controller: name, result }, 0);
    this.workqueueDepth.set({ name }, 0);
  }

  observeRequest = (verb: string, resource: string, status: number): void => {
    this.restRequests.inc({ verb, resource, code: String(status) });
  };
}
