import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRecord, ServerLog, type LogLine } from '../../src/serverLog';

describe('parseRecord', () => {
  const cases: [string, LogLine | undefined][] = [
    ['2026-11-26 18:34:03,910 WARNING paramlens.server: torch is missing', { level: 'warn', text: 'paramlens.server: torch is missing' }],
    ['2026-11-26 18:34:03,910 INFO paramlens.lifecycle: pre-warming', { level: 'info', text: 'paramlens.lifecycle: pre-warming' }],
    ['2026-11-26 18:34:03,910 CRITICAL x: y', { level: 'error', text: 'x: y' }],
    ['Traceback (most recent call last):', undefined],
    ['  File "x.py", line 1', undefined],
  ];
  for (const [line, expected] of cases) {
    it(line, () => assert.deepEqual(parseRecord(line), expected));
  }
});

describe('ServerLog', () => {
  const stamp = '2026-11-26 18:00:00,000';
  it('stderr first: the logMessage copy is dropped', () => {
    const log = new ServerLog();
    assert.deepEqual(log.stderr(`${stamp} INFO a: started\n`), [{ level: 'info', text: 'a: started' }]);
    assert.equal(log.client('info', `${stamp} INFO a: started`), undefined);
  });
  it('logMessage first: the stderr copy and its traceback are dropped', () => {
    const log = new ServerLog();
    assert.deepEqual(log.client('error', `${stamp} ERROR a: boom\nTraceback (most recent call last):`), {
      level: 'error',
      text: 'a: boom\nTraceback (most recent call last):',
    });
    assert.deepEqual(log.stderr(`${stamp} ERROR a: boom\nTraceback (most recent call last):\n  File "x"\n`), []);
  });
  it('a record repeated twice is logged twice, each once', () => {
    const log = new ServerLog();
    const line = `${stamp} WARNING s: torch is not importable\n`;
    assert.equal(log.stderr(line + line).length, 2);
    assert.equal(log.client('warn', `${stamp} WARNING s: torch is not importable`), undefined);
    assert.equal(log.client('warn', `${stamp} WARNING s: torch is not importable`), undefined);
    // A third copy has no stderr twin left: it is news.
    assert.deepEqual(log.client('warn', `${stamp} WARNING s: torch is not importable`), {
      level: 'warn',
      text: 's: torch is not importable',
    });
  });
  it('output that is no record is logged (a launcher error, a crash)', () => {
    const log = new ServerLog();
    assert.deepEqual(log.stderr('paramlens: Python 3.9 or newer is needed\n'), [
      { level: 'warn', text: 'paramlens: Python 3.9 or newer is needed' },
    ]);
  });
  it('lines split across chunks are joined', () => {
    const log = new ServerLog();
    assert.deepEqual(log.stderr(`${stamp} INFO a: hel`), []);
    assert.deepEqual(log.stderr('lo\n'), [{ level: 'info', text: 'a: hello' }]);
  });
  it('keeps the last lines for a crash report, logged or not', () => {
    const log = new ServerLog(2);
    log.client('error', `${stamp} ERROR a: boom`);
    log.stderr(`${stamp} ERROR a: boom\nline 2\nline 3\npartial`);
    assert.deepEqual(log.recent(), ['line 2', 'line 3', 'partial']);
  });
});
