import { z } from 'zod';
import { readableProtocolError } from './readable-protocol-errors';

/** The error answer the SDK sends when `params` fail `schema`: zod's own pretty-printed issue list. */
const sdkAnswer = (code: number, prefix: string, schema: z.ZodType, params: unknown) => ({
  jsonrpc: '2.0' as const,
  id: 1,
  error: { code, message: `${prefix}${schema.safeParse({ params }).error!.message}` },
});

const toolsCall = z.object({
  params: z.object({ name: z.string(), arguments: z.record(z.string(), z.unknown()).optional() }),
});
const complete = z.object({
  params: z.object({
    ref: z.union([
      z.object({ type: z.literal('ref/prompt') }),
      z.object({ type: z.literal('ref/resource') }),
    ]),
    argument: z.object({ name: z.string() }),
  }),
});

describe('readableProtocolError', () => {
  it('turns the validator dump into one line naming each bad field, keeping the code and prefix', () => {
    const out = readableProtocolError(
      sdkAnswer(-32602, 'Invalid tools/call request: ', toolsCall, { name: 123, arguments: 'str' }),
    );
    expect(out).toEqual({
      jsonrpc: '2.0',
      id: 1,
      error: {
        code: -32602,
        message:
          'Invalid tools/call request: params.name: expected string, received number; params.arguments: expected record, received string',
      },
    });
  });

  it('answers a params failure sent as an internal error with -32602, naming what is missing', () => {
    const out = readableProtocolError(sdkAnswer(-32603, '', complete, {}));
    expect(out.error).toEqual({
      code: -32602,
      message: 'Invalid request: params.ref: is required; params.argument: is required',
    });
    const wrongShape = readableProtocolError(
      sdkAnswer(-32603, '', complete, { ref: { type: 'x' }, argument: { name: 'a' } }),
    );
    expect(wrongShape.error.message).toBe('Invalid request: params.ref: matches none of the allowed shapes');
  });

  it('keeps -32603 when an issue is not about the params (a result the server got wrong)', () => {
    const result = z.object({ completion: z.object({ values: z.array(z.string()) }) });
    const answer = {
      jsonrpc: '2.0',
      id: 2,
      error: { code: -32603, message: result.safeParse({ completion: {} }).error!.message },
    };
    expect(readableProtocolError(answer).error).toEqual({
      code: -32603,
      message: 'Invalid request: completion.values: is required',
    });
  });

  it('passes every other message through as the same object', () => {
    const messages = [
      { jsonrpc: '2.0', id: 1, result: { tools: [] } },
      { jsonrpc: '2.0', id: 1, error: { code: -32602, message: 'Unknown tool: nope' } },
      { jsonrpc: '2.0', id: 1, error: { code: -32602, message: 'Bad list [1, 2]' } },
      { jsonrpc: '2.0', id: 1, error: { code: -32602, message: 'Looks like [{ but is not JSON' } },
      // JSON objects in a list, but not every one a validator issue (code, message, path).
      {
        jsonrpc: '2.0',
        id: 1,
        error: {
          code: -32603,
          message:
            'Failed: [{"code":"custom","message":"x","path":["params"]},{"code":"custom","message":"y"}]',
        },
      },
      { jsonrpc: '2.0', method: 'notifications/progress', params: {} },
    ];
    for (const m of messages) expect(readableProtocolError(m)).toBe(m);
  });
});
