import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { definePlugin, type AnkaClient, type Plugin, type PluginInstance } from '../src/index.js';

describe('definePlugin inference', () => {
  it('infers ctx.config from the schema output (defaults applied)', () => {
    definePlugin({
      name: 'typed',
      kind: 'receiver',
      configSchema: z.object({ port: z.coerce.number(), secret: z.string(), tags: z.array(z.string()).default([]) }),
      create(ctx) {
        expectTypeOf(ctx.config.port).toEqualTypeOf<number>();
        expectTypeOf(ctx.config.secret).toEqualTypeOf<string>();
        expectTypeOf(ctx.config.tags).toEqualTypeOf<string[]>();
        expectTypeOf(ctx.kind).toEqualTypeOf<'receiver'>();
        // receivers get no Anka client
        expectTypeOf(ctx).not.toHaveProperty('anka');
        return {};
      },
    });
  });

  it('gives handlers the Anka client', () => {
    const plugin = definePlugin({
      name: 'handler',
      kind: 'handler',
      configSchema: z.object({ template: z.string() }),
      create(ctx) {
        expectTypeOf(ctx.anka).toEqualTypeOf<AnkaClient>();
        expectTypeOf(ctx.signal).toEqualTypeOf<AbortSignal>();
        return { run: async () => ({ again: true }) };
      },
    });
    expectTypeOf(plugin.kind).toEqualTypeOf<'handler'>();
    expectTypeOf(plugin).toExtend<Plugin>();
  });

  it('requires create to return a PluginInstance', () => {
    expectTypeOf<ReturnType<Plugin['create']>>().toEqualTypeOf<PluginInstance | Promise<PluginInstance>>();
    definePlugin({
      name: 'bad',
      kind: 'receiver',
      configSchema: z.object({}),
      // @ts-expect-error run must return a promise
      create: () => ({ run: () => 42 }),
    });
  });
});
