// Compiles the unit tests and the pure modules they import to out/ (CommonJS) for `node --test`.
// esbuild transpiles each file on its own; `npm run typecheck` is what checks the types.
import * as esbuild from 'esbuild';
import { readdirSync, rmSync } from 'fs';
import { join } from 'path';

function files(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? files(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

rmSync('out', { recursive: true, force: true });
await esbuild.build({
  entryPoints: [...files('test/unit'), ...files('src').filter((f) => !f.includes('webview'))],
  outbase: '.',
  outdir: 'out',
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: 'inline',
  logLevel: 'warning',
});
