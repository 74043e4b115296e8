/**
 * deploy/kubernetes/: every object validates against the Kubernetes API schemas (kubernetes-models ships
 * them; no cluster, no download), and the manifests agree with the code: the probe paths answer on a real
 * bridge, the container port is the configured PORT, the variables are the ones src/config.ts reads (secrets
 * in the Secret), the shutdown fits in the grace period, and the selectors and names line up.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { CONFIG_VARIABLES, loadConfig } from '../../src/config.js';
import type { Bridge } from '../../src/bridge.js';
import { startTestBridge } from '../helpers/bridge-harness.js';

const DIR = join(import.meta.dirname, '../../deploy/kubernetes');
/** The bridge's own shutdown deadline (src/main.ts). */
const SHUTDOWN_DEADLINE_S = 10;
const SECRET_VARIABLES = ['PBX_TOKEN', 'PBX_CALLBACK_SECRET', 'SESSION_SECRET', 'CREDENTIALS_KEY', 'ADMIN_API_KEY', 'REDIS_URL'];
const STANDARD_LABELS = ['app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app.kubernetes.io/component', 'app.kubernetes.io/part-of', 'app.kubernetes.io/version', 'app.kubernetes.io/managed-by'];

interface Validatable {
  validate(): void;
}
/** Each supported apiVersion/kind and its model, which checks an object against that API's schema. */
function model<T>(Model: new (data: T) => Validatable): (data: unknown) => Validatable {
  return (data) => new Model(data as T);
}
const MODELS: Record<string, (data: unknown) => Validatable> = {
  'v1/ConfigMap': model(ConfigMap),
  'v1/Secret': model(Secret),
  'v1/Service': model(Service),
  'apps/v1/Deployment': model(Deployment),
  'apps/v1/StatefulSet': model(StatefulSet),
  'policy/v1/PodDisruptionBudget': model(PodDisruptionBudget),
  'autoscaling/v2/HorizontalPodAutoscaler': model(HorizontalPodAutoscaler),
};

interface Doc {
  file: string;
  apiVersion: string;
  kind: string;
  name: string;
  raw: Record<string, unknown>;
}

function loadManifests(): { docs: Doc[]; kustomization: { resources: string[] } } {
  const docs: Doc[] = [];
  let kustomization: { resources: string[] } = { resources: [] };
  for (const file of readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const parsed of parseAllDocuments(readFileSync(join(DIR, file), 'utf8'))) {
      if (parsed.errors.length > 0) throw new Error(`${file}: ${parsed.errors.map((e) => e.message).join('; ')}`);
      const raw = parsed.toJS() as Record<string, unknown> | null;
      if (!raw) continue;
      if (raw.kind === 'Kustomization') {
        kustomization = raw as unknown as { resources: string[] };
        continue;
      }
      const metadata = raw.metadata as { name?: string } | undefined;
      docs.push({ file, apiVersion: String(raw.apiVersion), kind: String(raw.kind), name: metadata?.name ?? '', raw });
    }
  }
  return { docs, kustomization };
}

const { docs, kustomization } = loadManifests();
const one = <T>(kind: string, Model: new (data: T) => T, name = 'hodupbx-crm-bridge'): T => {
  const doc = docs.find((d) => d.kind === kind && d.name === name);
  if (!doc) throw new Error(`no ${kind} ${name} in deploy/kubernetes`);
  return new Model(doc.raw as T);
};
const deployment = one('Deployment', Deployment);
const podSpec = deployment.spec?.template.spec;
const container: IContainer | undefined = podSpec?.containers[0];
const configMap = one('ConfigMap', ConfigMap);
const secret = one('Secret', Secret);

