import { LoggerService } from '@nestjs/common';

/** Where the command line writes: stdout carries only results (a token, JSON), stderr everything else. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** A usage mistake: exit code 2 with the usage hint. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Nest's log lines go to stderr (warnings and errors only, unless verbose) so stdout stays clean. */
export class StderrLogger implements LoggerService {
  constructor(
    private readonly io: CliIo,
    private readonly showInfo: boolean,
  ) {}

  log(message: unknown, context?: string): void {
    if (this.showInfo) this.write('info', message, context);
  }
  warn(message: unknown, context?: string): void {
    this.write('warn', message, context);
  }
  error(message: unknown, ...rest: unknown[]): void {
    // Nest passes (message, stack?, context?); the stack is not shown.
    const context = rest.length > 0 ? rest[rest.length - 1] : undefined;
    this.write('error', message, typeof context === 'string' ? context : undefined);
  }
  debug(message: unknown, context?: string): void {
    if (this.showInfo) this.write('debug', message, context);
  }
  private write(level: string, message: unknown, context?: string): void {
    const text =
      typeof message === 'string'
        ? message
        : typeof message === 'object' && message !== null && 'message' in message
          ? String((message as { message: unknown }).message)
          : JSON.stringify(message);
    this.io.err(`[${level}]${context ? ` ${context}:` : ''} ${text}\n`);
  }
}
