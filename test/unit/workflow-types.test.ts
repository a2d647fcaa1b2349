import { describe, expect, it } from 'vitest';
import { WorkflowTypes } from '../../workflows/definitions';
import * as registeredWorkflows from '../../workflows/index';

describe('WorkflowTypes', () => {
  it('names exactly the workflow functions the worker registers, by their function names', () => {
    const registered = registeredWorkflows as Record<string, { name: string }>;
    expect(Object.values(WorkflowTypes).sort()).toEqual(Object.keys(registered).sort());
    for (const type of Object.values(WorkflowTypes)) expect(registered[type]?.name).toBe(type);
  });
});
