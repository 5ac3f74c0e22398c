import yaml from 'js-yaml';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { repoRoot } from '../testenv/paths.js';
import { onExitSync } from '../testenv/processes.js';
import { docker } from './docker.js';
import type { StartedCluster } from './provider.js';

export const OPERATOR_NAMESPACE = 'gitlab-flux-link-system';
export const OPERATOR_DEPLOYMENT = 'gitlab-flux-link';
export const WEBHOOK_SERVICE = 'gitlab-flux-link-webhook';
/** The Pods' label (config/manager/manager.yaml), which both Services select. */
export const OPERATOR_SELECTOR = 'app.kubernetes.io/name=gitlab-flux-link';
/** The folder users apply. */
export const SHIPPED_KUSTOMIZATION = path.join(repoRoot, 'config/default');

/** The image `make image` built (IMG, as the Makefile defaults it). */
export const localOperatorImage = (): string => process.env.IMG || 'gitlab-flux-link:dev';

export interface InstalledOperator {
  namespace: string;
  /** `<registry.pull>/gitlab-flux-link:<tag>`, as the Pod names it. */
  image: string;
  /**
   * host:port on this machine that reaches the Service gitlab-flux-link-webhook: the Service made a NodePort by the
   * kustomization's patch, at the node's address on the engine's bridge (kube-proxy forwards it to a ready Pod).
   */
  webhookAddress: string;
  /** The generated kustomization (its only resource is config/default, named here from the repository's root). */
  kustomization: string;
  /** Seconds from the apply to the Deployment Available (the push not counted). */
  installSeconds: number;
  /** `kubectl delete -k <the same kustomization> --wait`. */
  uninstall(): Promise<void>;
}

export interface InstallOptions {
  replicas?: number;
  /** The tag pushed to the node's registry; by default `id-` and the image ID's first 12 hex digits. */
  tag?: string;
}

/** The image config/manager/manager.yaml names, without its tag: what the `images:` override replaces. */
export function shippedImageName(manifest = fs.readFileSync(path.join(repoRoot, 'config/manager/manager.yaml'), 'utf8')): string {
  const deployment = yaml.load(manifest) as { spec: { template: { spec: { containers: { name: string; image: string }[] } } } };
  const image = deployment.spec.template.spec.containers.find((c) => c.name === 'manager')?.image;
  if (!image) throw new Error('config/manager/manager.yaml has no container named manager');
  return image.replace(/(@sha256:[0-9a-f]+|:[^/:]+)$/, '');
}

/**
 * The kustomization a user writes to run the shipped manifests with their own image: config/default as its only
 * resource, an `images:` override, the replica count when asked, and one patch that makes the webhook Service a
 * NodePort (the test's way in from outside the cluster, where a user would put an Ingress or a load balancer).
 * No manifest is edited or copied.
 */
export function operatorKustomization(o: {
  /** config/default, relative to the kustomization's folder (kustomize refuses an absolute one). */
  base: string;
  image: string;
  replicas?: number;
}): string {
  const at = o.image.lastIndexOf(':');
  const kustomization = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    resources: [o.base],
    images: [{ name: shippedImageName(), newName: o.image.slice(0, at), newTag: o.image.slice(at + 1) }],
    ...(o.replicas !== undefined ? { replicas: [{ name: OPERATOR_DEPLOYMENT, count: o.replicas }] } : {}),
    patches: [
      {
        target: { version: 'v1', kind: 'Service', name: WEBHOOK_SERVICE },
        patch: JSON.stringify([{ op: 'add', path: '/spec/type', value: 'NodePort' }]),
      },
    ],
  };
  return yaml.dump(kustomization, { lineWidth: 140 });
}

/** Pushes the image `make image` built to the node's registry under `tag`; resolves with the name the node pulls. */
export async function pushOperatorImage(cluster: StartedCluster, tag: string): Promise<string> {
  const local = localOperatorImage();
  await docker(['image', 'inspect', local], 30_000).catch((err: Error) => {
    throw new Error(`the operator's image ${local} is not in the Docker engine: build it with \`make image\` (IMG=${local})`, {
      cause: err,
    });
  });
  return cluster.pushImage(local, `gitlab-flux-link:${tag}`);
}

async function defaultTag(): Promise<string> {
  const id = (await docker(['image', 'inspect', '-f', '{{.Id}}', localOperatorImage()], 30_000)).trim();
  return `id-${id.replace(/^sha256:/, '').slice(0, 12)}`;
}

/** `fn` with a folder holding the kustomization `content(folder)` gives; the folder is removed after. */
async function withKustomization<T>(content: (dir: string) => string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), KUSTOMIZATION_DIR_PREFIX));
  const remove = () => fs.rmSync(dir, { recursive: true, force: true });
  onExitSync(remove);
  try {
    fs.writeFileSync(path.join(dir, 'kustomization.yaml'), content(dir));
    return await fn(dir);
  } finally {
    remove();
  }
}

/** The temporary folders of the generated kustomizations (none is left once a kubectl call is done). */
export const KUSTOMIZATION_DIR_PREFIX = 'gfl-op-kustomization-';

/**
 * The operator installed as users install it: the image pushed to the node's registry, then
 * `kubectl apply --server-side -k` of a generated kustomization over config/default (operatorKustomization), and
 * the Deployment rolled out and Available. Applying again with another tag is a rolling update. The Flux CRDs must
 * exist already (the caller applies them, or Flux itself).
 */
export async function installOperator(cluster: StartedCluster, opts: InstallOptions = {}): Promise<InstalledOperator> {
  const image = await pushOperatorImage(cluster, opts.tag ?? (await defaultTag()));
  const kustomization = (dir: string) =>
    operatorKustomization({ base: path.relative(dir, SHIPPED_KUSTOMIZATION), image, replicas: opts.replicas });
  const kubectl = (args: string[]) => cluster.kubectl(args);

  const t0 = Date.now();
  await withKustomization(kustomization, (dir) => kubectl(['apply', '--server-side', '-k', dir]));
  await kubectl(['-n', OPERATOR_NAMESPACE, 'rollout', 'status', `deployment/${OPERATOR_DEPLOYMENT}`, '--timeout=240s']);
  await kubectl(['-n', OPERATOR_NAMESPACE, 'wait', '--for=condition=Available', `deployment/${OPERATOR_DEPLOYMENT}`, '--timeout=60s']);
  const installSeconds = (Date.now() - t0) / 1000;

  const nodePort = (
    await kubectl(['-n', OPERATOR_NAMESPACE, 'get', 'service', WEBHOOK_SERVICE, '-o', 'jsonpath={.spec.ports[0].nodePort}'])
  ).trim();
  if (!/^\d+$/.test(nodePort)) throw new Error(`the Service ${WEBHOOK_SERVICE} has no nodePort (got '${nodePort}')`);

  return {
    namespace: OPERATOR_NAMESPACE,
    image,
    webhookAddress: `${cluster.nodeAddress}:${nodePort}`,
    kustomization: kustomization(repoRoot),
    installSeconds,
    async uninstall() {
      await withKustomization(kustomization, (dir) => kubectl(['delete', '-k', dir, '--wait', '--timeout=180s', '--ignore-not-found']));
    },
  };
}
