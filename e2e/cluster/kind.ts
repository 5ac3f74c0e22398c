import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { kubectlFor } from '../testenv/kubectl.js';
import { defaultLogDir } from '../testenv/paths.js';
import { freePort } from '../testenv/ports.js';
import { onExitSync } from '../testenv/processes.js';
import { buildScriptResult } from './build-script.js';
import { DOCKER, docker, imagePusher, lines, tagAndPush } from './docker.js';
import { CONTAINER_PREFIX } from './host-state.js';
import { capabilitiesWithin } from './node-container.js';
import type { ClusterProvider, StartedCluster } from './provider.js';

const run = promisify(execFile);

/**
 * Addresses of a kind cluster, inside the project's test range (10.231.0.0/16) and apart from everything else that
 * can run at the same time: the netns test hosts (10.231.0.0-10.231.3.255), docker0 (10.231.240.0/24) and the
 * node-container provider's Pods (10.231.64.0/20) and Services (10.231.96.0/24). The kind node's Docker network
 * is made by the provider with this subnet (kind's own network "kind" would take an address pool of the engine's
 * choosing, outside the test range).
 */
export const KIND_ADDRESSES = {
  dockerNetwork: '10.231.244.0/24',
  pods: '10.231.128.0/20',
  services: '10.231.144.0/24',
} as const;

/** Labels of what the provider makes besides kind's own node: the owning test process, for orphans. */
const OWNER_LABEL = 'org.gitlab-flux-link.kind-owner-pid';
/** The registry container's address on the host: an orphan's pushed tags name it. */
const REGISTRY_LABEL = 'org.gitlab-flux-link.kind-registry';
/** The registry's port inside its container; the host reaches it at 127.0.0.1:<published port>. */
const REGISTRY_CONTAINER_PORT = 5000;

/**
 * One kind cluster's names, unique per run: the cluster (kind names its node `<cluster>-control-plane`), the
 * registry container and the Docker network. They start with the cluster tier's container prefix so that the
 * tier's host-state check sees them.
 */
export function kindNames(pid: number, now: number): { cluster: string; registry: string; network: string } {
  const cluster = `${CONTAINER_PREFIX}kind-${pid}-${now.toString(36)}`;
  return { cluster, registry: `${cluster}-registry`, network: cluster };
}

/** The owning pid in a name made by kindNames, or undefined for a name it did not make. */
export function ownerPid(name: string): number | undefined {
  const m = name.match(new RegExp(`^${CONTAINER_PREFIX}kind-(\\d+)-[0-9a-z]+(?:-registry|-control-plane)?$`));
  return m ? Number(m[1]) : undefined;
}

/**
 * kind's cluster config (kind.x-k8s.io/v1alpha4, https://kind.sigs.k8s.io/docs/user/configuration/): one
 * control-plane node, the API server published on the host's loopback at a free port kind picks, Pods and
 * Services in KIND_ADDRESSES, and containerd reading registry hosts from /etc/containerd/certs.d (kind's
 * documented local-registry pattern, https://kind.sigs.k8s.io/docs/user/local-registry/).
 */
export function renderKindConfig(opts: { name: string; image?: string }): string {
  return `kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
name: ${opts.name}
networking:
  apiServerAddress: "127.0.0.1"
  apiServerPort: 0
  podSubnet: "${KIND_ADDRESSES.pods}"
  serviceSubnet: "${KIND_ADDRESSES.services}"
containerdConfigPatches:
- |-
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "/etc/containerd/certs.d"
nodes:
- role: control-plane${opts.image ? `\n  image: ${JSON.stringify(opts.image)}` : ''}
`;
}

/** containerd's hosts.toml for the registry name Pods use (127.0.0.1:<port>): plain HTTP to the registry container. */
export function registryHostsToml(registryContainer: string): string {
  return `[host."http://${registryContainer}:${REGISTRY_CONTAINER_PORT}"]\n  capabilities = ["pull", "resolve"]\n`;
}

/** The `local-registry-hosting` ConfigMap (KEP-1755) that tells tools where the cluster's local registry is. */
export function localRegistryHosting(host: string): string {
  return `apiVersion: v1
kind: ConfigMap
metadata:
  name: local-registry-hosting
  namespace: kube-public
data:
  localRegistryHosting.v1: |
    host: "${host}"
    help: "https://kind.sigs.k8s.io/docs/user/local-registry/"
`;
}

/** The registry's configuration (CNCF distribution): storage in the container's tmpfs, HTTP on its port. */
const REGISTRY_CONFIG = `version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: /var/lib/registry
  delete:
    enabled: true
http:
  addr: 0.0.0.0:${REGISTRY_CONTAINER_PORT}
`;

