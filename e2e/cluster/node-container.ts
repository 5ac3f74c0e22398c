import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { kubectlFor } from '../testenv/kubectl.js';
import { defaultLogDir } from '../testenv/paths.js';
import { freePort } from '../testenv/ports.js';
import { onExitSync } from '../testenv/processes.js';
import { corednsManifests } from './coredns.js';
import { buildScriptResult } from './build-script.js';
import { DOCKER, docker, imagePusher, lines, tagAndPush } from './docker.js';
import { CONTAINER_PREFIX } from './host-state.js';
import type { ClusterProvider, StartedCluster } from './provider.js';

const NODE_NAME = 'gfl-node';
const OWNER_LABEL = 'org.gitlab-flux-link.cluster-owner-pid';
/** The node registry's address: an orphan's pushed tags name it. */
const REGISTRY_LABEL = 'org.gitlab-flux-link.cluster-registry';
/** Where the node's own files live in its container (e2e/cluster/node-image/entrypoint.sh). */
const NODE_BIN = '/opt/gfl/bin';
const NODE_PKI = '/etc/gfl/pki';

/** From the fast tier's set (e2e/testenv/build.sh) and the node set (e2e/testenv/build-node.sh). */
const CONTROL_PLANE_BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager'];
const NODE_BINARIES = ['kubelet', 'kube-proxy', 'kube-scheduler', 'registry'];

export interface NodeContainerOptions {
  /** Progress lines (each step and its seconds); stderr by default. */
  log?: (line: string) => void;
  /** Where the node's output and its components' logs are kept: E2E_LOG_DIR or e2e/logs/<time> by default. */
  logDir?: string;
}

/** Linux capabilities by bit number, as Docker names them (0..37: the ones Docker 20.10 knows). */
const CAPABILITIES = [
  'CHOWN',
  'DAC_OVERRIDE',
  'DAC_READ_SEARCH',
  'FOWNER',
  'FSETID',
  'KILL',
  'SETGID',
  'SETUID',
  'SETPCAP',
  'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE',
  'NET_BROADCAST',
  'NET_ADMIN',
  'NET_RAW',
  'IPC_LOCK',
  'IPC_OWNER',
  'SYS_MODULE',
  'SYS_RAWIO',
  'SYS_CHROOT',
  'SYS_PTRACE',
  'SYS_PACCT',
  'SYS_ADMIN',
  'SYS_BOOT',
  'SYS_NICE',
  'SYS_RESOURCE',
  'SYS_TIME',
  'SYS_TTY_CONFIG',
  'MKNOD',
  'LEASE',
  'AUDIT_WRITE',
  'AUDIT_CONTROL',
  'SETFCAP',
  'MAC_OVERRIDE',
  'MAC_ADMIN',
  'SYSLOG',
  'WAKE_ALARM',
  'BLOCK_SUSPEND',
  'AUDIT_READ',
];

/** The capabilities of a bounding set (CapBnd of /proc/<pid>/status, hex) that Docker can grant, by name. */
export function capabilitiesWithin(capBnd: bigint): string[] {
  return CAPABILITIES.filter((_, bit) => ((capBnd >> BigInt(bit)) & 1n) === 1n);
}

/** This process's bounding set: the engine's, on a host where both run as root without a capability dropped. */
function boundingSet(): bigint {
  const line = fs.readFileSync('/proc/self/status', 'utf8').match(/^CapBnd:\s*([0-9a-f]+)$/m);
  if (!line) throw new Error('no CapBnd line in /proc/self/status');
  return BigInt(`0x${line[1]}`);
}

