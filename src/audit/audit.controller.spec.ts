import { csvField } from './audit.controller';

describe('csvField', () => {
  it('leaves plain values bare and writes nothing for null', () => {
    expect(csvField('tool_call')).toBe('tool_call');
    expect(csvField(200)).toBe('200');
    expect(csvField(null)).toBe('');
  });

  it('quotes a field holding a comma, quote or line break (RFC 4180)', () => {
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('a\nb')).toBe('"a\nb"');
  });

  it('keeps a formula from running: a leading = + - @ becomes text', () => {
    expect(csvField('=HYPERLINK("http://x")')).toBe(`"'=HYPERLINK(""http://x"")"`);
    expect(csvField('+1+cmd')).toBe("'+1+cmd");
    expect(csvField('@SUM(A1)')).toBe("'@SUM(A1)");
  });

  it('quotes a semicolon or tab, so a locale that splits on them cannot start a formula cell', () => {
    expect(csvField('ok;=1+2;x')).toBe('"ok;=1+2;x"');
    expect(csvField('x\t=3+4')).toBe('"x\t=3+4"');
  });
});
