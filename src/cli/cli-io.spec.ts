import { StderrLogger } from './cli-io';

describe('StderrLogger (the command line: Nest log lines on stderr, never stdout)', () => {
  const logger = (verbose: boolean) => {
    const out: string[] = [];
    const err: string[] = [];
    return {
      out,
      err,
      log: new StderrLogger({ out: (t) => void out.push(t), err: (t) => void err.push(t) }, verbose),
    };
  };

  it('shows warnings and errors, with their context and without a stack', () => {
    const { out, err, log } = logger(false);
    log.warn('slow store', 'Store');
    log.error('it broke', 'Error: it broke\n    at secret.ts:1:1', 'ApiKeysService');
    log.error(new Error('thrown'));
    expect(out).toEqual([]);
    expect(err).toEqual([
      '[warn] Store: slow store\n',
      '[error] ApiKeysService: it broke\n',
      '[error] thrown\n',
    ]);
  });

  it('shows info and debug lines only when verbose', () => {
    const quiet = logger(false);
    quiet.log.log('started', 'App');
    quiet.log.debug('detail', 'App');
    expect(quiet.err).toEqual([]);
    const verbose = logger(true);
    verbose.log.log('started', 'App');
    verbose.log.debug({ n: 1 }, 'App');
    expect(verbose.err).toEqual(['[info] App: started\n', '[debug] App: {"n":1}\n']);
    expect(verbose.out).toEqual([]);
  });
});
