import { describe, expect, it } from 'vitest';
import { PIECE_BYTES, payloadPieces } from '../src/record.js';

describe('payload pieces', () => {
  const cases: Array<[string, string]> = [
    ['empty', ''],
    ['ASCII, shorter than a piece', '{"a":1}'],
    ['ASCII, exact multiple', 'x'.repeat(PIECE_BYTES * 3)],
    ['ASCII, a webhook', JSON.stringify({ workflow_job: { id: 1, labels: ['anka-template:x', 'anka-template-tag:y'], name: 'a'.repeat(200) } })],
    ['two-byte characters', 'é'.repeat(100)],
    ['mixed, with four-byte characters at the cuts', `${'a'.repeat(61)}😀${'b'.repeat(60)}😀😀${'ü'.repeat(40)}`],
  ];
  for (const [name, text] of cases) {
    it(`cuts ${name} into pieces of at most ${PIECE_BYTES} bytes that join back, never inside a character`, () => {
      const pieces = payloadPieces(text);
      expect(pieces.join('')).toBe(text);
      for (const piece of pieces) {
        expect(Buffer.byteLength(piece, 'utf8')).toBeLessThanOrEqual(PIECE_BYTES);
        // A cut inside a character would leave a lone surrogate or a replacement character.
        expect(Buffer.from(piece, 'utf8').toString('utf8')).toBe(piece);
        expect(piece).not.toContain('\uFFFD');
      }
      if (text.length > 0) expect(pieces.every((p) => p.length > 0)).toBe(true);
    });
  }
});
