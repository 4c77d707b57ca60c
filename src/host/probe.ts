import type { HostIdentity } from "./identity.js";

/** Where host identities come from: the real machine, or a simulated one in virtual mode. */
export interface HostProbe {
  probe(): Promise<HostIdentity>;
}