/** Capabilities newer than the ones Docker 20.10 names (linux/capability.h). */
const LATER_CAPABILITIES: Record<number, string> = { 38: 'PERFMON', 39: 'BPF', 40: 'CHECKPOINT_RESTORE' };

/**
 * The capabilities, by name, that a privileged container asks for and a bounding set (CapBnd, hex) lacks: Docker
 * grants a `--privileged` container every capability up to the kernel's last (/proc/sys/kernel/cap_last_cap),
 * and runc refuses to start it when the bounding set it runs under lacks one ("unable to apply caps: operation not
 * permitted"). Empty: a privileged container can start.
 */
export function missingForPrivileged(capBnd: bigint, lastCap: number): string[] {
  const missing: string[] = [];
  for (let bit = 0; bit <= lastCap; bit++) {
    if (((capBnd >> BigInt(bit)) & 1n) === 1n) continue;
    const name = capabilitiesWithin(1n << BigInt(bit))[0] ?? LATER_CAPABILITIES[bit];
    missing.push(name ? `CAP_${name}` : `capability ${bit}`);
  }
  return missing;
}

/** Why the kind provider cannot run on this host, or undefined when it can try (pure: the unit tests read it). */
export function kindRefusal(host: { capBnd: bigint; lastCap: number }): string | undefined {
  const missing = missingForPrivileged(host.capBnd, host.lastCap);
  if (missing.length === 0) return undefined;
  return (
    `the kind provider cannot run on this host: kind starts its node container --privileged (and runs every ` +
    `command in it with \`docker exec --privileged\`; kind has no setting to avoid it), which asks for every ` +
    `capability, and this host's capability bounding set lacks ${missing.join(', ')}: runc refuses the node ` +
    `("unable to apply caps: operation not permitted", measured with kind v0.33.0, docs/adr/0019-test-ground-node.md). ` +
    `Use CLUSTER_PROVIDER=node-container here; the kind provider needs a host whose engine can start privileged ` +
    `containers and that can pull kindest/node (or has it).`
  );
}

function thisHost(): { capBnd: bigint; lastCap: number } {
  const line = fs.readFileSync('/proc/self/status', 'utf8').match(/^CapBnd:\s*([0-9a-f]+)$/m);
  if (!line) throw new Error('no CapBnd line in /proc/self/status');
  return { capBnd: BigInt(`0x${line[1]}`), lastCap: Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim()) };
}

/** One docker command fed `input` on stdin. */
function dockerWithInput(args: string[], input: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(DOCKER, args, (err, _stdout, stderr) =>
      err ? reject(new Error(`docker ${args.join(' ')}: ${stderr.trim() || err.message}`, { cause: err })) : resolve(),
    );
    child.stdin?.end(input);
  });
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

export interface KindOptions {
  /** Progress lines (each step and its seconds); stderr by default. */
  log?: (line: string) => void;
  /** Where kind's exported logs are kept: E2E_LOG_DIR or e2e/logs/<time> by default. */
  logDir?: string;
  /** The host's capability bounding set and last capability: this process's by default (the engine runs here). */
  host?: { capBnd: bigint; lastCap: number };
  /** The node image; KIND_NODE_IMAGE, else kind's own default (kindest/node of its release, pulled when absent). */
  nodeImage?: string;
}

/**
 * Real kind (sigs.k8s.io/kind v0.33.0, built from its Go module by e2e/testenv/build-kind.sh) for hosts whose
 * engine can start privileged containers and that can pull kindest/node: `kind create cluster` with a config this
 * provider writes (renderKindConfig), on a Docker network of its own in the test range, and a local registry —
 * the node set's CNCF distribution binary in a container of its own on that network, published on 127.0.0.1 —
 * wired the way kind documents it (containerd hosts.toml, the local-registry-hosting ConfigMap). The same
 * StartedCluster as the node-container provider. On a host that cannot start a privileged container (this one),
 * start() fails at once naming that cause (kindRefusal; docs/adr/0019-test-ground-node.md).
 */
export class KindProvider implements ClusterProvider {
  readonly name = 'kind' as const;
  private readonly log: (line: string) => void;
  private readonly logDir: string;
  private readonly nodeImage: string | undefined;
  private readonly host: { capBnd: bigint; lastCap: number } | undefined;

  constructor(opts: KindOptions = {}) {
    this.log = opts.log ?? ((line) => process.stderr.write(`[cluster:kind] ${line}\n`));
    this.logDir = opts.logDir ?? defaultLogDir();
    this.nodeImage = opts.nodeImage ?? (process.env.KIND_NODE_IMAGE || undefined);
    this.host = opts.host;
  }

