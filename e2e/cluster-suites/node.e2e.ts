import { expect } from 'chai';

import { hostState, hostStateDiff, type HostState } from '../cluster/host-state.js';
import { writeFailureReport } from '../cluster/failure-report.js';
import { clusterProvider, type StartedCluster } from '../cluster/index.js';

/**
 * The cluster tier's smoke test: a real node (kubelet, containerd, CNI, kube-proxy, CoreDNS) in a container
 * started through testcontainers runs a Deployment whose image comes from the node's local registry; a Pod
 * reaches its Service by DNS name; and stopping the node leaves the host as it found it.
 */
describe('cluster tier: a real node in a container', function () {
  const ns = 'smoke';
  let hostBefore: HostState;
  let cluster: StartedCluster | undefined;

  before(async function () {
    this.timeout(3_600_000); // a cold machine builds the node set and the node image first
    hostBefore = await hostState();
    cluster = await clusterProvider().start();
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && cluster) await writeFailureReport(cluster, 40);
  });

  after(async function () {
    this.timeout(120_000);
    await cluster?.stop();
  });

  const kubectl = (args: string[], input?: string) => {
    if (!cluster) throw new Error('the cluster did not start');
    return cluster.kubectl(args, input);
  };

  it('runs a Deployment of 2 replicas whose image comes from the local registry', async function () {
    this.timeout(300_000);
    const image = cluster!.images.busybox;
    expect(image.startsWith(`${cluster!.registry.pull}/`), image).to.equal(true);
    await kubectl(['create', 'namespace', ns]);
    await kubectl(
      ['apply', '-f', '-'],
      `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ${ns}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: ${image}
        command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
        ports: [{containerPort: 8080}]
        readinessProbe:
          httpGet: {path: /index.html, port: 8080}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: ${ns}}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`,
    );
    await kubectl(['-n', ns, 'rollout', 'status', 'deployment/web', '--timeout=240s']);
    const deployment = JSON.parse(await kubectl(['-n', ns, 'get', 'deployment', 'web', '-o', 'json'])) as {
      status: { readyReplicas?: number };
    };
    expect(deployment.status.readyReplicas).to.equal(2);
    const pods = JSON.parse(await kubectl(['-n', ns, 'get', 'pods', '-l', 'app=web', '-o', 'json'])) as {
      items: { status: { podIP: string; containerStatuses: { ready: boolean; imageID: string }[] } }[];
    };
    expect(pods.items).to.have.length(2);
    for (const pod of pods.items) {
      expect(pod.status.containerStatuses[0].ready).to.equal(true);
      // The digest the node pulled, as the registry named it.
      expect(pod.status.containerStatuses[0].imageID).to.match(
        new RegExp(`^${cluster!.registry.pull.replace(/\./g, '\\.')}/gfl/busybox@sha256:[0-9a-f]{64}$`),
      );
      expect(pod.status.podIP).to.match(/^10\.231\.64\.\d+$/);
    }
  });

  it('reaches the Service from another Pod by its DNS name (CoreDNS) and ClusterIP (kube-proxy)', async function () {
    this.timeout(240_000);
    await kubectl(['-n', ns, 'run', 'client', `--image=${cluster!.images.busybox}`, '--restart=Never', '--command', '--', 'sleep', '3600']);
    await kubectl(['-n', ns, 'wait', '--for=condition=Ready', 'pod/client', '--timeout=120s']);
    const clusterIP = (await kubectl(['-n', ns, 'get', 'service', 'web', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    expect(clusterIP).to.match(/^10\.231\.96\.\d+$/);
    const name = `web.${ns}.svc.cluster.local`;

    const lookup = await kubectl(['-n', ns, 'exec', 'client', '--', 'nslookup', name]);
    expect(lookup).to.include(clusterIP);

    const podNames = (await kubectl(['-n', ns, 'get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[*].metadata.name}']))
      .trim()
      .split(' ');
    const answered = new Set<string>();
    for (let i = 0; i < 20; i++) {
      // (busybox 1.35's `wget -T` crashes: the timeout applet bounds it instead)
      const body = await kubectl(['-n', ns, 'exec', 'client', '--', 'timeout', '10', 'wget', '-q', '-O', '-', `http://${name}/index.html`]);
      answered.add(body.trim());
    }
    // Every answer is from a replica behind the Service (each serves its own name).
    for (const who of answered) expect(podNames).to.include(who);
  });

  it('leaves the host as it found it once stopped (containers, mounts, namespaces, links, firewall, sysctls, cgroups, temporary files)', async function () {
    this.timeout(180_000);
    expect(cluster, 'the cluster did not start').to.not.equal(undefined);
    await cluster!.stop();
    const diff = hostStateDiff(hostBefore, await hostState());
    expect(diff, diff.join('\n')).to.deep.equal([]);
  });
});
