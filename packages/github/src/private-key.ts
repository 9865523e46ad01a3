import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';

/**
 * Reads a GitHub App private key given as a file path (a leading `~/` is the home folder) or as
 * the PEM text itself, and returns it as PKCS#8 PEM (GitHub hands out PKCS#1 keys; the JWT library
 * wants PKCS#8). As in Go, a path that cannot be read is tried as key material. Errors never
 * contain the key.
 */
export async function loadPrivateKey(value: string): Promise<string> {
  let material = value;
  if (!value.trimStart().startsWith('-----BEGIN')) {
    const file = value.startsWith('~/') ? path.join(homedir(), value.slice(2)) : value;
    try {
      material = await readFile(file, 'utf8');
    } catch {
      material = value;
    }
  }
  try {
    return createPrivateKey(material).export({ type: 'pkcs8', format: 'pem' }).toString();
  } catch {
    throw new Error('error creating github app transport: invalid key (does the key exist on the filesystem?)');
  }
}

/**
 * Why `value` (a key file path or PEM text, as `private_key` takes it) cannot be used, or undefined
 * when it can: the check `anklet config validate` makes before `start` would fail. A relative path
 * is relative to the working folder, as in Go. The message names the path, never key material.
 */
export function checkPrivateKey(value: string): string | undefined {
  if (value.trimStart().startsWith('-----BEGIN')) {
    try {
      createPrivateKey(value);
      return undefined;
    } catch {
      return 'the PEM text is not a private key (paste the whole .pem file, or give its path)';
    }
  }
  const file = value.startsWith('~/') ? path.join(homedir(), value.slice(2)) : value;
  let material: string;
  try {
    material = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT'
      ? `no key file at ${path.resolve(file)} (give the path of the GitHub App's .pem file, or its PEM text)`
      : `cannot read the key file ${path.resolve(file)}: ${code ?? (err as Error).message}`;
  }
  try {
    createPrivateKey(material);
    return undefined;
  } catch {
    return `${path.resolve(file)} is not a PEM private key (download the key from the GitHub App's settings)`;
  }
}
