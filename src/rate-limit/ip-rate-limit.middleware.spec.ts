import type { Request } from 'express';
import { clientAddress } from './ip-rate-limit.middleware';

/** A request as Express hands it over: `req.ip` is what `trust proxy` made of the connection. */
const from = (ip: string) => ({ ip, socket: { remoteAddress: '10.9.9.9' } }) as unknown as Request;

describe('clientAddress (what the per-IP limit counts under)', () => {
  it('counts an IPv6 client by its /64: every address of one /64 shares a count, the next /64 has its own', () => {
    const host = clientAddress(from('2001:db8:1:2::1'));
    // One host usually owns the whole /64: rotating through it must not buy a fresh limit.
    expect(clientAddress(from('2001:db8:1:2:ffff:ffff:ffff:fffe'))).toBe(host);
    expect(clientAddress(from('2001:db8:1:2:8000::42'))).toBe(host);
    expect(clientAddress(from('2001:db8:1:3::1'))).not.toBe(host);
  });

  it('counts IPv4 (and IPv4-mapped IPv6) per address, taken from req.ip rather than the socket', () => {
    expect(clientAddress(from('203.0.113.7'))).toBe('203.0.113.7');
    expect(clientAddress(from('::ffff:203.0.113.7'))).toBe('203.0.113.7');
    expect(clientAddress(from('203.0.113.8'))).not.toBe(clientAddress(from('203.0.113.7')));
  });
});
