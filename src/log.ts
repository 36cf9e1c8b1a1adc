/** Minimal structured logging: one JSON object per line on stdout. */
export type LogEntry = Record<string, unknown> & { msg: string; level?: 'debug' | 'info' | 'warn' | 'error' };

export function createLogger(component: string, minLevel: 'debug' | 'info' | 'warn' | 'error' = 'info') {
  const order = { debug: 10, info: 20, warn: 30, error: 40 } as const;
  return (entry: Record<string, unknown>) => {
    const level = (entry.level as keyof typeof order | undefined) ?? 'info';
    if (order[level] < order[minLevel]) return;
    process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), component, ...entry, level })}\n`);
  };
}
