/**
 * The rows of the summary webview's table, and their sorting, filtering and formatting. Pure and
 * DOM-free: the webview script and the unit tests both use it.
 */
import type { ModelReport } from './report';

/** One table row: a parameter or a buffer. */
export interface SummaryRow {
  kind: 'parameter' | 'buffer';
  name: string;
  shape: string;
  dtype: string;
  numel: number | null;
  /** null for buffers (they are never trained). */
  trainable: boolean | null;
  /** Other names of the same tensor (tied weights). */
  aliases: string[];
  /** Short labels shown as badges: trainable, frozen, buffer, tied, non-persistent, lazy. */
  marks: string[];
}

export type SortKey = 'name' | 'kind' | 'shape' | 'dtype' | 'numel' | 'trainable';
export type SortDirection = 'asc' | 'desc';

/** `[4, 12]` -> `4 × 12`; a scalar is `()`, an unknown (lazy) shape `?`. */
export function formatShape(shape: readonly number[] | null): string {
  if (shape === null) {
    return '?';
  }
  return shape.length === 0 ? '()' : shape.join(' × ');
}

/** `40584928` -> `40,584,928`; unknown -> `?`. */
export function formatCount(count: number | null | undefined): string {
  if (count === null || count === undefined) {
    return '?';
  }
  return String(Math.trunc(count)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Bytes in the largest unit that keeps the number at least 1 (B, KiB, MiB, GiB, TiB). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value >= 100 ? 0 : 1)} ${units[unit]}`;
}

/** The parameters (in `named_parameters()` order) then the buffers of a report, as rows. */
export function summaryRows(report: ModelReport): SummaryRow[] {
  const parameters = report.parameters.map((p): SummaryRow => {
    const marks = [p.requires_grad ? 'trainable' : 'frozen'];
    if (p.aliases.length > 0) {
      marks.push('tied');
    }
    if (p.shape === null) {
      marks.push('lazy');
    }
    return {
      kind: 'parameter',
      name: p.name,
      shape: formatShape(p.shape),
      dtype: p.dtype,
      numel: p.numel,
      trainable: p.requires_grad,
      aliases: [...p.aliases],
      marks,
    };
  });
  const buffers = report.buffers.map(
    (b): SummaryRow => ({
      kind: 'buffer',
      name: b.name,
      shape: formatShape(b.shape),
      dtype: b.dtype,
      numel: b.numel,
      trainable: null,
      aliases: [],
      marks: b.persistent ? ['buffer'] : ['buffer', 'non-persistent'],
    }),
  );
  return [...parameters, ...buffers];
}

function compareValues(a: SummaryRow, b: SummaryRow, key: SortKey): number {
  switch (key) {
    case 'numel':
      // Unknown sizes sort after every known one, in both directions (handled by the caller).
      return (a.numel ?? 0) - (b.numel ?? 0);
    case 'trainable': {
      const rank = (row: SummaryRow): number =>
        row.trainable === null ? 2 : row.trainable ? 0 : 1;
      return rank(a) - rank(b);
    }
    default:
      return a[key].localeCompare(b[key], 'en', { numeric: true });
  }
}

/** A sorted copy; stable, so equal rows keep the model's own order. */
export function sortRows(
  rows: readonly SummaryRow[],
  key: SortKey,
  direction: SortDirection,
): SummaryRow[] {
  const sign = direction === 'asc' ? 1 : -1;
  return rows
    .map((row, index) => ({ row, index }))
    .sort((a, b) => {
      if (key === 'numel' && (a.row.numel === null) !== (b.row.numel === null)) {
        return a.row.numel === null ? 1 : -1;
      }
      return sign * compareValues(a.row, b.row, key) || a.index - b.index;
    })
    .map(({ row }) => row);
}

/**
 * Rows matching every word of `query`: `is:<mark>` (`is:frozen`, `is:tied`, `is:buffer` …)
 * matches a badge, any other word a substring of the name, an alias, the dtype or the shape.
 * Case-insensitive; an empty query keeps every row.
 */
export function filterRows(rows: readonly SummaryRow[], query: string): SummaryRow[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  return rows.filter((row) =>
    words.every((word) => {
      if (word.startsWith('is:')) {
        const mark = word.slice(3);
        return row.marks.includes(mark) || row.kind === mark;
      }
      const haystack = [row.name, ...row.aliases, row.dtype, row.shape].join('\n').toLowerCase();
      return haystack.includes(word);
    }),
  );
}

/** One line of totals: `58 params · 58 trainable · 0 frozen · 7 buffer elements · 248 B`. */
export function totalsLine(report: ModelReport): string {
  const totals = report.totals;
  if (totals === null) {
    return report.status === 'ok' ? 'no totals' : report.status.replace('_', ' ');
  }
  const parts = [
    `${formatCount(totals.parameters)} params`,
    `${formatCount(totals.trainable)} trainable`,
    `${formatCount(totals.frozen)} frozen`,
    `${formatCount(totals.buffers)} buffer elements`,
    formatBytes(totals.bytes),
  ];
  if (totals.lazy_parameters) {
    parts.push(`${totals.lazy_parameters} lazy (unknown size)`);
  }
  return parts.join(' · ');
}
