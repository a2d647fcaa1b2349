import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { jsonSchemas, renderReference } from '../../scripts/spec-reference';

describe('generated spec reference', () => {
  it('docs/campaign-spec.md matches the schema (regenerate with npx tsx scripts/spec-reference.ts)', () => {
    expect(readFileSync('docs/campaign-spec.md', 'utf8')).toBe(renderReference());
  });

  it('schema/*.schema.json match the schema', () => {
    const { campaign, fleet } = jsonSchemas();
    expect(JSON.parse(readFileSync('schema/campaign.schema.json', 'utf8'))).toEqual(campaign);
    expect(JSON.parse(readFileSync('schema/fleet.schema.json', 'utf8'))).toEqual(fleet);
  });

  it('documents a default for every optional spec field that has one', () => {
    const md = renderReference();
    expect(md).toMatch(/`spec\.waves\[\]\.maxParallel` \| integer \\\| string \| `1`/);
    expect(md).toMatch(/`spec\.pacing\.maxInFlight` \| integer \| `10`/);
  });
});
