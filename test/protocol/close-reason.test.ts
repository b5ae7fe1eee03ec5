import { describe, expect, it } from 'vitest';
import { closeReason, MAX_CLOSE_REASON_BYTES } from '../../protocol/close-reason.ts';

const bytes = (s: string) => new TextEncoder().encode(s).length;

describe('closeReason', () => {
  it('keeps a reason of exactly MAX_CLOSE_REASON_BYTES and cuts one byte more', () => {
    const at = 'x'.repeat(MAX_CLOSE_REASON_BYTES);
    expect(closeReason(at)).toBe(at);
    expect(closeReason(at + 'y')).toBe(at);
    expect(closeReason('')).toBe('');
  });

  it('cuts multibyte text between characters, never over the limit (what made ws throw)', () => {
    for (const ch of ['€', '😀', 'é']) {
      const cut = closeReason(ch.repeat(120));
      expect(bytes(cut)).toBeLessThanOrEqual(MAX_CLOSE_REASON_BYTES);
      expect(bytes(cut)).toBeGreaterThan(MAX_CLOSE_REASON_BYTES - bytes(ch));
      expect([...cut].every((c) => c === ch)).toBe(true);
    }
  });
});
