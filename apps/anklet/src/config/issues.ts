/** One problem in the config, with the path of the value it is about. */
export interface ConfigIssue {
  readonly path: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }>;
  readonly message: string;
}

function keyOf(segment: PropertyKey | { readonly key: PropertyKey }): PropertyKey {
  return typeof segment === 'object' && segment !== null ? segment.key : segment;
}

function joinPath(segments: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

/**
 * `plugins[1] "RUNNER2": app_id` for a plugin key, `metrics.port` for a host key: the same form
 * whether the problem came from the host's schema or the plugin's.
 */
export function formatIssuePath(document: Record<string, unknown>, rawPath: ConfigIssue['path']): string {
  const path = rawPath.map(keyOf);
  if (path[0] === 'plugins' && typeof path[1] === 'number') {
    const index = path[1];
    const entry = Array.isArray(document.plugins) ? (document.plugins as unknown[])[index] : undefined;
    const name = entry && typeof entry === 'object' ? (entry as Record<string, unknown>).name : undefined;
    const head = name === undefined || name === null || name === '' ? `plugins[${index}]` : `plugins[${index}] "${String(name)}"`;
    const rest = joinPath(path.slice(2));
    return rest === '' ? head : `${head}: ${rest}`;
  }
  return path.length === 0 ? '(top level)' : joinPath(path);
}
