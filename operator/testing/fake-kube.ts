import { LINKS } from '../api/v1alpha1/types.js';
import { GIT_REPOSITORIES, RECEIVERS } from '../flux/types.js';
import {
  type KubeClient,
  KubeError,
  type ListOptions,
  type ListResult,
  type PatchType,
  type WatchEvent,
  type WatchHandle,
} from '../kube/client.js';
import type { KubeObject } from '../meta/object.js';
import { apiVersionOf, type Resource } from '../meta/resource.js';

/**
 * An in-memory Kubernetes API for unit tests: the `KubeClient` interface over a map, with the semantics the
 * operator depends on (resourceVersion preconditions, AlreadyExists, merge and JSON patches, status
 * subresource, finalizers holding a deletion, generation bumped by spec changes, label-selected lists and
 * watches that replay from a resourceVersion). Every write made through the client is recorded in `writes`,
 * so tests assert the exact list of API writes. Methods under "environment" change the world the way other
 * actors would (Flux marking a Receiver Ready, a person deleting a link) and are NOT recorded.
 *
 * Deliberately faithful where the real API server surprises: a failed JSON-patch `test` op is a 422
 * (reason Invalid), not a 409; a merge patch carrying metadata.resourceVersion is a precondition (409);
 * a label-selected watch sees an object that stops matching as DELETED and one that starts matching as ADDED.
 */

export type WriteVerb = 'create' | 'update' | 'update-status' | 'patch' | 'patch-status' | 'delete';

export interface WriteRecord {
  verb: WriteVerb;
  /** The resource's plural, e.g. `secrets`. */
  resource: string;
  namespace?: string;
  name: string;
}

type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface HistoryEntry {
  rv: number;
  rkey: string;
  type: EventType;
  obj: KubeObject;
  prev?: KubeObject;
}

interface Watcher {
  rkey: string;
  namespace?: string;
  selector: Requirement[];
  onEvent: (e: WatchEvent<KubeObject>) => void;
  resolve: () => void;
  reject: (e: unknown) => void;
  open: boolean;
}

interface Requirement {
  key: string;
  op: '=' | '!=' | 'exists' | '!exists';
  value?: string;
}

export interface FakeKubeOptions {
  /** Clock for creationTimestamp/deletionTimestamp; by default starts at 2024-01-01T00:00:00Z and advances 1 s per call. */
  now?: () => Date;
  /** Resources served with a status subresource (default: links, GitRepositories, Receivers). */
  statusSubresources?: Resource[];
}

/** A write about to be made; return an Error to make the API answer with it (the write is still recorded). */
export type Reactor = (w: WriteRecord, body: unknown) => Error | undefined;

const rkeyOf = (r: Resource) => `${r.group}/${r.plural}`;
const clone = <T>(v: T): T => (v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T));
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const sameJson = (a: unknown, b: unknown) => JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (isObject(v))
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, canonical(v[k])]),
    );
  return v;
}

/** Parses the equality-based label selector subset: `a=b`, `a==b`, `a!=b`, `a`, `!a`, comma-separated. */
export function parseLabelSelector(selector: string | undefined): Requirement[] {
  if (!selector) return [];
  return selector.split(',').map((term) => {
    const t = term.trim();
    if (/\s(in|notin)\s*\(/.test(t) || t.includes('(')) throw new Error(`fake-kube: set-based selector not supported: ${t}`);
    let m: RegExpExecArray | null;
    if ((m = /^([^=!]+)!=(.*)$/.exec(t))) return { key: m[1]!.trim(), op: '!=' as const, value: m[2]!.trim() };
    if ((m = /^([^=!]+)==?(.*)$/.exec(t))) return { key: m[1]!.trim(), op: '=' as const, value: m[2]!.trim() };
    if (t.startsWith('!')) return { key: t.slice(1).trim(), op: '!exists' as const };
    return { key: t, op: 'exists' as const };
  });
}

export function labelsMatch(reqs: Requirement[], labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return reqs.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    switch (r.op) {
      case '=':
        return has && l[r.key] === r.value;
      case '!=':
        return !has || l[r.key] !== r.value;
      case 'exists':
        return has;
      case '!exists':
        return !has;
    }
  });
}

