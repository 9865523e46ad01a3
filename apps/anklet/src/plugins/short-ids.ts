/** The `plugin:` short ids of the Go config files and the packages they stand for. */
export const SHORT_IDS: Readonly<Record<string, string>> = Object.freeze({
  github: '@anklet/plugin-github-handler',
  github_receiver: '@anklet/plugin-github-receiver',
});

/** The npm package behind a `plugin:` value: a short id, or the package name itself. */
export function packageNameOf(pluginValue: string): string {
  return SHORT_IDS[pluginValue] ?? pluginValue;
}

/** Splits an install spec (`@scope/name@^1`, `name@1.2.3`, `./x.tgz`, a short id) into a short id mapping. */
export function expandInstallSpec(spec: string): string {
  const at = spec.lastIndexOf('@');
  const [name, version] = at > 0 ? [spec.slice(0, at), spec.slice(at)] : [spec, ''];
  const mapped = SHORT_IDS[name];
  return mapped ? `${mapped}${version}` : spec;
}
