/** Entry point: starts the paramlens language server and wires the commands and UI around it. */
import * as path from 'path';
import * as vscode from 'vscode';
import {
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  MessageType,
  ShowMessageNotification,
  type LanguageClient,
  type ShowMessageParams,
} from 'vscode-languageclient/node';
import { advertisedCommands, createClient, type ParamlensClient } from './client';
import {
  CLIENT_COMMANDS,
  pickServerCommand,
  SERVER_INSPECT_COMMANDS,
  SERVER_SUMMARY_COMMANDS,
} from './commands';
import { debounce, type Debounced } from './debounce';
import { routeServerMessage } from './messages';
import { chooseInterpreter, problemMessage, type InterpreterChoice } from './interpreter';
import { onDidChangePythonInterpreter, probeInterpreter, resolveInterpreter, selectInterpreter } from './python';
import { focusFromResult, markdownFromResult, reportsFromResult } from './report';
import { RESTART_KEYS } from './settings';
import { Status } from './status';
import { SummaryPanel } from './summaryPanel';

const RESTART_DELAY_MS = 600;

// The one controller, for deactivate() (VS Code's extension entry points are module functions).
let active: Controller | undefined;
const SELECT_INTERPRETER = 'Select Interpreter';
const SHOW_LOGS = 'Show Logs';

/** Owns the client's life: start, stop, debounced restarts, and the one-time problem messages. */
class Controller implements vscode.Disposable {
  private current: ParamlensClient | undefined;
  private queue: Promise<void> = Promise.resolve();
  private readonly shownProblems = new Set<string>();
  private readonly shownServerMessages = new Set<string>();
  readonly restartSoon: Debounced;

  constructor(
    private readonly context: vscode.ExtensionContext,
    readonly log: vscode.LogOutputChannel,
    private readonly status: Status,
  ) {
    this.restartSoon = debounce(() => void this.restart(), RESTART_DELAY_MS);
  }

  /** The running client, if any. */
  get running(): LanguageClient | undefined {
    const client = this.current?.client;
    return client?.isRunning() ? client : undefined;
  }

  /** Stop the current server (if any) and start a fresh one; calls are serialized. */
  restart(): Promise<void> {
    this.queue = this.queue
      .then(async () => {
        await this.stop();
        await this.start();
      })
      .catch((error: unknown) => {
        // Keep the queue usable: the next restart must still run.
        this.log.error(`restarting the server failed: ${String(error)}`);
        this.status.set({ kind: 'error', message: 'restarting the server failed' });
      });
    return this.queue;
  }

  private async interpreter(): Promise<InterpreterChoice> {
    const folder = vscode.workspace.workspaceFolders?.[0];
    if (vscode.workspace.isTrusted) {
      return resolveInterpreter(folder, this.log);
    }
    // Restricted mode: never run an interpreter the workspace chose (it may be the workspace's
    // own venv); only the user's setting or python3 runs the server, for static rules.
    return chooseInterpreter(
      vscode.workspace.getConfiguration('paramlens').inspect<string>('interpreter')?.globalValue,
      undefined,
    );
  }

  private async start(): Promise<void> {
    this.status.set({ kind: 'starting' });
    const trusted = vscode.workspace.isTrusted;
    const choice = await this.interpreter();
    this.log.info(`interpreter (${choice.source}): ${choice.command.join(' ')}`);
    const { probe, problem } = await probeInterpreter(choice.command);
    if (probe) {
      this.log.info(
        `Python ${probe.version.join('.')} at ${probe.executable}; torch ${probe.torch ? 'found' : 'not installed'}`,
      );
    }
    if (problem) {
      const message = problemMessage(problem, choice.command);
      this.log.warn(message);
      this.showProblemOnce(`${problem.kind}:${choice.command.join(' ')}`, message);
      if (problem.kind !== 'no-torch') {
        this.status.set({ kind: 'error', message: `cannot run ${choice.command.join(' ')}` });
        return;
      }
    }
    const current = createClient({
      extensionPath: this.context.extensionPath,
      interpreter: choice.command,
      trusted,
      log: this.log,
      status: this.status,
    });
    this.current = current;
    const client = current.client;
    // Registered before start, so it replaces languageclient's plain showMessage handler.
    client.onNotification(ShowMessageNotification.type, (params) =>
      this.serverMessage(params, problem?.kind === 'no-torch'),
    );
    try {
      await client.start();
    } catch (error) {
      this.log.error(`the server did not start: ${String(error)}`);
      this.status.set({ kind: 'error', message: 'the server did not start' });
      this.showProblemOnce('start', 'paramlens: the language server did not start.');
      return;
    }
    const info = client.initializeResult?.serverInfo;
    this.log.info(`server ${info?.name ?? 'paramlens'} ${info?.version ?? ''} started`);
    this.status.set({
      kind: 'idle',
      interpreter: probe ? probe.executable : choice.command.join(' '),
      torch: probe?.torch ?? false,
      untrusted: !trusted,
    });
  }

  private async stop(): Promise<void> {
    const current = this.current;
    this.current = undefined;
    if (current) {
      try {
        await current.client.stop(5000);
      } catch (error) {
        this.log.warn(`stopping the server: ${String(error)}`);
      }
      await current.client.dispose().catch(() => undefined);
      await current.killServer();
    }
    this.status.set({ kind: 'stopped' });
  }

