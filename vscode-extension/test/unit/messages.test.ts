import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { routeServerMessage, type MessageRoute } from '../../src/messages';

describe('routeServerMessage', () => {
  const cases: [string, string, boolean, string[], MessageRoute][] = [
    ['torch problem after the extension said so', 'paramlens: torch is not importable in /v/python', true, [], 'log'],
    ['torch problem the extension did not report', 'paramlens: torch is not importable in /v/python', false, [], 'show'],
    ['another problem is shown', 'paramlens: the worker timed out after 30 s', true, [], 'show'],
    ['the same text twice', 'paramlens: the worker crashed', false, ['paramlens: the worker crashed'], 'log'],
    ['a word containing torch is not torch', 'paramlens: torchvision-like name', true, [], 'show'],
  ];
  for (const [name, text, reported, shown, expected] of cases) {
    it(name, () => assert.equal(routeServerMessage(text, reported, new Set(shown)), expected));
  }
});
