/** Prefix of the label that names the Anka template (`anka-template:<uuid>`). */
export const TEMPLATE_LABEL_PREFIX = 'anka-template:';
/** Prefix of the label that names the template tag (`anka-template-tag:<tag>`). */
export const TEMPLATE_TAG_LABEL_PREFIX = 'anka-template-tag:';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// `${{ github.run_id }}-${{ strategy.job-index }}`: the label that binds a runner to one job.
const PER_JOB = /^[0-9]+-[0-9]+$/;

/** What the `runs-on` labels of a job ask anklet for. */
export interface AnkaLabels {
  /** True when at least one label is a well-formed `anka-template:` or `anka-template-tag:` label. */
  readonly isAnkaJob: boolean;
  /** The value of `anka-template:<value>`, if present. */
  readonly template?: string | undefined;
  /** True when `template` is a UUID, as Anka template ids are. */
  readonly templateIsUuid: boolean;
  /** The value of `anka-template-tag:<value>`, if present. */
  readonly tag?: string | undefined;
  /** The `<run_id>-<job_index>` label, if present. */
  readonly perJobLabel?: string | undefined;
  /** Problems a handler should report (an empty value, two different templates, ...). */
  readonly problems: ReadonlyArray<string>;
}

/**
 * Parses a job's labels by exact prefix, never by substring: `my-anka-template:x` and
 * `anka-template` alone are not anklet labels (the Go receiver matched any label containing
 * `anka-template`). A job that names only a tag still counts as an anklet job, as in Go, so the
 * handler can fail it with a clear reason instead of it hanging in GitHub's queue.
 */
export function parseAnkaLabels(labels: ReadonlyArray<unknown> | null | undefined): AnkaLabels {
  let template: string | undefined;
  let tag: string | undefined;
  let perJobLabel: string | undefined;
  const problems: string[] = [];
  let isAnkaJob = false;
  for (const raw of labels ?? []) {
    if (typeof raw !== 'string') continue;
    const label = raw.trim();
    if (label.startsWith(TEMPLATE_TAG_LABEL_PREFIX)) {
      const value = label.slice(TEMPLATE_TAG_LABEL_PREFIX.length);
      if (!value) {
        problems.push(`label "${label}" has no tag`);
        continue;
      }
      isAnkaJob = true;
      if (tag !== undefined && tag !== value) problems.push(`two template tags: "${tag}" and "${value}"`);
      else tag = value;
    } else if (label.startsWith(TEMPLATE_LABEL_PREFIX)) {
      const value = label.slice(TEMPLATE_LABEL_PREFIX.length);
      if (!value) {
        problems.push(`label "${label}" has no template`);
        continue;
      }
      isAnkaJob = true;
      if (template !== undefined && template !== value) problems.push(`two templates: "${template}" and "${value}"`);
      else template = value;
    } else if (PER_JOB.test(label)) {
      perJobLabel ??= label;
    }
  }
  if (isAnkaJob && template === undefined) problems.push('no anka-template:<uuid> label');
  return { isAnkaJob, template, templateIsUuid: template !== undefined && UUID.test(template), tag, perJobLabel, problems };
}
