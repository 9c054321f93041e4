/**
 * The server's stderr and its `window/logMessage`, logged once. The server writes every record
 * to stderr and, once a client listens, sends it as `window/logMessage` too — in either order.
 * Each record is logged from whichever copy arrives first; the other copy is dropped.
 * Pure: `client.ts` feeds it the process's stderr and the notifications.
 */

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

/** One line (or block) for the log channel. */
export interface LogLine {
  level: LogLevel;
  text: string;
}

const LEVELS: Record<string, LogLevel> = {
  DEBUG: 'debug',
  INFO: 'info',
  WARNING: 'warn',
  ERROR: 'error',
  CRITICAL: 'error',
};

// paramlens.log.FORMAT: "%(asctime)s %(levelname)s %(name)s: %(message)s"
const RECORD = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) (.*)$/;

/** A line that starts a log record, without its timestamp (the channel adds one). */
export function parseRecord(line: string): LogLine | undefined {
  const match = RECORD.exec(line);
  return match ? { level: LEVELS[match[1]], text: match[2] } : undefined;
}

/** Counts of records seen on one side and not yet matched on the other. */
class Pending {
  private readonly counts = new Map<string, number>();

  constructor(private readonly capacity: number) {}

  add(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    if (this.counts.size > this.capacity) {
      // Maps iterate in insertion order: forget the oldest record.
      const oldest = this.counts.keys().next().value;
      if (oldest !== undefined) {
        this.counts.delete(oldest);
      }
    }
  }

  /** Remove one occurrence of `key`; false when there was none. */
  take(key: string): boolean {
    const count = this.counts.get(key);
    if (count === undefined) {
      return false;
    }
    if (count <= 1) {
      this.counts.delete(key);
    } else {
      this.counts.set(key, count - 1);
    }
    return true;
  }
}

/** Merges the two copies of the server's log; keeps the last stderr lines for crash reports. */
export class ServerLog {
  private partial = '';
  /** Whether the continuation lines of the current stderr record are being logged. */
  private logging = true;
  private currentLevel: LogLevel = 'warn';
  private readonly fromStderr: Pending;
  private readonly fromClient: Pending;
  private readonly recentLines: string[] = [];

  constructor(
    private readonly capacity = 60,
    pending = 500,
  ) {
    this.fromStderr = new Pending(pending);
    this.fromClient = new Pending(pending);
  }

  /** Feed a chunk of stderr; returns the complete lines to log now. */
  stderr(chunk: string): LogLine[] {
    const lines = (this.partial + chunk).split(/\r?\n/);
    this.partial = lines.pop() ?? '';
    const out: LogLine[] = [];
    for (const line of lines) {
      this.remember(line);
      const record = parseRecord(line);
      if (record) {
        this.currentLevel = record.level;
        this.logging = !this.fromClient.take(record.text);
        if (this.logging) {
          this.fromStderr.add(record.text);
          out.push(record);
        }
      } else if (line.trim() !== '' && this.logging) {
        // A traceback of the record above, or output that is no record at all.
        out.push({ level: this.currentLevel, text: line });
      }
    }
    return out;
  }

  /** A `window/logMessage`; undefined when its stderr copy was logged already. */
  client(level: LogLevel, message: string): LogLine | undefined {
    const [first, ...rest] = message.split(/\r?\n/);
    const record = parseRecord(first);
    const key = record?.text ?? first;
    if (this.fromStderr.take(key)) {
      return undefined;
    }
    this.fromClient.add(key);
    return { level, text: [key, ...rest].join('\n') };
  }

  /** The last lines of stderr, for the log when the server dies. */
  recent(): string[] {
    return this.partial ? [...this.recentLines, this.partial] : [...this.recentLines];
  }

  private remember(line: string): void {
    this.recentLines.push(line);
    if (this.recentLines.length > this.capacity) {
      this.recentLines.shift();
    }
  }
}
