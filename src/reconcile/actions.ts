/**
 * The actions license vendors forbid while licenses are borrowed (upgrading the licenses,
 * installing a major version, unplugging or moving the key, uninstalling the driver, reinstalling
 * the OS, changing the IP address), plus restarting the service and renaming the host.
 */
export const PREFLIGHT_ACTIONS = [
  "upgrade-licenses",
  "install-major-version",
  "unplug-key",
  "move-key",
  "uninstall-driver",
  "reinstall-os",
  "change-ip",
  "restart-service",
  "change-hostname",
] as const;
export type PreflightAction = (typeof PREFLIGHT_ACTIONS)[number];

export function isPreflightAction(value: unknown): value is PreflightAction {
  return typeof value === "string" && (PREFLIGHT_ACTIONS as readonly string[]).includes(value);
}
