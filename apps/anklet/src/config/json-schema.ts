import { z } from 'zod';
import { hostConfigSchema } from './schema.js';

/**
 * The JSON Schema of config.yml, generated from the host's zod schema. `config.schema.json` at the
 * package root is this output; a test fails when the two differ (`pnpm --filter anklet gen:schema`).
 * Plugin entries allow extra keys, because each plugin validates its own block.
 */
export function configJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(hostConfigSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return {
    ...generated,
    $id: 'https://github.com/anklet/anklet/apps/anklet/config.schema.json',
    title: 'anklet config.yml',
    description: 'The anklet host config. Plugin blocks may hold more keys: each plugin checks its own with `anklet config validate`.',
  };
}