  /** A server `window/showMessage`: logged always, shown (with "Show Logs") when it is news. */
  private serverMessage(params: ShowMessageParams, torchReported: boolean): void {
    const text = params.message.trim();
    const level = params.type === MessageType.Error ? 'error' : params.type === MessageType.Warning ? 'warn' : 'info';
    this.log[level](`server message: ${text}`);
    if (routeServerMessage(text, torchReported, this.shownServerMessages) === 'log') {
      return;
    }
    this.shownServerMessages.add(text);
    const show =
      level === 'error'
        ? vscode.window.showErrorMessage
        : level === 'warn'
          ? vscode.window.showWarningMessage
          : vscode.window.showInformationMessage;
    void show(text, SHOW_LOGS).then((choice) => choice && this.log.show());
  }

  /** One message per problem per session, with the ways out. */
  showProblemOnce(key: string, message: string): void {
    if (this.shownProblems.has(key)) {
      return;
    }
    this.shownProblems.add(key);
    void vscode.window.showWarningMessage(message, SELECT_INTERPRETER, SHOW_LOGS).then((choice) => {
      if (choice === SELECT_INTERPRETER) {
        void selectInterpreter();
      } else if (choice === SHOW_LOGS) {
        this.log.show();
      }
    });
  }

  async dispose(): Promise<void> {
    this.restartSoon.dispose();
    await this.stop();
  }
}

function activeDocumentUri(): vscode.Uri | undefined {
  const document = vscode.window.activeTextEditor?.document;
  return document?.languageId === 'python' ? document.uri : undefined;
}

async function runServerCommand(
  controller: Controller,
  candidates: readonly string[],
  args: unknown[],
): Promise<unknown> {
  const client = controller.running;
  if (!client) {
    void vscode.window.showWarningMessage('paramlens: the server is not running.', SHOW_LOGS).then(
      (choice) => choice && controller.log.show(),
    );
    return undefined;
  }
  const command = pickServerCommand(advertisedCommands(client), candidates);
  if (!command) {
    controller.log.error(`the server advertises none of ${candidates.join(', ')}`);
    return undefined;
  }
  return client.sendRequest(ExecuteCommandRequest.type, { command, arguments: args });
}

/** Activate: log channel, status item, commands, restarts on interpreter/trust changes, start. */
export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const log = vscode.window.createOutputChannel('paramlens', { log: true });
  const status = new Status();
  const panel = new SummaryPanel(context.extensionUri);
  const controller = new Controller(context, log, status);
  active = controller;
  context.subscriptions.push(log, status, panel, controller);

  context.subscriptions.push(
    vscode.commands.registerCommand(CLIENT_COMMANDS.restart, () => controller.restart()),
    vscode.commands.registerCommand(CLIENT_COMMANDS.showLogs, () => log.show()),
    vscode.commands.registerCommand(CLIENT_COMMANDS.inspectNow, async (uri?: vscode.Uri) => {
      const target = uri ?? activeDocumentUri();
      if (target) {
        const result = await runServerCommand(controller, SERVER_INSPECT_COMMANDS, [target.toString()]);
        if (typeof result === 'string') {
          log.info(`inspect: ${result}`);
          vscode.window.setStatusBarMessage(`paramlens: ${result.replace(/^paramlens: /, '')}`, 8000);
        }
      }
    }),
    vscode.commands.registerCommand(CLIENT_COMMANDS.showSummary, async (...args: unknown[]) => {
      // From a lens: the lens's own arguments; from the palette: the active file.
      const target = activeDocumentUri();
      const lensArgs = args.length > 0 ? args : target ? [target.toString()] : [];
      if (lensArgs.length === 0) {
        return;
      }
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Window, title: 'paramlens: building the summary' },
        () => runServerCommand(controller, SERVER_SUMMARY_COMMANDS, lensArgs),
      );
      const reports = reportsFromResult(result);
      if (reports.length === 0) {
        // A server without the structured summary answers with Markdown (or a one-line reason).
        const markdown = markdownFromResult(result);
        if (markdown && markdown.includes('\n')) {
          const document = await vscode.workspace.openTextDocument({ content: markdown, language: 'markdown' });
          await vscode.commands.executeCommand('markdown.showPreviewToSide', document.uri);
        } else {
          void vscode.window.showInformationMessage(markdown ?? 'paramlens: no model report for this file yet.');
        }
        return;
      }
      const names = [...new Set(reports.map((report) => report.object))].join(', ');
      const file = path.basename(reports[0].file || target?.fsPath || '');
      panel.show(reports, `paramlens: ${names}${file ? ` — ${file}` : ''}`, focusFromResult(result));
    }),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (RESTART_KEYS.some((key) => event.affectsConfiguration(key))) {
        controller.restartSoon.trigger();
      } else if (event.affectsConfiguration('paramlens')) {
        // settings: null asks the server to pull them (workspace/configuration, answered above).
        log.info('paramlens settings changed: the server pulls them');
        void controller.running?.sendNotification(DidChangeConfigurationNotification.type, {
          settings: null,
        });
      }
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => controller.restartSoon.trigger()),
    onDidChangePythonInterpreter(() => controller.restartSoon.trigger()),
  );
  await controller.restart();
}

/** Deactivate: stop the server and wait for it (VS Code awaits this, not the disposables). */
export function deactivate(): Promise<void> | undefined {
  return active?.dispose();
}
