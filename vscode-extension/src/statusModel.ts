/** What the language status item says in each state of the extension. Pure. */

export type ServerState =
  | { kind: 'starting' }
  | { kind: 'idle'; interpreter: string; torch: boolean; untrusted: boolean }
  | { kind: 'inspecting'; title: string }
  | { kind: 'error'; message: string }
  | { kind: 'stopped' };

export type StatusSeverity = 'information' | 'warning' | 'error';

/** The item's text, detail line, severity and busy spinner. */
export interface StatusPresentation {
  text: string;
  detail: string;
  severity: StatusSeverity;
  busy: boolean;
}

/** Present a state. */
export function presentStatus(state: ServerState): StatusPresentation {
  switch (state.kind) {
    case 'starting':
      return { text: 'paramlens', detail: 'starting…', severity: 'information', busy: true };
    case 'idle':
      if (state.untrusted) {
        return {
          text: 'paramlens',
          detail: 'restricted mode: static rules only',
          severity: 'warning',
          busy: false,
        };
      }
      return {
        text: 'paramlens',
        detail: state.torch ? state.interpreter : `${state.interpreter} (no torch: static rules only)`,
        severity: state.torch ? 'information' : 'warning',
        busy: false,
      };
    case 'inspecting':
      return { text: 'paramlens', detail: state.title || 'inspecting…', severity: 'information', busy: true };
    case 'error':
      return { text: 'paramlens', detail: state.message, severity: 'error', busy: false };
    case 'stopped':
      return { text: 'paramlens', detail: 'stopped', severity: 'warning', busy: false };
  }
}
