// One GitLab client per link, shared by everything that calls GitLab for it (the hooks controller, the catch-up), so
// that the link's requestsPerMinute is one budget, not one per caller.
import { GitLabClient, type GitLabClientOptions } from './client.js';
import { RequestBudget } from './pacing.js';
import type { GitLabApi, GitLabRefs } from './types.js';

/** What the operator calls on a link's GitLab. */
export type LinkGitLab = GitLabApi & GitLabRefs & { close?(): void };

/** Makes a client (tests pass one on a fake GitLab). */
export type GitLabApiFactory = (options: GitLabClientOptions) => LinkGitLab;

/** Where and as whom a link's client talks to GitLab. */
export interface Connection {
  instanceURL: string;
  token: string;
  ca?: string;
  requestsPerMinute: number;
}

export class GitLabConnections {
  private readonly budgets = new Map<string, RequestBudget>();
  private readonly clients = new Map<string, { key: string; api: LinkGitLab }>();

  constructor(
    private readonly onResponse?: (endpoint: string, code: string) => void,
    private readonly factory: GitLabApiFactory = (o) => new GitLabClient(o),
  ) {}

  /** The link's client, made again when its URL, token or CA changes; the budget is the link's across clients. */
  get(link: string, c: Connection): LinkGitLab {
    let budget = this.budgets.get(link);
    if (!budget) this.budgets.set(link, (budget = new RequestBudget(c.requestsPerMinute)));
    budget.perMinute = c.requestsPerMinute;
    const key = JSON.stringify([c.instanceURL, c.token, c.ca ?? '']);
    const known = this.clients.get(link);
    if (known?.key === key) return known.api;
    known?.api.close?.();
    const options: GitLabClientOptions = { instanceURL: c.instanceURL, token: c.token, budget };
    if (this.onResponse) options.onResponse = this.onResponse;
    if (c.ca !== undefined) options.ca = c.ca;
    const api = this.factory(options);
    this.clients.set(link, { key, api });
    return api;
  }

  /** The link is gone or has no API access any more: its client closed, its budget dropped. */
  forget(link: string): void {
    this.budgets.delete(link);
    this.clients.get(link)?.api.close?.();
    this.clients.delete(link);
  }
}
