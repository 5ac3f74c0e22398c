import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Binaries, findBinaries } from './binaries.js';
import { createPki, kubeconfigYaml, type Pki } from './certs.js';
import { kubectlFor } from './kubectl.js';
import { freePort } from './ports.js';
import { getStatus, type TlsClient, waitFor } from './probe.js';
import { type ManagedProcess, onExitSync, startProcess } from './processes.js';
import type { Cluster, ComponentName } from './types.js';

const STOP_GRACE_MS = 3_000;

export interface LocalClusterOptions {
  logDir: string;
  /** Extra flags per component, e.g. raised --kube-api-qps for benchmarks. */
  extraArgs?: Partial<Record<ComponentName, string[]>>;
  /** Start Flux's kustomize-controller too (only the install-by-Flux e2e needs it). */
  kustomizeController?: boolean;
  /** false: a control plane without Flux (no CRDs, no controllers) until `installFlux()` is called. */
  flux?: boolean;
  /**
   * false: no audit log. By default kube-apiserver records, at Metadata level, every request made by a
   * ServiceAccount (the operator's identity) into `<logDir>/kube-apiserver-audit.log`; the least-privilege
   * suite reads it. Benchmarks that make hundreds of thousands of requests may turn it off.
   */
  audit?: boolean;
}

interface Component {
  name: ComponentName;
  start(): Promise<ManagedProcess>;
  proc?: ManagedProcess;
}

/**
 * A real control plane and real Flux controllers as local processes on loopback ports: etcd,
 * kube-apiserver (RBAC, client-certificate admin, service-account issuer and keys so TokenRequest works),
 * kube-controller-manager (garbage collector, namespaces, service accounts and their tokens),
 * source-controller and notification-controller (and kustomize-controller on request).
 */
