import type { Receiver, Secret } from '../flux/types.js';
import type { KubeObject, OwnerReference } from '../meta/object.js';
import type { DesiredPair } from './desired.js';
import { GROUP, KIND } from '../api/v1alpha1/types.js';
import { ANNOTATION_GIT_REPOSITORY, LABEL_LINK, LABEL_MANAGED_BY, MANAGED_BY } from './names.js';
import { sameValue } from './same-value.js';

/**
 * The writes that turn what exists into what is desired, and nothing else: in steady state the plan is empty.
 * Updates are merge patches of only the fields the operator owns, so what others add (Flux's finalizer,
 * someone's extra label) is left alone; deletes carry the resourceVersion seen, so an object another link has
 * just adopted is never removed by a stale view.
 */
export type Action =
  | { verb: 'create'; kind: 'Secret' | 'Receiver'; object: KubeObject }
  | { verb: 'patch'; kind: 'Secret' | 'Receiver'; namespace: string; name: string; patch: Record<string, unknown>; reason: string }
  | { verb: 'delete'; kind: 'Secret' | 'Receiver'; namespace: string; name: string; resourceVersion?: string };

export interface Blocked {
  key: string;
  message: string;
}

export interface Plan {
  actions: Action[];
  /** Repositories whose objects' names are taken by objects the operator does not manage. */
  blocked: Blocked[];
}

/** What applying a plan gave: the shell fills it in, `summarizePass` reads it. */
export interface ApplyResult {
  /** Writes that succeeded. */
  written: number;
  /**
   * `namespace/name` of the pairs with a write the caches were behind for: the object had changed or gone before
   * the write reached it (a 409, a 404 on a patch or delete, an AlreadyExists of a managed object). Nothing is
   * overwritten and what the cache shows of them is not taken as ready; the next pass decides again, soon — the
   * watch event that tells of the change may wake another link's key, not this one (the objects of a deleted
   * link, adopted by a younger one while the garbage collector removes them).
   */
  superseded: Set<string>;
  /** Writes that failed, one message each naming the object. */
  failures: string[];
  /**
   * Objects whose names turned out to be taken by objects the operator does not manage, `namespace/name` →
   * message (the caches hold only managed objects, so the plan cannot know those in advance).
   */
  foreign: Map<string, string>;
}

export interface Observed {
  secret(namespace: string, name: string): Secret | undefined;
  receiver(namespace: string, name: string): Receiver | undefined;
  /** Objects labelled with this link (from the label-selected caches). */
  ownedSecrets: Secret[];
  ownedReceivers: Receiver[];
  /** Whether a link of another name still manages an object (so it must not be adopted). */
  managedByOtherLink(linkName: string): boolean;
}

const isManaged = (o: KubeObject) => o.metadata.labels?.[LABEL_MANAGED_BY] === MANAGED_BY;

function subsetEqual(want: Record<string, string> | undefined, have: Record<string, string> | undefined): boolean {
  return Object.entries(want ?? {}).every(([k, v]) => have?.[k] === v);
}

/**
 * The owner references the operator sets: the link's (any link's: an adopted object drops its former owner, or the
 * garbage collector would keep it for that link), and the GitRepository's, which versions before links owned their
 * objects set (ANNOTATION_GIT_REPOSITORY names it). Owners someone else added are kept.
 */
function operatorOwner(o: OwnerReference, want: KubeObject): boolean {
  if (o.kind === KIND && o.apiVersion.startsWith(`${GROUP}/`)) return true;
  return o.kind === 'GitRepository' && o.name === want.metadata.annotations?.[ANNOTATION_GIT_REPOSITORY];
}

/** Patch for labels, annotations and owner references when they drifted (owners of others kept). */
function metadataPatch(want: KubeObject, have: KubeObject): Record<string, unknown> | undefined {
  const patch: Record<string, unknown> = {};
  if (!subsetEqual(want.metadata.labels, have.metadata.labels)) patch.labels = want.metadata.labels;
  if (!subsetEqual(want.metadata.annotations, have.metadata.annotations)) patch.annotations = want.metadata.annotations;
  const wantOwner = want.metadata.ownerReferences?.[0];
  const haveOwners = have.metadata.ownerReferences ?? [];
  const ours = haveOwners.filter((o) => operatorOwner(o, want));
  const current = ours.length === 1 && wantOwner && ours[0].uid === wantOwner.uid && ours[0].name === wantOwner.name;
  if (wantOwner && !current) {
    // A link re-created under the same name has a new uid, an adopting link replaces the former owner, and an
    // object of an earlier version was owned by its GitRepository: the operator's reference becomes the link's.
    patch.ownerReferences = [...haveOwners.filter((o) => !operatorOwner(o, want)), wantOwner];
  }
  return Object.keys(patch).length ? patch : undefined;
}

