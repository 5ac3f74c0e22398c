import { expect } from 'chai';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { HttpKubeClient, type ListOptions, loadKubeConfig, type WatchEvent, type WatchHandle } from '../../operator/kube/client.js';
import { Informer } from '../../operator/kube/informer.js';
import type { KubeObject } from '../../operator/meta/object.js';
import { NAMESPACES, type Resource } from '../../operator/meta/resource.js';
import { testEnv } from '../hooks.js';
import { eventually } from '../support/kube.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import type { TestEnv } from '../testenv/index.js';
import { repoRoot } from '../testenv/paths.js';
import { sleep } from '../testenv/probe.js';

/** Counts the watches an informer opens (each ends with the server's timeoutSeconds or an abort). */
class CountingClient extends HttpKubeClient {
  watches = 0;
  override watch<T extends KubeObject>(
    r: Resource,
    opts: ListOptions & { resourceVersion: string; timeoutSeconds?: number },
    onEvent: (e: WatchEvent<T>) => void,
  ): WatchHandle {
    this.watches++;
    return super.watch(r, opts, onEvent);
  }
}

/**
 * Watches on the real kube-apiserver through a loopback TCP proxy that can drop its connections without a FIN
 * (e2e/support/tcp-proxy.ts): the informer's idle check notices a dead watch and a change made meanwhile
 * reaches its cache, while a watch without the check (what the informer did before) stays stalled; the
 * server-side timeoutSeconds ends watches cleanly; a kubeconfig proxy-url is refused at startup.
 */
