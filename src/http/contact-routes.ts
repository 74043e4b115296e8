/**
 * Contacts from the pop (docs/phonebook.md, "Saving a contact"):
 * - `POST /api/contacts` creates the contact at the PBX (createNumber) and puts it in every instance's index;
 * - `GET /api/contacts/fields` lists the tenant's custom fields for the page's form.
 * Both take an agent token or the admin key.
 *
 * A 400 or 422 names the field when it can (`field`: `firstName`, `phoneNumber`, `customFields.City`, …), so
 * the page can show the error next to it.
 */
import { Router, json, type RequestHandler } from 'express';
import { z } from 'zod';
import { SecretDigest } from '../auth/secret-digest.js';
import { bearerToken } from '../auth/tokens.js';
import type { TokenVerifier } from '../core/agent.js';
import type { PhonebookContact } from '../core/event.js';
import type { PbxApi, PbxCustomField } from '../core/ports.js';
import { BridgeError, ERRORS, PbxError, ValidationError } from '../errors.js';
import type { Logger } from '../logger.js';
import { isAlreadyExists } from '../pbx/refusals.js';

export interface ContactDirectory {
  addContact(contact: PhonebookContact): Promise<void>;
  /** The tenant's custom field definitions, as of the last phonebook refresh. */
  customFields(): readonly PbxCustomField[];
}


const name = (max: number) => z.string({ message: 'must be a string' }).trim().min(1, 'is required').max(max, `must be at most ${max} characters`);
const optionalText = (max: number) => z.string({ message: 'must be a string' }).trim().max(max, `must be at most ${max} characters`).optional();
const phone = z
  .string({ message: 'must be a string' })
  .trim()
  .max(32, 'must be at most 32 characters')
  .refine((v) => v === '' || (/^\+?[\d\s\-().]+$/.test(v) && v.replace(/\D/g, '').length >= 3), 'must be a phone number')
  .optional();

export const contactBody = z.object({
  firstName: name(64),
  lastName: name(64),
  displayName: optionalText(128),
  phoneNumber: phone,
  cellNumber: phone,
  email: z
    .string({ message: 'must be a string' })
    .trim()
    .max(254, 'must be at most 254 characters')
    .refine((v) => v === '' || /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v), 'must be an e-mail address')
    .optional(),
  customFields: z.record(z.string(), z.string({ message: 'must be a string' }).trim().max(256, 'must be at most 256 characters')).optional(),
});

/** Manual field names (and custom field names) in a PBX message, mapped to the request's. */
const PBX_FIELDS: ReadonlyArray<[RegExp, string]> = [
  [/pb_first_name|first name/i, 'firstName'],
  [/pb_last_name|last name/i, 'lastName'],
  [/pb_display_name|display name/i, 'displayName'],
  [/pb_phone_number|phone number/i, 'phoneNumber'],
  [/pb_cell_number|cell number/i, 'cellNumber'],
  [/pb_email|e-?mail/i, 'email'],
];

function fieldOfPbxMessage(message: string, customFields: readonly PbxCustomField[]): string | null {
  for (const [re, field] of PBX_FIELDS) if (re.test(message)) return field;
  for (const f of customFields) if (f.name !== '' && message.includes(f.name)) return `customFields.${f.name}`;
  return null;
}

/** 400 naming the field, in the message and as `field` for the page's form. */
function invalid(field: string, message: string): ValidationError {
  return new ValidationError(field, `${field}: ${message}`, { answerFields: { field } });
}

/** What a failed createNumber means for the page (src/pbx/refusals.ts reads the PBX's status codes). */
function contactError(err: PbxError, customFields: readonly PbxCustomField[]): BridgeError {
  if (isAlreadyExists(err)) return new BridgeError('CONTACT_ERR_ALREADY_EXISTS');
  if (err.isRejection) {
    const message = err.pbxMessage ?? ERRORS.CONTACT_ERR_REFUSED.message;
    const field = fieldOfPbxMessage(message, customFields);
    return new BridgeError('CONTACT_ERR_REFUSED', message, { answerFields: { pbxStatus: err.pbxStatus, ...(field ? { field } : {}) } });
  }
  if (err.code === 'PBX_ERR_BAD_RESPONSE') return new BridgeError('CONTACT_ERR_PBX_BAD_RESPONSE');
  return new BridgeError('CONTACT_ERR_PBX_UNAVAILABLE');
}

