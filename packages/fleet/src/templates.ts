import type { RegistryTemplateSeed } from '@anklet/anka-sim';
import { templateRunnerFiles } from '@anklet/github-sim';

export { CONFIG_SH, RUN_SH } from '@anklet/github-sim';

/**
 * The files every simulated template carries: `actions-runner/run.sh` and `config.sh`, the same
 * simulated runner github-sim's release tarballs hold (see `@anklet/github-sim`'s runner-files).
 */
export const runnerFiles = templateRunnerFiles();

const GiB = 2 ** 30;

/** The template the fleet's jobs ask for unless told otherwise. */
export const FLEET_TEMPLATE = '84266873-da90-4e0d-903b-ed0233471f9f';

/** One tag of a simulated template. */
export interface TemplateTag {
  tag: string;
  cpuCores?: number;
  ramGiB?: number;
}



/**
 * A registry template whose every tag carries the simulated runner, e.g.
 * `simulatedTemplate({ tags: [{ tag: '1c2r', cpuCores: 1, ramGiB: 2 }] })`. Default: `1c2r` and `2c4r`.
 */
export function simulatedTemplate(options: { uuid?: string; name?: string; tags?: TemplateTag[] } = {}): RegistryTemplateSeed {
  const tags = options.tags ?? [
    { tag: '1c2r', cpuCores: 1, ramGiB: 2 },
    { tag: '2c4r', cpuCores: 2, ramGiB: 4 },
  ];
  return {
    name: options.name ?? 'anklet',
    uuid: options.uuid ?? FLEET_TEMPLATE,
    tags: tags.map((t) => ({ tag: t.tag, cpuCores: t.cpuCores ?? 1, ramBytes: (t.ramGiB ?? 2) * GiB, imageSizeBytes: 5 * GiB, files: runnerFiles })),
  };
}
