import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CLIENT_COMMANDS,
  pickServerCommand,
  rewriteLensCommand,
  SERVER_SUMMARY_COMMANDS,
  serverCommandsToRegister,
} from '../../src/commands';

describe('lens commands', () => {
  for (const serverId of SERVER_SUMMARY_COMMANDS) {
    it(`${serverId} opens the client's webview, arguments kept`, () =>
      assert.deepEqual(rewriteLensCommand({ title: '58 params', command: serverId, arguments: ['file:///a.py', 'net'] }), {
        title: '58 params',
        command: CLIENT_COMMANDS.showSummary,
        arguments: ['file:///a.py', 'net'],
      }));
  }
  it('other commands are left alone', () =>
    assert.deepEqual(rewriteLensCommand({ title: 't', command: 'editor.action.showReferences' }), {
      title: 't',
      command: 'editor.action.showReferences',
    }));
});

describe('server commands', () => {
  it('client-owned ids are not registered again', () =>
    assert.deepEqual(serverCommandsToRegister(['paramlens.showSummary', 'paramlens.server.showSummary', 'paramlens.inspect']), [
      'paramlens.server.showSummary',
      'paramlens.inspect',
    ]));
  const cases: [string, string[] | undefined, string | undefined][] = [
    ['prefers the server-namespaced id', ['paramlens.showSummary', 'paramlens.server.showSummary'], 'paramlens.server.showSummary'],
    ['accepts the plain id', ['paramlens.showSummary'], 'paramlens.showSummary'],
    ['none advertised', [], undefined],
    ['no capabilities', undefined, undefined],
  ];
  for (const [name, advertised, expected] of cases) {
    it(name, () => assert.equal(pickServerCommand(advertised, SERVER_SUMMARY_COMMANDS), expected));
  }
});
