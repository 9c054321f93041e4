/**
 * Command ids: the client owns the `paramlens.*` commands of the manifest; the server's own
 * commands are called through `workspace/executeCommand`. Pure.
 */

/** Commands the extension registers (and lists in its manifest). */
export const CLIENT_COMMANDS = {
  restart: 'paramlens.restart',
  inspectNow: 'paramlens.inspectNow',
  showSummary: 'paramlens.showSummary',
  showLogs: 'paramlens.showLogs',
} as const;

/** Ids the server may advertise for its summary command, preferred first. */
export const SERVER_SUMMARY_COMMANDS = ['paramlens.server.showSummary', 'paramlens.showSummary'];

/** Ids the server may advertise for "inspect this document now", preferred first. */
export const SERVER_INSPECT_COMMANDS = ['paramlens.server.inspect', 'paramlens.inspect'];

/** The first of `candidates` the server advertises, if any. */
export function pickServerCommand(
  advertised: readonly string[] | undefined,
  candidates: readonly string[],
): string | undefined {
  return candidates.find((candidate) => advertised?.includes(candidate));
}

/**
 * The server commands languageclient may register as VS Code commands: all but those the client
 * owns itself (registering an id twice throws, and the client's version opens the webview).
 */
export function serverCommandsToRegister(advertised: readonly string[]): string[] {
  const owned = new Set<string>(Object.values(CLIENT_COMMANDS));
  return advertised.filter((command) => !owned.has(command));
}

/** A lens command pointing at the server's summary is pointed at the client's, which renders it. */
export function rewriteLensCommand<T extends { command: string }>(command: T): T {
  return SERVER_SUMMARY_COMMANDS.includes(command.command)
    ? { ...command, command: CLIENT_COMMANDS.showSummary }
    : command;
}
