import { request } from "node:https";
import { Readable } from "node:stream";

export interface FetchInit {
  method: string;
  headers: Record<string, string>;
  body?: string | undefined;
  signal?: AbortSignal;
}

/**
 * `fetch` for an HTTPS daemon whose certificate is trusted through `ca` (a self-signed certificate
 * on the same host): Node 20's fetch cannot be given a CA, `node:https` can. The answer is a
 * standard Response, so callers read it the same way (streaming included, for `events --follow`).
 */
export function httpsFetch(url: string, init: FetchInit, ca: string): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    const outgoing = request(
      url,
      { method: init.method, headers: init.headers, ca, ...(init.signal ? { signal: init.signal } : {}) },
      (incoming) => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(incoming.headers)) {
          if (Array.isArray(value)) for (const one of value) headers.append(name, one);
          else if (value !== undefined) headers.set(name, value);
        }
        const status = incoming.statusCode ?? 500;
        const body = status === 204 || status === 304 ? null : (Readable.toWeb(incoming) as ReadableStream<Uint8Array>);
        resolve(new Response(body, { status, statusText: incoming.statusMessage ?? "", headers }));
      },
    );
    outgoing.on("error", reject);
    outgoing.end(init.body);
  });
}

/** Certificate failures, told apart from "nothing listens there". */
export function isCertificateError(error: unknown): boolean {
  const code = ((error as { cause?: { code?: unknown } })?.cause?.code ?? (error as { code?: unknown })?.code) as
    | string
    | undefined;
  return (
    typeof code === "string" &&
    (code.includes("CERT") || code.includes("SELF_SIGNED") || code === "UNABLE_TO_VERIFY_LEAF_SIGNATURE")
  );
}
