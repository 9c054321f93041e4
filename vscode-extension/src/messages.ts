/** Which of the server's `window/showMessage` notifications reach the user. Pure. */

/** `show`: a notification with "Show Logs"; `log`: the output channel only. */
export type MessageRoute = 'show' | 'log';

/**
 * Route one server message. Once the extension has told the user that the interpreter has no
 * torch (with the ways out), the server's own torch messages would only repeat it; and a text
 * already shown in this session is not shown again.
 */
export function routeServerMessage(
  text: string,
  torchReported: boolean,
  shown: ReadonlySet<string>,
): MessageRoute {
  if (torchReported && /\btorch\b/i.test(text)) {
    return 'log';
  }
  return shown.has(text.trim()) ? 'log' : 'show';
}
