/** How extension web passwords are sent to the PBX, and keeping every secret out of error messages. */
import { createHash } from 'node:crypto';

export type PasswordFormat = 'md5' | 'plain';

/** The manual's example sends a 32-hex-digit `extension_password`: the lower-case MD5 of the web password. */
export function encodeExtensionPassword(webPassword: string, format: PasswordFormat): string {
  return format === 'md5' ? createHash('md5').update(webPassword, 'utf8').digest('hex') : webPassword;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Replaces every occurrence of the given secrets (case-insensitively) with `***`. */
export function redactSecrets(message: string, secrets: readonly string[]): string {
  let out = message;
  for (const secret of secrets) {
    if (secret === '') continue;
    out = out.replace(new RegExp(escapeRegExp(secret), 'gi'), '***');
  }
  return out;
}
