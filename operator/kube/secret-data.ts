/**
 * The text of one key of a Secret's `data` (base64, as the API server serves it), as the operator reads its
 * webhook token and signing key: one trailing newline dropped (`echo token > file` puts one there), empty is
 * absent. The key comes from a link's spec, so it is looked up as the Secret's own key only: a key such as
 * `constructor` must not find Object's.
 */
export function secretText(data: Record<string, string> | undefined, key: string): string | undefined {
  if (data === undefined || !Object.hasOwn(data, key)) return undefined;
  const b64 = data[key];
  if (typeof b64 !== 'string') return undefined;
  const value = Buffer.from(b64, 'base64')
    .toString('utf8')
    .replace(/\r?\n$/, '');
  return value === '' ? undefined : value;
}