describe('deploy/kubernetes', () => {
  it('has the objects operators need, each valid against the Kubernetes API schema', () => {
    expect(docs.map((d) => d.kind).sort()).toEqual(
      ['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Secret', 'Service', 'Service', 'StatefulSet'].sort(),
    );
    for (const doc of docs) {
      const make = MODELS[`${doc.apiVersion}/${doc.kind}`];
      expect(make, `${doc.file}: ${doc.apiVersion} ${doc.kind} is not a supported API`).toBeDefined();
      expect(() => make?.(doc.raw).validate(), `${doc.file}: ${doc.kind} ${doc.name}`).not.toThrow();
    }
    // kubectl apply -k applies every file.
    expect([...kustomization.resources].sort()).toEqual([...new Set(docs.map((d) => d.file))].sort());
  });

  it('the schema check is real: a wrong type or a missing field is refused', () => {
    const broken = structuredClone(deployment.toJSON()) as unknown as { spec: { template: { spec: { containers: Array<Record<string, unknown>> } } } };
    const first = broken.spec.template.spec.containers[0] ?? {};
    first.ports = [{ containerPort: 'three thousand' }];
    expect(() => new Deployment(broken as never).validate()).toThrow(/containerPort must be integer/);
    first.ports = [{ containerPort: 3000 }];
    delete first.name;
    expect(() => new Deployment(broken as never).validate()).toThrow(/containers\/0 must have required property name/);
  });

  it('every object carries the standard app.kubernetes.io labels', () => {
    for (const doc of docs) {
      const labels = (doc.raw.metadata as { labels?: Record<string, string> }).labels ?? {};
      for (const label of STANDARD_LABELS) expect(labels[label], `${doc.file} ${doc.kind} ${label}`).toBeTruthy();
    }
  });

  it('the Deployment: 2+ replicas, rolling without losing capacity, non-root with a read-only root filesystem', () => {
    expect(deployment.spec?.replicas).toBeGreaterThanOrEqual(2);
    expect(deployment.spec?.strategy?.rollingUpdate?.maxUnavailable).toBe(0);
    expect(podSpec?.securityContext?.runAsNonRoot).toBe(true);
    expect(podSpec?.securityContext?.runAsUser).toBeGreaterThan(0);
    expect(container?.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    // The selector picks the pod template's labels.
    const podLabels = deployment.spec?.template.metadata?.labels ?? {};
    expect(podLabels).toMatchObject(deployment.spec?.selector.matchLabels ?? { missing: 'selector' });
  });

  it('the container port is the configured PORT, and the Service, PDB and HPA point at these pods', () => {
    const ports = container?.ports ?? [];
    const http = ports.find((p) => p.name === 'http');
    const env = configMap.data ?? {};
    const fromEnv = loadConfig({ ...env, ...validSecrets() });
    expect(fromEnv.ok).toBe(true);
    if (!fromEnv.ok) return;
    expect(http?.containerPort).toBe(fromEnv.config.port);
    const podLabels = deployment.spec?.template.metadata?.labels ?? {};

    const service = one('Service', Service);
    expect(podLabels).toMatchObject(service.spec?.selector ?? { missing: 'selector' });
    expect(service.spec?.ports?.map((p) => p.targetPort)).toEqual(['http']);

    const pdb = one('PodDisruptionBudget', PodDisruptionBudget);
    expect(podLabels).toMatchObject(pdb.spec?.selector?.matchLabels ?? { missing: 'selector' });
    expect(pdb.spec?.minAvailable).toBeGreaterThanOrEqual(1);

    const hpa = one('HorizontalPodAutoscaler', HorizontalPodAutoscaler);
    expect(hpa.spec?.scaleTargetRef).toMatchObject({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata?.name });
    expect(hpa.spec?.minReplicas).toBeGreaterThanOrEqual(2);
    expect(hpa.spec?.metrics?.[0]?.resource).toMatchObject({ name: 'cpu', target: { type: 'Utilization' } });
  });

  it('a preStop pause, then SIGTERM, and the grace period covers both and the 10 s shutdown', () => {
    const command = container?.lifecycle?.preStop?.exec?.command ?? [];
    expect(command[0]).toBe('sleep');
    const pause = Number(command[1]);
    expect(pause).toBeGreaterThanOrEqual(3);
    expect(podSpec?.terminationGracePeriodSeconds).toBeGreaterThan(pause + SHUTDOWN_DEADLINE_S);
  });

  it('the variables are the ones the bridge reads, the secrets are in the Secret, and all of them load', () => {
    const mapped = Object.keys(configMap.data ?? {});
    const secretKeys = Object.keys(secret.stringData ?? {});
    for (const name of [...mapped, ...secretKeys]) expect(CONFIG_VARIABLES, `${name} is not read by src/config.ts`).toContain(name);
    for (const name of SECRET_VARIABLES) {
      expect(secretKeys, `${name} belongs in the Secret`).toContain(name);
      expect(mapped, `${name} must not be in the ConfigMap`).not.toContain(name);
    }
    expect(mapped).toContain('PBX_BASE_URL');
    expect(configMap.data?.TRUST_PROXY).toBe('true'); // behind a load balancer
    // Both are handed to the container whole.
    expect(container?.envFrom).toEqual([{ configMapRef: { name: configMap.metadata?.name } }, { secretRef: { name: secret.metadata?.name } }]);
    // The placeholders are refused at start-up, so a forgotten one never goes live.
    const placeholders = loadConfig({ ...configMap.data, ...secret.stringData });
    expect(placeholders.ok).toBe(false);
    if (!placeholders.ok) expect(placeholders.problems.join('\n')).toContain('CREDENTIALS_KEY');
  });

  it('the in-cluster Redis keeps its data: AOF on a volume, no eviction', () => {
    const redis = one('StatefulSet', StatefulSet, 'hodupbx-crm-bridge-redis');
    const c = redis.spec?.template.spec?.containers[0];
    const args = (c?.args ?? []).join(' ');
    expect(args).toContain('--appendonly yes');
    expect(args).toContain('--maxmemory-policy noeviction');
    expect(args).toContain('--dir /data');
    expect(c?.volumeMounts).toContainEqual({ name: 'data', mountPath: '/data' });
    expect(redis.spec?.volumeClaimTemplates?.map((v) => v.metadata?.name)).toEqual(['data']);
    expect(redis.spec?.template.spec?.securityContext?.runAsNonRoot).toBe(true);
    // The Secret's in-cluster REDIS_URL names its Service and port.
    expect(secret.stringData?.REDIS_URL).toBe(`redis://${redis.spec?.serviceName}:6379/0`);
  });

  describe('the probes against a running bridge', () => {
    let bridge: Bridge;
    beforeAll(async () => {
      bridge = await startTestBridge();
    });
    afterAll(async () => {
      await bridge?.close();
    });

    it('readiness and liveness paths answer 200 on a healthy bridge', async () => {
      const paths = [container?.readinessProbe?.httpGet?.path, container?.livenessProbe?.httpGet?.path, container?.startupProbe?.httpGet?.path];
      expect(paths.slice(0, 2)).toEqual(['/readyz', '/healthz']);
      for (const probe of [container?.readinessProbe, container?.livenessProbe, container?.startupProbe]) {
        expect(probe?.httpGet?.port).toBe('http');
      }
      for (const path of paths) {
        const res = await fetch(`${bridge.url}${path ?? '/missing'}`);
        expect(res.status, String(path)).toBe(200);
      }
    });
  });
});

/** Values of the right form for the secret variables, to check the ConfigMap's own values load. */
function validSecrets(): Record<string, string> {
  return {
    PBX_TOKEN: 'token-for-the-test',
    PBX_CALLBACK_SECRET: 'callback-secret-for-the-test',
    SESSION_SECRET: 'session-secret-for-the-test-0123456789',
    CREDENTIALS_KEY: Buffer.alloc(32, 1).toString('base64'),
    REDIS_URL: 'redis://127.0.0.1:6379/0',
  };
}
