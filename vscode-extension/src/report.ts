/**
 * The model report of ARCHITECTURE.md ("What a report holds"), as the server and
 * `paramlens summary --format json` send it. Keys are snake_case and stable.
 */

export interface ErrorInfo {
  type: string;
  message: string;
  file: string | null;
  line: number | null;
}

export interface ParameterInfo {
  name: string;
  shape: number[] | null;
  dtype: string;
  requires_grad: boolean;
  numel: number | null;
  aliases: string[];
}

export interface BufferInfo {
  name: string;
  shape: number[] | null;
  dtype: string;
  numel: number | null;
  persistent: boolean;
}

export interface ModuleInfo {
  name: string;
  class: string;
  parameters: number;
  trainable: number;
  class_file: string | null;
  class_line: number | null;
  assigned_line: number | null;
}

export interface Totals {
  parameters: number;
  trainable: number;
  frozen: number;
  parameter_tensors: number;
  buffers: number;
  buffer_tensors: number;
  bytes: number;
  bytes_by_dtype?: Record<string, number>;
  lazy_parameters?: number;
}

export interface ModelReport {
  object: string;
  file: string;
  line: number | null;
  built_as: string | null;
  device: string | null;
  /** `ok`, `needs_arguments` or `error`. */
  status: string;
  error: ErrorInfo | null;
  parameters: ParameterInfo[];
  buffers: BufferInfo[];
  state_dict_keys: string[];
  modules: ModuleInfo[];
  totals: Totals | null;
}

function isReport(value: unknown): value is ModelReport {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const record = value as Record<string, unknown>;
  return (
    typeof record.object === 'string' &&
    typeof record.status === 'string' &&
    Array.isArray(record.parameters) &&
    Array.isArray(record.buffers)
  );
}

/**
 * The reports inside whatever the server's summary command returned: a report, a list of
 * reports, or an object holding them under `report` / `reports`. Anything else gives [].
 */
export function reportsFromResult(value: unknown): ModelReport[] {
  if (Array.isArray(value)) {
    return value.flatMap((item) => reportsFromResult(item));
  }
  if (isReport(value)) {
    return [value];
  }
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    return [...reportsFromResult(record.report), ...reportsFromResult(record.reports)];
  }
  return [];
}

/** The markdown a summary command returned alongside its reports, if any. */
export function markdownFromResult(value: unknown): string | undefined {
  if (typeof value === 'string') {
    return value;
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const markdown = (value as Record<string, unknown>).markdown;
    return typeof markdown === 'string' ? markdown : undefined;
  }
  return undefined;
}

/** The submodule a summary command was asked about (a submodule lens), if any. */
export function focusFromResult(value: unknown): string | undefined {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const focus = (value as Record<string, unknown>).focus;
    return typeof focus === 'string' && focus.length > 0 ? focus : undefined;
  }
  return undefined;
}
