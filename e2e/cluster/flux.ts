import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { repoRoot } from '../testenv/paths.js';
import { onExitSync } from '../testenv/processes.js';
import { buildScriptResult } from './build-script.js';
import type { StartedCluster } from './provider.js';

const run = promisify(execFile);

export const FLUX_NAMESPACE = 'flux-system';
/** The controllers this project needs, each a wrapper module of the fast tier (e2e/testenv/tools/<name>). */
export const FLUX_CONTROLLERS = ['source-controller', 'notification-controller', 'kustomize-controller'] as const;
export type FluxController = (typeof FLUX_CONTROLLERS)[number];
/**
 * The folders of each controller's `config/` that Flux's own release manifests are made of (its
 * `<name>.crds.yaml` and `<name>.deployment.yaml`): config/default adds only a Namespace of its own
 * (source-system, ...) and, for kustomize-controller, remote URLs of source-controller's release.
 */
const CONFIG_PARTS = ['crd', 'rbac', 'manager'];

export interface InstalledFlux {
  namespace: typeof FLUX_NAMESPACE;
  /** Each controller's image as its Pod names it (`<registry.pull>/gfl/<controller>:<hash>`). */
  images: Record<FluxController, string>;
  /** The controllers' Go module versions, as e2e/testenv/tools pins them (and the manifests come from). */
  versions: Record<FluxController, string>;
  /** Image sizes in bytes, as the local engine reports them. */
  imageSizes: Record<FluxController, number>;
  /** Seconds from the apply to every Deployment Available (image builds and pushes not counted). */
  installSeconds: number;
  /** `kubectl delete -k <the same kustomization> --wait`; then the folder is removed. */
  uninstall(): Promise<void>;
}

