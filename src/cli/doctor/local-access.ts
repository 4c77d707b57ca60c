/**
 * Doctor's way below the HTTP API, for when the daemon is down or the question is whether it could
 * start: the bridge layer's local diagnostics, loaded only when doctor runs.
 */
import type { FoundDevice } from "./local-diagnostics.js";

export type { FoundDevice };

const diagnostics = () => import("./local-diagnostics.js");

export async function listUsbDevices(backend?: object): Promise<FoundDevice[]> {
  return (await diagnostics()).listUsbDevices(backend);
}

export async function loadUsbBackend(): Promise<void> {
  return (await diagnostics()).loadUsbBackend();
}

export async function verifyLedger(dir: string, signal?: AbortSignal): Promise<{ outstanding: number } | undefined> {
  return (await diagnostics()).verifyLedger(dir, signal);
}

export async function registryKindFor(kind: string | undefined, platform: NodeJS.Platform): Promise<string> {
  return (await diagnostics()).registryKindFor(kind, platform);
}

export async function verifyRegistryFile(file: string): Promise<{ root: string; keys: number }> {
  return (await diagnostics()).verifyRegistryFile(file);
}
