import type { ManagedProcess } from './processes.js';

export type ComponentName =
  'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'source-controller' | 'notification-controller' | 'kustomize-controller';

/**
 * A cluster with Flux, whoever provides it. `local` builds and runs the real components as processes
 * (the default, no Docker needed); `existing` uses E2E_KUBECONFIG. A container provider (kind or k3s
 * through testcontainers) would be one more implementation of this interface.
 */
export interface Cluster {
  provider: 'local' | 'existing';
  /** Absolute path of an admin kubeconfig. */
  kubeconfig: string;
  server: string;
  caCert?: string;
  /** Base URL of notification-controller's receiver server, as reachable from this process. */
  receiverURL: string;
  logDir: string;
  /**
   * kube-apiserver's audit log (JSON lines, Metadata level, ServiceAccount users only), appended to for the
   * whole life of the cluster. Undefined when the provider cannot give one (an existing cluster).
   */
  auditLog?: string;
  workDir: string;
  kubectl(args: string[], input?: string): Promise<string>;
  /** Stop and start single components (outage tests). Only the local provider can. */
  stopComponent(name: ComponentName): Promise<void>;
  startComponent(name: ComponentName): Promise<void>;
  processes(): ManagedProcess[];
  /** Installs the Flux CRDs and starts the controllers (local provider started with `flux: false`). */
  installFlux(): Promise<void>;
  stop(): Promise<void>;
}
