/**
 * The summary webview's script: renders the reports the extension posts as sortable,
 * filterable tables. All text goes in through `textContent`, never as HTML.
 */
import type { ModelReport } from '../report';
import {
  filterRows,
  formatCount,
  sortRows,
  summaryRows,
  totalsLine,
  type SortDirection,
  type SortKey,
} from '../summaryTable';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): ViewState | undefined;
  setState(state: ViewState): void;
}

interface ViewState {
  query: string;
  sortKey: SortKey;
  direction: SortDirection;
}

declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
// No "kind" column: the marks say buffer / trainable / frozen, and the table stays narrow
// enough for a panel beside the editor.
const COLUMNS: { key: SortKey; label: string; numeric?: boolean }[] = [
  { key: 'name', label: 'Name' },
  { key: 'shape', label: 'Shape' },
  { key: 'numel', label: 'Elements', numeric: true },
  { key: 'dtype', label: 'dtype' },
  { key: 'trainable', label: 'Marks' },
];

let reports: ModelReport[] = [];
let state: ViewState = vscode.getState() ?? { query: '', sortKey: 'name', direction: 'asc' };
// Until the user sorts, rows keep the model's own order (named_parameters, then buffers).
let sorted = vscode.getState() !== undefined;

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

function renderTable(report: ModelReport): HTMLElement {
  const all = summaryRows(report);
  const filtered = filterRows(all, state.query);
  const rows = sorted ? sortRows(filtered, state.sortKey, state.direction) : filtered;
  const table = element('table', 'summary-table');
  const head = table.createTHead().insertRow();
  for (const column of COLUMNS) {
    const th = element('th', column.numeric ? 'numeric' : undefined, column.label);
    th.dataset.key = column.key;
    th.tabIndex = 0;
    if (sorted && state.sortKey === column.key) {
      th.classList.add(state.direction);
      th.setAttribute('aria-sort', state.direction === 'asc' ? 'ascending' : 'descending');
    }
    const sortBy = (): void => {
      const direction: SortDirection =
        sorted && state.sortKey === column.key && state.direction === 'asc' ? 'desc' : 'asc';
      sorted = true;
      update({ ...state, sortKey: column.key, direction });
    };
    th.addEventListener('click', sortBy);
    th.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' || event.key === ' ') {
        sortBy();
      }
    });
    head.appendChild(th);
  }
  const body = table.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    tr.className = `row-${row.kind}`;
    const name = element('td', 'name', row.name);
    if (row.aliases.length > 0) {
      name.appendChild(element('span', 'aliases', `= ${row.aliases.join(', ')}`));
    }
    tr.appendChild(name);
    tr.appendChild(element('td', 'shape', row.shape));
    tr.appendChild(element('td', 'numeric', formatCount(row.numel)));
    tr.appendChild(element('td', undefined, row.dtype));
    const marks = element('td', 'marks');
    for (const mark of row.marks) {
      marks.appendChild(element('span', `badge badge-${mark}`, mark));
    }
    tr.appendChild(marks);
  }
  const caption = table.createCaption();
  caption.textContent = `${rows.length} of ${all.length} tensors`;
  return table;
}

function renderReport(report: ModelReport): HTMLElement {
  const section = element('section', 'model');
  const title = element('h2', undefined, report.object);
  if (report.built_as) {
    title.appendChild(element('code', 'built-as', report.built_as));
  }
  section.appendChild(title);
  const facts = [report.device ? `device: ${report.device}` : '', `status: ${report.status}`]
    .filter(Boolean)
    .join(' · ');
  section.appendChild(element('p', 'facts', facts));
  section.appendChild(element('p', 'totals', totalsLine(report)));
  if (report.error) {
    const where = report.error.file ? ` (${report.error.file}:${report.error.line ?? '?'})` : '';
    section.appendChild(
      element('p', 'error', `${report.error.type}: ${report.error.message}${where}`),
    );
  }
  if (report.status === 'ok') {
    section.appendChild(renderTable(report));
  }
  return section;
}

function render(): void {
  const root = document.getElementById('root');
  if (!root) {
    return;
  }
  const filter = document.getElementById('filter') as HTMLInputElement | null;
  if (filter && filter.value !== state.query) {
    filter.value = state.query;
  }
  root.replaceChildren(...reports.map(renderReport));
  if (reports.length === 0) {
    root.appendChild(element('p', 'empty', 'No model in this file was built.'));
  }
}

function update(next: ViewState): void {
  state = next;
  vscode.setState(state);
  render();
}

window.addEventListener('message', (event: MessageEvent) => {
  const message = event.data as { type?: string; reports?: ModelReport[]; focus?: string };
  if (message.type === 'reports' && Array.isArray(message.reports)) {
    reports = message.reports;
    if (message.focus) {
      // Opened from a submodule's lens: show that submodule's tensors.
      state = { ...state, query: `${message.focus}.` };
      vscode.setState(state);
    }
    render();
  }
});

document.getElementById('filter')?.addEventListener('input', (event) => {
  update({ ...state, query: (event.target as HTMLInputElement).value });
});

vscode.postMessage({ type: 'ready' });
