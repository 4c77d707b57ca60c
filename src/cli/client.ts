import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_LISTEN, defaultDataDir, TOKEN_FILE_NAME } from "../config/paths.js";
import { readDaemonInfo, readToken } from "../server/daemon-files.js";
import {
  ApiError,
  DaemonNotRunningError,
  TlsCaUnreadableError,
  TlsUntrustedError,
  TokenMissingError,
} from "./errors.js";
import { httpsFetch, isCertificateError } from "./https-fetch.js";

export interface Endpoint {
  url: string;
  /** Undefined until needed: `config` and `--help` work without one. */
  token: () => string;
  /** PEM of the certificate to trust for an HTTPS `url` beyond the system's (KEYBRIDGE_TLS_CA, else daemon.json's). */
  ca: () => string | undefined;
}

/** The daemon's URL (`--url`, else daemon.json, else the default) and its token (KEYBRIDGE_TOKEN, else the token file). */
export function resolveEndpoint(options: { dataDir?: string; url?: string }, env: NodeJS.ProcessEnv): Endpoint {
  const dataDir = options.dataDir ?? (env.KEYBRIDGE_DATA_DIR || undefined) ?? defaultDataDir(env);
  const listen = env.KEYBRIDGE_LISTEN || DEFAULT_LISTEN;
  const daemon = readDaemonInfo(dataDir);
  const url = (options.url ?? daemon?.url ?? `http://${listen}`).replace(/\/+$/, "");
  const caFile = env.KEYBRIDGE_TLS_CA || (options.url === undefined ? daemon?.tlsCert : undefined);
  return {
    url,
    ca: () => {
      if (caFile === undefined || !url.startsWith("https:")) return undefined;
      try {
        return readFileSync(caFile, "utf8");
      } catch (error) {
        throw new TlsCaUnreadableError(caFile, error);
      }
    },
    token: () => {
      const token = env.KEYBRIDGE_TOKEN || readToken(dataDir);
      if (token === undefined) throw new TokenMissingError(join(dataDir, TOKEN_FILE_NAME));
      return token;
    },
  };
}

interface Problem {
  code?: string;
  detail?: string;
  title?: string;
  [key: string]: unknown;
}

export class ApiClient {
  constructor(private readonly endpoint: Endpoint) {}

  get url(): string {
    return this.endpoint.url;
  }

  async json<T>(method: string, path: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<T> {
    const response = await this.send(
      method,
      path,
      body === undefined ? undefined : JSON.stringify(body),
      "application/json",
      undefined,
      extraHeaders,
    );
    return (await response.json()) as T;
  }

  /** `GET /v1/health`, which needs no token: whether a daemon answers, and in which mode. */
  async health(signal?: AbortSignal): Promise<{ status: string; mode: string; version?: string }> {
    const response = await this.send("GET", "/v1/health", undefined, undefined, signal, {}, false);
    return (await response.json()) as { status: string; mode: string; version?: string };
  }

  async text(method: string, path: string, body?: string): Promise<{ text: string; headers: Headers }> {
    const response = await this.send(method, path, body, "application/octet-stream");
    return { text: await response.text(), headers: response.headers };
  }

  /** Follows `/v1/events`, calling `onEvent` per event, until `stop` resolves or the daemon ends the stream. */
  async follow(onEvent: (type: string, data: string) => void, stop: Promise<void>): Promise<void> {
    const controller = new AbortController();
    const response = await this.send("GET", "/v1/events", undefined, undefined, controller.signal);
    const reader = response.body?.getReader();
    if (reader === undefined) return;
    const abort = () => controller.abort();
    void stop.then(abort, abort);
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let end = buffer.indexOf("\n\n");
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let type = "message";
          const data: string[] = [];
          for (const line of block.split("\n")) {
            if (line.startsWith("event: ")) type = line.slice(7);
            else if (line.startsWith("data: ")) data.push(line.slice(6));
          }
          if (data.length > 0) onEvent(type, data.join("\n"));
          end = buffer.indexOf("\n\n");
        }
      }
    } catch (error) {
      if (controller.signal.aborted) return;
      throw error;
    }
  }

  private async send(
    method: string,
    path: string,
    body: string | undefined,
    contentType: string | undefined,
    signal?: AbortSignal,
    extraHeaders: Record<string, string> = {},
    withToken = true,
  ): Promise<Response> {
    const headers: Record<string, string> = { ...extraHeaders, accept: "application/json" };
    if (withToken) headers.authorization = `Bearer ${this.endpoint.token()}`;
    if (body !== undefined && contentType !== undefined) headers["content-type"] = contentType;
    const init = { method, headers, body, ...(signal ? { signal } : {}) };
    const ca = this.endpoint.ca();
    let response: Response;
    try {
      const url = `${this.endpoint.url}${path}`;
      response = await (ca === undefined ? fetch(url, init) : httpsFetch(url, init, ca));
    } catch (error) {
      if (isCertificateError(error)) throw new TlsUntrustedError(this.endpoint.url, error);
      throw new DaemonNotRunningError(this.endpoint.url, error);
    }
    if (response.ok) return response;
    const text = await response.text();
    let problem: Problem = {};
    try {
      problem = JSON.parse(text) as Problem;
    } catch {
      // Not a problem+json body (a proxy's error page, say): its start is the best detail there is.
      problem = { detail: text.slice(0, 200) };
    }
    const details =
      typeof problem.details === "object" && problem.details !== null
        ? (problem.details as Record<string, unknown>)
        : undefined;
    throw new ApiError(
      problem.code ?? `HTTP_${response.status}`,
      response.status,
      problem.detail ?? problem.title ?? response.statusText,
      details,
    );
  }
}
