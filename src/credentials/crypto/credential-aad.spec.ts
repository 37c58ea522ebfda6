import { encodeAadFields, payloadAad, dataKeyAad } from './credential-aad';

describe('credential AAD encoding', () => {
  it('gives distinct bytes for lists that naive joining would confuse', () => {
    const lists: (string | null)[][] = [
      ['a:b', 'c'],
      ['a', 'b:c'],
      ['ab', 'c'],
      ['a', 'bc'],
      ['a', null, 'c'],
      ['a', 'null', 'c'],
      ['a', '', 'c'],
      ['a', 'c'],
      ['a', 'c', null],
      ['a\u0000', 'c'],
      ['a', '\u0000c'],
    ];
    const encodings = lists.map((l) => encodeAadFields(l).toString('hex'));
    expect(new Set(encodings).size).toBe(lists.length);
  });

  it('is the documented length-prefixed form', () => {
    expect(encodeAadFields(['ab', null, 'é']).toString('hex')).toBe(
      '01' + '00000002' + '6162' + '00' + '01' + '00000002' + 'c3a9',
    );
  });

  it('refuses strings UTF-8 cannot carry one-to-one (lone surrogates)', () => {
    expect(() => encodeAadFields(['\ud800'])).toThrow(TypeError);
    expect(() => encodeAadFields(['\udfff'])).toThrow(TypeError);
    expect(encodeAadFields(['😀']).subarray(1, 5).readUInt32BE(0)).toBe(4);
  });

  it('separates payload AAD from data-key AAD and binds the key id only in the latter', () => {
    const place = { organizationId: 'o', userId: 'u', service: 's' };
    expect(payloadAad(place).equals(dataKeyAad('k1', place))).toBe(false);
    expect(dataKeyAad('k1', place).equals(dataKeyAad('k2', place))).toBe(false);
    expect(payloadAad(place).includes(Buffer.from('k1'))).toBe(false);
  });
});
