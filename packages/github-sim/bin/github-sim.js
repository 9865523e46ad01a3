#!/usr/bin/env node
// The `github-sim` command: a file in the repository so `pnpm install` can link it before the first build.
import '../dist/cli.js';
