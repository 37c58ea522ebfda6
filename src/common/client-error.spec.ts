import { PassThrough } from 'node:stream';
import { answerClientError } from './client-error';

/** A socket of the server's: what the answer writes is read back from it. */
const socket = (headersSent?: boolean) => {
  const s = new PassThrough();
  if (headersSent !== undefined) Object.assign(s, { _httpMessage: { headersSent } });
  let written = '';
  s.on('data', (d: Buffer) => (written += d.toString()));
  return { s, written: () => written };
};
const parseError = () => Object.assign(new Error('Parse Error'), { code: 'HPE_INVALID_METHOD' });

describe('answerClientError', () => {
  it('answers a request it could not parse with the JSON 400, and ends the connection', async () => {
    const { s, written } = socket(false);
    answerClientError(parseError(), s);
    await new Promise((resolve) => s.once('end', resolve));
    expect(written()).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(JSON.parse(written().split('\r\n\r\n')[1])).toMatchObject({
      statusCode: 400,
      code: 'bad_request',
    });
  });

  it('writes nothing into a response already begun on that connection: it only closes it', () => {
    const { s, written } = socket(true);
    answerClientError(parseError(), s);
    expect(s.destroyed).toBe(true);
    expect(written()).toBe('');
  });
});
