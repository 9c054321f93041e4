/** Debouncing for restarts: many triggers in a burst run the action once, after a quiet period. */

/** A debounced action: `trigger()` (re)starts the timer, `dispose()` cancels it. */
export interface Debounced {
  trigger(): void;
  dispose(): void;
}

/** Run `action` once `delayMs` after the last `trigger()`; `setTimer` is injectable for tests. */
export function debounce(
  action: () => void,
  delayMs: number,
  setTimer: (fn: () => void, ms: number) => unknown = setTimeout,
  clearTimer: (handle: unknown) => void = (handle) => clearTimeout(handle as NodeJS.Timeout),
): Debounced {
  let handle: unknown;
  let pending = false;
  return {
    trigger(): void {
      if (pending) {
        clearTimer(handle);
      }
      pending = true;
      handle = setTimer(() => {
        pending = false;
        action();
      }, delayMs);
    },
    dispose(): void {
      if (pending) {
        clearTimer(handle);
        pending = false;
      }
    },
  };
}
