// A stand-in for ms-python.python in the paramlens integration test: the active environment
// starts as $PARAMLENS_TEST_PYTHON, "Python: Use Interpreter (test stand-in)" switches it (and
// fires onDidChangeActiveEnvironmentPath, as the real picker does), and "Python: Select
// Interpreter" only says it was opened.
'use strict';
const vscode = require('vscode');

function activate(context) {
  let active = process.env.PARAMLENS_TEST_PYTHON || 'python3';
  const changed = new vscode.EventEmitter();
  const pathOf = (environment) => (typeof environment === 'string' ? environment : environment.path);
  context.subscriptions.push(
    changed,
    vscode.commands.registerCommand('python.setInterpreter', () =>
      vscode.window.showInformationMessage('Python (test stand-in): interpreter picker opened'),
    ),
    vscode.commands.registerCommand('paramlensTest.useInterpreter', async () => {
      const chosen = await vscode.window.showInputBox({ prompt: 'Path of the Python interpreter' });
      if (chosen) {
        active = chosen;
        changed.fire({ id: chosen, path: chosen, resource: undefined });
      }
    }),
  );
  return {
    ready: Promise.resolve(),
    environments: {
      getActiveEnvironmentPath: () => ({ id: active, path: active }),
      resolveEnvironment: async (environment) => ({
        id: pathOf(environment),
        path: pathOf(environment),
        executable: { uri: vscode.Uri.file(pathOf(environment)), bitness: '64-bit', sysPrefix: '' },
      }),
      onDidChangeActiveEnvironmentPath: changed.event,
    },
  };
}

module.exports = { activate, deactivate: () => undefined };
