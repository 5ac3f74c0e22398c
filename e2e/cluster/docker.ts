import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Debian's docker.io client: the last resort, for a PATH without /usr/bin. */
const DEBIAN_CLIENT = '/usr/bin/docker';

/**
 * Which Docker client the e2e harness runs — the project's one rule, the same as hack/docker-cli.sh's `docker_cli`
 * for the shell scripts: `$DOCKER` when set, else the first `docker` on PATH, else Debian's /usr/bin/docker; the
 * plain name `docker` when there is none, so that the first command fails saying so. Any client that speaks API
 * 1.41 does for what the harness runs (run, import, tag, push, exec, rm, rmi): a newer client negotiates the
 * engine's version down. Builds have a further condition (BuildKit), checked by hack/docker-cli.sh's
 * `docker_build_cli` over the same candidates.
 */
export function chooseDockerClient(env: string | undefined, pathVar: string | undefined, isExecutable: (file: string) => boolean): string {
  if (env) return env;
  for (const dir of (pathVar ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, 'docker');
    if (isExecutable(candidate)) return candidate;
  }
  return isExecutable(DEBIAN_CLIENT) ? DEBIAN_CLIENT : 'docker';
}

function isExecutableFile(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The client chosen by the rule above for this process's environment. */
export const dockerCli = (): string => chooseDockerClient(process.env.DOCKER, process.env.PATH, isExecutableFile);

/** The client, chosen once when the harness loads. */
export const DOCKER = dockerCli();

/** One docker command; resolves with stdout, rejects with its stderr in the message. */
export async function docker(args: string[], timeoutMs = 300_000): Promise<string> {
  try {
    return (await run(DOCKER, args, { maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs })).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`docker ${args.join(' ')}: ${(e.stderr ?? '').trim() || e.message}`, { cause: err });
  }
}

export const lines = (out: string): string[] => out.split('\n').filter((l) => l.trim() !== '');

/** Tags a local image `tag` (a name in a registry on this machine's loopback, which Docker trusts without TLS) and pushes it. */
export async function tagAndPush(localImage: string, tag: string): Promise<void> {
  await docker(['tag', localImage, tag]);
  await docker(['push', tag]);
}

/**
 * A provider's `pushImage`: tags a local image `<registry>/<name>`, pushes it and resolves with that name (the one
 * the node pulls); every tag it makes is added to `pushed`, which the provider removes at stop.
 */
export function imagePusher(registry: string, pushed: Set<string>): (localImage: string, name: string) => Promise<string> {
  return async (localImage, name) => {
    const tag = `${registry}/${name}`;
    pushed.add(tag);
    await tagAndPush(localImage, tag);
    return tag;
  };
}