/** Containers of an earlier run whose test process died before stopping them (no Ryuk here to reap them). */
async function removeOrphans(log: (line: string) => void): Promise<void> {
  const format = `{{.ID}} {{.Label "${OWNER_LABEL}"}} {{.Label "${REGISTRY_LABEL}"}}`;
  const out = await docker(['ps', '-a', '--filter', `label=${OWNER_LABEL}`, '--format', format]);
  for (const [id, pid, registry] of lines(out).map((l) => l.split(' '))) {
    let alive = false;
    try {
      process.kill(Number(pid), 0);
      alive = true;
    } catch {
      // no such process: the container is an orphan
    }
    if (!alive) {
      log(`removing node container ${id} of process ${pid}, which is gone, and the tags it was pushed`);
      await docker(['rm', '-f', '-v', id]);
      const tags = lines(await docker(['images', '--format', '{{.Repository}}:{{.Tag}}'])).filter(
        (t) => registry && t.startsWith(`${registry}/`),
      );
      if (tags.length) await docker(['rmi', ...tags]);
    }
  }
}

/**
 * A single-node cluster whose node is a container started through testcontainers, the way kind works (not
 * privileged, see beforeContainerCreated): the node image (e2e/cluster/images.sh, Debian's containerd, runc and CNI plugins) runs etcd,
 * kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy and the local OCI registry;
 * CoreDNS is applied as a Deployment. The API server and the registry are published on the host's loopback only.
 * Everything the node makes lives in the container's own namespaces, cgroup and tmpfs mounts: `stop()` removes
 * the container, its anonymous volumes and the image tags pushed to its registry, and the host is as it was.
 */
export class NodeContainerProvider implements ClusterProvider {
  readonly name = 'node-container' as const;
  private readonly log: (line: string) => void;
  private readonly logDir: string;

  constructor(opts: NodeContainerOptions = {}) {
    this.log = opts.log ?? ((line) => process.stderr.write(`[cluster] ${line}\n`));
    this.logDir = opts.logDir ?? defaultLogDir();
  }

