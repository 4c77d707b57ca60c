/**
 * The API's shapes, once: the server validates requests and writes its OpenAPI document with
 * these TypeBox schemas, and src/bridge/api.ts derives the library's TypeScript types from them
 * (`Static<typeof X>`), so the three never disagree.
 */
export * from "./borrows.js";
export * from "./codemeter.js";
export * from "./common.js";
export * from "./events.js";
export * from "./keys.js";
export * from "./maintenance.js";
export * from "./names.js";
export * from "./reconcile.js";
export * from "./status.js";
export * from "./virtual.js";
