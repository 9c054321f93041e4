/**
 * The interpreter: from the Python extension's API (`@vscode/python-extension`) when it is
 * installed, overridden by `paramlens.interpreter`; and a quick probe of what it can do.
 */
import { execFile } from 'child_process';
import * as os from 'os';
import { PVSC_EXTENSION_ID, PythonExtension } from '@vscode/python-extension';
import * as vscode from 'vscode';
import {
  chooseInterpreter,
  judgeProbe,
  parseProbe,
  PROBE_SCRIPT,
  type InterpreterChoice,
  type InterpreterProblem,
  type ProbeResult,
} from './interpreter';
import { expandPath } from './settings';

/** Whether the Python extension is installed (enabled). */
export function hasPythonExtension(): boolean {
  return vscode.extensions.getExtension(PVSC_EXTENSION_ID) !== undefined;
}

async function pythonExtensionInterpreter(
  resource: vscode.Uri | undefined,
  log: vscode.LogOutputChannel,
): Promise<string[] | undefined> {
  if (!hasPythonExtension()) {
    return undefined;
  }
  try {
    const api = await PythonExtension.api();
    const active = api.environments.getActiveEnvironmentPath(resource);
    const environment = await api.environments.resolveEnvironment(active);
    const executable = environment?.executable.uri?.fsPath;
    return executable ? [executable] : undefined;
  } catch (error) {
    log.warn(`Python extension: could not read the selected interpreter: ${String(error)}`);
    return undefined;
  }
}

/** Resolve the interpreter for a workspace folder (the first one when undefined). */
export async function resolveInterpreter(
  folder: vscode.WorkspaceFolder | undefined,
  log: vscode.LogOutputChannel,
): Promise<InterpreterChoice> {
  const config = vscode.workspace.getConfiguration('paramlens', folder?.uri);
  const raw = config.get<string | string[]>('interpreter');
  const setting =
    typeof raw === 'string'
      ? expandPath(raw, folder?.uri.fsPath, os.homedir(), process.env)
      : raw?.map((part) => expandPath(part, folder?.uri.fsPath, os.homedir(), process.env));
  return chooseInterpreter(setting, await pythonExtensionInterpreter(folder?.uri, log));
}

/**
 * Call `listener` when the Python extension's selected interpreter changes. Registration waits
 * for the extension to activate, so the returned disposable is filled in asynchronously.
 */
export function onDidChangePythonInterpreter(listener: () => void): vscode.Disposable {
  const subscriptions: vscode.Disposable[] = [];
  let disposed = false;
  if (hasPythonExtension()) {
    void PythonExtension.api().then(
      (api) => {
        const subscription = api.environments.onDidChangeActiveEnvironmentPath(() => listener());
        if (disposed) {
          subscription.dispose();
        } else {
          subscriptions.push(subscription);
        }
      },
      () => undefined,
    );
  }
  return new vscode.Disposable(() => {
    disposed = true;
    for (const subscription of subscriptions) {
      subscription.dispose();
    }
  });
}

/** The probe's verdict on an interpreter. */
export interface ProbeOutcome {
  probe: ProbeResult | undefined;
  problem: InterpreterProblem | undefined;
}

/** Run the probe script in the interpreter (bounded by a timeout). */
export function probeInterpreter(command: readonly string[], timeoutMs = 20000): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const [file, ...args] = command;
    execFile(
      file,
      [...args, '-c', PROBE_SCRIPT],
      { timeout: timeoutMs, windowsHide: true },
      (error, stdout, stderr) => {
        const probe = error ? undefined : parseProbe(stdout);
        const failure = error
          ? (error as NodeJS.ErrnoException).code === 'ENOENT'
            ? 'not found'
            : (stderr.trim().split('\n').pop() ?? error.message)
          : undefined;
        resolve({ probe, problem: judgeProbe(probe, failure) });
      },
    );
  });
}

/** Open the interpreter picker: the Python extension's when installed, else our setting. */
export async function selectInterpreter(): Promise<void> {
  if (hasPythonExtension()) {
    await vscode.commands.executeCommand('python.setInterpreter');
  } else {
    await vscode.commands.executeCommand('workbench.action.openSettings', 'paramlens.interpreter');
  }
}
