import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expandPath, serverSettings } from '../../src/settings';

describe('expandPath', () => {
  const cases: [string, string, string | undefined, string][] = [
    ['workspace folder', '${workspaceFolder}/.venv/bin/python', '/ws', '/ws/.venv/bin/python'],
    ['home tilde', '~/py/bin/python', '/ws', '/home/u/py/bin/python'],
    ['userHome', '${userHome}/x', undefined, '/home/u/x'],
    ['env variable', '${env:CONDA_PREFIX}/bin/python', undefined, '/conda/bin/python'],
    ['unknown env variable is empty', '${env:NOPE}/python', undefined, '/python'],
    ['no folder leaves the variable', '${workspaceFolder}/p', undefined, '${workspaceFolder}/p'],
    ['tilde inside a path is kept', '/a/~b', undefined, '/a/~b'],
  ];
  for (const [name, value, folder, expected] of cases) {
    it(name, () => assert.equal(expandPath(value, folder, '/home/u', { CONDA_PREFIX: '/conda' }), expected));
  }
});

describe('serverSettings', () => {
  const values: Record<string, unknown> = {
    inspect: 'onSave',
    loadMode: 'module',
    timeoutSeconds: 12,
    select: ['PL001'],
    interpreter: '/ignored/because/resolved/separately',
    unknownKey: 1,
  };
  const get = (key: string): unknown => values[key];

  it('forwards the set keys, the resolved interpreter and trust', () =>
    assert.deepEqual(serverSettings(get, ['/v/bin/python'], true), {
      inspect: 'onSave',
      loadMode: 'module',
      timeoutSeconds: 12,
      select: ['PL001'],
      interpreter: ['/v/bin/python'],
      untrusted: false,
    }));

  it('an untrusted workspace gets no interpreter and untrusted=true', () => {
    const settings = serverSettings(get, ['/v/bin/python'], false);
    assert.deepEqual(settings.interpreter, []);
    assert.equal(settings.untrusted, true);
  });
});
