/**
 * Dot-path access into JSON values (`metadata.team`, `choices.0.message.content`). Paths are split
 * once at config load; `__proto__`, `constructor` and `prototype` segments are refused by the schema.
 */

export type FieldPath = readonly string[];

export function compilePath(path: string): FieldPath {
  return path.split('.');
}

type Json = Record<string, unknown> | unknown[];

function child(node: Json, key: string): unknown {
  return Array.isArray(node) ? node[Number(key)] : Object.hasOwn(node, key) ? node[key] : undefined;
}

export function hasPath(root: Json, path: FieldPath): boolean {
  let node: unknown = root;
  for (let i = 0; i < path.length - 1; i++) {
    node = child(node as Json, path[i]!);
    if (node === null || typeof node !== 'object') return false;
  }
  return child(node as Json, path[path.length - 1]!) !== undefined;
}

export function getPath(root: Json, path: FieldPath): unknown {
  let node: unknown = root;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = child(node as Json, key);
  }
  return node;
}

/** Sets a value, creating intermediate objects as needed. */
export function setPath(root: Json, path: FieldPath, value: unknown): void {
  let node = root as Record<string, unknown>;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i]!;
    let next = node[key];
    if (next === null || typeof next !== 'object') {
      next = {};
      node[key] = next;
    }
    node = next as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value !== null && typeof value === 'object' ? structuredClone(value) : value;
}

export function removePath(root: Json, path: FieldPath): void {
  const parent = path.length === 1 ? root : getPath(root, path.slice(0, -1));
  if (parent === null || typeof parent !== 'object') return;
  const key = path[path.length - 1]!;
  if (Array.isArray(parent)) {
    // Only a real index removes an element: `Number('x')` is NaN, which splice reads as 0.
    const index = /^\d+$/.test(key) ? Number(key) : -1;
    if (index >= 0 && index < parent.length) parent.splice(index, 1);
  } else delete (parent as Record<string, unknown>)[key];
}