/** RFC 7386 JSON merge patch: objects merge recursively, `null` deletes, everything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  const result: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete result[k];
    else result[k] = mergePatch(result[k], v);
  }
  return result;
}

interface JsonPatchOp {
  op: string;
  path: string;
  value?: unknown;
}

function invalid(message: string): KubeError {
  return new KubeError(422, 'Invalid', message);
}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw invalid(`json patch: invalid path ${JSON.stringify(path)}`);
  return path
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** RFC 6902 JSON patch with the ops the operator uses: test, add (incl. `/-` append), replace, remove. */
export function jsonPatch(doc: unknown, ops: JsonPatchOp[]): unknown {
  if (!Array.isArray(ops)) throw new KubeError(400, 'BadRequest', 'json patch must be an array of operations');
  let root = clone(doc);
  for (const op of ops) {
    const parts = pointer(op.path);
    if (parts.length === 0) {
      if (op.op === 'test') {
        if (!sameJson(root, op.value)) throw invalid(`json patch: test failed for path ${op.path}`);
        continue;
      }
      if (op.op === 'add' || op.op === 'replace') {
        root = clone(op.value);
        continue;
      }
      throw invalid(`json patch: unsupported op ${op.op} on the root`);
    }
    let parent: unknown = root;
    for (const p of parts.slice(0, -1)) {
      if (Array.isArray(parent)) parent = parent[Number(p)];
      else if (isObject(parent)) parent = parent[p];
      else parent = undefined;
      if (parent === undefined) throw invalid(`json patch: ${op.op} ${op.path}: parent does not exist`);
    }
    const last = parts[parts.length - 1]!;
    const exists = Array.isArray(parent)
      ? last !== '-' && Number(last) < parent.length
      : isObject(parent) && Object.prototype.hasOwnProperty.call(parent, last);
    switch (op.op) {
      case 'test': {
        const current = Array.isArray(parent) ? parent[Number(last)] : (parent as Record<string, unknown>)[last];
        if (!exists || !sameJson(current, op.value)) throw invalid(`json patch: test failed for path ${op.path}`);
        break;
      }
      case 'add':
        if (Array.isArray(parent)) {
          const i = last === '-' ? parent.length : Number(last);
          if (!Number.isInteger(i) || i < 0 || i > parent.length) throw invalid(`json patch: add ${op.path}: index out of range`);
          parent.splice(i, 0, clone(op.value));
        } else if (isObject(parent)) parent[last] = clone(op.value);
        else throw invalid(`json patch: add ${op.path}: parent is not a container`);
        break;
      case 'replace':
        if (!exists) throw invalid(`json patch: replace ${op.path}: path does not exist`);
        if (Array.isArray(parent)) parent[Number(last)] = clone(op.value);
        else (parent as Record<string, unknown>)[last] = clone(op.value);
        break;
      case 'remove':
        if (!exists) throw invalid(`json patch: remove ${op.path}: path does not exist`);
        if (Array.isArray(parent)) parent.splice(Number(last), 1);
        else delete (parent as Record<string, unknown>)[last];
        break;
      default:
        throw invalid(`json patch: unsupported op ${op.op}`);
    }
  }
  return root;
}

function defaultClock(): () => Date {
  let t = Date.parse('2024-01-01T00:00:00Z');
  return () => {
    const d = new Date(t);
    t += 1000;
    return d;
  };
}

export class FakeKube implements KubeClient {
  /** Every write made through the KubeClient interface, in call order (also the ones the fake refused). */
  readonly writes: WriteRecord[] = [];
  /** Consulted for every write, in order; the first Error returned is thrown. */
  readonly reactors: Reactor[] = [];
  /** Called after a list has been answered (its snapshot taken), before the caller sees it: a place to race. */
  afterList?: (r: Resource, opts: ListOptions) => void | Promise<void>;
  /** Makes every get fail like an unreachable API server (outage tests). */
  failReads = false;
  /** Called after a get has been answered, before the caller sees it: a place to race. */
  afterGet?: () => void | Promise<void>;
  /** Count of list calls per resource plural (informer tests tell a re-list from a resumed watch). */
  readonly listCalls = new Map<string, number>();

