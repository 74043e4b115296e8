/**
 * What a failed PBX call means to the rest of the bridge. The manual's status codes are read here and in
 * answer.ts only: callers outside src/pbx/ ask these questions instead of comparing numbers.
 */
import { PbxError } from '../errors.js';

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

/** The manual's createNumber 605 "Already Exists": a contact with this number is there already. */
const ALREADY_EXISTS = 605;
export function isAlreadyExists(err: PbxError): boolean {
  return err.isRejection && err.pbxStatus === ALREADY_EXISTS;
}
