import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { dockerCli } from '../cluster/docker.js';
import { onExitSync } from '../testenv/processes.js';

/**
 * The operator run from its image (`E2E_OPERATOR_IMAGE`, set by `make test-image`) instead of as a local
 * process: `docker run` in the foreground is the process the harness starts, so the suites see the same
 * process, log file, ports and signals (the client passes SIGTERM on to the container) as with `node main.js`.
 *
 * The container runs as the shipped Deployment's securityContext asks (config/manager/manager.yaml): user
 * 65532, read-only root filesystem, no capability, no privilege escalation. It shares the host's network (the
 * test ground listens on loopback), and reads the kubeconfig the harness wrote (the ServiceAccount's token)
 * from a read-only bind mount.
 */

/** The Docker client: the harness's one rule (e2e/cluster/docker.ts). */
export { dockerCli };

/** Where the kubeconfig is mounted in the container. */
export const CONTAINER_KUBECONFIG = '/var/run/gitlab-flux-link/kubeconfig';

/** The user the image and the Deployment run as. */
export const IMAGE_UID = 65532;

/** The operator's image to run, or undefined to run the local build. */
export function operatorImage(): string | undefined {
  const image = process.env.E2E_OPERATOR_IMAGE || undefined;
  if (image && process.env.E2E_OPERATOR_MAIN)
    throw new Error('E2E_OPERATOR_IMAGE and E2E_OPERATOR_MAIN are both set: run either an image or a build');
  return image;
}

export interface ContainerRun {
  image: string;
  /** The container's name (unique per run and instance: `docker rm -f` finds it by that name). */
  name: string;
  /** The kubeconfig file on the host, mounted read-only at CONTAINER_KUBECONFIG. */
  kubeconfig: string;
  /** The operator's environment: exactly these variables (the test runner's own are not passed on). */
  env: Record<string, string>;
  /** Arguments for node before the script: then node is the entry point, with the image's script after them. */
  nodeArgs?: string[];
}

/** The `docker run` arguments for one operator container (pure: the unit tests read them). */
export function dockerRunArgs(run: ContainerRun): string[] {
  const args = [
    'run',
    '--rm',
    '--name',
    run.name,
    // Never a pull: the image is the one `make image` built (and the engine reaches no registry here).
    '--pull',
    'never',
    '--network',
    'host',
    '--read-only',
    '--user',
    `${IMAGE_UID}:${IMAGE_UID}`,
    '--cap-drop',
    'ALL',
    '--security-opt',
    'no-new-privileges',
    '--volume',
    `${run.kubeconfig}:${CONTAINER_KUBECONFIG}:ro`,
  ];
  for (const [name, value] of Object.entries({ ...run.env, KUBECONFIG: CONTAINER_KUBECONFIG })) args.push('--env', `${name}=${value}`);
  if (run.nodeArgs?.length) {
    args.push('--entrypoint', '/usr/local/bin/node', run.image, ...run.nodeArgs, 'dist/operator/main.js');
  } else {
    args.push(run.image);
  }
  return args;
}

/** Runs the Docker client and returns its stdout; throws with its stderr when it fails. */
export function docker(args: string[]): string {
  const res = spawnSync(dockerCli(), args, { encoding: 'utf8' });
  if (res.error) throw new Error(`${dockerCli()} ${args[0]}: ${res.error.message} (E2E_OPERATOR_IMAGE needs a Docker client and engine)`);
  if (res.status !== 0) throw new Error(`${dockerCli()} ${args.join(' ')} exited with ${res.status}: ${res.stderr.trim()}`);
  return res.stdout;
}

/**
 * Checks that the engine has the image, and hands the kubeconfig to the container's user (it holds a token:
 * it stays 0600, owned by that user instead of the test runner).
 */
export function prepareContainerRun(image: string, kubeconfig: string): void {
  try {
    docker(['image', 'inspect', '--format', '{{.Id}}', image]);
  } catch (err) {
    throw new Error(`E2E_OPERATOR_IMAGE=${image}: the engine has no such image (make image IMG=${image}): ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (process.getuid?.() !== 0) {
    throw new Error(`E2E_OPERATOR_IMAGE: the kubeconfig must be handed to the container's user ${IMAGE_UID}, which takes root (chown)`);
  }
  fs.chownSync(kubeconfig, IMAGE_UID, IMAGE_UID);
}

const containers = new Set<string>();

/** Removes the container (whatever became of its `docker run` client); quiet when it is gone already. */
export function removeContainer(name: string): void {
  spawnSync(dockerCli(), ['rm', '--force', name], { stdio: 'ignore' });
  containers.delete(name);
}

/**
 * Tracks a started container: when its client exits (a SIGKILL to the client leaves the container running) or
 * the test runner exits, the container is removed.
 */
export function trackContainer(name: string, clientExited: Promise<unknown>): void {
  containers.add(name);
  void clientExited.then(() => removeContainer(name));
}

onExitSync(() => {
  for (const name of containers) removeContainer(name);
});

/** The containers of this test run that still exist (none after a clean run). */
export function containersLeft(prefix: string): string[] {
  return docker(['ps', '--all', '--filter', `name=^${prefix}`, '--format', '{{.Names}}'])
    .split('\n')
    .filter(Boolean);
}
