import { execFileSync } from 'node:child_process';

import { onExitSync } from '../testenv/processes.js';
import { docker } from './docker.js';
import type { StartedCluster } from './provider.js';

/** The Pods' addresses (e2e/cluster/node-image/cni.conflist's range within the cluster CIDR). */
export const POD_CIDR = '10.231.64.0/20';

/**
 * A link between this machine and the node's own network namespace, for servers of the test (the git server)
 * that Pods must reach: a veth pair this run creates, its host side `hostAddress` and its other side moved into
 * the node container's network namespace. A server listens on `hostAddress` (an address only this link
 * carries: no other container on the engine's bridge reaches it), and inside the node one rule masquerades
 * what Pods send to it as the node's side of the link, because the host has no route back to a Pod's address
 * (nothing is masqueraded on the way out of the node otherwise).
 *
 * Nothing of it outlives the node: the rule lives in the node's namespace, and deleting the node's namespace
 * deletes the veth pair with it. `stop()` (and the test process's exit) also deletes the host's side at once.
 * Addresses: one /30 of 10.231.8.0/22 per test process, outside the netns test hosts (10.231.0.0/22), the Pods,
 * the Services and the engine's bridge.
 */
export interface HostLink {
  /** This machine's address on the link: where a server listens for Pods. */
  hostAddress: string;
  /** The node's address on the link. */
  nodeAddress: string;
  stop(): Promise<void>;
}

/** The /30 of a test process: pids spread over 10.231.8.0/22 (256 of them). */
export function linkAddresses(pid: number): { host: string; node: string } {
  const n = pid % 256;
  const third = 8 + Math.floor(n / 64);
  const base = (n % 64) * 4;
  return { host: `10.231.${third}.${base + 1}`, node: `10.231.${third}.${base + 2}` };
}

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export async function linkHostToNode(cluster: StartedCluster): Promise<HostLink> {
  if (process.getuid?.() !== 0) throw new Error('the host link needs root (ip link): run the cluster tier as root');
  const { host, node } = linkAddresses(process.pid);
  const hostSide = `gflk${process.pid % 1_000_000}a`.slice(0, 15);
  const nodeSide = `gflk${process.pid % 1_000_000}b`.slice(0, 15);
  const pid = (await docker(['inspect', '-f', '{{.State.Pid}}', cluster.nodeContainer])).trim();
  if (!/^[1-9]\d*$/.test(pid)) throw new Error(`the node container ${cluster.nodeContainer} is not running (pid '${pid}')`);

  const cleanup = () => {
    try {
      ip(['link', 'delete', hostSide]);
    } catch {
      // already gone (with the node, or stopped before)
    }
  };
  onExitSync(cleanup);
  cleanup();
  ip(['link', 'add', hostSide, 'type', 'veth', 'peer', 'name', nodeSide]);
  try {
    ip(['link', 'set', nodeSide, 'netns', pid]);
    ip(['addr', 'add', `${host}/30`, 'dev', hostSide]);
    ip(['link', 'set', hostSide, 'up']);
    // Inside the node, with the node's own tools (its iptables is the one kube-proxy writes with).
    const inNode = (args: string[]) => docker(['exec', cluster.nodeContainer, ...args]);
    await inNode(['ip', 'addr', 'add', `${node}/30`, 'dev', nodeSide]);
    await inNode(['ip', 'link', 'set', nodeSide, 'up']);
    await inNode(['iptables', '-t', 'nat', '-A', 'POSTROUTING', '-s', POD_CIDR, '-d', `${host}/32`, '-j', 'MASQUERADE']);
  } catch (err) {
    cleanup();
    throw err;
  }
  return {
    hostAddress: host,
    nodeAddress: node,
    stop() {
      cleanup();
      return Promise.resolve();
    },
  };
}
