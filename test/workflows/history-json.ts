/** Workflow histories as proto JSON: the form the recorded fixtures are kept in. */
import { createRequire } from 'node:module';
import type * as protoTypes from '@temporalio/proto';

/**
 * History ⇄ proto JSON (the format `temporal workflow show --output json` writes). The SDK's own
 * historyToJSON / historyFromJSON fail here with "type must be a Type": npm installed a
 * protobufjs copy under @temporalio/common and another under @temporalio/proto, and the JSON
 * codec of one does not accept the types of the other. So this uses @temporalio/proto's copy
 * for both, loaded with Node's require.
 */
const protoRequire = createRequire(createRequire(import.meta.url).resolve('@temporalio/proto'));
const protojson = protoRequire('protobufjs/ext/protojson') as {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown): unknown;
};
const protoModule = protoRequire('@temporalio/proto') as typeof protoTypes;
const historyType = (
  protoRequire('@temporalio/proto/lib/patch-protobuf-root') as {
    patchProtobufRoot(root: unknown): { lookupType(name: string): unknown };
  }
)
  .patchProtobufRoot(protoModule)
  .lookupType('temporal.api.history.v1.History');

/** A fetched history as proto JSON text. */
export function historyToJson(history: unknown): string {
  const message = protoModule.temporal.api.history.v1.History.fromObject(history as Record<string, unknown>);
  return JSON.stringify(protojson.toJson(historyType, message), null, 2);
}

/** Proto JSON (parsed) back to a History the replay worker accepts. */
export function historyFromJson(json: unknown): ReturnType<typeof protoModule.temporal.api.history.v1.History.create> {
  return protojson.fromJson(historyType, json) as ReturnType<typeof protoModule.temporal.api.history.v1.History.create>;
}
