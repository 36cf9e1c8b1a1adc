/** Minimal structured logging: one JSON object per line on stdout. */
export type LogEntry = Record<string, unknown> & { msg: string; level?: 'debug' | 'info' | 'warn' | 'error' };
export type LogFn = (entry: Record<string, unknown>) => void;
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** `write` receives each finished line (tests capture it); stdout by default. */
export function createLogger(component: string, minLevel: LogLevel = 'info', write: (line: string) => void = (line) => void process.stdout.write(line)): LogFn {
  const order = { debug: 10, info: 20, warn: 30, error: 40 } as const;
  return (entry: Record<string, unknown>) => {
    const level = (entry.level as keyof typeof order | undefined) ?? 'info';
    if ((order[level] ?? order.info) < order[minLevel]) return;
    write(`${JSON.stringify({ time: new Date().toISOString(), component, ...entry, level })}\n`);
  };
}
