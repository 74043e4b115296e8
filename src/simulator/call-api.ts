/**
 * The manual's call endpoints, answered from the simulator's calls (calls.ts). Status codes per the
 * manual's tables:
 * - activeCalls ("Active Calls") and callLog ("Call Log"): 405 No Token, 414 Invalid User Type,
 *   501 Authentication Failed; callLog also 412 / 413 for dates not written YYYY-MM-DD and
 *   411 "No Call Log Details Found" when no row matches.
 * - recordingPath (25): 405, 414, 501, 404 Missing Parameter without a callid, 406 "No Recording Found".
 * - getRingGroup (41) / getQueue (39): 602 No Token, 604 Invalid User Type, 603, 601 Data Not Found.
 */
import type { Request, Response, Router } from 'express';
import { activeCallRows, callLogRows, recordingUrl } from './calls.js';
import type { SimCallGroup } from './call-settings.js';
import type { RawEntry, SimulatorState } from './state.js';

export interface ManualHelpers {
  fail(res: Response, code: number, message: string): void;
  succeed(res: Response, body: Record<string, unknown>): void;
  sendList(res: Response, message: string, countKey: 'Count' | 'count', data: readonly unknown[]): void;
  /** The list endpoints' 602 / 604 / 603 checks. */
  authorizeList(req: Request, res: Response, checkUserType: boolean): boolean;
  readBody(req: Request): Record<string, unknown>;
  asText(value: unknown): string | null;
  sameSecret(given: string, expected: string): boolean;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

function isDate(value: string | undefined): value is string {
  if (value === undefined || !DATE.test(value)) return false;
  const d = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === value;
}

/** The origin the request came to: recording URLs point back at this simulator. */
function originOf(req: Request): string {
  return `${req.protocol}://${req.get('host') ?? '127.0.0.1'}`;
}

function groupRows(groups: readonly SimCallGroup[], kind: SimCallGroup['kind']): RawEntry[] {
  const prefix = kind === 'ring_group' ? 'ring_group' : 'queue';
  return groups
    .filter((g) => g.kind === kind)
    .map((g) => ({ [`${prefix}_id`]: g.id, [`${prefix}_name`]: g.name, [`${prefix}_extension`]: g.number }));
}

export function mountCallEndpoints(router: Router, state: SimulatorState, h: ManualHelpers): void {
  /** The call endpoints' token checks in the manual's order: 405 missing, 414 user type, 501 wrong. */
  const authorize = (req: Request, res: Response): Record<string, unknown> | null => {
    const body = h.readBody(req);
    const token = h.asText(body.token_id);
    if (token === null) {
      h.fail(res, 405, 'No Token');
      return null;
    }
    if (req.params.userType !== state.userType) {
      h.fail(res, 414, `Invalid User Type. Allowed Type is: '${state.userType}'`);
      return null;
    }
    if (!h.sameSecret(token, state.token)) {
      h.fail(res, 501, 'Authentication Failed');
      return null;
    }
    return body;
  };

  router.post('/info/:userType/activeCalls', (req, res) => {
    if (authorize(req, res) === null) return;
    h.succeed(res, { message: 'Active Calls Details.', data: activeCallRows(state) });
  });

  router.post('/info/:startDate/:endDate/:userType/callLog', (req, res) => {
    const body = authorize(req, res);
    if (body === null) return;
    const { startDate, endDate } = req.params;
    if (!isDate(startDate)) return h.fail(res, 412, "Invalid Start Date. Allowed format is : 'YYYY-MM-DD'");
    if (!isDate(endDate)) return h.fail(res, 413, "Invalid End Date. Allowed format is : 'YYYY-MM-DD'");
    const rows = callLogRows(state, { startDate, endDate, number: h.asText(body.number) }, originOf(req));
    if (rows.length === 0) return h.fail(res, 411, 'No Call Log Details Found');
    h.succeed(res, { message: 'Call Log Details.', data: rows });
  });

  router.post('/info/:userType/recordingPath', (req, res) => {
    const body = authorize(req, res);
    if (body === null) return;
    const callId = h.asText(body.callid);
    if (callId === null) return h.fail(res, 404, 'Missing Parameter');
    const url = recordingUrl(state, callId, originOf(req));
    if (url === null) return h.fail(res, 406, 'No Recording Found');
    h.succeed(res, { message: 'Recording Path.', data: { recordingPath: url } });
  });

  router.post('/info/:userType/getRingGroup', (req, res) => {
    if (!h.authorizeList(req, res, true)) return;
    h.sendList(res, 'Ring Group Details.', 'count', groupRows(state.callGroups, 'ring_group'));
  });

  router.post('/info/:userType/getQueue', (req, res) => {
    if (!h.authorizeList(req, res, true)) return;
    h.sendList(res, 'Queue Details.', 'count', groupRows(state.callGroups, 'queue'));
  });
}