/** The admin key, or an agent token (of any role). */
function requireAgentOrAdmin(adminApiKey: string | null, verify: TokenVerifier): RequestHandler {
  const admin = adminApiKey ? new SecretDigest(adminApiKey) : null;
  return async (req, res, next) => {
    const given = bearerToken(req.headers.authorization);
    if (given && admin?.matches(given)) {
      res.locals.caller = 'admin';
      next();
      return;
    }
    const claims = given ? await verify(given) : null;
    if (!claims) throw new BridgeError('AUTH_ERR_AGENT_OR_ADMIN');
    res.locals.caller = claims.extension;
    next();
  };
}

export function createContactRouter(deps: {
  pbx: PbxApi;
  directory: ContactDirectory;
  adminApiKey: string | null;
  verifyToken: TokenVerifier;
  logger: Logger;
}): Router {
  const router = Router();
  const auth = requireAgentOrAdmin(deps.adminApiKey, deps.verifyToken);

  router.get('/api/contacts/fields', auth, (_req, res) => {
    res.json({ fields: deps.directory.customFields().map((f) => ({ name: f.name, type: f.type, required: f.required === true, items: f.items ?? null, maxLength: f.maxLength ?? null })) });
  });

  router.post('/api/contacts', auth, json({ limit: '32kb' }), async (req, res) => {
    const parsed = contactBody.safeParse(req.body ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw invalid(issue?.path.join('.') || 'body', issue?.message ?? 'is invalid');
    }
    const body = parsed.data;
    const phoneNumber = body.phoneNumber ?? '';
    const cellNumber = body.cellNumber ?? '';
    if (phoneNumber === '' && cellNumber === '') throw invalid('phoneNumber', 'one of phoneNumber and cellNumber is required');
    const definitions = deps.directory.customFields();
    const customFields = Object.fromEntries(Object.entries(body.customFields ?? {}).filter(([, v]) => v !== ''));
    if (definitions.length > 0) {
      for (const key of Object.keys(customFields)) {
        if (!definitions.some((d) => d.name === key)) throw invalid(`customFields.${key}`, 'is not a custom field of this phonebook');
      }
      for (const d of definitions) {
        const value = customFields[d.name];
        if (d.required === true && value === undefined) throw invalid(`customFields.${d.name}`, 'is required');
        if (value === undefined) continue;
        if (d.maxLength !== undefined && value.length > d.maxLength) throw invalid(`customFields.${d.name}`, `must be at most ${d.maxLength} characters`);
        if (d.items && d.items.length > 0 && !d.items.includes(value)) throw invalid(`customFields.${d.name}`, `must be one of: ${d.items.join(', ')}`);
      }
    }
    const displayName = body.displayName || `${body.firstName} ${body.lastName}`;
    let phonebookId: string | null;
    try {
      ({ phonebookId } = await deps.pbx.createNumber({
        firstName: body.firstName,
        lastName: body.lastName,
        displayName,
        phoneNumber,
        cellNumber,
        email: body.email ?? '',
        customFields,
      }));
    } catch (err) {
      if (!(err instanceof PbxError)) throw err;
      const answer = contactError(err, definitions);
      if (answer.code === 'CONTACT_ERR_PBX_BAD_RESPONSE' || answer.code === 'CONTACT_ERR_PBX_UNAVAILABLE') {
        deps.logger.warn({ err: err.message }, 'creating a contact at the PBX failed');
      }
      throw answer;
    }
    const contact: PhonebookContact = {
      phonebookId: phonebookId ?? '',
      displayName,
      firstName: body.firstName,
      lastName: body.lastName,
      email: body.email ?? '',
      extension: '',
      phoneNumber,
      cellNumber,
      phoneGroup: '',
      customFields,
    };
    await deps.directory.addContact(contact);
    deps.logger.info({ by: res.locals.caller as string, phonebookId: contact.phonebookId || null }, 'contact created at the PBX');
    res.status(201).json({ contact: { ...contact, match: 'exact' } });
  });

  return router;
}
