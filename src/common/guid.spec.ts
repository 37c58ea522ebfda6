import { canonicalGuid, GUID } from './guid';

describe('GUID', () => {
  it('takes the 8-4-4-4-12 hex form in either case', () => {
    expect(GUID.test('0f8fad5b-d9cb-469f-a165-70867728950e')).toBe(true);
    expect(GUID.test('0F8FAD5B-D9CB-469F-A165-70867728950E')).toBe(true);
  });

  it.each([
    ['a prefix', 'x0f8fad5b-d9cb-469f-a165-70867728950e'],
    ['a suffix', '0f8fad5b-d9cb-469f-a165-70867728950ex'],
    ['a letter past f', '0f8fad5b-d9cg-469f-a165-70867728950e'],
    ['a letter past f, last group', '0f8fad5b-d9cb-469f-a165-70867728950g'],
    ['a letter past f, third group', '0f8fad5b-d9cb-469z-a165-70867728950e'],
    ['a letter past f, fourth group', '0f8fad5b-d9cb-469f-a16z-70867728950e'],
    ['a missing dash', '0f8fad5b-d9cb-469f-a16570867728950e'],
    ['no dashes', '0f8fad5bd9cb469fa16570867728950e'],
    ['a short group', '0f8fad5-d9cb-469f-a165-70867728950e'],
    ['braces', '{0f8fad5b-d9cb-469f-a165-70867728950e}'],
    ['a newline after it', '0f8fad5b-d9cb-469f-a165-70867728950e\n'],
  ])('refuses %s', (_what, id) => {
    expect(GUID.test(id)).toBe(false);
  });

  it('has one canonical spelling: lower case', () => {
    expect(canonicalGuid('0F8FAD5B-D9CB-469F-A165-70867728950E')).toBe(
      '0f8fad5b-d9cb-469f-a165-70867728950e',
    );
  });
});
