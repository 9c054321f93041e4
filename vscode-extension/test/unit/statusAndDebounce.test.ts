import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { debounce } from '../../src/debounce';
import { presentStatus, type ServerState } from '../../src/statusModel';

describe('presentStatus', () => {
  const cases: [ServerState, { detail: RegExp; severity: string; busy: boolean }][] = [
    [{ kind: 'starting' }, { detail: /starting/, severity: 'information', busy: true }],
    [{ kind: 'idle', interpreter: '/v/python', torch: true, untrusted: false }, { detail: /^\/v\/python$/, severity: 'information', busy: false }],
    [{ kind: 'idle', interpreter: '/v/python', torch: false, untrusted: false }, { detail: /no torch/, severity: 'warning', busy: false }],
    [{ kind: 'idle', interpreter: '/v/python', torch: true, untrusted: true }, { detail: /restricted mode/, severity: 'warning', busy: false }],
    [{ kind: 'inspecting', title: 'Inspecting net.py' }, { detail: /Inspecting net\.py/, severity: 'information', busy: true }],
    [{ kind: 'error', message: 'cannot run python9' }, { detail: /cannot run/, severity: 'error', busy: false }],
  ];
  for (const [state, expected] of cases) {
    it(state.kind, () => {
      const shown = presentStatus(state);
      assert.match(shown.detail, expected.detail);
      assert.equal(shown.severity, expected.severity);
      assert.equal(shown.busy, expected.busy);
    });
  }
});

describe('debounce', () => {
  it('a burst of triggers runs the action once, after the last one', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    let runs = 0;
    const restart = debounce(() => (runs += 1), 500);
    restart.trigger();
    t.mock.timers.tick(400);
    restart.trigger();
    t.mock.timers.tick(400);
    assert.equal(runs, 0);
    t.mock.timers.tick(100);
    assert.equal(runs, 1);
    t.mock.timers.tick(1000);
    assert.equal(runs, 1);
  });
  it('dispose cancels a pending run', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    let runs = 0;
    const restart = debounce(() => (runs += 1), 500);
    restart.trigger();
    restart.dispose();
    t.mock.timers.tick(1000);
    assert.equal(runs, 0);
  });
});
