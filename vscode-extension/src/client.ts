/** The LanguageClient for the paramlens server: launch, settings, lens commands, progress. */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import {
  ExecuteCommandRequest,
  LanguageClient,
  LogMessageNotification,
  MessageType,
  RevealOutputChannelOn,
  WorkDoneProgress,
  WorkDoneProgressCreateRequest,
  type ClientCapabilities,
  type ExecuteCommandRegistrationOptions,
  type FeatureState,
  type LanguageClientOptions,
  type RegistrationData,
  type ServerOptions,
  type StaticFeature,
} from 'vscode-languageclient/node';
import { rewriteLensCommand, serverCommandsToRegister } from './commands';
import { serverCommand } from './interpreter';
import { ServerLog, type LogLevel } from './serverLog';
import { serverSettings } from './settings';
import type { Status } from './status';

/** What the client needs to start a server. */
export interface ClientConfig {
  extensionPath: string;
  /** The Python that runs the server (and, when trusted, the worker). */
  interpreter: string[];
  trusted: boolean;
  log: vscode.LogOutputChannel;
  status: Status;
}

/** The bundled launcher, if this build of the extension carries one. */
export function bundledLauncher(extensionPath: string): string | undefined {
  const launcher = path.join(extensionPath, 'bundled', 'tool', 'launch.py');
  return fs.existsSync(launcher) ? launcher : undefined;
}

/**
 * Shows the server's `$/progress` in the language status item and the status bar, instead of
 * languageclient's notification toasts (one per inspection would be noisy).
 */
class ProgressStatusFeature implements StaticFeature {
  private readonly active = new Map<string, () => void>();