  async start(): Promise<StartedCluster> {
    const log = this.log;
    const timed = async <T>(step: string, fn: () => Promise<T>): Promise<T> => {
      const t0 = Date.now();
      const result = await fn();
      log(`${step}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      return result;
    };
    // Ryuk (testcontainers' reaper) is an image pulled from a registry, which this machine cannot reach: the
    // provider removes its own container in stop(), and orphans of a killed run at the next start.
    process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
    const { GenericContainer, Wait } = await import('testcontainers');

    await docker(['version', '--format', '{{.Server.Version}}'], 30_000).catch((err: Error) => {
      throw new Error(`no Docker engine answers (${DOCKER}): start one with hack/docker-engine.sh up (make test-cluster does)`, {
        cause: err,
      });
    });
    await removeOrphans(log);
    const fastBin = await timed('binaries (fast tier set)', () => buildScriptResult('e2e/testenv/build.sh'));
    const nodeBin = await timed('binaries (node set)', () => buildScriptResult('e2e/testenv/build-node.sh'));
    const images = JSON.parse(await timed('images', () => buildScriptResult('e2e/cluster/images.sh', [nodeBin]))) as Record<
      'node' | 'busybox' | 'coredns',
      string
    >;

    const registryPort = await freePort();
    const registry = `127.0.0.1:${registryPort}`;
    const pushed = {
      busybox: `${registry}/gfl/busybox:${images.busybox.split(':')[1]}`,
      coredns: `${registry}/gfl/coredns:${images.coredns.split(':')[1]}`,
    };
    /** Tags pushed through pushImage(): removed with the provider's own. */
    const pushedByTests = new Set<string>();
    const allPushed = () => [...Object.values(pushed), ...pushedByTests];
    const binds = [
      ...CONTROL_PLANE_BINARIES.map((b) => ({
        source: fs.realpathSync(path.join(fastBin, b)),
        target: `${NODE_BIN}/${b}`,
        mode: 'ro' as const,
      })),
      ...NODE_BINARIES.map((b) => ({ source: path.join(nodeBin, b), target: `${NODE_BIN}/${b}`, mode: 'ro' as const })),
    ];

    let containerId: string | undefined;
    class NodeContainer extends GenericContainer {
      protected override async beforeContainerCreated(): Promise<void> {
        // Published on the host's loopback only (testcontainers binds every address by default).
        for (const bindings of Object.values(this.hostConfig.PortBindings ?? {}) as { HostIp?: string }[][]) {
          for (const b of bindings) b.HostIp = '127.0.0.1';
        }
        // Not privileged: a privileged container asks for every capability, and runc refuses it where the host's
        // bounding set lacks one (CAP_SYS_RESOURCE here). Every capability the host has, no seccomp or AppArmor
        // profile, /proc unmasked, every device allowed and /dev/kmsg (kubelet's OOM watcher); the entrypoint makes
        // /sys and the cgroup hierarchies writable.
        this.hostConfig.CapAdd = capabilitiesWithin(boundingSet());
        this.hostConfig.SecurityOpt = ['seccomp=unconfined', 'apparmor=unconfined'];
        this.hostConfig.Devices = [{ PathOnHost: '/dev/kmsg', PathInContainer: '/dev/kmsg', CgroupPermissions: 'rwm' }];
        // A cgroup namespace of its own: kubelet's cgroups (cgroupRoot /kubelet) are made under the container's
        // cgroup, which the engine removes with the container, never at the host's cgroup root.
        // (CgroupnsMode and DeviceCgroupRules are Docker API 1.41; dockerode's HostConfig type does not name them.)
        // Empty MaskedPaths and ReadonlyPaths are the API's form of the CLI's `--security-opt systempaths=unconfined`.
        Object.assign(this.hostConfig, { CgroupnsMode: 'private', DeviceCgroupRules: ['a *:* rwm'], MaskedPaths: [], ReadonlyPaths: [] });
        return Promise.resolve();
      }
      protected override async containerCreated(id: string): Promise<void> {
        containerId = id;
        // Node exiting without stop() (an uncaught error, SIGINT): the container goes with it.
        onExitSync(() => {
          if (stopped) return;
          fs.rmSync(tmpDir, { recursive: true, force: true });
          execFileSync(DOCKER, ['rm', '-f', '-v', id], { stdio: 'ignore' });
          for (const tag of allPushed()) {
            try {
              execFileSync(DOCKER, ['rmi', tag], { stdio: 'ignore' });
            } catch {
              // not pushed yet
            }
          }
        });
        return Promise.resolve();
      }
    }

    const logDir = this.logDir;
    fs.mkdirSync(logDir, { recursive: true });
    log(`logs in ${logDir}`);
    const tmpfs = 'rw,exec,nosuid,mode=755';
    let started: Awaited<ReturnType<NodeContainer['start']>> | undefined;
    const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gfl-cluster-'));
    let stopped: Promise<void> | undefined;
    const stop = () =>
      (stopped ??= (async () => {
        const t0 = Date.now();
        if (started) {
          await saveLogs().catch((e: Error) => log(`the node's logs could not be kept: ${e.message}`));
          await started.stop({ timeout: 30_000, remove: true, removeVolumes: true });
        } else if (containerId) await docker(['rm', '-f', '-v', containerId]).catch(() => undefined);
        for (const tag of allPushed()) await docker(['rmi', tag]).catch(() => undefined);
        fs.rmSync(tmpDir, { recursive: true, force: true });
        log(`stop: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      })());
    // The components' logs are on the node's tmpfs: copied out before it goes.
    const saveLogs = async () => {
      const names = lines((await started!.exec(['ls', '/var/log/gfl'])).stdout);
      for (const name of names)
        fs.writeFileSync(path.join(logDir, `node-${name}`), (await started!.exec(['cat', `/var/log/gfl/${name}`])).stdout);
    };
    const logs = async (n = 40): Promise<string> => {
      if (!started) return '(the node container did not start)';
      const script = `for f in /var/log/gfl/*.log; do echo "----- $f (last ${n} lines)"; tail -n ${n} "$f"; done`;
      return (await started.exec(['bash', '-c', script])).output;
    };

    try {
      started = await timed('node container up (control plane ready, kubelet started)', () =>
        new NodeContainer(images.node)
          .withName(`${CONTAINER_PREFIX}node-${process.pid}-${Date.now().toString(36)}`)
          .withHostname(NODE_NAME)
          .withLabels({ [OWNER_LABEL]: String(process.pid), [REGISTRY_LABEL]: registry })
          .withEnvironment({
            GFL_REGISTRY_PORT: String(registryPort),
            GFL_SANDBOX_IMAGE: pushed.busybox.slice(registry.length + 1),
            GFL_NODE_NAME: NODE_NAME,
          })
          // The node's state in memory: containerd's overlayfs snapshots need a non-overlay filesystem, and a tmpfs
          // goes with the container.
          .withTmpFs({
            '/run': tmpfs,
            '/tmp': tmpfs,
            '/var/lib/containerd': tmpfs,
            '/var/lib/kubelet': tmpfs,
            '/var/lib/etcd': tmpfs,
            '/var/lib/registry': tmpfs,
            '/var/log': tmpfs,
          })
          .withBindMounts(binds)
          .withExposedPorts(6443, { container: registryPort, host: registryPort })
          .withLogConsumer((stream) => stream.pipe(fs.createWriteStream(path.join(logDir, 'node.log'))))
          .withWaitStrategy(Wait.forLogMessage(/all components started/))
          .withStartupTimeout(240_000)
          .start(),
      );
      const node = started;

      await timed('images pushed to the node registry', async () => {
        for (const [name, tag] of Object.entries(pushed)) {
          await tagAndPush(images[name as keyof typeof pushed], tag);
        }
      });

      const read = async (file: string) => Buffer.from((await node.exec(['cat', `${NODE_PKI}/${file}`])).stdout).toString('base64');
      const kubeconfig = path.join(tmpDir, 'admin.kubeconfig');
      fs.writeFileSync(
        kubeconfig,
        `apiVersion: v1
kind: Config
clusters:
- name: gfl-node
  cluster: {server: "https://127.0.0.1:${node.getMappedPort(6443)}", certificate-authority-data: ${await read('ca.crt')}}
users:
- name: gfl-admin
  user: {client-certificate-data: ${await read('admin.crt')}, client-key-data: ${await read('admin.key')}}
contexts:
- name: gfl-node
  context: {cluster: gfl-node, user: gfl-admin}
current-context: gfl-node
`,
        { mode: 0o600 },
      );
      const kubectl = kubectlFor(path.join(fastBin, 'kubectl'), kubeconfig);

      await timed('node Ready', async () => {
        // The Node object appears once kubelet has registered.
        for (let i = 0; i < 240 && !(await kubectl(['get', 'nodes', '-o', 'name']).catch(() => '')).includes(NODE_NAME); i++) {
          await new Promise((r) => setTimeout(r, 500));
        }
        await kubectl(['wait', '--for=condition=Ready', `node/${NODE_NAME}`, '--timeout=180s']);
      });
      await timed('CoreDNS available', async () => {
        await kubectl(['apply', '-f', '-'], corednsManifests(pushed.coredns));
        await kubectl(['-n', 'kube-system', 'rollout', 'status', 'deployment/coredns', '--timeout=180s']);
      });

      const nodeAddress = (await docker(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}', node.getId()]))
        .trim()
        .split(' ')[0];
      const pushImage = imagePusher(registry, pushedByTests);
      return {
        kubeconfig,
        kubectl,
        registry: { push: registry, pull: registry },
        images: { busybox: pushed.busybox },
        nodeAddress,
        pushImage,
        nodeContainer: node.getId(),
        logs,
        stop,
      };
    } catch (err) {
      const report = await logs().catch((e: Error) => `(logs unavailable: ${e.message})`);
      await stop();
      throw new Error(`the node cluster did not start: ${(err as Error).message}\n${report}`, { cause: err });
    }
  }
}
