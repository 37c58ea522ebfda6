import { base64Buffer } from './column-transformers';

describe('base64Buffer', () => {
  it('round-trips bytes through base64 text and keeps null', () => {
    const bytes = Buffer.from([0, 1, 254, 255, 10]);
    const stored = base64Buffer.to(bytes) as string;
    expect(stored).toBe('AAH+/wo=');
    expect(Buffer.compare(base64Buffer.from(stored) as Buffer, bytes)).toBe(0);
    expect(base64Buffer.to(null)).toBeNull();
    expect(base64Buffer.from(null)).toBeNull();
  });

  it('passes undefined through as undefined (a column left unset), not as NULL', () => {
    expect(base64Buffer.to(undefined)).toBeUndefined();
    expect(base64Buffer.from(undefined)).toBeUndefined();
  });
});
