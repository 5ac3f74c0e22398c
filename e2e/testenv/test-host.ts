import { execFileSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './probe.js';
import { type ManagedProcess, onExitSync, startProcess } from './processes.js';

/**
 * A test host in a network namespace this run creates itself (ip netns + a veth pair), for what must not
 * be on loopback: the API server refuses to proxy to loopback addresses, so a Service whose endpoint is this
 * host lets the service-proxy path be tested through the real kube-apiserver. The host forwards a port to a
 * loopback service of the root namespace through a relay on the veth's root side. Addresses come from a
 * /30 of this run's own; nothing else is ever addressed.
 */
export interface TestHost {
  name: string;
  /** Address of the test host inside its namespace. */
  address: string;
  /** Makes `address:port` reach `127.0.0.1:targetPort` of the root namespace. */
  forward(port: number, targetPort: number): Promise<void>;
  stop(): Promise<void>;
}

/** Whether `host:port` accepts a TCP connection (closed at once). */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: 2_000 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export async function startTestHost(opts: { logDir: string; index?: number }): Promise<TestHost> {
  if (process.getuid?.() !== 0) throw new Error('test hosts need root (ip netns); run the e2e suites as root');
  const n = (opts.index ?? 0) + (process.pid % 50) * 4;
  const name = `gfl${process.pid}h${opts.index ?? 0}`;
  const hostSide = `gflv${process.pid % 100000}a${opts.index ?? 0}`.slice(0, 15);
  const nsSide = `gflv${process.pid % 100000}b${opts.index ?? 0}`.slice(0, 15);
  // 10.231.<x>.<y>/30: two addresses of a private /30 that only exists on this veth pair.
  const third = Math.floor(n / 64);
  const base = (n % 64) * 4;
  const rootAddr = `10.231.${third}.${base + 1}`;
  const address = `10.231.${third}.${base + 2}`;

  const cleanup = () => {
    try {
      ip(['netns', 'delete', name]);
    } catch {
      // gone
    }
    try {
      ip(['link', 'delete', hostSide]);
    } catch {
      // deleted with the namespace
    }
  };
  onExitSync(cleanup);
  cleanup();
  ip(['netns', 'add', name]);
  ip(['link', 'add', hostSide, 'type', 'veth', 'peer', 'name', nsSide]);
  ip(['link', 'set', nsSide, 'netns', name]);
  ip(['addr', 'add', `${rootAddr}/30`, 'dev', hostSide]);
  ip(['link', 'set', hostSide, 'up']);
  ip(['netns', 'exec', name, 'ip', 'addr', 'add', `${address}/30`, 'dev', nsSide]);
  ip(['netns', 'exec', name, 'ip', 'link', 'set', nsSide, 'up']);
  ip(['netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up']);

  const relays: net.Server[] = [];
  const procs: ManagedProcess[] = [];
  const forwarder = path.join(path.dirname(fileURLToPath(import.meta.url)), 'tcp-forward.js');
  return {
    name,
    address,
    async forward(port, targetPort) {
      // Root side: rootAddr:<relay> → 127.0.0.1:targetPort. Test host: address:port → rootAddr:<relay>.
      const relay = net.createServer((c) => {
        const up = net.connect(targetPort, '127.0.0.1');
        c.pipe(up).pipe(c);
        c.on('error', () => up.destroy());
        up.on('error', () => c.destroy());
      });
      await new Promise<void>((r) => relay.listen(0, rootAddr, r));
      relays.push(relay);
      const relayPort = (relay.address() as net.AddressInfo).port;
      procs.push(
        startProcess({
          name: `${name}-forward-${port}`,
          command: 'ip',
          args: ['netns', 'exec', name, process.execPath, forwarder, `${address}:${port}`, `${rootAddr}:${relayPort}`],
          logDir: opts.logDir,
          pidFile: path.join(opts.logDir, 'pids'),
        }),
      );
      // Ready when it accepts a connection: the target may be a server that never answers (e2e proxy-paths).
      await waitFor(`test host forwarder ${address}:${port}`, () => accepts(address, port), { timeoutMs: 15_000 });
    },
    async stop() {
      for (const p of procs) await p.stop();
      for (const r of relays) r.close();
      cleanup();
    },
  };
}
