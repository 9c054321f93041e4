/** The LanguageClient for the paramlens server: launch, settings, lens commands, progress. */
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import {
  ExecuteCommandRequest,
  LanguageClient,
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

/** Build (not start) the client. */
export function createClient(config: ClientConfig): LanguageClient {
  const launch = serverCommand(config.interpreter, bundledLauncher(config.extensionPath));
  const folder = vscode.workspace.workspaceFolders?.[0];
  const serverOptions: ServerOptions = {
    command: launch.command,
    args: launch.args,
    options: {
      cwd: folder?.uri.fsPath,
      env: { ...process.env, PYTHONUNBUFFERED: '1', PYTHONIOENCODING: 'utf-8' },
    },
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
  guardServerCommands(client);
  client.registerFeature(new ProgressStatusFeature(client, config.status, config.log));
  return client;
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