  async start(): Promise<StartedCluster> {
    const refusal = kindRefusal(this.host ?? thisHost());
    if (refusal) throw new Error(refusal);
    const log = this.log;
    const timed = async <T>(step: string, fn: () => Promise<T>): Promise<T> => {
      const t0 = Date.now();
      const result = await fn();
      log(`${step}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      return result;
    };

    await docker(['version', '--format', '{{.Server.Version}}'], 30_000).catch((err: Error) => {
      throw new Error(`no Docker engine answers (${DOCKER}): start one with hack/docker-engine.sh up (make test-cluster does)`, {
        cause: err,
      });
    });
    const kindBin = await timed('kind binary', () => buildScriptResult('e2e/testenv/build-kind.sh'));
    const fastBin = await timed('binaries (fast tier set)', () => buildScriptResult('e2e/testenv/build.sh'));
    const nodeBin = await timed('binaries (node set)', () => buildScriptResult('e2e/testenv/build-node.sh'));
    const images = JSON.parse(await timed('images', () => buildScriptResult('e2e/cluster/images.sh', [nodeBin]))) as Record<
      'busybox',
      string
    >;

    const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gfl-cluster-kind-'));
    const names = kindNames(process.pid, Date.now());
    // kind runs `docker` from PATH: the project's client (e2e/cluster/docker.ts) comes first.
    const shimDir = path.join(tmpDir, 'bin');
    fs.mkdirSync(shimDir);
    if (path.isAbsolute(DOCKER)) fs.symlinkSync(DOCKER, path.join(shimDir, 'docker'));
    const kindEnv = {
      ...process.env,
      PATH: `${shimDir}${path.delimiter}${process.env.PATH ?? ''}`,
      KIND_EXPERIMENTAL_DOCKER_NETWORK: names.network,
      KUBECONFIG: path.join(tmpDir, 'admin.kubeconfig'),
    };
    const kind = async (args: string[], timeoutMs = 600_000): Promise<string> => {
      try {
        return (await run(kindBin, args, { env: kindEnv, maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs })).stdout;
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string; message: string };
        throw new Error(`kind ${args.join(' ')}: ${`${e.stdout ?? ''}${e.stderr ?? ''}`.trim() || e.message}`, { cause: err });
      }
    };
    await removeOrphans(kind, log).catch((err: Error) => {
      fs.rmSync(tmpDir, { recursive: true, force: true });
      throw err;
    });

    const registryPort = await freePort();
    const registry = `127.0.0.1:${registryPort}`;
    const busybox = `${registry}/gfl/busybox:${images.busybox.split(':')[1]}`;
    const kubeconfig = kindEnv.KUBECONFIG;
    const logDir = this.logDir;
    fs.mkdirSync(logDir, { recursive: true });
    log(`logs in ${logDir}`);

    const node = `${names.cluster}-control-plane`;
    /** Tags pushed to the registry (busybox, and the tests' through pushImage()): removed at stop. */
    const pushed = new Set<string>([busybox]);

    let stopped: Promise<void> | undefined;
    const removeAllSync = () => {
      for (const args of [
        [kindBin, 'delete', 'cluster', '--name', names.cluster],
        [DOCKER, 'rm', '-f', '-v', names.registry],
        [DOCKER, 'network', 'rm', names.network],
        [DOCKER, 'rmi', ...pushed],
      ]) {
        try {
          execFileSync(args[0], args.slice(1), { stdio: 'ignore', env: kindEnv });
        } catch {
          // not made yet, or gone
        }
      }
      fs.rmSync(tmpDir, { recursive: true, force: true });
    };
    // The test process exiting without stop() (an uncaught error, SIGINT): the cluster goes with it.
    onExitSync(() => {
      if (!stopped) removeAllSync();
    });
    const logs = async (n = 40): Promise<string> => {
      const script = `for u in containerd kubelet; do echo "----- $u (last ${n} lines)"; journalctl --no-pager -u $u -n ${n}; done`;
      return docker(['exec', node, 'bash', '-c', script]).catch((e: Error) => `(the kind node's logs are unavailable: ${e.message})`);
    };
    const stop = () =>
      (stopped ??= (async () => {
        const t0 = Date.now();
        await kind(['export', 'logs', path.join(logDir, 'kind'), '--name', names.cluster], 120_000).catch((e: Error) =>
          log(`kind's logs could not be kept: ${e.message}`),
        );
        await kind(['delete', 'cluster', '--name', names.cluster]).catch((e: Error) => log(e.message));
        await docker(['rm', '-f', '-v', names.registry]).catch(() => undefined);
        await docker(['network', 'rm', names.network]).catch(() => undefined);
        await docker(['rmi', ...pushed]).catch(() => undefined);
        fs.rmSync(tmpDir, { recursive: true, force: true });
        log(`stop: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      })());

    try {
      await timed('network and registry', async () => {
        await docker([
          'network',
          'create',
          '--driver',
          'bridge',
          '--subnet',
          KIND_ADDRESSES.dockerNetwork,
          '--label',
          `${OWNER_LABEL}=${process.pid}`,
          names.network,
        ]);
        const config = path.join(tmpDir, 'registry.yaml');
        fs.writeFileSync(config, REGISTRY_CONFIG);
        // The node set's registry binary (static) in the busybox image: nothing pulled, nothing built.
        await docker([
          'run',
          '--detach',
          '--name',
          names.registry,
          '--label',
          `${OWNER_LABEL}=${process.pid}`,
          '--label',
          `${REGISTRY_LABEL}=${registry}`,
          '--network',
          names.network,
          '--publish',
          `127.0.0.1:${registryPort}:${REGISTRY_CONTAINER_PORT}`,
          '--tmpfs',
          '/var/lib/registry',
          '--volume',
          `${path.join(nodeBin, 'registry')}:/registry:ro`,
          '--volume',
          `${config}:/etc/registry.yaml:ro`,
          '--entrypoint',
          '/registry',
          images.busybox,
          'serve',
          '/etc/registry.yaml',
        ]);
      });
      const configFile = path.join(tmpDir, 'kind.yaml');
      fs.writeFileSync(configFile, renderKindConfig({ name: names.cluster, image: this.nodeImage }));
      await timed('kind create cluster', () =>
        kind(['create', 'cluster', '--name', names.cluster, '--config', configFile, '--kubeconfig', kubeconfig, '--wait', '240s']),
      );
      fs.chmodSync(kubeconfig, 0o600);
      const kubectl = kubectlFor(path.join(fastBin, 'kubectl'), kubeconfig);

      await timed('registry wired to the node', async () => {
        const dir = `/etc/containerd/certs.d/${registry}`;
        await docker(['exec', node, 'mkdir', '-p', dir]);
        await dockerWithInput(['exec', '-i', node, 'cp', '/dev/stdin', `${dir}/hosts.toml`], registryHostsToml(names.registry));
        await kubectl(['apply', '-f', '-'], localRegistryHosting(registry));
      });
      await timed('images pushed to the registry', async () => {
        await tagAndPush(images.busybox, busybox);
      });
      await timed('node Ready, CoreDNS available', async () => {
        await kubectl(['wait', '--for=condition=Ready', 'nodes', '--all', '--timeout=180s']);
        await kubectl(['-n', 'kube-system', 'rollout', 'status', 'deployment/coredns', '--timeout=180s']);
      });

      const nodeAddress = (
        await docker(['inspect', '-f', `{{(index .NetworkSettings.Networks "${names.network}").IPAddress}}`, node])
      ).trim();
      const pushImage = imagePusher(registry, pushed);
      return {
        kubeconfig,
        kubectl,
        registry: { push: registry, pull: registry },
        images: { busybox },
        nodeAddress,
        nodeContainer: node,
        pushImage,
        logs,
        stop,
      };
    } catch (err) {
      const report = await logs();
      await stop();
      throw new Error(`the kind cluster did not start: ${(err as Error).message}\n${report}`, { cause: err });
    }
  }
}

/** What an earlier run left when its test process died before stopping it (kind clusters, registries, networks). */
async function removeOrphans(kind: (args: string[]) => Promise<string>, log: (line: string) => void): Promise<void> {
  const dead = (name: string) => {
    const pid = ownerPid(name);
    return pid !== undefined && !isAlive(pid);
  };
  for (const cluster of lines(await kind(['get', 'clusters'])).filter(dead)) {
    log(`removing kind cluster ${cluster}, whose test process is gone`);
    await kind(['delete', 'cluster', '--name', cluster]);
  }
  const labelled = `label=${OWNER_LABEL}`;
  const format = `{{.Names}} {{.Label "${REGISTRY_LABEL}"}}`;
  for (const [name, registry] of lines(await docker(['ps', '-a', '--filter', labelled, '--format', format])).map((l) => l.split(' '))) {
    if (!dead(name)) continue;
    log(`removing registry container ${name}, whose test process is gone, and the tags it was pushed`);
    await docker(['rm', '-f', '-v', name]);
    const tags = lines(await docker(['images', '--format', '{{.Repository}}:{{.Tag}}'])).filter(
      (t) => registry && t.startsWith(`${registry}/`),
    );
    if (tags.length) await docker(['rmi', ...tags]);
  }
  for (const name of lines(await docker(['network', 'ls', '--filter', labelled, '--format', '{{.Name}}'])).filter(dead))
    await docker(['network', 'rm', name]);
}
