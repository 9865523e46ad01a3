import { describe, expect, it } from 'vitest';
import { TIMELINE_DEFAULT_MAX_AGE_MS, TIMELINE_DEFAULT_MAX_JOBS, TIMELINE_MAX_TEXT, timelineEventOf, timelineHistoryOf, timelineText, type NewTimelineEvent } from '../src/index.js';

describe('timeline events', () => {
  it('keeps the texts anklet writes: reasons, VM names, template ids, conclusions', () => {
    for (const text of [
      'waiting_for_runner_registration_timed_out',
      'max_attempts_exceeded: error_ensuring_vm_template_exists_on_host',
      'anklet-vm-0123456789ab-4f0c2c7e-1f7e-4b0a-9a53-0f0e1d2c3b4a',
      '84266873-da90-4e0d-903b-ed0233471f9f:1c2r',
      'lease of GITHUB_HANDLER1@3f9a2b1c expired',
      'cancelled: anka_template_or_tag_not_found',
    ]) {
      expect(timelineText(text)).toBe(text);
    }
  });

  it('blanks token-like values and cuts long texts', () => {
    const jit = Buffer.from(JSON.stringify({ '.runner': 'abc', '.credentials_rsaparams': 'k'.repeat(60) + '123' })).toString('base64');
    expect(timelineText('token ghs_16C7e42F292c6912E7710c838347Ae178B4a refused')).toBe('token [redacted] refused');
    expect(timelineText('github_pat_11ABCDEFG0123456789_abcdefghijklmnop')).toBe('[redacted]');
    expect(timelineText(`jit ${jit}`)).toBe('jit [redacted]');
    expect(timelineText('Authorization: Bearer abc.def.ghi-1234')).toBe('Authorization: [redacted]');
    expect(timelineText('-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY----- after')).toBe('[redacted] after');
    const long = timelineText('x'.repeat(1000));
    expect(long.length).toBe(TIMELINE_MAX_TEXT);
    expect(long.endsWith('…')).toBe(true);
  });

  it('keeps only the known fields of a known type', () => {
    const event = { type: 'vm_started', by: 'h1', detail: 'vm', reason: '', jitConfig: 'secret', payload: { a: 1 } } as unknown as NewTimelineEvent;
    expect(timelineEventOf(event)).toEqual({ type: 'vm_started', by: 'h1', detail: 'vm' });
    expect(timelineEventOf({ type: 'nope' } as unknown as NewTimelineEvent)).toBeNull();
  });

  it('fills the history bound with its defaults', () => {
    expect(timelineHistoryOf(undefined)).toEqual({ maxAgeMs: TIMELINE_DEFAULT_MAX_AGE_MS, maxJobs: TIMELINE_DEFAULT_MAX_JOBS });
    expect(timelineHistoryOf({ maxAgeMs: 5000, maxJobs: 0 })).toEqual({ maxAgeMs: 5000, maxJobs: 0 });
    expect(timelineHistoryOf({ maxAgeMs: -1, maxJobs: Number.NaN })).toEqual({ maxAgeMs: TIMELINE_DEFAULT_MAX_AGE_MS, maxJobs: TIMELINE_DEFAULT_MAX_JOBS });
  });
});
