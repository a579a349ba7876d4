import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { validateFile } from '../../src/cli/validate.js';
import { repoRoot } from '../support/engine-process.js';

/**
 * No Docker engine runs here, so the compose stack is checked as far as this machine allows:
 * the file parses, every service tailsift depends on exists with a healthcheck, every host
 * path it mounts or builds from exists, and the tailsift config it mounts is valid.
 */
interface Service {
  build?: string;
  image?: string;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: unknown;
  command?: string[];
}

describe('docker-compose.yml', () => {
  const compose = parse(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8')) as { services: Record<string, Service> };
  const services = compose.services;

  it('runs Kafka, Redis, Jaeger v2 and tailsift, each with a healthcheck or a completion condition', () => {
    for (const name of ['kafka', 'redis', 'jaeger', 'tailsift']) {
      expect(services[name], name).toBeDefined();
      expect(services[name].healthcheck, `${name} healthcheck`).toBeDefined();
    }
    expect(services.jaeger.image).toMatch(/^jaegertracing\/jaeger:2\./);
    for (const [dependency, { condition }] of Object.entries(services.tailsift.depends_on ?? {})) {
      expect(services[dependency], `tailsift depends on ${dependency}`).toBeDefined();
      if (condition === 'service_healthy') expect(services[dependency].healthcheck, `${dependency} healthcheck`).toBeDefined();
    }
  });

  it('builds from and mounts only what exists in the repository', () => {
    for (const [name, service] of Object.entries(services)) {
      if (service.build !== undefined) expect(existsSync(join(repoRoot, service.build, 'Dockerfile')), `${name} build`).toBe(true);
      for (const volume of service.volumes ?? []) {
        const host = volume.split(':')[0];
        if (host.startsWith('./')) expect(existsSync(join(repoRoot, host)), `${name} mounts ${host}`).toBe(true);
      }
    }
  });

  it('mounts a tailsift config that validates with its policy file', async () => {
    // Lay the mounts out as the container sees them under /etc/tailsift, in a scratch folder.
    const etc = await mkdtemp(join(tmpdir(), 'tailsift-compose-'));
    try {
      for (const volume of services.tailsift.volumes ?? []) {
        const [host, target] = volume.split(':');
        if (!target.startsWith('/etc/tailsift/')) continue;
        await cp(join(repoRoot, host), join(etc, target.slice('/etc/tailsift/'.length)), { recursive: true });
      }
      const result = await validateFile(join(etc, 'tailsift.yaml'));
      expect(result.problems).toEqual([]);
      expect(result.ok).toHaveLength(2);
    } finally {
      await rm(etc, { recursive: true, force: true });
    }
    // The config names its policy file relative to itself, as mounted in the container.
    expect(services.tailsift.command).toEqual(['run', '--config', '/etc/tailsift/tailsift.yaml']);
  });
});
