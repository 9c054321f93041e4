// The bundled launcher, run by a real python3 against a stand-in `paramlens` package that reports
// what the server process would see: the bundle first on sys.path, no PYTHONPATH to pass on.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

const root = mkdtempSync(join(tmpdir(), 'paramlens-launcher-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('bundled/tool/launch.py', () => {
  it('puts tool then libs first on sys.path, drops PYTHONPATH, runs `serve`', () => {
    const tool = join(root, 'bundled', 'tool');
    const libs = join(root, 'bundled', 'libs');
    mkdirSync(join(tool, 'paramlens'), { recursive: true });
    mkdirSync(libs, { recursive: true });
    cpSync(join(__dirname, '..', '..', '..', 'python', 'launch.py'), join(tool, 'launch.py'));
    writeFileSync(join(tool, 'paramlens', '__init__.py'), '');
    writeFileSync(
      join(tool, 'paramlens', 'cli.py'),
      [
        'import json, os, sys',
        'def main(argv):',
        '    print(json.dumps({"argv": argv, "path": sys.path[:2], "pythonpath": os.environ.get("PYTHONPATH")}))',
        '    return 0',
      ].join('\n'),
    );
    const out = execFileSync('python3', [join(tool, 'launch.py'), '--tcp', '127.0.0.1:1'], {
      env: { ...process.env, PYTHONPATH: '/somewhere/else' },
      encoding: 'utf8',
    });
    const seen = JSON.parse(out) as { argv: string[]; path: string[]; pythonpath: string | null };
    assert.deepEqual(seen.argv, ['serve', '--tcp', '127.0.0.1:1']);
    assert.deepEqual(seen.path, [tool, libs]);
    assert.equal(seen.pythonpath, null);
  });
});
