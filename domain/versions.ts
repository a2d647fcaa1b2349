/**
 * EKS version rules. Pure: safe in workflows.
 */

/** Compares "1.29" with "1.31": negative, zero or positive. */
export function compareMinor(a: string, b: string): number {
  const [am = 0, an = 0] = a.split('.').map(Number);
  const [bm = 0, bn = 0] = b.split('.').map(Number);
  return am === bm ? an - bn : am - bm;
}
