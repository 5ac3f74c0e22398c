import type { StartedCluster } from './provider.js';

/**
 * What a cluster suite prints when one of its tests fails: the node's own log tail, then the output of each kubectl
 * command (Pods' logs, `get pods`). A command that fails prints its error instead: the report never hides the
 * test's own failure behind one of its own.
 */
export async function writeFailureReport(cluster: StartedCluster, nodeLogLines: number, kubectlCommands: string[][] = []): Promise<void> {
  const outputs = await Promise.all(kubectlCommands.map((args) => cluster.kubectl(args).catch((e: Error) => e.message)));
  const nodeLogs = await cluster.logs(nodeLogLines).catch((e: Error) => e.message);
  process.stderr.write(`\n${[nodeLogs, ...outputs].join('\n')}\n`);
}

/** The kubectl command for the last lines of every container of the Pods a selector picks, each line prefixed. */
export function podLogs(namespace: string, selector: string, lines = 30): string[] {
  return ['-n', namespace, 'logs', '-l', selector, '--all-containers', `--tail=${lines}`, '--prefix'];
}