/** The folder of a controller's Go module in the module cache, at the version its wrapper pins. */
async function moduleDir(controller: FluxController): Promise<{ dir: string; version: string }> {
  const { stdout } = await run('go', ['list', '-m', '-f', '{{.Dir}} {{.Version}}', `github.com/fluxcd/${controller}`], {
    cwd: path.join(repoRoot, 'e2e/testenv/tools', controller),
    env: { ...process.env, GOWORK: 'off', GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' },
  });
  const [dir, version] = stdout.trim().split(' ');
  if (!dir || !fs.existsSync(path.join(dir, 'config/manager'))) {
    throw new Error(`github.com/fluxcd/${controller} is not in the Go module cache with its config/ (run make testenv)`);
  }
  return { dir, version };
}

/**
 * The kustomization that installs Flux from the controllers' own manifests: each controller's config/crd,
 * config/rbac and config/manager as shipped in its Go module (referred to by a relative path: kustomize refuses
 * an absolute one, and nothing is copied or edited), all in `flux-system` (the Namespace is the only resource of
 * its own), and an `images:` override naming the images built here. The names the manifests' own `images:`
 * give (`fluxcd/<controller>`) are what the override matches.
 */
export function fluxKustomization(o: { dir: string; configs: Record<FluxController, string>; images: Record<FluxController, string> }): {
  kustomization: string;
  namespace: string;
} {
  const resources = [
    'namespace.yaml',
    ...FLUX_CONTROLLERS.flatMap((c) => CONFIG_PARTS.map((p) => path.relative(o.dir, path.join(o.configs[c], p)))),
  ];
  const images = FLUX_CONTROLLERS.map((c) => {
    const at = o.images[c].lastIndexOf(':');
    return `- name: fluxcd/${c}\n  newName: ${o.images[c].slice(0, at)}\n  newTag: "${o.images[c].slice(at + 1)}"`;
  });
  return {
    kustomization: `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: ${FLUX_NAMESPACE}
resources:
${resources.map((r) => `- ${r}`).join('\n')}
images:
${images.join('\n')}
`,
    namespace: `apiVersion: v1
kind: Namespace
metadata:
  name: ${FLUX_NAMESPACE}
  labels: {app.kubernetes.io/part-of: flux}
`,
  };
}

/**
 * Flux installed as users install it, on the cluster's real node: the three controllers' images made here from
 * the fast tier's Go binaries (e2e/cluster/flux-images.sh) and pushed to the node's registry, then
 * `kubectl apply --server-side -k` of fluxKustomization, and every Deployment Available. The CRDs come with it
 * (Established before the Deployments are waited for).
 */
export async function installFlux(cluster: StartedCluster, opts: { log?: (line: string) => void } = {}): Promise<InstalledFlux> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`[flux] ${line}\n`));
  const bin = await buildScriptResult('e2e/testenv/build.sh');
  const built = JSON.parse(await buildScriptResult('e2e/cluster/flux-images.sh', [bin])) as Record<FluxController, string>;

  const images = {} as Record<FluxController, string>;
  const imageSizes = {} as Record<FluxController, number>;
  const versions = {} as Record<FluxController, string>;
  const configs = {} as Record<FluxController, string>;
  const t0 = Date.now();
  for (const c of FLUX_CONTROLLERS) {
    const tag = built[c].split(':')[1];
    images[c] = await cluster.pushImage(built[c], `gfl/${c}:${tag}`);
    const { stdout } = await run(process.env.DOCKER ?? '/usr/bin/docker', ['image', 'inspect', '-f', '{{.Size}}', built[c]]);
    imageSizes[c] = Number(stdout.trim());
    const mod = await moduleDir(c);
    versions[c] = mod.version;
    configs[c] = path.join(mod.dir, 'config');
  }
  log(`images pushed: ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  // The kustomization's folder lives only while kubectl reads it: a folder per use, removed at once.
  const withKustomization = async <T>(fn: (dir: string) => Promise<T>): Promise<T> => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gfl-cluster-flux-kustomization-'));
    const removeDir = () => fs.rmSync(dir, { recursive: true, force: true });
    onExitSync(removeDir);
    try {
      const k = fluxKustomization({ dir, configs, images });
      fs.writeFileSync(path.join(dir, 'kustomization.yaml'), k.kustomization);
      fs.writeFileSync(path.join(dir, 'namespace.yaml'), k.namespace);
      return await fn(dir);
    } finally {
      removeDir();
    }
  };

  const t1 = Date.now();
  const kubectl = (args: string[]) => cluster.kubectl(args);
  await withKustomization((dir) => kubectl(['apply', '--server-side', '-k', dir]));
  await kubectl(['wait', '--for=condition=Established', '--timeout=60s', ...crdNames()]);
  for (const c of FLUX_CONTROLLERS) {
    await kubectl(['-n', FLUX_NAMESPACE, 'rollout', 'status', `deployment/${c}`, '--timeout=240s']);
  }
  await kubectl([
    '-n',
    FLUX_NAMESPACE,
    'wait',
    '--for=condition=Available',
    '--timeout=60s',
    ...FLUX_CONTROLLERS.map((c) => `deployment/${c}`),
  ]);
  const installSeconds = (Date.now() - t1) / 1000;
  log(`Flux ${FLUX_CONTROLLERS.map((c) => `${c} ${versions[c]}`).join(', ')} Available: ${installSeconds.toFixed(1)} s`);

  return {
    namespace: FLUX_NAMESPACE,
    images,
    versions,
    imageSizes,
    installSeconds,
    async uninstall() {
      await withKustomization((dir) => kubectl(['delete', '-k', dir, '--wait', '--timeout=180s', '--ignore-not-found']));
    },
  };
}

/** The CRDs the three controllers serve (kubectl wait names them). */
function crdNames(): string[] {
  return [
    'crd/gitrepositories.source.toolkit.fluxcd.io',
    'crd/receivers.notification.toolkit.fluxcd.io',
    'crd/kustomizations.kustomize.toolkit.fluxcd.io',
  ];
}
