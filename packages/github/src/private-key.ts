import { createPrivateKey } from 'node:crypto';
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
