// Writes apps/anklet/config.schema.json and docs/configuration.md from the host's config schema and
// the first-party plugins' schemas (each plugin owns its keys and their descriptions).
// Run after a build: pnpm --filter anklet gen:config
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import handler from '@anklet/plugin-github-handler';
import receiver from '@anklet/plugin-github-receiver';
import { configReferenceOf } from '../dist/config/reference.js';

const app = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { schema, markdown } = configReferenceOf([handler, receiver]);
writeFileSync(path.join(app, 'config.schema.json'), `${JSON.stringify(schema, null, 2)}\n`);
writeFileSync(path.join(app, '../../docs/configuration.md'), markdown);
console.log('wrote apps/anklet/config.schema.json and docs/configuration.md');
