import { describe, expect, it } from 'vitest';
import { tokenFromRequest } from '../../src/ws/upgrade-auth.js';

const url = (q: string) => new URL(`http://localhost/ws${q}`);

describe('tokenFromRequest', () => {
  it('when the query carries a token, then it wins over the header', () => {
    expect(tokenFromRequest(url('?token=abc'), { authorization: 'Bearer xyz' })).toBe('abc');
  });

  it('when only the Authorization header carries one, then the bearer token is used, any case of scheme', () => {
    expect(tokenFromRequest(url(''), { authorization: 'bearer xyz' })).toBe('xyz');
    expect(tokenFromRequest(url('?token='), { authorization: 'Bearer xyz' })).toBe('xyz');
  });

  it('when neither has a usable token, then null', () => {
    expect(tokenFromRequest(url(''), {})).toBeNull();
    expect(tokenFromRequest(url(''), { authorization: 'Basic dXNlcjpwYXNz' })).toBeNull();
    expect(tokenFromRequest(url(''), { authorization: 'Bearer ' })).toBeNull();
  });
});
