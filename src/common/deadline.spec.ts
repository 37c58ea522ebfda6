import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { settlesWithin, withDeadline } from './deadline';

const never = () => new Promise<never>(() => undefined);
const after = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

describe('withDeadline', () => {
  it('answers with the work when it comes first, its failure included', async () => {
    await expect(withDeadline(after(5, 'v'), 1_000, () => new Error('late'))).resolves.toBe('v');
    await expect(
      withDeadline(Promise.reject(new Error('refused')), 1_000, () => new Error('late')),
    ).rejects.toThrow('refused');
  });

  it('rejects with late() when the work has not answered in time, and ignores its later failure', async () => {
    await expect(withDeadline(never(), 20, () => new RangeError('no answer'))).rejects.toThrow(RangeError);
    const failsLate = new Promise((_, reject) => setTimeout(() => reject(new Error('too late')), 40));
    await expect(withDeadline(failsLate, 10, () => new Error('late'))).rejects.toThrow('late');
    await after(50, null); // an unhandled rejection here would fail the run
  });
});

describe('withDeadline on a clock of its own', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('acts at ms (after one more turn), not before nor later, and asks late() only then', async () => {
    const late = jest.fn(() => new Error('late'));
    let outcome: string | undefined;
    const result = withDeadline(never(), 100, late).catch((e: Error) => (outcome = e.message));
    await jest.advanceTimersByTimeAsync(99);
    expect([outcome, late.mock.calls.length]).toEqual([undefined, 0]);
    await jest.advanceTimersByTimeAsync(2); // ms, then the turn that takes in waiting I/O
    await result;
    expect([outcome, late.mock.calls.length]).toEqual(['late', 1]);
  });

  it('drops its timer with the answer: late() is never asked for afterwards', async () => {
    const late = jest.fn(() => new Error('late'));
    await expect(withDeadline(Promise.resolve('v'), 100, late)).resolves.toBe('v');
    await jest.advanceTimersByTimeAsync(1_000);
    expect(late).not.toHaveBeenCalled();
  });

  it('an answer that comes in the turn the deadline waits for wins, and late() is not asked for', async () => {
    const late = jest.fn(() => new Error('late'));
    let answer!: (v: string) => void;
    const work = new Promise<string>((resolve) => (answer = resolve));
    const result = withDeadline(work, 100, late);
    jest.advanceTimersByTime(100); // the deadline passed; it is acted on after this turn's I/O
    answer('v');
    await expect(result).resolves.toBe('v');
    await jest.runAllTimersAsync();
    expect(late).not.toHaveBeenCalled();
  });
});

describe('withDeadline after the process stalled', () => {
  // An echo server in a process of its own, as a database or Redis is: it answers while this one is blocked.
  let echo: ChildProcess;
  let port: number;
  beforeAll(async () => {
    const script =
      "const s=require('node:net').createServer(c=>c.on('data',d=>c.write(d)));" +
      "s.listen(0,'127.0.0.1',()=>console.log(s.address().port))";
    echo = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    port = Number(
      await new Promise<string>((resolve) => echo.stdout!.once('data', (d: Buffer) => resolve(String(d)))),
    );
  });
  afterAll(() => {
    echo.kill('SIGKILL');
  });

  it('takes an answer that arrived while the event loop was blocked past the deadline, not the deadline', async () => {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    try {
      const echoed = new Promise<string>((resolve) => socket.once('data', (d) => resolve(d.toString())));
      socket.write('pong');
      const answer = withDeadline(echoed, 20, () => new Error('late'));
      // The process is busy for 1 s (a long GC pause, a core taken away): the echo arrives meanwhile, and the
      // deadline passes. The answer was there before the deadline could be acted on, so it is the answer.
      const until = Date.now() + 1_000;
      while (Date.now() < until);
      await expect(answer).resolves.toBe('pong');
    } finally {
      socket.destroy();
    }
  });
});

describe('settlesWithin', () => {
  it('says whether the work settled, either way, in time', async () => {
    expect(await settlesWithin(after(5, 1), 1_000)).toBe(true);
    expect(await settlesWithin(Promise.reject(new Error('x')), 1_000)).toBe(true);
    expect(await settlesWithin(never(), 20)).toBe(false);
  });
});
