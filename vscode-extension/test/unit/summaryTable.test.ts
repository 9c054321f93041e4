import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ModelReport } from '../../src/report';
import {
  filterRows,
  formatBytes,
  formatCount,
  formatShape,
  sortRows,
  summaryRows,
  totalsLine,
} from '../../src/summaryTable';

/** The report of examples/net.py's `net` (AvgPool1d(2), BatchNorm1d(3), Linear(12, 4)), partly frozen and tied for the marks. */
const report: ModelReport = {
  object: 'net',
  file: '/ws/net.py',
  line: 4,
  built_as: 'net()',
  device: 'meta',
  status: 'ok',
  error: null,
  parameters: [
    { name: 'bn.weight', shape: [3], dtype: 'float32', requires_grad: true, numel: 3, aliases: [] },
    { name: 'bn.bias', shape: [3], dtype: 'float32', requires_grad: false, numel: 3, aliases: [] },
    { name: 'fc.weight', shape: [4, 12], dtype: 'float32', requires_grad: true, numel: 48, aliases: ['head.weight'] },
    { name: 'fc.bias', shape: [4], dtype: 'float32', requires_grad: true, numel: 4, aliases: [] },
    { name: 'lazy.weight', shape: null, dtype: 'float32', requires_grad: true, numel: null, aliases: [] },
  ],
  buffers: [
    { name: 'bn.running_mean', shape: [3], dtype: 'float32', numel: 3, persistent: true },
    { name: 'bn.num_batches_tracked', shape: [], dtype: 'int64', numel: 1, persistent: true },
    { name: 'mask', shape: [2], dtype: 'bool', numel: 2, persistent: false },
  ],
  state_dict_keys: [],
  modules: [],
  totals: { parameters: 58, trainable: 55, frozen: 3, parameter_tensors: 4, buffers: 6, buffer_tensors: 3, bytes: 258, lazy_parameters: 1 },
};

const names = (rows: { name: string }[]): string[] => rows.map((row) => row.name);

describe('formatting', () => {
  const shapes: [number[] | null, string][] = [[[4, 12], '4 × 12'], [[], '()'], [null, '?'], [[7], '7']];
  for (const [shape, expected] of shapes) {
    it(`shape ${JSON.stringify(shape)}`, () => assert.equal(formatShape(shape), expected));
  }
  const counts: [number | null, string][] = [[0, '0'], [58, '58'], [1234, '1,234'], [40584928, '40,584,928'], [null, '?']];
  for (const [count, expected] of counts) {
    it(`count ${count}`, () => assert.equal(formatCount(count), expected));
  }
  const sizes: [number, string][] = [[258, '258 B'], [2048, '2.0 KiB'], [162339712, '155 MiB'], [7e9 * 2, '13.0 GiB']];
  for (const [bytes, expected] of sizes) {
    it(`bytes ${bytes}`, () => assert.equal(formatBytes(bytes), expected));
  }
});

describe('summaryRows', () => {
  const rows = summaryRows(report);
  it('parameters in model order, then buffers', () =>
    assert.deepEqual(names(rows), ['bn.weight', 'bn.bias', 'fc.weight', 'fc.bias', 'lazy.weight', 'bn.running_mean', 'bn.num_batches_tracked', 'mask']));
  const marks: [string, string[]][] = [
    ['bn.weight', ['trainable']],
    ['bn.bias', ['frozen']],
    ['fc.weight', ['trainable', 'tied']],
    ['lazy.weight', ['trainable', 'lazy']],
    ['bn.running_mean', ['buffer']],
    ['mask', ['buffer', 'non-persistent']],
  ];
  for (const [name, expected] of marks) {
    it(`marks of ${name}`, () => assert.deepEqual(rows.find((row) => row.name === name)?.marks, expected));
  }
});

describe('sortRows', () => {
  const rows = summaryRows(report);
  it('by elements, descending, unknown last', () =>
    assert.deepEqual(names(sortRows(rows, 'numel', 'desc')).slice(0, 3), ['fc.weight', 'fc.bias', 'bn.weight']));
  it('unknown sizes stay last ascending too', () => assert.equal(sortRows(rows, 'numel', 'asc').at(-1)?.name, 'lazy.weight'));
  it('by name, ascending', () =>
    assert.deepEqual(names(sortRows(rows, 'name', 'asc')).slice(0, 3), ['bn.bias', 'bn.num_batches_tracked', 'bn.running_mean']));
  it('by trainable: trainable, frozen, buffers', () => {
    const sorted = sortRows(rows, 'trainable', 'asc');
    assert.equal(sorted[0].trainable, true);
    assert.equal(sorted.at(-1)?.trainable, null);
    assert.equal(sorted.find((row) => row.trainable === false)?.name, 'bn.bias');
  });
  it('stable: equal keys keep model order', () =>
    assert.deepEqual(names(sortRows(rows, 'dtype', 'asc')).filter((n) => n.startsWith('bn.') && !n.includes('num')), ['bn.weight', 'bn.bias', 'bn.running_mean']));
  it('does not mutate its input', () => {
    sortRows(rows, 'name', 'desc');
    assert.equal(rows[0].name, 'bn.weight');
  });
});

describe('filterRows', () => {
  const rows = summaryRows(report);
  const cases: [string, string[]][] = [
    ['', names(rows)],
    ['is:frozen', ['bn.bias']],
    ['is:tied', ['fc.weight']],
    ['is:buffer', ['bn.running_mean', 'bn.num_batches_tracked', 'mask']],
    ['head', ['fc.weight']],
    ['BN running', ['bn.running_mean']],
    ['int64', ['bn.num_batches_tracked']],
    ['4 × 12', ['fc.weight']],
    ['is:buffer is:non-persistent', ['mask']],
    ['nothing-matches', []],
  ];
  for (const [query, expected] of cases) {
    it(`"${query}"`, () => assert.deepEqual(names(filterRows(rows, query)), expected));
  }
});

describe('totalsLine', () => {
  it('counts, frozen, buffers, bytes and lazy', () =>
    assert.equal(totalsLine(report), '58 params · 55 trainable · 3 frozen · 6 buffer elements · 258 B · 1 lazy (unknown size)'));
  it('a model that needs arguments says so', () =>
    assert.equal(totalsLine({ ...report, status: 'needs_arguments', totals: null }), 'needs arguments'));
});
