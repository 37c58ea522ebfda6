import { levelWanted } from './log-format';

describe('levelWanted', () => {
  it('wants a level some transport writes, its own level or the logger’s', () => {
    const wanted = levelWanted([{ level: 'warn' }, {}], 'info');
    expect(['error', 'warn', 'info'].map(wanted)).toEqual([true, true, true]);
    expect(['http', 'verbose', 'debug'].map(wanted)).toEqual([false, false, false]);
    expect(levelWanted([{ level: 'warn' }], 'debug')('info')).toBe(false);
  });

  it('wants a level it does not know, so winston still reports it', () => {
    expect(levelWanted([{ level: 'error' }], 'error')('notice')).toBe(true);
  });
});
