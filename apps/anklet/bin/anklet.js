#!/usr/bin/env node
// The `anklet` command. A file in the repository (not in dist/) so that `pnpm install` can link it
// before the first build; it runs the compiled CLI.
import '../dist/cli.js';
