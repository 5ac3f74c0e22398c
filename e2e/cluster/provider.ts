/**
 * A Kubernetes cluster with a real node (kubelet, container runtime, CNI, kube-proxy, CoreDNS) and a local OCI
 * registry: the cluster tier's ground, where Deployments really run Pods. Two providers implement it:
 * `node-container` (this machine: a kind-like node container built here, started through testcontainers) and
 * `kind` (real kind, e2e/cluster/kind.ts: hosts that can start privileged containers and pull kindest/node; it
 * refuses at once on this one). See docs/adr/0019-test-ground-node.md.
 */
export interface ClusterProvider {
  readonly name: 'node-container' | 'kind';
  start(): Promise<StartedCluster>;
}

export interface StartedCluster {
  /** Absolute path of an admin kubeconfig (server on the host's loopback). */
  kubeconfig: string;
  /** kubectl bound to that kubeconfig; `input` goes to stdin. Resolves with stdout. */
  kubectl(args: string[], input?: string): Promise<string>;
  registry: {
    /** host:port to push to from this machine (`docker push <push>/name:tag`). */
    push: string;
    /** host:port the node pulls from: what a Pod's image names. */
    pull: string;
  };
  /** Images already in the registry, by the name the node pulls them with. */
  images: {
    /** Debian's static busybox; its default command sleeps (the Pods' sandbox); httpd, nslookup, wget. */
    busybox: string;
  };
  /** The node's address on the engine's bridge: this machine reaches NodePorts there. */
  nodeAddress: string;
  /**
   * Tags a local image `<registry.push>/<name>` and pushes it to the node's registry; resolves with the name the
   * node pulls it by. The tag is removed from the engine at stop().
   */
  pushImage(localImage: string, name: string): Promise<string>;
  /** The node's log of every component, for a failed test's report. */
  logs(lines?: number): Promise<string>;
  /**
   * The node's container in the local Docker engine (its ID): a test reaches into the node's namespaces through it
   * (e2e/cluster/host-link.ts moves a link into its network namespace).
   */
  nodeContainer: string;
  /** Stops and removes everything the provider made; idempotent. */
  stop(): Promise<void>;
}