export async function startLocalCluster(opts: LocalClusterOptions): Promise<Cluster> {
  const bins = findBinaries();
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gfl-testenv-'));
  onExitSync(() => fs.rmSync(workDir, { recursive: true, force: true }));
  fs.mkdirSync(opts.logDir, { recursive: true });
  const pidFile = path.join(opts.logDir, 'pids');
  const pki = createPki(path.join(workDir, 'pki'));
  const tls: TlsClient = { ca: fs.readFileSync(pki.caCert), cert: fs.readFileSync(pki.adminCert), key: fs.readFileSync(pki.adminKey) };

  const ports = {
    etcdClient: await freePort(),
    etcdPeer: await freePort(),
    apiserver: await freePort(),
    kcm: await freePort(),
    scMetrics: await freePort(),
    scHealth: await freePort(),
    scStorage: await freePort(),
    ncMetrics: await freePort(),
    ncHealth: await freePort(),
    ncEvents: await freePort(),
    ncReceiver: await freePort(),
    kcMetrics: await freePort(),
    kcHealth: await freePort(),
  };
  const server = `https://127.0.0.1:${ports.apiserver}`;
  const kubeconfig = path.join(workDir, 'admin.kubeconfig');
  fs.writeFileSync(
    kubeconfig,
    kubeconfigYaml({ server, caCert: pki.caCert, user: 'admin', clientCert: pki.adminCert, clientKey: pki.adminKey }),
    { mode: 0o600 },
  );

  const extra = (name: ComponentName) => opts.extraArgs?.[name] ?? [];
  const spawn = (name: ComponentName, bin: string, args: string[], env?: NodeJS.ProcessEnv) =>
    startProcess({ name, command: bin, args: [...args, ...extra(name)], logDir: opts.logDir, pidFile, env });
  // Flux controllers read the kubeconfig only from $KUBECONFIG (they have no --kubeconfig flag).
  const fluxEnv = { ...process.env, KUBECONFIG: kubeconfig };
  const healthy = (name: string, url: string, proc: ManagedProcess, timeoutMs: number, client: TlsClient = {}) =>
    waitFor(`${name} at ${url}`, async () => (await getStatus(url, client)).status === 200, {
      timeoutMs,
      aborted: () => (proc.child.exitCode !== null ? `exited with code ${proc.child.exitCode}; see ${proc.logFile}` : undefined),
    });

  const audit = opts.audit === false ? undefined : { policy: writeAuditPolicy(workDir), log: path.join(opts.logDir, AUDIT_LOG_FILE) };

  const etcdData = path.join(workDir, 'etcd');
  const storage = path.join(workDir, 'source-storage');
  fs.mkdirSync(storage, { recursive: true });

  const components: Component[] = [
    {
      name: 'etcd',
      async start() {
        const proc = spawn('etcd', bins.path('etcd'), [
          '--name=testenv',
          `--data-dir=${etcdData}`,
          `--listen-client-urls=http://127.0.0.1:${ports.etcdClient}`,
          `--advertise-client-urls=http://127.0.0.1:${ports.etcdClient}`,
          `--listen-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
          `--initial-advertise-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
          `--initial-cluster=testenv=http://127.0.0.1:${ports.etcdPeer}`,
          '--unsafe-no-fsync=true',
          '--log-level=warn',
        ]);
        await healthy('etcd', `http://127.0.0.1:${ports.etcdClient}/health`, proc, 60_000);
        return proc;
      },
    },
    {
      name: 'kube-apiserver',
      async start() {
        const proc = spawn(
          'kube-apiserver',
          bins.path('kube-apiserver'),
          apiserverArgs(pki, ports.apiserver, ports.etcdClient, path.join(workDir, 'apiserver-certs'), audit),
        );
        await healthy('kube-apiserver', `${server}/readyz`, proc, 180_000, tls);
        return proc;
      },
    },
    {
      name: 'kube-controller-manager',
      async start() {
        const proc = spawn('kube-controller-manager', bins.path('kube-controller-manager'), [
          `--kubeconfig=${kubeconfig}`,
          `--authentication-kubeconfig=${kubeconfig}`,
          `--authorization-kubeconfig=${kubeconfig}`,
          '--controllers=garbage-collector-controller,namespace-controller,serviceaccount-controller,serviceaccount-token-controller,endpointslice-mirroring-controller,root-ca-certificate-publisher-controller',
          `--service-account-private-key-file=${pki.saKey}`,
          `--root-ca-file=${pki.caCert}`,
          '--leader-elect=false',
          '--bind-address=127.0.0.1',
          `--secure-port=${ports.kcm}`,
          `--cert-dir=${path.join(workDir, 'kcm-certs')}`,
          '--v=1',
        ]);
        await healthy('kube-controller-manager', `https://127.0.0.1:${ports.kcm}/healthz`, proc, 120_000, { rejectUnauthorized: false });
        return proc;
      },
    },
    {
      name: 'source-controller',
      async start() {
        const proc = spawn(
          'source-controller',
          bins.path('source-controller'),
          [
            `--metrics-addr=127.0.0.1:${ports.scMetrics}`,
            `--health-addr=127.0.0.1:${ports.scHealth}`,
            `--storage-path=${storage}`,
            `--storage-addr=127.0.0.1:${ports.scStorage}`,
            `--storage-adv-addr=127.0.0.1:${ports.scStorage}`,
            `--events-addr=http://127.0.0.1:${ports.ncEvents}/`,
            '--log-encoding=json',
          ],
          fluxEnv,
        );
        await healthy('source-controller', `http://127.0.0.1:${ports.scHealth}/readyz`, proc, 120_000);
        return proc;
      },
    },
    {
      name: 'notification-controller',
      async start() {
        const proc = spawn(
          'notification-controller',
          bins.path('notification-controller'),
          [
            `--metrics-addr=127.0.0.1:${ports.ncMetrics}`,
            `--health-addr=127.0.0.1:${ports.ncHealth}`,
            `--events-addr=127.0.0.1:${ports.ncEvents}`,
            `--receiverAddr=127.0.0.1:${ports.ncReceiver}`,
            '--log-encoding=json',
          ],
          fluxEnv,
        );
        await healthy('notification-controller', `http://127.0.0.1:${ports.ncHealth}/readyz`, proc, 120_000);
        return proc;
      },
    },
  ];
  {
    components.push({
      name: 'kustomize-controller',
      async start() {
        const proc = spawn(
          'kustomize-controller',
          bins.path('kustomize-controller'),
          [
            `--metrics-addr=127.0.0.1:${ports.kcMetrics}`,
            `--health-addr=127.0.0.1:${ports.kcHealth}`,
            `--events-addr=http://127.0.0.1:${ports.ncEvents}/`,
            '--log-encoding=json',
          ],
          fluxEnv,
        );
        await healthy('kustomize-controller', `http://127.0.0.1:${ports.kcHealth}/readyz`, proc, 120_000);
        return proc;
      },
    });
  }

  const byName = new Map(components.map((c) => [c.name, c]));
  const kubectl = kubectlFor(bins.path('kubectl'), kubeconfig);

  const cluster: Cluster = {
    provider: 'local',
    kubeconfig,
    server,
    caCert: pki.caCert,
    logDir: opts.logDir,
    auditLog: audit?.log,
    receiverURL: `http://127.0.0.1:${ports.ncReceiver}`,
    workDir,
    kubectl,
    async stopComponent(name) {
      const c = byName.get(name);
      if (!c) throw new Error(`no component ${name}`);
      await c.proc?.stop(STOP_GRACE_MS);
      c.proc = undefined;
    },
    async startComponent(name) {
      const c = byName.get(name);
      if (!c) throw new Error(`no component ${name}`);
      if (!c.proc) c.proc = await c.start();
    },
    processes: () => components.flatMap((c) => (c.proc ? [c.proc] : [])),
    async installFlux() {
      await installFluxCrds(kubectl, bins);
      await cluster.startComponent('source-controller');
      await cluster.startComponent('notification-controller');
      // kustomize-controller only on request (the install-by-Flux suite starts it itself).
      if (opts.kustomizeController) await cluster.startComponent('kustomize-controller');
    },
    async stop() {
      // Reverse order: controllers first, etcd last, so nothing logs errors about a vanished API server.
      // Their data is disposable: a short grace period, then SIGKILL (kube-apiserver alone would take 10 s+).
      for (const c of [...components].reverse()) {
        const started = Date.now();
        await c.proc?.stop(STOP_GRACE_MS).catch(() => undefined);
        if (Date.now() - started > 2 * STOP_GRACE_MS) process.stderr.write(`[testenv] ${c.name} took ${Date.now() - started} ms to stop\n`);
        c.proc = undefined;
      }
      fs.rmSync(workDir, { recursive: true, force: true });
      fs.rmSync(pidFile, { force: true });
    },
  };

  try {
    for (const name of ['etcd', 'kube-apiserver'] as const) await cluster.startComponent(name);
    await waitFor('namespace default', async () => (await getStatus(`${server}/api/v1/namespaces/default`, tls)).status === 200, {
      timeoutMs: 60_000,
    });
    await cluster.startComponent('kube-controller-manager');
    if (opts.flux !== false) await cluster.installFlux();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

export const AUDIT_LOG_FILE = 'kube-apiserver-audit.log';

/**
 * Metadata (who, verb, resource, name, response code; never a body) for users in group
 * system:serviceaccounts only. The Flux controllers and kube-controller-manager use the admin certificate,
 * so what is left is the operator's identity (and the odd ServiceAccount a test makes): about 3 MB a run.
 * RequestReceived is omitted: ResponseStarted (watches) and ResponseComplete carry everything it has.
 */
export const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    userGroups: ["system:serviceaccounts"]
  - level: None
`;

function writeAuditPolicy(workDir: string): string {
  const file = path.join(workDir, 'audit-policy.yaml');
  fs.writeFileSync(file, AUDIT_POLICY);
  return file;
}

function apiserverArgs(pki: Pki, port: number, etcdPort: number, certDir: string, audit?: { policy: string; log: string }): string[] {
  // The log backend writes through lumberjack, whose "0" means its 100 MB default, not "never rotate": a
  // bound far above any run keeps the whole run in one file. The default (blocking) mode writes each event
  // synchronously, with no buffer that could lose the last requests of a run.
  const auditArgs = audit
    ? [
        `--audit-policy-file=${audit.policy}`,
        `--audit-log-path=${audit.log}`,
        '--audit-log-format=json',
        '--audit-log-maxsize=100000',
        '--audit-log-maxbackup=0',
        '--audit-log-maxage=0',
      ]
    : [];
  return [
    ...auditArgs,
    `--etcd-servers=http://127.0.0.1:${etcdPort}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${port}`,
    `--cert-dir=${certDir}`,
    `--tls-cert-file=${pki.serverCert}`,
    `--tls-private-key-file=${pki.serverKey}`,
    `--client-ca-file=${pki.caCert}`,
    '--authorization-mode=RBAC',
    '--allow-privileged=true',
    '--service-cluster-ip-range=10.0.0.0/24',
    `--service-account-issuer=https://127.0.0.1:${port}`,
    `--service-account-key-file=${pki.saPub}`,
    `--service-account-signing-key-file=${pki.saKey}`,
    // No kubelets here: pods never run, so admission that waits on nodes has nothing to do.
    '--disable-admission-plugins=ServiceAccount',
    '--v=1',
  ];
}

async function installFluxCrds(kubectl: (args: string[]) => Promise<string>, bins: Binaries): Promise<void> {
  const files = fs
    .readdirSync(bins.fluxCrds)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => path.join(bins.fluxCrds, f));
  await kubectl(['apply', '--server-side', ...files.flatMap((f) => ['-f', f])]);
  await kubectl(['wait', '--for=condition=Established', '--timeout=60s', ...files.map((f) => `-f=${f}`)]);
}
