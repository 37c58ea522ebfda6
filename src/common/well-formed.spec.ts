import { cutText, LONE_SURROGATE, storableText, wellFormed } from './well-formed';

describe('wellFormed / cutText', () => {
  it('replaces each lone surrogate with U+FFFD and keeps pairs, other text as is', () => {
    expect(wellFormed('a\ud800b\udc00c')).toBe('a\ufffdb\ufffdc');
    expect(wellFormed('\ud83d\ude00 ok')).toBe('\ud83d\ude00 ok');
    const plain = 'Schlüssel ключ 鍵';
    expect(wellFormed(plain)).toBe(plain);
    expect(LONE_SURROGATE.test(wellFormed('\udfff\ud800'))).toBe(false);
  });

  it('cuts on a character boundary: an emoji is kept whole or left out, never split', () => {
    const name = `${'a'.repeat(99)}\u{1F600}`; // 101 UTF-16 units
    expect(cutText(name, 100)).toBe('a'.repeat(99));
    expect(cutText(name, 101)).toBe(name);
    expect(cutText('short', 100)).toBe('short');
    expect(cutText('\ud800xyz', 2)).toBe('\ufffdx');
  });

  it('storableText replaces U+0000 (which PostgreSQL refuses in text) and lone surrogates, nothing else', () => {
    expect(storableText('a\u0000b\u0000')).toBe('a\ufffdb\ufffd');
    expect(storableText('\ud800\u0000')).toBe('\ufffd\ufffd');
    expect(storableText('tab\there \u0001')).toBe('tab\there \u0001');
  });
});
