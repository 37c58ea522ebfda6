import { PassThrough } from 'node:stream';

/**
 * A log sink for tests: pass `capture.stream` to createLogger or to
 * ObservabilityModule.forRoot({ sinks: [capture.stream], stdout: false }),
 * then read what was written, parsed line by line.
 */
export class LogCapture {
  readonly stream = new PassThrough();
  private raw = '';

  constructor() {
    this.stream.on('data', (chunk: Buffer) => (this.raw += chunk.toString('utf8')));
  }

  /** Everything written so far, after pending stream callbacks have run. */
  async text(): Promise<string> {
    await new Promise((resolve) => setImmediate(resolve));
    return this.raw;
  }

  /** One parsed object per line; throws if a line is not JSON. */
  async lines(): Promise<Array<Record<string, unknown>>> {
    const text = await this.text();
    return text
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  clear(): void {
    this.raw = '';
  }
}