  constructor(
    private readonly client: LanguageClient,
    private readonly status: Status,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  fillClientCapabilities(capabilities: ClientCapabilities): void {
    capabilities.window = { ...capabilities.window, workDoneProgress: true };
  }

  getState(): FeatureState {
    return { kind: 'static' };
  }

  initialize(): void {
    // Registered after languageclient's own ProgressFeature, so this handler replaces it.
    this.client.onRequest(WorkDoneProgressCreateRequest.type, ({ token }) => {
      const key = String(token);
      let finish: () => void = () => undefined;
      const finished = new Promise<void>((resolve) => {
        finish = resolve;
      });
      const subscription = this.client.onProgress(WorkDoneProgress.type, token, (value) => {
        if (value.kind === 'begin') {
          this.log.info(`progress: ${value.title}${value.message ? ` (${value.message})` : ''}`);
          this.status.begin(key, value.title);
          void vscode.window.withProgress(
            { location: vscode.ProgressLocation.Window, title: `paramlens: ${value.title}` },
            () => finished,
          );
        } else if (value.kind === 'end') {
          done();
        }
      });
      const done = (): void => {
        this.status.end(key);
        subscription.dispose();
        this.active.delete(key);
        finish();
      };
      this.active.set(key, done);
    });
  }

  clear(): void {
    [...this.active.values()].forEach((done) => done());
  }
}

/** A client and the server process it talks to. */
export interface ParamlensClient {
  client: LanguageClient;
  /** Kill the server process if it outlives `client.stop()` by `graceMs` (it exits on `exit`). */
  killServer(graceMs?: number): Promise<void>;
}

/** Build (not start) the client. */
export function createClient(config: ClientConfig): ParamlensClient {
  const launch = serverCommand(config.interpreter, bundledLauncher(config.extensionPath));
  const folder = vscode.workspace.workspaceFolders?.[0];
  const serverLog = new ServerLog();
  let server: ChildProcess | undefined;
  // A function, not an Executable: the extension reads the server's stderr itself, so records
  // that also arrive as window/logMessage are logged once (serverLog.ts).
  const serverOptions: ServerOptions = () => {
    const child = spawn(launch.command, launch.args, {
      cwd: folder?.uri.fsPath,
      env: { ...process.env, PYTHONUNBUFFERED: '1', PYTHONIOENCODING: 'utf-8' },
      stdio: 'pipe',
      windowsHide: true,
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      for (const line of serverLog.stderr(chunk)) {
        config.log[line.level](line.text);
      }
    });
    child.on('error', (error) => config.log.error(`cannot start ${launch.command}: ${error.message}`));
    child.on('exit', (code, signal) => {
      if (code !== 0 && code !== null) {
        config.log.error(
          `the server exited with code ${code}; its last output:\n${serverLog.recent().join('\n')}`,
        );
      } else if (signal) {
        config.log.warn(`the server was stopped by ${signal}`);
      }
    });
    server = child;
    // StreamInfo (not the process): languageclient would copy all of stderr to the channel.
    return Promise.resolve({ reader: child.stdout, writer: child.stdin, detached: false });
  };
  const settingsFor = (scope: vscode.Uri | undefined): Record<string, unknown> => {
    const config_ = vscode.workspace.getConfiguration('paramlens', scope);
    return serverSettings((key) => config_.get(key), config.interpreter, config.trusted);
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'python' },
      { scheme: 'untitled', language: 'python' },
    ],
    outputChannel: config.log,
    traceOutputChannel: config.log,
    revealOutputChannelOn: RevealOutputChannelOn.Never,
    initializationOptions: settingsFor(folder?.uri),
    // No `synchronize.configurationSection`: it would push the raw settings (an unexpanded
    // interpreter, and one an untrusted workspace must not set); the server pulls them instead.
    markdown: { isTrusted: false, supportHtml: false },
    middleware: {
      workspace: {
        configuration: async (params, token, next) => {
          const values = await next(params, token);
          if (!Array.isArray(values)) {
            return values;
          }
          const answers = values as unknown[];
          config.log.debug(`workspace/configuration: ${JSON.stringify(params.items)}`);
          return params.items.map((item, index): unknown =>
            item.section === 'paramlens'
              ? settingsFor(item.scopeUri ? vscode.Uri.parse(item.scopeUri) : undefined)
              : answers[index],
          );
        },
      },
      provideCodeLenses: async (document, token, next) => {
        const lenses = await next(document, token);
        lenses?.forEach((lens) => {
          if (lens.command) {
            lens.command = rewriteLensCommand(lens.command);
          }
        });
        return lenses;
      },
      resolveCodeLens: async (lens, token, next) => {
        const resolved = await next(lens, token);
        if (resolved?.command) {
          resolved.command = rewriteLensCommand(resolved.command);
        }
        return resolved;
      },
    },
  };
  const client = new LanguageClient('paramlens', 'paramlens', serverOptions, clientOptions);
  // Registered before start, so it replaces languageclient's handler: levels go to the log
  // channel as levels, and the record's own timestamp is dropped (the channel adds one).
  client.onNotification(LogMessageNotification.type, ({ type, message }) => {
    const level: LogLevel =
      type === MessageType.Error
        ? 'error'
        : type === MessageType.Warning
          ? 'warn'
          : type === MessageType.Debug
            ? 'debug'
            : 'info';
    const line = serverLog.client(level, message);
    if (line) {
      config.log[line.level](line.text);
    }
  });
  guardServerCommands(client);
  client.registerFeature(new ProgressStatusFeature(client, config.status, config.log));
  return {
    client,
    killServer: (graceMs = 2000) =>
      new Promise<void>((resolve) => {
        const child = server;
        if (!child || child.exitCode !== null || child.signalCode !== null) {
          resolve();
          return;
        }
        const timer = setTimeout(() => {
          config.log.warn('the server did not exit after shutdown: killing it');
          child.kill();
          resolve();
        }, graceMs);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}

/**
 * languageclient registers every command the server advertises as a VS Code command; skip the
 * ids the extension registers itself (a second registration of an id throws).
 */
function guardServerCommands(client: LanguageClient): void {
  const feature = client.getFeature(ExecuteCommandRequest.method);
  const register = feature.register.bind(feature);
  feature.register = (data: RegistrationData<ExecuteCommandRegistrationOptions>): void => {
    register({
      ...data,
      registerOptions: {
        ...data.registerOptions,
        commands: serverCommandsToRegister(data.registerOptions.commands),
      },
    });
  };
}

/** The commands the running server advertises. */
export function advertisedCommands(client: LanguageClient): string[] {
  return client.initializeResult?.capabilities.executeCommandProvider?.commands ?? [];
}
