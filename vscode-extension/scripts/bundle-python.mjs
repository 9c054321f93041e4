// Fills bundled/ with what the server needs at run time, so installing the VSIX is all a user
// does:  bundled/libs  the pure-Python dependencies (pip --target --no-deps, pinned),
//        bundled/tool  launch.py + the paramlens and paramlens_worker packages from ../server.
// The Python used for pip: $PARAMLENS_BUNDLE_PYTHON, else the repo's .venv, else python3.
import { execFileSync } from 'child_process';
import { cpSync, existsSync, mkdirSync, rmSync } from 'fs';
import { dirname, join, resolve } from 'path';
import { fileURLToPath } from 'url';

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const repo = resolve(here, '..');
const bundled = join(here, 'bundled');
const venvPython = join(repo, '.venv', 'bin', 'python');
const python =
  process.env.PARAMLENS_BUNDLE_PYTHON || (existsSync(venvPython) ? venvPython : 'python3');

rmSync(bundled, { recursive: true, force: true });
mkdirSync(join(bundled, 'tool'), { recursive: true });

execFileSync(
  python,
  [
    '-m', 'pip', 'install',
    '--quiet', '--disable-pip-version-check', '--no-compile',
    '--target', join(bundled, 'libs'),
    '--no-deps', '--implementation', 'py', '--only-binary', ':all:',
    '--requirement', join(here, 'python', 'requirements.txt'),
  ],
  { stdio: 'inherit' },
);
rmSync(join(bundled, 'libs', 'bin'), { recursive: true, force: true });

const skip = (source) => !/__pycache__|\.pyc$/.test(source);
for (const pkg of ['paramlens', 'paramlens_worker']) {
  cpSync(join(repo, 'server', pkg), join(bundled, 'tool', pkg), { recursive: true, filter: skip });
}
cpSync(join(here, 'python', 'launch.py'), join(bundled, 'tool', 'launch.py'));
console.log(`bundle-python: ${bundled} (pip from ${python})`);
