/**
 * What a failed PBX call means to the rest of the bridge. The manual's status codes are read here and in
 * answer.ts only: callers outside src/pbx/ ask these questions instead of comparing numbers.
 */
import { PbxError } from '../errors.js';
import { DATA_NOT_FOUND } from './answer.js';

/** Manual: crmSubscribe/crmUnSubscribe answer 406 "Not Acceptable" naming the bad parameter (wrong extension or password). */
const CREDENTIAL_REFUSALS: ReadonlySet<number> = new Set([406, 401, 403]);

/** The PBX answered and refused these extension credentials (as opposed to failing or being out of reach). */
export function isCredentialRefusal(err: PbxError): boolean {
  return err.isRejection && err.pbxStatus !== null && CREDENTIAL_REFUSALS.has(err.pbxStatus);
}

/** No answer at all: timed out or could not connect. */
export function isUnreachable(err: PbxError): boolean {
  return err.code === 'PBX_ERR_UNREACHABLE' || err.code === 'PBX_ERR_TIMEOUT';
}

/** The manual's 601 "Data Not Found" on a list endpoint: an empty list, not a failure. */
export function isDataNotFound(err: unknown): boolean {
  return err instanceof PbxError && err.pbxStatus === DATA_NOT_FOUND;
}

/** A list call whose 601 "Data Not Found" is an empty list (for PbxApi implementations that throw it). */
export async function emptyWhenNotFound<T>(call: Promise<T[]>): Promise<T[]> {
  try {
    return await call;
  } catch (err) {
    if (isDataNotFound(err)) return [];
    throw err;
  }
}

/** The manual's createNumber 605 "Already Exists": a contact with this number is there already. */
const ALREADY_EXISTS = 605;
export function isAlreadyExists(err: PbxError): boolean {
  return err.isRejection && err.pbxStatus === ALREADY_EXISTS;
}
