import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  chooseInterpreter,
  judgeProbe,
  parseProbe,
  problemMessage,
  serverCommand,
  type InterpreterChoice,
  type ProbeResult,
} from '../../src/interpreter';

describe('chooseInterpreter', () => {
  const cases: [string, string | string[] | undefined, string[] | undefined, InterpreterChoice][] = [
    ['setting wins over the Python extension', '/opt/py/bin/python', ['/venv/bin/python'], { command: ['/opt/py/bin/python'], source: 'setting' }],
    ['setting as command parts', ['conda', 'run', 'python'], undefined, { command: ['conda', 'run', 'python'], source: 'setting' }],
    ['blank setting falls through', '   ', ['/venv/bin/python'], { command: ['/venv/bin/python'], source: 'python-extension' }],
    ['no setting, no extension', undefined, undefined, { command: ['python3'], source: 'default' }],
    ['extension gives nothing', '', [], { command: ['python3'], source: 'default' }],
    ['setting is trimmed', '  /x/python  ', undefined, { command: ['/x/python'], source: 'setting' }],
  ];
  for (const [name, setting, extension, expected] of cases) {
    it(name, () => assert.deepEqual(chooseInterpreter(setting, extension), expected));
  }
});

describe('parseProbe', () => {
  const good = '{"version": [3, 11, 7], "executable": "/v/bin/python", "torch": true}';
  const cases: [string, string, ProbeResult | undefined][] = [
    ['plain', good, { version: [3, 11, 7], executable: '/v/bin/python', torch: true }],
    ['noise before the JSON line', `hello from sitecustomize\n${good}\n`, { version: [3, 11, 7], executable: '/v/bin/python', torch: true }],
    ['not JSON', 'Python 3.11.7', undefined],
    ['wrong shape', '{"version": "3.11", "executable": "x", "torch": true}', undefined],
    ['empty', '', undefined],
  ];
  for (const [name, stdout, expected] of cases) {
    it(name, () => assert.deepEqual(parseProbe(stdout), expected));
  }
});

describe('judgeProbe and problemMessage', () => {
  const probe = (version: [number, number, number], torch: boolean): ProbeResult => ({ version, executable: '/p/python', torch });
  it('a Python 3.9 with torch is fine', () => assert.equal(judgeProbe(probe([3, 9, 0], true), undefined), undefined));
  it('3.8 is too old', () => assert.deepEqual(judgeProbe(probe([3, 8, 18], true), undefined), { kind: 'too-old', version: '3.8.18' }));
  it('no torch', () => assert.deepEqual(judgeProbe(probe([3, 12, 1], false), undefined), { kind: 'no-torch', executable: '/p/python' }));
  it('not runnable keeps the failure', () =>
    assert.deepEqual(judgeProbe(undefined, 'not found'), { kind: 'not-runnable', detail: 'not found' }));
  it('the no-torch message names the interpreter and what still works', () => {
    const message = problemMessage({ kind: 'no-torch', executable: '/p/python' }, ['python3']);
    assert.match(message, /PyTorch is not installed/);
    assert.match(message, /\/p\/python/);
    assert.match(message, /static freeze rules still run/);
  });
  it('the too-old message names the minimum', () =>
    assert.match(problemMessage({ kind: 'too-old', version: '3.8.1' }, ['py']), /3\.9 or newer/));
});

describe('serverCommand', () => {
  it('runs the bundled launcher with the interpreter', () =>
    assert.deepEqual(serverCommand(['/v/bin/python'], '/ext/bundled/tool/launch.py'), {
      command: '/v/bin/python',
      args: ['/ext/bundled/tool/launch.py'],
    }));
  it('keeps launcher prefixes such as conda run', () =>
    assert.deepEqual(serverCommand(['conda', 'run', 'python'], '/l.py'), { command: 'conda', args: ['run', 'python', '/l.py'] }));
  it('falls back to -m paramlens serve without a bundle', () =>
    assert.deepEqual(serverCommand(['python3'], undefined), { command: 'python3', args: ['-m', 'paramlens', 'serve'] }));
});
