/**
 * Turns the operation list (operations.ts) into an OpenAPI 3.1 document: request parts from the routes' own
 * zod schemas (zod's JSON Schema output, as the client sends them), answers from the components in
 * schemas.ts, failures from the error registry (responses.ts).
 */
import { z } from 'zod';
import type { ErrorRef, ResponseObject } from './responses.js';
import { errorResponses } from './responses.js';
import { components } from './schemas.js';

export type JsonSchema = Record<string, unknown>;
export type Method = 'get' | 'put' | 'post' | 'delete' | 'options' | 'head';

/** Who may call: each entry is one way that is enough (docs/api.md, "Who may call what"). */
export type Auth = 'none' | 'admin' | 'agent' | 'agentOrAdmin' | 'metrics' | 'callback' | 'websocket';

export interface Success {
  status: number;
  description: string;
  /** JSON answer; absent for an answer without a body. */
  json?: JsonSchema;
  /** Another media type, e.g. text/plain. */
  content?: Record<string, { schema: JsonSchema }>;
  headers?: Record<string, unknown>;
}

export interface Operation {
  method: Method;
  /** OpenAPI form: `/api/webhooks/{id}`. */
  path: string;
  operationId: string;
  tag: string;
  summary: string;
  description?: string;
  auth: Auth;
  query?: z.ZodObject;
  /** Validated path parameters; others are given in `pathParams`. */
  params?: z.ZodObject;
  pathParams?: Record<string, string>;
  /** What a query or validated path field means (the route's schema says only what it accepts). */
  paramNotes?: Record<string, string>;
  body?: { schema: z.ZodType; limit: string; required?: boolean } | { raw: ResponseObject };
  ok: Success[];
  /** Error codes (or hand-written answers) this operation can answer; INTERNAL_ERR is always added. */
  errors?: readonly ErrorRef[];
  /** Responses written out in full (the PBX callback's own shape). */
  responses?: Record<string, ResponseObject>;
}

/** A route's zod schema as the client sends it (`io: input`: before defaults and transforms). */
export function inputSchema(schema: z.ZodType): JsonSchema {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' });
  void _drop;
  return rest;
}

export function ref(id: string): JsonSchema {
  return { $ref: `#/components/schemas/${id}` };
}

/** `{"<key>": <schema>}` as an answer. */
export function wrapped(key: string, schema: JsonSchema, extra: Record<string, JsonSchema> = {}): JsonSchema {
  return { type: 'object', required: [key, ...Object.keys(extra)], properties: { [key]: schema, ...extra } };
}

const SECURITY: Record<Auth, Array<Record<string, string[]>>> = {
  none: [],
  admin: [{ adminKey: [] }],
  agent: [{ agentToken: [] }],
  agentOrAdmin: [{ agentToken: [] }, { adminKey: [] }],
  // Only when METRICS_TOKEN is set; open otherwise.
  metrics: [{ metricsToken: [] }, {}],
  callback: [{ callbackSecretQuery: [] }, { callbackSecretHeader: [] }],
  websocket: [{ agentTokenQuery: [] }, { agentToken: [] }],
};

export const SECURITY_SCHEMES = {
  adminKey: {
    type: 'http',
    scheme: 'bearer',
    description: 'Authorization: Bearer $ADMIN_API_KEY. While ADMIN_API_KEY is unset every admin route answers 404 not_found.',
  },
  agentToken: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'An agent token (HS256 JWT from POST /api/agents/login or POST /api/tokens), roles agent or supervisor.',
  },
  agentTokenQuery: { type: 'apiKey', in: 'query', name: 'token', description: 'The agent token as ?token= (WebSocket only).' },
  metricsToken: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer $METRICS_TOKEN, only when it is set.' },
  callbackSecretQuery: { type: 'apiKey', in: 'query', name: 'secret', description: 'PBX_CALLBACK_SECRET as ?secret=.' },
  callbackSecretHeader: { type: 'apiKey', in: 'header', name: 'X-Callback-Secret', description: 'PBX_CALLBACK_SECRET as a header.' },
} as const;

