import { randomBytes } from 'node:crypto';
import type { KubeClient } from '../kube/client.js';
import type { KubeObject } from '../meta/object.js';
import { EVENTS } from '../meta/resource.js';
import type { Logger } from './logger.js';

/**
 * Kubernetes Events for notable changes, shown by `kubectl describe`. Events of cluster-scoped objects live in
 * `default`, where kubectl looks for them. Best effort: a failed Event never fails a reconcile.
 */
export class EventRecorder {
  constructor(
    private readonly client: KubeClient,
    private readonly log: Logger,
    private readonly component = 'gitlab-flux-link',
    private readonly instance = process.env.POD_NAME ?? 'local',
  ) {}

  async record(obj: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string, now = new Date()): Promise<void> {
    const namespace = obj.metadata.namespace ?? 'default';
    const ts = now.toISOString();
    const event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${obj.metadata.name}.${randomBytes(8).toString('hex')}`, namespace },
      involvedObject: {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        name: obj.metadata.name,
        namespace: obj.metadata.namespace,
        uid: obj.metadata.uid,
        resourceVersion: obj.metadata.resourceVersion,
      },
      reason,
      message: message.slice(0, 1024),
      type,
      source: { component: this.component },
      reportingComponent: this.component,
      reportingInstance: this.instance,
      firstTimestamp: ts,
      lastTimestamp: ts,
      count: 1,
    };
    try {
      await this.client.create(EVENTS, event as unknown as KubeObject);
    } catch (err) {
      this.log.debug('event not recorded', { reason, error: String(err) });
    }
  }
}