/** Spec fields the operator sets on a Receiver; what is unset stays with the API server's defaults. */
function receiverSpecPatch(want: Receiver, have: Receiver): Record<string, unknown> | undefined {
  const w = want.spec;
  const h = have.spec ?? ({} as Receiver['spec']);
  const patch: Record<string, unknown> = {};
  if (w.type !== h.type) patch.type = w.type;
  if (w.interval !== undefined && w.interval !== h.interval) patch.interval = w.interval;
  if (!sameValue(w.events, h.events)) patch.events = w.events ?? null;
  if (!sameValue(w.resources, h.resources)) patch.resources = w.resources;
  if (!sameValue(w.secretRef, h.secretRef)) patch.secretRef = w.secretRef;
  if (h.suspend) patch.suspend = null; // a hand-suspended Receiver would silently drop pushes
  return Object.keys(patch).length ? patch : undefined;
}

function pairActions(linkName: string, pair: DesiredPair, observed: Observed, tokenKept: boolean): Action[] | Blocked {
  const ns = pair.secret.metadata.namespace!;
  const name = pair.secret.metadata.name;
  const actions: Action[] = [];
  for (const kind of ['Secret', 'Receiver'] as const) {
    const want = kind === 'Secret' ? pair.secret : pair.receiver;
    const have = kind === 'Secret' ? observed.secret(ns, name) : observed.receiver(ns, name);
    if (!have) {
      actions.push({ verb: 'create', kind, object: want });
      continue;
    }
    if (!isManaged(have)) {
      return { key: pair.key, message: `${kind} ${ns}/${name} exists and is not managed by gitlab-flux-link; rename or delete it` };
    }
    const owner = have.metadata.labels?.[LABEL_LINK];
    if (owner !== linkName && owner && observed.managedByOtherLink(owner)) {
      return { key: pair.key, message: `${kind} ${ns}/${name} is managed by link ${owner}` };
    }
    const patch: Record<string, unknown> = {};
    const meta = metadataPatch(want, have);
    if (meta) patch.metadata = meta;
    if (kind === 'Secret') {
      if (!tokenKept) patch.data = (want as Secret).data;
      if ((have as Secret).type !== 'Opaque' && (have as Secret).type !== undefined) {
        // The type of a Secret cannot change; delete it and let the next pass re-create it.
        actions.push({ verb: 'delete', kind, namespace: ns, name, resourceVersion: have.metadata.resourceVersion });
        continue;
      }
    } else {
      const spec = receiverSpecPatch(want as Receiver, have as Receiver);
      if (spec) patch.spec = spec;
    }
    if (Object.keys(patch).length) {
      actions.push({ verb: 'patch', kind, namespace: ns, name, patch, reason: Object.keys(patch).join('+') });
    }
  }
  return actions;
}

/**
 * Plans pair by pair, so a caller can make each desired pair just before it is planned and drop it right
 * after: at 10,000 repositories, holding every desired pair through a pass kept ~20 MB alive long enough for
 * V8 to move it to the old generation, and the heap grew with it (bench/results).
 */
export class Planner {
  private readonly actions: Action[] = [];
  private readonly blocked: Blocked[] = [];
  private readonly wanted = new Set<string>();

  constructor(
    private readonly linkName: string,
    private readonly observed: Observed,
  ) {}

  /**
   * @param tokenKept whether the existing Secret of the pair already holds a usable token; when it does not,
   *   `pair.secret` carries a fresh one and the Secret is patched with it.
   * @returns why the pair is blocked, or undefined
   */
  add(pair: DesiredPair, tokenKept: boolean): Blocked | undefined {
    this.wanted.add(`${pair.secret.metadata.namespace}/${pair.secret.metadata.name}`);
    const result = pairActions(this.linkName, pair, this.observed, tokenKept);
    if (Array.isArray(result)) this.actions.push(...result);
    else this.blocked.push(result);
    return Array.isArray(result) ? undefined : result;
  }

  /** The plan: the pairs' writes, then deletes of whatever this link made that no pair wants. */
  finish(): Plan {
    const actions = [...this.actions];
    // Receivers before Secrets, so a Receiver never sits without its token.
    for (const [kind, list] of [
      ['Receiver', this.observed.ownedReceivers],
      ['Secret', this.observed.ownedSecrets],
    ] as const) {
      for (const obj of list) {
        const key = `${obj.metadata.namespace}/${obj.metadata.name}`;
        if (this.wanted.has(key) || obj.metadata.deletionTimestamp) continue;
        actions.push({
          verb: 'delete',
          kind,
          namespace: obj.metadata.namespace!,
          name: obj.metadata.name,
          resourceVersion: obj.metadata.resourceVersion,
        });
      }
    }
    return { actions, blocked: [...this.blocked] };
  }
}
