/**
 * Extension web passwords at rest: AES-256-GCM (node:crypto) under CREDENTIALS_KEY.
 *
 * A sealed value is `v1.<base64url(iv ‖ tag ‖ ciphertext)>` with a fresh 96-bit IV each time. The extension
 * number is bound in as additional authenticated data, so a sealed password copied onto another extension's
 * record does not open. Opening with the wrong key, or a value altered in any byte, throws CredentialError.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { BridgeError } from '../errors.js';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

/** A sealed value that cannot be opened: wrong key, altered, truncated, or not a sealed value at all. */
export class CredentialError extends BridgeError {
  constructor(message: string) {
    super('CREDENTIAL_ERR_UNREADABLE', message);
  }
}

function aad(context: string): Buffer {
  return Buffer.from(`hodubridge-extension:${context}`, 'utf8');
}

export class CredentialCipher {
  private readonly key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== KEY_BYTES) throw new Error(`the credentials key must be ${KEY_BYTES} bytes, got ${key.length}`);
    this.key = Buffer.from(key);
  }

  /** Encrypts `plaintext` for `context` (the extension number). */
  seal(plaintext: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad(context));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `${VERSION}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
  }

  /** Decrypts a value sealed for the same `context` with the same key; throws CredentialError otherwise. */
  open(sealed: string, context: string): string {
    const dot = sealed.indexOf('.');
    if (dot < 0 || sealed.slice(0, dot) !== VERSION) throw new CredentialError('not a sealed credential');
    const raw = Buffer.from(sealed.slice(dot + 1), 'base64url');
    if (raw.length < IV_BYTES + TAG_BYTES) throw new CredentialError('sealed credential is truncated');
    const iv = raw.subarray(0, IV_BYTES);
    const tag = raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES);
    const body = raw.subarray(IV_BYTES + TAG_BYTES);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(aad(context));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
    } catch {
      throw new CredentialError('sealed credential does not open with this key (wrong CREDENTIALS_KEY, or altered)');
    }
  }
}
