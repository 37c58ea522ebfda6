import { toolArgs } from './mcp-audit.hooks';

describe('toolArgs (what a tool call record digests)', () => {
  it('takes the validated arguments over the raw ones (defaults applied, unknown keys dropped), else the raw ones, else {}', () => {
    expect(toolArgs({ args: { page: 1 }, rawArgs: { extra: 'x' } })).toEqual({ page: 1 });
    expect(toolArgs({ args: undefined, rawArgs: { extra: 'x' } })).toEqual({ extra: 'x' });
    expect(toolArgs({ args: undefined, rawArgs: undefined })).toEqual({});
  });
});
