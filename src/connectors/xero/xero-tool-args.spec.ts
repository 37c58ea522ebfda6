import { z } from 'zod';
import { DAY, guid, tenantId } from './xero-tool-args';

const messages = (value: string) => DAY.safeParse(value).error?.issues.map((i) => i.message);

describe('Xero tool arguments: DAY', () => {
  it('takes a real calendar day', () => {
    expect(DAY.safeParse('2020-02-29').success).toBe(true);
  });

  it('says once what is wrong: the shape, or a day that does not exist', () => {
    expect(messages('31/10/2018')).toEqual(['must be a date YYYY-MM-DD']);
    expect(messages('2019-02-29')).toEqual(['must be a real date']);
    expect(messages('2018-10-32')).toEqual(['must be a real date']);
  });
});

describe('Xero tool arguments: ids', () => {
  const T = '9a0e5d3b-7c1f-4e2a-8b6d-0f1e2d3c4b5a';

  it('take a GUID in either case and give it in lower case: one tenant, one spelling downstream', () => {
    expect(tenantId().parse(T.toUpperCase())).toBe(T);
    expect(tenantId().parse('9A0e5D3b-7C1f-4E2a-8B6d-0F1e2D3c4B5a')).toBe(T);
    expect(tenantId().parse(undefined)).toBeUndefined();
    expect(guid().parse(T.toUpperCase())).toBe(T);
    expect(guid().safeParse(`${T}x`).success).toBe(false);
  });

  it('show clients a JSON Schema string whose pattern takes both cases, as the server does', () => {
    const schema = z.toJSONSchema(z.object({ tenantId: tenantId() }), {
      io: 'input',
      unrepresentable: 'throw',
    });
    const prop = (schema.properties as Record<string, { type: string; pattern: string }>).tenantId;
    expect(prop.type).toBe('string');
    // A JSON Schema validator compiles the pattern as it is, without the flags a RegExp had.
    const pattern = new RegExp(prop.pattern, 'u');
    expect(pattern.test(T)).toBe(true);
    expect(pattern.test(T.toUpperCase())).toBe(true);
    expect(pattern.test(`${T}\r\nx: 1`)).toBe(false);
  });
});
