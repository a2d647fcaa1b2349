import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatIssue, parseCampaign, parseFleet } from '../../domain/load';

const VALID = `apiVersion: fleetwave.io/v1alpha1
kind: UpgradeCampaign
metadata:
  name: t
spec:
  target:
    kubernetesVersion: "1.31"
  waves:
    - name: canary
      count: 1
    - name: rest
      maxParallel: 2
`;

describe('campaign validation', () => {
  it('accepts a minimal campaign and fills defaults', () => {
    const r = parseCampaign(VALID);
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.value.spec.waves[1]).toMatchObject({
        maxParallel: 2,
        failureBudget: 0,
        approval: 'required',
        soak: '0s',
      });
      expect(r.value.spec.pacing).toMatchObject({ maxInFlight: 10, caps: [] });
      expect(r.value.spec.bake).toBe('5m');
    }
  });

  it('names spec.waves[1].maxParallel and its line for maxParallel 0', () => {
    const r = parseCampaign(VALID.replace('maxParallel: 2', 'maxParallel: 0'));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.issues).toEqual([{ path: 'spec.waves[1].maxParallel', message: 'must be >= 1', line: 12 }]);
      expect(formatIssue(r.issues[0]!)).toBe('spec.waves[1].maxParallel (line 12): must be >= 1');
    }
  });

  it('reports an unknown field by path and line', () => {
    const r = parseCampaign(VALID.replace('      count: 1', '      count: 1\n      maxParalel: 3'));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues).toEqual([{ path: 'spec.waves[0].maxParalel', message: 'unknown field', line: 11 }]);
  });

  it('reports every issue at once, with a missing required field as "is required"', () => {
    const r = parseCampaign(
      VALID.replace('    kubernetesVersion: "1.31"\n', '    kubernetesVersion: 1.31\n').replace(
        '      count: 1\n',
        '      count: 1\n      percent: 10\n',
      ),
    );
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.issues.map((i) => i.path)).toEqual(['spec.target.kubernetesVersion', 'spec.waves[0].percent']);
      expect(r.issues[1]?.message).toBe('use either count or percent, not both');
    }
    const missing = parseCampaign(VALID.replace('  waves:\n', '  wavez:\n'));
    expect(!missing.ok && missing.issues).toEqual(
      expect.arrayContaining([
        { path: 'spec.waves', message: 'is required', line: 5 },
        // An unknown block is reported at its key, not at the first line of its value.
        { path: 'spec.wavez', message: 'unknown field', line: 8 },
      ]),
    );
  });

  it('reports YAML syntax errors with a line', () => {
    const r = parseCampaign('apiVersion: x\nkind: [unclosed\n');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues[0]).toMatchObject({ path: '', message: expect.stringMatching(/^YAML syntax/) });
  });

  it('rejects duplicate wave names, naming the later one', () => {
    const r = parseCampaign(VALID.replace('name: rest', 'name: canary'));
    expect(!r.ok && r.issues[0]).toMatchObject({
      path: 'spec.waves[1].name',
      message: expect.stringMatching(/duplicates spec.waves\[0\]/),
    });
  });

  it('accepts the examples', () => {
    for (const file of ['examples/campaign.yaml', 'examples/campaign-fast.yaml']) {
      const r = parseCampaign(readFileSync(file, 'utf8'));
      expect(r.ok ? [] : r.issues, file).toEqual([]);
    }
    const fleet = parseFleet(readFileSync('examples/fleet.yaml', 'utf8'));
    expect(fleet.ok ? [] : fleet.issues).toEqual([]);
    if (fleet.ok) expect(fleet.value.clusters.length).toBeGreaterThanOrEqual(30);
  });
});
