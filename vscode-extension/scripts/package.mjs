// Builds dist/paramlens-<version>.vsix at the repository root with @vscode/vsce (after `build`
// and `bundle-python`, see package.json). Dependencies are bundled by esbuild: --no-dependencies.
import { execFileSync } from 'child_process';
import { mkdirSync, readFileSync } from 'fs';
import { dirname, join, resolve } from 'path';
import { fileURLToPath } from 'url';

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const { name, version } = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'));
const outDir = resolve(here, '..', 'dist');
const out = join(outDir, `${name}-${version}.vsix`);
mkdirSync(outDir, { recursive: true });
const vsce = join(resolve(here, '..'), 'node_modules', '@vscode', 'vsce', 'vsce');
execFileSync(process.execPath, [vsce, 'package', '--no-dependencies', '--skip-license', '--out', out], {
  cwd: here,
  stdio: 'inherit',
});
console.log(`package: ${out}`);
