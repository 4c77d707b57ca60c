import { isLoopbackHost } from "../config/index.js";
import { HostNotAllowedError } from "./errors.js";

/**
 * DNS rebinding: a web page from evil.example makes its name resolve to 127.0.0.1, and the
 * browser then sends the daemon requests that carry `Host: evil.example:22380`. The open routes
 * (health, metrics, OpenAPI, the dashboard page) would answer them, to that page. A daemon that
 * listens on loopback therefore answers only requests addressed to a loopback name (localhost,
 * 127.x.y.z, [::1]; any port, so an SSH tunnel to another port still works) or to a name the
 * operator allowed (`allowedHosts`). A request without a Host header comes from no browser and is
 * answered.
 */
export class HostCheck {
  private readonly allowed: Set<string>;

  constructor(allowedHosts: readonly string[]) {
    this.allowed = new Set(allowedHosts.map(normalise));
  }

  /** Throws HOST_NOT_ALLOWED (421) unless `host` (the Host header) names this daemon. */
  check(host: string | undefined): void {
    if (host === undefined || host === "") return;
    const name = hostName(host);
    if (isLoopbackHost(name) || this.allowed.has(name)) return;
    throw new HostNotAllowedError(host, [...this.allowed]);
  }
}

/** `[::1]:22380` → `[::1]`, `LocalHost.:80` → `localhost`. */
function hostName(host: string): string {
  const trimmed = host.trim();
  const name = trimmed.startsWith("[") ? trimmed.slice(0, trimmed.indexOf("]") + 1) : trimmed.replace(/:\d*$/, "");
  return normalise(name);
}

function normalise(name: string): string {
  return name.toLowerCase().replace(/\.$/, "");
}
