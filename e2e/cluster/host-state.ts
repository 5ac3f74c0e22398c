import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { docker, lines } from './docker.js';

const run = promisify(execFile);

/**
 * What a cluster run could leave behind on the host, each as a sorted list of lines: compare a snapshot taken
 * before starting with one taken after stopping (`hostStateDiff`). Namespaces are listed by inode, so a process
 * of the node that outlived it shows as a pid namespace still alive.
 */
export interface HostState {
  /** Docker containers and volumes whose name starts with the cluster tier's prefix. */
  containers: string[];
  volumes: string[];
  /** Image tags that name a registry on this host's loopback (pushed images are tagged so). */
  registryTags: string[];
  mounts: string[];
  /** Every namespace any process is in (type:inode), and the named network namespaces. */
  namespaces: string[];
  netns: string[];
  links: string[];
  /** iptables-save/ip6tables-save without counters and comments, and the nftables ruleset. */
  firewall: string[];
  /** The kernel-wide settings a kubelet or kube-proxy would change (vm.*, kernel.*, nf_conntrack_max). */
  sysctls: string[];
  /** cgroup directories, three levels deep, of every v1 hierarchy. */
  cgroups: string[];
  /** The provider's temporary folders (the admin kubeconfig), and the image scripts' work folders. */
  tmp: string[];
}

export const CONTAINER_PREFIX = 'gfl-cluster-';
const SYSCTLS = [
  'vm/overcommit_memory',
  'vm/panic_on_oom',
  'kernel/panic',
  'kernel/panic_on_oops',
  'kernel/keys/root_maxkeys',
  'kernel/keys/root_maxbytes',
  'net/netfilter/nf_conntrack_max',
  'net/ipv4/ip_forward',
];

async function tool(cmd: string, args: string[]): Promise<string[]> {
  try {
    return lines((await run(cmd, args, { maxBuffer: 64 * 1024 * 1024 })).stdout);
  } catch (err) {
    return [`(${cmd} ${args.join(' ')} failed: ${(err as Error).message.split('\n')[0]})`];
  }
}

/** iptables-save output without what changes on its own: counters and the "generated at" comments. */
export function stableRules(saved: string[]): string[] {
  return saved.filter((l) => !l.startsWith('#')).map((l) => l.replace(/\s\[\d+:\d+\]$/, '').replace(/^(\[\d+:\d+\]\s)/, ''));
}

/**
 * The cgroup subtree in which this machine's process manager runs its sessions' commands: it comes and goes with
 * processes that are not the tier's (measured: a folder below it vanished mid-run while another session worked).
 * The tier's own cgroups live below the engine's (`docker/<id>`, the node's private cgroup namespace) or, if
 * kubelet escaped it, at a hierarchy's root: both still compared.
 */
const FOREIGN_CGROUP_SUBTREE = 'process_api';

function dirs(root: string, depth: number): string[] {
  if (depth === 0) return [];
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(root, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.filter((e) => e.isDirectory()).flatMap((e) => [path.join(root, e.name), ...dirs(path.join(root, e.name), depth - 1)]);
}

function namespaces(): string[] {
  const found = new Set<string>();
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    for (const type of ['pid', 'net', 'mnt', 'cgroup', 'ipc', 'uts']) {
      try {
        found.add(fs.readlinkSync(`/proc/${pid}/ns/${type}`));
      } catch {
        // the process ended while we looked
      }
    }
  }
  return [...found];
}

export async function hostState(): Promise<HostState> {
  const sorted = (l: string[]) => [...new Set(l)].sort();
  const mounts = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const f = l.split(' ');
      return `${f[4]} ${f[f.indexOf('-') + 1]}`;
    });
  return {
    containers: sorted(lines(await docker(['ps', '-a', '--format', '{{.Names}}'])).filter((n) => n.startsWith(CONTAINER_PREFIX))),
    volumes: sorted(lines(await docker(['volume', 'ls', '-q']))),
    registryTags: sorted(
      lines(await docker(['images', '--format', '{{.Repository}}:{{.Tag}}'])).filter((t) => /^(127\.0\.0\.1|localhost):\d+\//.test(t)),
    ),
    mounts: sorted(mounts),
    namespaces: sorted(namespaces()),
    netns: sorted([...(await tool('ip', ['netns', 'list'])), ...(fs.existsSync('/run/netns') ? fs.readdirSync('/run/netns') : [])]),
    links: sorted((await tool('ip', ['-o', 'link', 'show'])).map((l) => l.split(':')[1].trim().split('@')[0])),
    firewall: sorted([
      ...stableRules(await tool('iptables-save', [])),
      ...stableRules(await tool('ip6tables-save', [])),
      ...(await tool('nft', ['list', 'ruleset'])),
    ]),
    sysctls: SYSCTLS.map((s) => `${s}=${fs.existsSync(`/proc/sys/${s}`) ? fs.readFileSync(`/proc/sys/${s}`, 'utf8').trim() : '(absent)'}`),
    cgroups: sorted(dirs('/sys/fs/cgroup', 4).filter((d) => !d.split('/').includes(FOREIGN_CGROUP_SUBTREE))),
    tmp: sorted(fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith(CONTAINER_PREFIX))),
  };
}

/** What differs between two snapshots, one line per item: "+ links: veth1" (new) or "- mounts: /x" (gone). */
export function hostStateDiff(before: HostState, after: HostState): string[] {
  const out: string[] = [];
  for (const key of Object.keys(before) as (keyof HostState)[]) {
    const was = new Set(before[key]);
    const now = new Set(after[key]);
    for (const item of after[key]) if (!was.has(item)) out.push(`+ ${key}: ${item}`);
    for (const item of before[key]) if (!now.has(item)) out.push(`- ${key}: ${item}`);
  }
  return out;
}
