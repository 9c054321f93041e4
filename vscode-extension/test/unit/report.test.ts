import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { focusFromResult, markdownFromResult, reportsFromResult, type ModelReport } from '../../src/report';

const report = (object: string): ModelReport => ({
  object,
  file: '/a.py',
  line: 1,
  built_as: null,
  device: 'meta',
  status: 'ok',
  error: null,
  parameters: [],
  buffers: [],
  state_dict_keys: [],
  modules: [],
  totals: null,
});

describe('reportsFromResult', () => {
  const cases: [string, unknown, string[]][] = [
    ['one report', report('A'), ['A']],
    ['a list', [report('A'), report('B')], ['A', 'B']],
    ['{markdown, report}', { markdown: '# A', report: report('A') }, ['A']],
    ['{reports}', { reports: [report('A'), report('B')] }, ['A', 'B']],
    ['null', null, []],
    ['a string', 'oops', []],
    ['an object without reports', { markdown: 'x' }, []],
    ['a half report', { object: 'A', status: 'ok' }, []],
  ];
  for (const [name, value, expected] of cases) {
    it(name, () => assert.deepEqual(reportsFromResult(value).map((r) => r.object), expected));
  }
  it('markdown is read when present', () => {
    assert.equal(markdownFromResult({ markdown: '# net' }), '# net');
    assert.equal(markdownFromResult('paramlens: open the file first.'), 'paramlens: open the file first.');
    assert.equal(markdownFromResult([report('A')]), undefined);
  });
});

describe('focusFromResult', () => {
  const cases: [unknown, string | undefined][] = [
    [{ reports: [], focus: 'layer1.0' }, 'layer1.0'],
    [{ reports: [], focus: null }, undefined],
    [{ reports: [], focus: '' }, undefined],
    ['markdown', undefined],
  ];
  for (const [value, expected] of cases) {
    it(JSON.stringify(value), () => assert.equal(focusFromResult(value), expected));
  }
});
