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
  /** Labels that look like anka labels but are not (`anka-template`, `my-anka-template:x`), with a suggestion. */
  readonly nearMisses: ReadonlyArray<LabelNearMiss>;
  /**
   * `anka`: a well-formed anklet job; `bad`: its labels look like anka labels but do not parse
   * (see {@link AnkaLabels.badReason}); `none`: not an anklet job at all (`self-hosted`, `macos`).
   */
  readonly verdict: 'anka' | 'bad' | 'none';
  /** For `verdict: 'bad'`: why, in one line, with a suggestion where there is one. */
  readonly badReason?: string | undefined;
}

/** A label that looks like an anka label but does not parse. */
export interface LabelNearMiss {
  readonly label: string;
  readonly reason: string;
  /** What the label probably meant (`anka-template:x`). */
  readonly suggestion?: string | undefined;
}

// Any spelling of "anka template" (case, `_`, a missing `-`, a plural): a label meant for anklet.
const LOOKS_ANKA = /anka[-_ ]?templ/i;

/** Says why a label that mentions `anka-template` is not one, and what it probably meant. */
function nearMissOf(label: string): LabelNearMiss | undefined {
  const at = label.search(LOOKS_ANKA);
  if (at < 0) return undefined;
  const colon = label.indexOf(':', at);
  const value = colon < 0 ? '' : label.slice(colon + 1).trim();
  const name = (colon < 0 ? label.slice(at) : label.slice(at, colon)).toLowerCase();
  const isTag = name.includes('tag');
  const prefix = isTag ? TEMPLATE_TAG_LABEL_PREFIX : TEMPLATE_LABEL_PREFIX;
  const suggestion = `${prefix}${value || (isTag ? '<tag>' : '<template-uuid>')}`;
  let reason: string;
  if (colon < 0) reason = `label "${label}" has no ":" and no ${isTag ? 'tag' : 'template'} after it`;
  else if (at > 0) reason = `label "${label}" has text before "${prefix}"`;
  else reason = `label "${label}" is not "${prefix}<value>" (anka labels are lower-case, exact prefixes)`;
  return { label, reason, suggestion };
}

/**
 * Parses a job's labels by exact prefix, never by substring: `my-anka-template:x` and
 * `anka-template` alone are not anklet labels (the Go receiver matched any label containing
 * `anka-template`). They are reported, though: a label that mentions "anka template" in any
 * spelling without being a well-formed one is a near miss (`verdict: 'bad'`, with a reason and a
 * suggestion), and so is a job whose anka labels conflict or lack a template. The receiver fails
 * such a job at once instead of leaving it in GitHub's queue. Labels that do not mention
 * "anka template" (`self-hosted`, `macos`) give `verdict: 'none'`.
 */
export function parseAnkaLabels(labels: ReadonlyArray<unknown> | null | undefined): AnkaLabels {
  let template: string | undefined;
  let tag: string | undefined;
  let perJobLabel: string | undefined;
  const problems: string[] = [];
  const nearMisses: LabelNearMiss[] = [];
  let isAnkaJob = false;
  for (const raw of labels ?? []) {
    if (typeof raw !== 'string') continue;
    const label = raw.trim();
    if (label.startsWith(TEMPLATE_TAG_LABEL_PREFIX)) {
      const value = label.slice(TEMPLATE_TAG_LABEL_PREFIX.length);
      if (!value) {
        problems.push(`label "${label}" has no tag`);
        nearMisses.push({ label, reason: `label "${label}" has no tag`, suggestion: `${TEMPLATE_TAG_LABEL_PREFIX}<tag>` });
        continue;
      }
      isAnkaJob = true;
      if (tag !== undefined && tag !== value) problems.push(`two template tags: "${tag}" and "${value}"`);
      else tag = value;
    } else if (label.startsWith(TEMPLATE_LABEL_PREFIX)) {
      const value = label.slice(TEMPLATE_LABEL_PREFIX.length);
      if (!value) {
        problems.push(`label "${label}" has no template`);
        nearMisses.push({ label, reason: `label "${label}" has no template`, suggestion: `${TEMPLATE_LABEL_PREFIX}<template-uuid>` });
        continue;
      }
      isAnkaJob = true;
      if (template !== undefined && template !== value) problems.push(`two templates: "${template}" and "${value}"`);
      else template = value;
    } else if (PER_JOB.test(label)) {
      perJobLabel ??= label;
    } else {
      const miss = nearMissOf(label);
      if (miss) nearMisses.push(miss);
    }
  }
  if (isAnkaJob && template === undefined) problems.push('no anka-template:<uuid> label');
  let verdict: AnkaLabels['verdict'] = 'none';
  let badReason: string | undefined;
  if (nearMisses.length > 0) {
    verdict = 'bad';
    const [first] = nearMisses;
    badReason = `${first!.reason}${first!.suggestion ? `; did you mean "${first!.suggestion}"?` : ''}`;
  } else if (isAnkaJob && problems.length > 0) {
    verdict = 'bad';
    badReason = problems[0] === 'no anka-template:<uuid> label' ? 'no "anka-template:<template-uuid>" label (a tag alone is not enough)' : problems[0];
  } else if (isAnkaJob) verdict = 'anka';
  return { isAnkaJob, template, templateIsUuid: template !== undefined && UUID.test(template), tag, perJobLabel, problems, nearMisses, verdict, badReason };
}
