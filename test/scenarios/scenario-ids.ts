/** The actions vendors forbid while licenses are borrowed, plus restarting the service, renaming the host and a clock jump. */
export const SCENARIO_IDS = [
  "upgrade-licenses",
  "upgrade-licenses-forced",
  "install-major-version",
  "unplug-key",
  "move-key",
  "uninstall-driver",
  "reinstall-os",
  "change-ip",
  "restart-service",
  "change-hostname",
  "clock-jump",
] as const;
export type ScenarioId = (typeof SCENARIO_IDS)[number];
