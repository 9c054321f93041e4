/** The language status item (next to "Python" in the status bar) and the log output channel. */
import * as vscode from 'vscode';
import { presentStatus, type ServerState } from './statusModel';

const SEVERITY: Record<string, vscode.LanguageStatusSeverity> = {
  information: vscode.LanguageStatusSeverity.Information,
  warning: vscode.LanguageStatusSeverity.Warning,
  error: vscode.LanguageStatusSeverity.Error,
};

/** Tracks the server state and in-flight inspections, and shows them in the status item. */
export class Status implements vscode.Disposable {
  private readonly item: vscode.LanguageStatusItem;
  private state: ServerState = { kind: 'starting' };
  private readonly inspections = new Map<string, string>();

  constructor() {
    this.item = vscode.languages.createLanguageStatusItem('paramlens.status', {
      language: 'python',
    });
    this.item.name = 'paramlens';
    this.item.command = { command: 'paramlens.showLogs', title: 'Show Logs' };
    this.render();
  }

  /** The state of the server (starting, idle, error …). */
  set(state: ServerState): void {
    this.state = state;
    this.render();
  }

  /** An inspection (one `$/progress` token) started. */
  begin(token: string, title: string): void {
    this.inspections.set(token, title);
    this.render();
  }

  /** An inspection ended. */
  end(token: string): void {
    this.inspections.delete(token);
    this.render();
  }

  private render(): void {
    const [first] = this.inspections.values();
    const shown: ServerState =
      first !== undefined && this.state.kind === 'idle'
        ? { kind: 'inspecting', title: first }
        : this.state;
    const presentation = presentStatus(shown);
    this.item.text = presentation.text;
    this.item.detail = presentation.detail;
    this.item.severity = SEVERITY[presentation.severity];
    this.item.busy = presentation.busy;
  }

  dispose(): void {
    this.item.dispose();
  }
}