const AUTH_ERRORS: Record<Auth, readonly ErrorRef[]> = {
  none: [],
  admin: ['AUTH_ERR_ADMIN_KEY', 'AUTH_ERR_ADMIN_DISABLED'],
  // Checking a token reads its revocation from the store.
  agent: ['AUTH_ERR_INVALID_TOKEN', 'STORE_ERR_UNAVAILABLE'],
  agentOrAdmin: ['AUTH_ERR_INVALID_TOKEN', 'STORE_ERR_UNAVAILABLE'],
  metrics: ['AUTH_ERR_METRICS_TOKEN'],
  callback: [],
  websocket: [],
};

function parameters(schema: z.ZodObject, where: 'query' | 'path', notes: Record<string, string> = {}): ResponseObject[] {
  const json = inputSchema(schema);
  const properties = (json.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((json.required ?? []) as string[]);
  return Object.entries(properties).map(([name, s]) => {
    const { description: fromSchema, ...rest } = s;
    const description = notes[name] ?? fromSchema;
    return {
      name,
      in: where,
      required: where === 'path' || required.has(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema: rest,
    };
  });
}

function successResponse(s: Success): ResponseObject {
  const content = s.json ? { 'application/json': { schema: s.json } } : s.content;
  return { description: s.description, ...(s.headers ? { headers: s.headers } : {}), ...(content ? { content } : {}) };
}

function operationObject(op: Operation): ResponseObject {
  const params = [
    ...(op.params ? parameters(op.params, 'path', op.paramNotes) : []),
    ...Object.entries(op.pathParams ?? {}).map(([name, description]) => ({ name, in: 'path', required: true, description, schema: { type: 'string' } })),
    ...(op.query ? parameters(op.query, 'query', op.paramNotes) : []),
  ];
  let requestBody: ResponseObject | undefined;
  if (op.body && 'raw' in op.body) requestBody = op.body.raw;
  else if (op.body) {
    requestBody = {
      required: op.body.required ?? true,
      description: `JSON, at most ${op.body.limit}; sent with Content-Type: application/json.`,
      content: { 'application/json': { schema: inputSchema(op.body.schema) } },
    };
  }
  const responses: Record<string, ResponseObject> = {};
  for (const s of op.ok) responses[String(s.status)] = successResponse(s);
  Object.assign(responses, op.responses ?? errorResponses([...AUTH_ERRORS[op.auth], ...(op.errors ?? [])]));
  return {
    operationId: op.operationId,
    tags: [op.tag],
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    security: SECURITY[op.auth],
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(requestBody ? { requestBody } : {}),
    responses,
  };
}

/**
 * zod's output schemas close every object (`additionalProperties: false`); answers and events may gain fields
 * without a new major version, so clients must not be told to refuse them.
 */
function openObjects(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) openObjects(item);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  const record = node as JsonSchema;
  if (record.additionalProperties === false) delete record.additionalProperties;
  for (const value of Object.values(record)) openObjects(value);
}

export interface DocumentParts {
  info: ResponseObject;
  tags: Array<{ name: string; description: string }>;
  operations: readonly Operation[];
  webhooks: ResponseObject;
}

export function buildDocument(parts: DocumentParts): ResponseObject {
  const paths: Record<string, Record<string, ResponseObject>> = {};
  for (const op of parts.operations) {
    const item = (paths[op.path] ??= {});
    if (item[op.method]) throw new Error(`openapi: ${op.method.toUpperCase()} ${op.path} is listed twice`);
    item[op.method] = operationObject(op);
  }
  const { schemas } = z.toJSONSchema(components, {
    target: 'draft-2020-12',
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
  });
  for (const s of Object.values(schemas)) {
    delete (s as JsonSchema).$schema;
    delete (s as JsonSchema).$id;
    openObjects(s);
  }
  return {
    openapi: '3.1.0',
    info: parts.info,
    servers: [{ url: '/', description: 'the bridge itself' }],
    tags: parts.tags,
    paths,
    webhooks: parts.webhooks,
    components: { schemas, securitySchemes: SECURITY_SCHEMES },
  };
}