  private readonly store = new Map<string, Map<string, KubeObject>>();
  private readonly history: HistoryEntry[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly unserved = new Set<string>();
  private readonly statusKinds: Set<string>;
  private readonly now: () => Date;
  private rv = 1;
  private uid = 0;
  private compactedThrough = 0;
  private held: Array<() => void> | undefined;

  constructor(opts: FakeKubeOptions = {}) {
    this.now = opts.now ?? defaultClock();
    this.statusKinds = new Set((opts.statusSubresources ?? [LINKS, GIT_REPOSITORIES, RECEIVERS]).map(rkeyOf));
  }

  // ----------------------------------------------------------------------------------------------------
  // KubeClient

  async get<T extends KubeObject>(r: Resource, namespace: string | undefined, name: string): Promise<T | undefined> {
    if (this.failReads) throw new KubeError(503, 'ServiceUnavailable', 'the API server is unavailable');
    if (this.unserved.has(rkeyOf(r))) return undefined; // the real client turns the 404 into undefined
    const found = clone(this.bucket(r).get(this.key(r, namespace, name))) as T | undefined;
    await this.afterGet?.();
    return found;
  }

  async list<T extends KubeObject>(r: Resource, opts: ListOptions = {}): Promise<ListResult<T>> {
    this.listCalls.set(r.plural, (this.listCalls.get(r.plural) ?? 0) + 1);
    this.ensureServed(r);
    const selector = parseLabelSelector(opts.labelSelector);
    const items = [...this.bucket(r).entries()]
      .filter(([, o]) => (!opts.namespace || o.metadata.namespace === opts.namespace) && labelsMatch(selector, o.metadata.labels))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, o]) => clone(o) as T);
    const result = { items, resourceVersion: String(this.rv) };
    await this.afterList?.(r, opts);
    return result;
  }

  async create<T extends KubeObject>(r: Resource, obj: T): Promise<T> {
    const namespace = r.namespaced ? obj.metadata.namespace : undefined;
    this.react({ verb: 'create', resource: r.plural, ...(r.namespaced ? { namespace } : {}), name: obj.metadata.name }, obj);
    this.ensureServed(r);
    if (r.namespaced && !namespace) throw invalid(`${r.kind} ${obj.metadata.name}: metadata.namespace is required`);
    if (!obj.metadata.name) throw invalid(`${r.kind}: metadata.name is required`);
    const key = this.key(r, namespace, obj.metadata.name);
    if (this.bucket(r).has(key)) throw new KubeError(409, 'AlreadyExists', `${r.plural} "${obj.metadata.name}" already exists`);
    return clone(this.insert(r, obj, this.statusKinds.has(rkeyOf(r)))) as T;
  }

  async replace<T extends KubeObject>(r: Resource, obj: T, subresource?: 'status'): Promise<T> {
    const namespace = r.namespaced ? obj.metadata.namespace : undefined;
    this.react(
      {
        verb: subresource ? 'update-status' : 'update',
        resource: r.plural,
        ...(r.namespaced ? { namespace } : {}),
        name: obj.metadata.name,
      },
      obj,
    );
    const current = this.mustGet(r, namespace, obj.metadata.name);
    const wanted = obj.metadata.resourceVersion;
    if (wanted !== undefined && wanted !== current.metadata.resourceVersion) {
      throw new KubeError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${r.plural} "${obj.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    return clone(this.update(r, current, clone(obj), subresource)) as T;
  }

  async patch<T extends KubeObject>(
    r: Resource,
    namespace: string | undefined,
    name: string,
    body: unknown,
    type: PatchType,
    opts: { subresource?: 'status'; fieldManager?: string; force?: boolean } = {},
  ): Promise<T> {
    const ns = r.namespaced ? namespace : undefined;
    this.react(
      { verb: opts.subresource ? 'patch-status' : 'patch', resource: r.plural, ...(r.namespaced ? { namespace: ns } : {}), name },
      body,
    );
    const current = this.mustGet(r, ns, name);
    const wire = clone(body); // what would travel over the wire: undefined fields vanish
    let next: KubeObject;
    if (type === 'merge') {
      next = mergePatch(clone(current), wire) as KubeObject;
      const wanted = (isObject(wire) && isObject(wire.metadata) ? wire.metadata.resourceVersion : undefined) as string | undefined;
      if (wanted !== undefined && wanted !== current.metadata.resourceVersion) {
        throw new KubeError(409, 'Conflict', `Operation cannot be fulfilled on ${r.plural} "${name}": the object has been modified`);
      }
    } else if (type === 'json') {
      next = jsonPatch(clone(current), wire as JsonPatchOp[]) as KubeObject;
    } else {
      throw new Error('fake-kube: server-side apply is not supported');
    }
    return clone(this.update(r, current, next, opts.subresource)) as T;
  }

  async delete(
    r: Resource,
    namespace: string | undefined,
    name: string,
    opts: { uid?: string; resourceVersion?: string } = {},
  ): Promise<boolean> {
    const ns = r.namespaced ? namespace : undefined;
    this.react({ verb: 'delete', resource: r.plural, ...(r.namespaced ? { namespace: ns } : {}), name }, opts);
    this.ensureServed(r);
    const current = this.bucket(r).get(this.key(r, ns, name));
    if (!current) return false;
    if (
      (opts.uid && opts.uid !== current.metadata.uid) ||
      (opts.resourceVersion && opts.resourceVersion !== current.metadata.resourceVersion)
    ) {
      throw new KubeError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${r.plural} "${name}": the precondition (uid/resourceVersion) does not match`,
      );
    }
    this.removeObject(r, current);
    return true;
  }

  watch<T extends KubeObject>(
    r: Resource,
    opts: ListOptions & { resourceVersion: string },
    onEvent: (e: WatchEvent<T>) => void,
  ): WatchHandle {
    const rkey = rkeyOf(r);
    let watcher!: Watcher;
    const done = new Promise<void>((resolve, reject) => {
      watcher = {
        rkey,
        namespace: opts.namespace,
        selector: parseLabelSelector(opts.labelSelector),
        onEvent: onEvent as (e: WatchEvent<KubeObject>) => void,
        resolve,
        reject,
        open: true,
      };
    });
    const from = Number(opts.resourceVersion || '0');
    if (this.unserved.has(rkey)) {
      watcher.open = false;
      watcher.reject(new KubeError(404, 'NotFound', `the server could not find the requested resource (${r.plural})`));
    } else if (from < this.compactedThrough) {
      watcher.open = false;
      watcher.reject(new KubeError(410, 'Expired', `too old resource version: ${from} (${this.compactedThrough})`));
    } else {
      this.watchers.add(watcher);
      // Replay what happened after `from`, as the API server does for a watch that resumes (in order, before
      // anything newer: delivered synchronously, so nothing can slip in between).
      for (const h of this.history) if (h.rkey === rkey && h.rv > from) this.dispatch(watcher, h);
    }
    return {
      done,
      abort: () => {
        if (!watcher.open) return;
        watcher.open = false;
        this.watchers.delete(watcher);
        watcher.resolve();
      },
    };
  }

  async request(): Promise<{ status: number; body: Buffer }> {
    throw new Error('fake-kube: request() (service proxy) is not supported');
  }

  // ----------------------------------------------------------------------------------------------------
  // Environment: what other actors do. Not recorded in `writes`.

  /** Creates an object as someone else would (status kept as given). */
  seed<T extends KubeObject>(r: Resource, obj: T): T {
    const key = this.key(r, r.namespaced ? obj.metadata.namespace : undefined, obj.metadata.name);
    if (this.bucket(r).has(key)) throw new Error(`fake-kube: seed: ${key} exists`);
    return clone(this.insert(r, obj, false)) as T;
  }

  /** Sets the status as the object's controller would (e.g. notification-controller marking a Receiver Ready). */
  setStatus(r: Resource, namespace: string | undefined, name: string, status: unknown): void {
    this.mutate(r, namespace, name, (o) => {
      o.status = clone(status);
    });
  }

  /** Any change, made by someone else. Generation follows spec changes; finalizers are honoured. */
  mutate<T extends KubeObject>(r: Resource, namespace: string | undefined, name: string, change: (obj: T) => void): T {
    const current = this.mustGet(r, r.namespaced ? namespace : undefined, name);
    const next = clone(current) as T;
    change(next);
    return clone(this.update(r, current, next, undefined, true)) as T;
  }

  /** Deletes as someone else would: with finalizers present only deletionTimestamp is set. */
  remove(r: Resource, namespace: string | undefined, name: string): void {
    const current = this.mustGet(r, r.namespaced ? namespace : undefined, name);
    this.removeObject(r, current);
  }

  /** The stored object (a copy), or undefined. */
  object<T extends KubeObject>(r: Resource, namespace: string | undefined, name: string): T | undefined {
    return clone(this.bucket(r).get(this.key(r, r.namespaced ? namespace : undefined, name))) as T | undefined;
  }

  objects<T extends KubeObject>(r: Resource): T[] {
    return [...this.bucket(r).values()].map((o) => clone(o) as T);
  }

  /** The resource is no longer served (its CRD removed): list/watch/writes answer 404. */
  unserve(r: Resource): void {
    this.unserved.add(rkeyOf(r));
    this.endWatches(r, new KubeError(404, 'NotFound', `the server could not find the requested resource (${r.plural})`));
  }

  serve(r: Resource): void {
    this.unserved.delete(rkeyOf(r));
  }

  /** Buffers watch events until releaseWatches(): caches fall behind the API server. */
  holdWatches(): void {
    this.held ??= [];
  }

  releaseWatches(): void {
    const pending = this.held ?? [];
    this.held = undefined;
    for (const fn of pending) fn();
  }

  /** Ends open watches: normally (the API server's periodic close) or with an error (connection reset, 410). */
  endWatches(r?: Resource, error?: unknown): void {
    for (const w of [...this.watchers]) {
      if (r && w.rkey !== rkeyOf(r)) continue;
      w.open = false;
      this.watchers.delete(w);
      if (error === undefined) w.resolve();
      else w.reject(error);
    }
  }

  /** Forgets history up to now: a watch resuming from an older resourceVersion gets 410 Gone. */
  compact(): void {
    this.compactedThrough = this.rv;
  }

  get openWatches(): number {
    return this.watchers.size;
  }

  /** Makes matching writes fail with `error` (`times` of them, default all). */
  failWrites(match: (w: WriteRecord) => boolean, error: Error, times = Infinity): void {
    let left = times;
    this.reactors.push((w) => {
      if (left <= 0 || !match(w)) return undefined;
      left--;
      return error;
    });
  }

  clearWrites(): void {
    this.writes.length = 0;
  }

  /** The writes as `verb plural namespace/name` lines: readable in a failed assertion. */
  writeLog(): string[] {
    return this.writes.map((w) => `${w.verb} ${w.resource} ${w.namespace ? `${w.namespace}/` : ''}${w.name}`);
  }

  // ----------------------------------------------------------------------------------------------------
  // Internals

  private bucket(r: Resource): Map<string, KubeObject> {
    const k = rkeyOf(r);
    let b = this.store.get(k);
    if (!b) this.store.set(k, (b = new Map()));
    return b;
  }

  private key(r: Resource, namespace: string | undefined, name: string): string {
    return r.namespaced ? `${namespace ?? ''}/${name}` : name;
  }

  private ensureServed(r: Resource): void {
    if (this.unserved.has(rkeyOf(r)))
      throw new KubeError(404, 'NotFound', `the server could not find the requested resource (${r.plural})`);
  }

  private mustGet(r: Resource, namespace: string | undefined, name: string): KubeObject {
    this.ensureServed(r);
    const o = this.bucket(r).get(this.key(r, namespace, name));
    if (!o) throw new KubeError(404, 'NotFound', `${r.plural} "${name}" not found`);
    return o;
  }

  private react(w: WriteRecord, body: unknown): void {
    this.writes.push(w);
    for (const reactor of this.reactors) {
      const err = reactor(w, body);
      if (err) throw err;
    }
  }

  private insert(r: Resource, input: KubeObject, dropStatus: boolean): KubeObject {
    const obj = clone(input);
    if (dropStatus) delete obj.status;
    obj.apiVersion ??= apiVersionOf(r);
    obj.kind ??= r.kind;
    const m = obj.metadata;
    if (!r.namespaced) delete m.namespace;
    m.uid = m.uid ?? `00000000-0000-4000-8000-${String(++this.uid).padStart(12, '0')}`;
    m.creationTimestamp = m.creationTimestamp ?? this.now().toISOString();
    if ('spec' in obj) m.generation = 1;
    else delete m.generation;
    delete m.deletionTimestamp;
    m.resourceVersion = String(++this.rv);
    this.bucket(r).set(this.key(r, m.namespace, m.name), obj);
    this.emit(r, 'ADDED', obj);
    return obj;
  }

  /**
   * Stores `next` in place of `current` with the API server's rules: system metadata is kept, the status
   * subresource separates status from the rest, generation follows the spec, no finalizer can be added to an
   * object being deleted, and an object being deleted goes once its last finalizer is removed.
   */
  private update(r: Resource, current: KubeObject, nextIn: KubeObject, subresource: 'status' | undefined, anything = false): KubeObject {
    let next = clone(nextIn);
    const hasStatusSub = this.statusKinds.has(rkeyOf(r));
    if (!anything && subresource === 'status') {
      next = { ...clone(current), status: next.status };
      if (next.status === undefined) delete next.status;
    } else if (!anything && hasStatusSub) {
      if (current.status === undefined) delete next.status;
      else next.status = clone(current.status);
    }
    const cm = current.metadata;
    const m = next.metadata;
    m.name = cm.name;
    if (r.namespaced) m.namespace = cm.namespace;
    else delete m.namespace;
    m.uid = cm.uid;
    m.creationTimestamp = cm.creationTimestamp;
    if (cm.deletionTimestamp) m.deletionTimestamp = cm.deletionTimestamp;
    else delete m.deletionTimestamp;
    if (cm.deletionTimestamp && (m.finalizers ?? []).some((f) => !(cm.finalizers ?? []).includes(f))) {
      throw invalid(
        `${r.plural} "${cm.name}": metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted`,
      );
    }
    next.apiVersion = current.apiVersion;
    next.kind = current.kind;
    if (cm.generation !== undefined) m.generation = cm.generation + (sameJson(current.spec, next.spec) ? 0 : 1);
    else delete m.generation;
    if (m.finalizers && m.finalizers.length === 0) delete m.finalizers;
    if (m.labels && Object.keys(m.labels).length === 0) delete m.labels;
    if (m.annotations && Object.keys(m.annotations).length === 0) delete m.annotations;
    m.resourceVersion = cm.resourceVersion;
    if (sameJson(current, next)) return current; // a no-op write changes nothing, not even the resourceVersion
    m.resourceVersion = String(++this.rv);
    if (m.deletionTimestamp && !m.finalizers?.length) {
      this.bucket(r).delete(this.key(r, m.namespace, m.name));
      this.emit(r, 'DELETED', next, current);
      return next;
    }
    this.bucket(r).set(this.key(r, m.namespace, m.name), next);
    this.emit(r, 'MODIFIED', next, current);
    return next;
  }

  private removeObject(r: Resource, current: KubeObject): void {
    if (current.metadata.finalizers?.length) {
      if (current.metadata.deletionTimestamp) return;
      const next = clone(current);
      next.metadata.deletionTimestamp = this.now().toISOString();
      next.metadata.resourceVersion = String(++this.rv);
      this.bucket(r).set(this.key(r, next.metadata.namespace, next.metadata.name), next);
      this.emit(r, 'MODIFIED', next, current);
      return;
    }
    this.bucket(r).delete(this.key(r, current.metadata.namespace, current.metadata.name));
    const gone = clone(current);
    gone.metadata.resourceVersion = String(++this.rv);
    this.emit(r, 'DELETED', gone, current);
  }

  private emit(r: Resource, type: EventType, obj: KubeObject, prev?: KubeObject): void {
    const entry: HistoryEntry = { rv: Number(obj.metadata.resourceVersion), rkey: rkeyOf(r), type, obj: clone(obj), prev: clone(prev) };
    this.history.push(entry);
    for (const w of this.watchers) if (w.rkey === entry.rkey) this.dispatch(w, entry);
  }

  /** Delivers one history entry to one watcher as that watcher's filters make it look. */
  private dispatch(w: Watcher, h: HistoryEntry): void {
    const deliver = () => {
      if (!w.open) return;
      if (w.namespace && h.obj.metadata.namespace !== w.namespace) return;
      const now = labelsMatch(w.selector, h.obj.metadata.labels);
      const before = h.prev !== undefined && labelsMatch(w.selector, h.prev.metadata.labels);
      let type: EventType | undefined;
      if (h.type === 'ADDED') type = now ? 'ADDED' : undefined;
      else if (h.type === 'DELETED') type = before || now ? 'DELETED' : undefined;
      else if (now && before) type = 'MODIFIED';
      else if (now) type = 'ADDED';
      else if (before) type = 'DELETED';
      if (type) w.onEvent({ type, object: clone(h.obj) });
    };
    if (this.held) this.held.push(deliver);
    else deliver();
  }
}
