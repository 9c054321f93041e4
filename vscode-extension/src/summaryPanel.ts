/** The model summary webview: one panel, reused, showing the reports of one file. */
import { randomBytes } from 'crypto';
import * as vscode from 'vscode';
import type { ModelReport } from './report';

/** The panel's view type (VS Code restores and identifies panels by it). */
export const SUMMARY_VIEW_TYPE = 'paramlens.summary';

/** Owns the summary panel; `show` creates it or brings it to the front with new reports. */
export class SummaryPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private reports: ModelReport[] = [];
  private focus: string | undefined;
  private ready = false;

  constructor(private readonly extensionUri: vscode.Uri) {}

  /**
   * Show `reports` under `title`, in the column beside the editor; `focus` (a submodule path
   * such as `layer1.0`) becomes the table's filter.
   */
  show(reports: ModelReport[], title: string, focus?: string): void {
    this.reports = reports;
    this.focus = focus;
    if (this.panel) {
      this.panel.title = title;
      this.panel.reveal(vscode.ViewColumn.Beside, true);
      this.post();
      return;
    }
    const panel = vscode.window.createWebviewPanel(
      SUMMARY_VIEW_TYPE,
      title,
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      {
        enableScripts: true,
        retainContextWhenHidden: false,
        localResourceRoots: [
          vscode.Uri.joinPath(this.extensionUri, 'dist'),
          vscode.Uri.joinPath(this.extensionUri, 'media'),
        ],
      },
    );
    this.panel = panel;
    this.ready = false;
    panel.webview.html = this.html(panel.webview);
    panel.webview.onDidReceiveMessage((message: { type?: string }) => {
      if (message.type === 'ready') {
        this.ready = true;
        this.post();
      }
    });
    panel.onDidDispose(() => {
      this.panel = undefined;
    });
  }

  private post(): void {
    if (this.panel && this.ready) {
      void this.panel.webview.postMessage({
        type: 'reports',
        reports: this.reports,
        focus: this.focus,
      });
    }
  }

  private html(webview: vscode.Webview): string {
    const nonce = randomBytes(16).toString('base64');
    const script = webview.asWebviewUri(
      vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview.js'),
    );
    const style = webview.asWebviewUri(
      vscode.Uri.joinPath(this.extensionUri, 'media', 'summary.css'),
    );
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${webview.cspSource}; script-src 'nonce-${nonce}';">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style.toString()}">
<title>paramlens summary</title>
</head>
<body>
<div class="toolbar">
<input id="filter" type="search" placeholder="Filter: name, dtype, shape, is:frozen, is:tied, is:buffer" aria-label="Filter tensors">
<p class="hint">Click a column heading to sort.</p>
</div>
<main id="root"></main>
<script nonce="${nonce}" src="${script.toString()}"></script>
</body>
</html>`;
  }

  dispose(): void {
    this.panel?.dispose();
  }
}
