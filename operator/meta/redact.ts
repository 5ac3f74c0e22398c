/**
 * What must never be shown, found by value: a Receiver's webhook path (`/hook/<64 hex>`: whoever has it, and
 * for a gitlab-type Receiver a token, can trigger it) and anything after a service proxy's `/proxy` (which is
 * such a path). Applied to the client's errors, to every log line (observability/logger.ts) and to what the
 * push path writes into a link's status. A net under the rule "never put a path or a token in a message",
 * not the rule itself.
 */
const HOOK_PATH = /\/hook\/[0-9a-f]{64}/gi;
const AFTER_PROXY = /(\/proxy)\/[^\s"'?#]*/g;

export const REDACTED = '[redacted]';

export function redactPaths(text: string): string {
  return text.replace(AFTER_PROXY, `$1/${REDACTED}`).replace(HOOK_PATH, `/hook/${REDACTED}`);
}
