import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AnkletError, ErrorCodes, apiVersion, definePlugin, isAnkletError, isPlugin } from '../src/index.js';

describe('definePlugin', () => {
  it('stamps the brand and the api version and freezes the plugin', () => {
    const plugin = definePlugin({
      name: 'demo',
      kind: 'receiver',
      configSchema: z.object({ port: z.number() }),
      create: () => ({}),
    });
    expect(isPlugin(plugin)).toBe(true);
    expect(plugin.apiVersion).toBe(apiVersion);
    expect(Object.isFrozen(plugin)).toBe(true);
  });

  it('recognises a plugin made by another copy of core (same global symbol), and nothing else', () => {
    const foreign = { [Symbol.for('anklet.plugin')]: true, apiVersion: 1 };
    expect(isPlugin(foreign)).toBe(true);
    expect(isPlugin({ apiVersion: 1 })).toBe(false);
    expect(isPlugin(null)).toBe(false);
    expect(isPlugin('plugin')).toBe(false);
  });

  it('rejects an unknown kind, a missing create and a schema that is not a Standard Schema', () => {
    const schema = z.object({});
    expect(() => definePlugin({ name: 'x', kind: 'other' as 'handler', configSchema: schema, create: () => ({}) })).toThrow(/kind must be/);
    expect(() => definePlugin({ name: 'x', kind: 'handler', configSchema: schema, create: undefined as never })).toThrow(/create/);
    expect(() => definePlugin({ name: 'x', kind: 'handler', configSchema: {} as never, create: () => ({}) })).toThrow(/Standard Schema/);
  });
});

describe('AnkletError', () => {
  it('carries a stable code, a hint and a cause', () => {
    const cause = new Error('ECONNREFUSED');
    const err = new AnkletError(ErrorCodes.STORE_UNAVAILABLE, 'redis is down', { cause, hint: 'start redis', operator: true });
    expect(err.code).toBe('ANKLET_ERR_STORE_UNAVAILABLE');
    expect(err.hint).toBe('start redis');
    expect(err.cause).toBe(cause);
    expect(err.operator).toBe(true);
    expect(isAnkletError(err)).toBe(true);
  });

  it('is recognised by name and code, not instanceof', () => {
    const lookalike = Object.assign(new Error('x'), { name: 'AnkletError', code: 'ANKLET_ERR_ABORTED' });
    expect(isAnkletError(lookalike)).toBe(true);
    expect(isAnkletError(new Error('x'))).toBe(false);
    expect(isAnkletError(Object.assign(new Error('x'), { name: 'AnkletError', code: 'E_OTHER' }))).toBe(false);
  });

  it('has codes that all start with ANKLET_ERR_ and are unique', () => {
    const codes = Object.values(ErrorCodes);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(code).toMatch(/^ANKLET_ERR_[A-Z_]+$/);
  });
});
