/** How the subscription code reads a failed crmSubscribe/crmUnSubscribe: a refusal of the credentials, or no answer. */
import type { PbxError } from '../errors.js';

/** Manual: crmSubscribe/crmUnSubscribe answer 406 "Not Acceptable" naming the bad parameter. */
export function isCredentialRefusal(err: PbxError): boolean {
  return err.isRejection && (err.pbxStatus === 406 || err.pbxStatus === 401 || err.pbxStatus === 403);
}

export function isUnreachable(err: PbxError): boolean {
  return err.code === 'PBX_ERR_UNREACHABLE' || err.code === 'PBX_ERR_TIMEOUT';
}
