import { describe, expect, it } from 'vitest';
import { handlerConfigSchema } from '../src/config.js';

const parse = (block: Record<string, unknown>) => handlerConfigSchema.safeParse(block);

describe('handler config', () => {
  it('applies the Go defaults', () => {
    const result = parse({ owner: 'acme', token: 't' });
    expect(result.success).toBe(true);
    expect(result.data).toMatchObject({
      registration_timeout_seconds: 80,
      job_retry_attempts: 5,
      template_disk_buffer: 10,
      registration_method: 'jit',
      skip_pull: false,
      skip_cpu_and_memory_resource_checks: false,
      host_to_guest_folder_mounts: [],
      github_base_url: 'https://api.github.com',
    });
  });

  it('turns Go zero values into the defaults; values come typed (the host parses YAML and env by this schema)', () => {
    const result = parse({
      owner: 'acme',
      token: 't',
      registration_timeout_seconds: 0,
      job_retry_attempts: 0,
      template_disk_buffer: 0,
      skip_pull: true,
      host_to_guest_folder_mounts: ['/a:x', '/b'],
      registration_method: 'token',
    });
    expect(result.data).toMatchObject({
      registration_timeout_seconds: 80,
      job_retry_attempts: 5,
      template_disk_buffer: 10,
      skip_pull: true,
      host_to_guest_folder_mounts: ['/a:x', '/b'],
      registration_method: 'token',
    });
  });

  it('reports scope and credential problems with the Go texts', () => {
    const messages = (block: Record<string, unknown>) => parse(block).error?.issues.map((i) => i.message) ?? [];
    expect(messages({ token: 't' })).toContain('invalid github scope: enterprise or owner must be set');
    expect(messages({ repo: 'r', token: 't' })).toContain('invalid github scope: repo requires owner to be set');
    expect(messages({ enterprise: 'e', owner: 'o', token: 't' })).toContain('invalid github scope: enterprise cannot be combined with owner or repo; pick one scope level');
    expect(messages({ owner: 'o' })).toContain('token or private_key are not set at global level or in the plugin (set token, or private_key with app_id)');
    expect(messages({ owner: 'o', private_key: 'k' })).toContain('app_id is required when private_key is set');
    expect(messages({ owner: 'o', private_key: '/no/such/key.pem', app_id: 1 })).toEqual(['no key file at /no/such/key.pem (give the path of the GitHub App\'s .pem file, or its PEM text)']);
    expect(messages({ owner: 'o', token: 't', registration_method: 'pat' })).toContain('expected jit or token');
    // Every problem in one pass: a bad key does not hide the rules across keys, nor a negative retry count.
    expect(messages({ owner: 'o', job_retry_attempts: -1, lease_seconds: 'x' })).toEqual([
      'expected 0 or more',
      'expected a whole number',
      'token or private_key are not set at global level or in the plugin (set token, or private_key with app_id)',
    ]);
  });
});