describe('watches that die silently: idle check, server-side timeouts, proxy-url', function () {
  this.timeout(120_000);
  let env: TestEnv;
  let proxy: TcpProxy | undefined;
  const informers: Array<{ informer: Informer<KubeObject>; run: Promise<void> }> = [];
  const id = `w${process.pid}`;
  let n = 0;

  /** An admin kubeconfig whose server is the proxy. */
  function kubeconfigVia(p: TcpProxy, extraClusterLine?: string): string {
    const server = new URL(env.cluster.server);
    let text = fs
      .readFileSync(env.cluster.kubeconfig, 'utf8')
      .replace(`server: ${env.cluster.server}`, `server: https://${server.hostname}:${p.port}`);
    if (extraClusterLine) text = text.replace(/^(\s+)server: .*$/m, (line, indent: string) => `${line}\n${indent}${extraClusterLine}`);
    expect(text).to.include(`:${p.port}`);
    const file = path.join(env.cluster.workDir, `watch-stall-${id}-${++n}.kubeconfig`);
    fs.writeFileSync(file, text, { mode: 0o600 });
    return file;
  }
  const createNamespace = (name: string, label: string) =>
    env.cluster.kubectl(
      ['create', '-f', '-'],
      JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'e2e.fluxlink.dev/watch-stall': label } } }),
    );
  function start(client: HttpKubeClient, label: string, opts: ConstructorParameters<typeof Informer>[2]) {
    const informer = new Informer<KubeObject>(client, NAMESPACES, { labelSelector: `e2e.fluxlink.dev/watch-stall=${label}`, ...opts });
    informers.push({ informer, run: informer.run() });
    return informer;
  }

  before(async () => {
    env = await testEnv();
    const server = new URL(env.cluster.server);
    proxy = await startTcpProxy({ host: server.hostname, port: Number(server.port) });
  });
  after(async () => {
    for (const i of informers) i.informer.stop();
    await Promise.all(informers.map((i) => i.run));
    await proxy?.close();
  });

  it('an informer drops a watch whose connection went silent within the idle bound, and a change made meanwhile reaches its cache', async () => {
    const IDLE_MS = 4000;
    const label = `${id}-idle`;
    const client = new HttpKubeClient({ kubeConfig: loadKubeConfig(kubeconfigVia(proxy!)) });
    const notices: Array<{ at: number; message: string }> = [];
    const informer = start(client, label, {
      watchTimeouts: { minSeconds: 300, idleMs: IDLE_MS },
      onError: (e) => notices.push({ at: Date.now(), message: String(e) }),
    });
    await informer.waitForSync();
    // The same watch without the idle check: what the informer did before (await the stream, however long).
    const bare: string[] = [];
    const { resourceVersion } = await client.list(NAMESPACES, { labelSelector: `e2e.fluxlink.dev/watch-stall=${label}` });
    const bareWatch = client.watch(
      NAMESPACES,
      { labelSelector: `e2e.fluxlink.dev/watch-stall=${label}`, resourceVersion },
      (e) => e.type !== 'BOOKMARK' && bare.push(e.object.metadata.name),
    );

    await createNamespace(`${label}-1`, label);
    await eventually(
      'both watches see the first namespace',
      async () => informer.get(undefined, `${label}-1`) !== undefined && bare.includes(`${label}-1`),
      10_000,
      50,
    );

    proxy!.blackhole();
    const droppedAt = Date.now();
    await createNamespace(`${label}-2`, label);
    await eventually(
      'the change made while the connection is dead reaches the cache',
      async () => informer.get(undefined, `${label}-2`) !== undefined,
      IDLE_MS + 10_000,
      50,
    );
    const seenAfter = Date.now() - droppedAt;
    // A quiet watch is also replaced before the drop (no event for IDLE_MS): only notices after it count.
    const notice = notices.find((x) => x.at >= droppedAt && /silent/.test(x.message));
    expect(notice, `notices: ${JSON.stringify(notices)}`).to.not.equal(undefined);
    console.log(
      `      dead watch noticed after ${((notice!.at - droppedAt) / 1000).toFixed(1)} s (bound ${IDLE_MS / 1000} s); change in the cache after ${(seenAfter / 1000).toFixed(1)} s`,
    );
    expect(notice!.at - droppedAt, 'noticed within the idle bound').to.be.at.most(IDLE_MS + 500);
    expect(notice!.message).to.match(
      /watch of namespaces silent for 4 s \(no event, no bookmark\): connection presumed dead, watching again/,
    );
    expect(seenAfter, 'in the cache soon after').to.be.at.most(IDLE_MS + 3000);

    // Without the idle check the watch is still stalled: no event, no end.
    let ended = false;
    void bareWatch.done.then(
      () => (ended = true),
      () => (ended = true),
    );
    await sleep(2000);
    expect(bare, 'the watch without an idle check never sees the change').to.deep.equal([`${label}-1`]);
    expect(ended, 'and it does not end').to.equal(false);
    bareWatch.abort();
  });

  it('asks the API server to end each watch (timeoutSeconds) and resumes without losing a change', async () => {
    const label = `${id}-timeout`;
    const client = new CountingClient({ kubeConfig: loadKubeConfig(kubeconfigVia(proxy!)) });
    const errors: string[] = [];
    // minSeconds 2: each watch lasts 2–4 s; the idle check is far away, so only the server ends them.
    const informer = start(client, label, { watchTimeouts: { minSeconds: 2, idleMs: 60_000 }, onError: (e) => errors.push(String(e)) });
    await informer.waitForSync();
    await sleep(9000);
    expect(client.watches, 'watches opened in 9 s').to.be.at.least(3);
    await createNamespace(`${label}-1`, label);
    await eventually('a change after several re-watches', async () => informer.get(undefined, `${label}-1`) !== undefined, 10_000, 50);
    expect(errors, 'ended cleanly: no error, no re-list').to.deep.equal([]);
  });

  it('refuses a kubeconfig with proxy-url at startup, naming the field (it is not silently ignored)', async () => {
    const file = kubeconfigVia(proxy!, 'proxy-url: http://127.0.0.1:9');
    const child = spawn(process.execPath, [path.join(repoRoot, 'dist/operator/main.js')], {
      env: { ...process.env, KUBECONFIG: file },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const code = await Promise.race([exited, sleep(30_000).then(() => 'still running' as const)]);
    if (code === 'still running') {
      child.kill('SIGKILL');
      await exited;
    }
    expect(code).to.equal(1);
    expect(output).to.match(
      /operator failed to start.*kubeconfig cluster \\?"[^"\\]+\\?" sets proxy-url \(clusters\[\]\.cluster\.proxy-url\), which gitlab-flux-link does not support/,
    );
  });
});
