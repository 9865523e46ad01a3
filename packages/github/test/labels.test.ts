import { describe, expect, it } from 'vitest';
import { parseAnkaLabels } from '../src/index.js';

const uuid = 'c0847bc9-5d2d-4dbc-ba6a-240f7ff08032';

describe('label near-misses', () => {
  const cases: ReadonlyArray<{ labels: string[]; reason: RegExp; suggestion?: string }> = [
    { labels: ['self-hosted', 'anka-template'], reason: /label "anka-template" has no ":"/, suggestion: 'anka-template:<template-uuid>' },
    { labels: ['anka-template:'], reason: /label "anka-template:" has no template/, suggestion: 'anka-template:<template-uuid>' },
    { labels: ['anka-templates:x'], reason: /label "anka-templates:x" is not "anka-template:<value>"/, suggestion: 'anka-template:x' },
    { labels: ['my-anka-template:x'], reason: /label "my-anka-template:x" has text before "anka-template:"/, suggestion: 'anka-template:x' },
    { labels: ['Anka-Template:x'], reason: /is not "anka-template:<value>"/, suggestion: 'anka-template:x' },
    { labels: [`anka-template:${uuid}`, 'anka-template-tag:'], reason: /label "anka-template-tag:" has no tag/, suggestion: 'anka-template-tag:<tag>' },
    { labels: ['anka-template:a', 'anka-template:b'], reason: /two templates: "a" and "b"/ },
    { labels: ['anka-template-tag:t'], reason: /no "anka-template:<template-uuid>" label/ },
  ];
  for (const { labels, reason, suggestion } of cases) {
    it(`reports ${JSON.stringify(labels)} as bad, with a reason`, () => {
      const parsed = parseAnkaLabels(labels);
      expect(parsed.verdict).toBe('bad');
      expect(parsed.badReason).toMatch(reason);
      if (suggestion) expect(parsed.badReason).toContain(`did you mean "${suggestion}"?`);
    });
  }

  it('leaves labels that are clearly not anka labels alone', () => {
    for (const labels of [['self-hosted'], ['macos', 'arm64'], ['ubuntu-latest', '1234-0'], [], ['anka'], ['template:x']]) {
      const parsed = parseAnkaLabels(labels);
      expect(parsed.verdict, JSON.stringify(labels)).toBe('none');
      expect(parsed.nearMisses).toEqual([]);
    }
  });

  it('accepts well-formed labels', () => {
    expect(parseAnkaLabels(['self-hosted', `anka-template:${uuid}`, 'anka-template-tag:v1']).verdict).toBe('anka');
  });
});
